"""The publishing pipeline: read one snapshot, render it whole, upload what changed.

Rendering happens before any upload, so a template or data error leaves the last good
page in place.
"""
from __future__ import annotations

from datetime import datetime

from chalicelib import aws
from chalicelib.config import get_site
from chalicelib.model import utcnow
from chalicelib.settings import get_settings
from chalicelib.site.publish import Publisher, PublishResult
from chalicelib.site.render import render_site
from chalicelib.site.snapshot import read_snapshot
from chalicelib.store.records import StateStore
from chalicelib.store.table import Table


def publish_site(now: datetime | None = None) -> PublishResult:
    settings = get_settings()
    table = Table(aws.get_table())
    snapshot = read_snapshot(get_site(), StateStore(table), now or utcnow())
    objects = render_site(snapshot, settings.templates_dir)
    return Publisher(aws.client("s3"), settings.bucket_name, table).publish(objects)
