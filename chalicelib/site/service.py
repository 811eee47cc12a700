"""The publishing pipeline: read one snapshot, render it whole, check it, upload what changed.

``publish_site`` is the one entry point: the schedule (every 5 minutes, so the page's
timestamp stays fresh), the publish queue and every change to incidents, notices or
components call it. Rendering and checking happen before any upload, so a template or
data error leaves the last good site in place. A problem confined to one incident's page
withholds that page only (its last good copy stays live): it is logged, counted as
``PageObjectsWithheld`` (alarmed) and returned in ``withheld``, and the rest goes out.
When another publisher wrote the manifest
in between (``Conflict``), the whole pipeline runs again from a fresh read: the newer
state wins, and the objects either of them uploaded are recorded only once they are live.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from chalicelib import aws
from chalicelib.config import get_site
from chalicelib.model import utcnow
from chalicelib.observability import count, metrics
from chalicelib.settings import get_settings
from chalicelib.site.publish import Publisher, PublishResult
from chalicelib.site.render import render_site
from chalicelib.site.snapshot import read_snapshot
from chalicelib.site.validate import Withheld, check_site
from chalicelib.store.history import HistoryStore
from chalicelib.store.records import StateStore
from chalicelib.store.table import AlreadyExists, Conflict, Table

log = logging.getLogger("beacon.site")
ATTEMPTS = 4


@dataclass(frozen=True)
class SitePublished(PublishResult):
    withheld: list[Withheld] = field(default_factory=list)  # not uploaded: they failed their checks


def publish_site(now: datetime | None = None, *, s3=None, reconcile: bool = False) -> SitePublished:
    """Publish the current state; ``reconcile`` also restores what the bucket lost or altered (the schedule's
    publish); ``s3`` replaces the bucket's client (tests wrap the real one to inject faults)."""
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
        checked = check_site(render_site(snapshot, settings.templates_dir))
        try:
            result = publisher.publish(checked.objects, now=moment, reconcile=reconcile)
        except (Conflict, AlreadyExists):
            if attempt == ATTEMPTS:
                raise
            log.info("another publish finished first; publishing again from fresh state (attempt %d)", attempt + 1)
            continue
        report_withheld(checked.withheld)
        return SitePublished(**vars(result), withheld=checked.withheld)
    raise AssertionError("unreachable")


def report_withheld(withheld: list[Withheld]) -> None:
    """Log each withheld object with its problems and count them for the ``PageObjectsWithheld`` alarm."""
    if not withheld:
        return
    for item in withheld:
        log.error("%s was not published, its last good copy stays live (incident %s): %s; "
                  "correct the incident through the API or fix the template", item.key, item.incident_id,
                  "; ".join(item.problems))
    count("PageObjectsWithheld", len(withheld))
    # Publishes after an API write run in no operation, whose end would flush the metric: flush it now.
    metrics.flush_metrics()
