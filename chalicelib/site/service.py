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

Publishes after writes coalesce (``coalesce=True``: the API's writes and the publish
queue): one of them at a time holds the site's publishing turn (``PublishTurn``), and a
publish asked for while it runs only tells the holder to publish once more when it is
done. A burst of writes therefore costs at most two publishes, the second reading the
state after the last of them. The schedule's publish and ``POST /publish`` do not wait
for a turn; they are safe beside a running publish for the reason above.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from chalicelib import aws
from chalicelib.config import get_site
from chalicelib.model import new_id, utcnow
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
TURN_PK, TURN_SK = "SITE", "publishing"
# Longer than the longest publishing function runs (120 s, .chalice/config.json), so a live
# holder never loses its turn; one that crashed holds it no longer than this, and the
# schedule's publish, which takes no turn, catches up within 5 minutes whatever happens.
TURN_SECONDS = 150


@dataclass(frozen=True)
class SitePublished(PublishResult):
    withheld: list[Withheld] = field(default_factory=list)  # not uploaded: they failed their checks
    runs: int = 1  # publishes this call ran: 0 when another publish took the request, 2+ when asked again meanwhile

    @property
    def coalesced(self) -> bool:
        return self.runs == 0


class PublishTurn:
    """The site's publishing turn: one item whose version counts the requests made while it is held."""

    def __init__(self, table: Table, seconds: int = TURN_SECONDS):
        self.table, self.seconds = table, seconds
        self.holder = new_id()
        self.version = 0

    def take(self) -> bool:
        """True when the turn is ours; False when a holder was told to publish once more for us."""
        for _ in range(ATTEMPTS):
            try:
                self.version = self.table.create(TURN_PK, TURN_SK, {"holder": self.holder},
                                                 expires_at=self._expiry()).version
                return True
            except AlreadyExists:
                pass
            # One conditional add: it lands on a live turn, or fails when the turn was just given back.
            if self.table.add_below(TURN_PK, TURN_SK, "asked", 2**62) is not None:
                return False
        raise Conflict("the publishing turn kept changing hands")

    def give_back(self) -> bool:
        """True when the turn is given back; False when publishes were asked for meanwhile (publish again)."""
        try:
            self.table.delete(TURN_PK, TURN_SK, version=self.version)
            return True
        except Conflict:
            pass
        current = self.table.get(TURN_PK, TURN_SK)
        if current is None or current.data.get("holder") != self.holder:
            return True  # it expired and someone else holds it: their publish reads the latest state
        try:
            self.version = self.table.replace(current, current.data, expires_at=self._expiry()).version
        except Conflict:
            self.version = current.version  # asked again meanwhile: the next give_back sees it
        return False

    def drop(self) -> None:
        try:
            current = self.table.get(TURN_PK, TURN_SK)
            if current is not None and current.data.get("holder") == self.holder:
                self.table.delete(TURN_PK, TURN_SK, version=current.version)
        except Exception:
            log.warning("giving back the publishing turn failed; it expires in %d s", self.seconds, exc_info=True)

    def _expiry(self) -> int:
        return int(self.table.clock().timestamp()) + self.seconds


def publish_site(now: datetime | None = None, *, s3=None, reconcile: bool = False,
                 coalesce: bool = False) -> SitePublished:
    """Publish the current state; ``reconcile`` also restores what the bucket lost or altered (the schedule's
    publish); ``coalesce`` takes the site's publishing turn first (see the module docstring); ``s3``
    replaces the bucket's client (tests wrap the real one to inject faults)."""
    settings = get_settings()
    # Expiring records (history) are read as of the publish's own clock.
    table = Table(aws.get_table(), clock=(lambda: now) if now else utcnow)
    concurrency = settings.publish_concurrency
    publisher = Publisher(s3 or aws.client("s3", max_pool_connections=concurrency), settings.bucket_name, table,
                          concurrency=concurrency)
    if not coalesce:
        return _publish(publisher, table, now, reconcile)
    turn = PublishTurn(table)
    if not turn.take():
        log.info("a publish is running; it publishes again for this change")
        count("PublishCoalesced")
        return SitePublished(uploaded=[], unchanged=0, runs=0)
    runs = 1
    try:
        result = _publish(publisher, table, now, reconcile)
        while not turn.give_back():
            runs += 1
            result = _publish(publisher, table, now, reconcile)
    except BaseException:
        turn.drop()
        raise
    return SitePublished(**{**vars(result), "runs": runs})


def _publish(publisher: Publisher, table: Table, now: datetime | None, reconcile: bool) -> SitePublished:
    settings = get_settings()
    for attempt in range(1, ATTEMPTS + 1):
        moment = now or utcnow()
        snapshot = read_snapshot(get_site(), StateStore(table), moment, history=HistoryStore(table),
                                 since=publisher.first_published_at() or moment, api_url=settings.api_url,
                                 probe_interval_seconds=settings.probe_interval_seconds,
                                 publish_interval_seconds=settings.publish_interval_seconds)
        checked = check_site(render_site(snapshot, settings.templates_dir))
        try:
            # The render is the whole site: what it no longer has goes, but a withheld page's last good copy stays.
            result = publisher.publish(checked.objects, now=moment, reconcile=reconcile, complete=True,
                                       keep=[w.key for w in checked.withheld])
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
