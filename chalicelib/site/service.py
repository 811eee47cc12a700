"""The publishing pipeline: read one snapshot, render it whole, check it, upload what changed.

``publish_site`` is the one entry point: the schedule (every 5 minutes, so the page's
timestamp stays fresh), the publish queue and every change to incidents, notices or
components call it. Rendering and checking happen before any upload, so a template or
data error leaves the last good site in place. When another publisher wrote the manifest
in between (``Conflict``), the whole pipeline runs again from a fresh read: the newer
state wins, and the objects either of them uploaded are recorded only once they are live.
"""
from __future__ import annotations

import logging
from datetime import datetime

from chalicelib import aws
from chalicelib.config import get_site
from chalicelib.model import utcnow
from chalicelib.settings import get_settings
from chalicelib.site.publish import Publisher, PublishResult
from chalicelib.site.render import render_site
from chalicelib.site.snapshot import read_snapshot
from chalicelib.store.history import HistoryStore
from chalicelib.store.records import StateStore
from chalicelib.store.table import AlreadyExists, Conflict, Table

log = logging.getLogger("beacon.site")
ATTEMPTS = 4


def publish_site(now: datetime | None = None, *, s3=None) -> PublishResult:
    """Publish the current state; ``s3`` replaces the bucket's client (tests wrap the real one to inject faults)."""
    settings = get_settings()
    # Expiring records (history) are read as of the publish's own clock.
    table = Table(aws.get_table(), clock=(lambda: now) if now else utcnow)
    publisher = Publisher(s3 or aws.client("s3"), settings.bucket_name, table)
    for attempt in range(1, ATTEMPTS + 1):
        moment = now or utcnow()
        snapshot = read_snapshot(get_site(), StateStore(table), moment, history=HistoryStore(table),
                                 since=publisher.first_published_at() or moment, api_url=settings.api_url,
                                 probe_interval_seconds=settings.probe_interval_seconds,
                                 publish_interval_seconds=settings.publish_interval_seconds)
        objects = render_site(snapshot, settings.templates_dir)
        try:
            return publisher.publish(objects, now=moment)
        except (Conflict, AlreadyExists):
            if attempt == ATTEMPTS:
                raise
            log.info("another publish finished first; publishing again from fresh state (attempt %d)", attempt + 1)
    raise AssertionError("unreachable")
