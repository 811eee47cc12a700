"""The publishing pipeline: read a snapshot, render it, check it, upload what changed.

``publish_site`` is the one entry point: the schedule (every 5 minutes, so the page's
timestamp stays fresh), the publish queue and every change to incidents, notices or
components call it. A publish of everything renders, checks and uploads in one stream
(``render.SiteRender`` into ``publish.checked_stream``): the front and the months' objects
are checked before anything goes up, the incident pages as they go, and the entry points go
last, so a template or data error never replaces the last good page. A problem confined to one incident's page
withholds that page only (its last good copy stays live): it is logged, counted as
``PageObjectsWithheld`` (alarmed) and returned in ``withheld``, and the rest goes out.
When another publisher wrote the manifest
in between (``Conflict``), the whole pipeline runs again from a fresh read: the newer
state wins, and the objects either of them uploaded are recorded only once they are live.

A publish after writes is incremental (``changes``): it starts from the front (open
incidents, and those changed in the last 90 days) as the publish that wrote the manifest
last rendered it, which each publish keeps in the table tagged with the manifest it wrote
(``front_tag``; ``IncidentStore.keep_front``), and reads the changed incidents (strongly
consistent) and the incidents of their months (before and after the write), all by key
through the store's listings (``store.incidents``), so what it reads does not grow with the
history. When the kept front is another manifest's (the publish that wrote the manifest
died before keeping its front, or its front was too large to keep) or was dropped (by a
publish that failed: the changes it took may be lost with it), the front is read from its
listing instead. What the kept front can miss is an incident saved by a write whose own
publish has not run yet: that publish brings it (it is handed to the holder of the
publishing turn when one runs), and if it never runs (the write's process died first),
the publish of everything (the schedule's, every 5 minutes, which reads everything and
keeps its front afresh) does. It renders the
objects that depend on the front, those incidents' pages and those months' pages
(``render.Only``); every other object is as the last publish left it, and the same
render of everything (``changes=None``: the schedule, ``POST /publish``) gives the same
bytes for it. The months a history page lists come from the manifest: each month page
published is a month with incidents. A publish of everything reads every incident and
notice, adds to the listings what they lack and lets the front's listing go of what aged
out; on a table written before the listings existed, the first publish does so whatever it
was asked, then writes ``LISTED_MARK``.

Publishes after writes coalesce (``coalesce=True``: the API's writes and the publish
queue): one of them at a time holds the site's publishing turn (``PublishTurn``), and a
publish asked for while it runs only hands the holder its changes and tells it to
publish once more when it is done. A burst of writes therefore costs at most two
publishes, the second reading the state after the last of them. The schedule's publish
and ``POST /publish`` do not wait for a turn; they are safe beside a running publish for
the reason above.
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from chalicelib import aws
from chalicelib.config import get_site
from chalicelib.model import Incident, isoformat, new_id, utcnow
from chalicelib.observability import count, metrics
from chalicelib.settings import get_settings
from chalicelib.site.publish import Publisher, PublishResult, checked_stream
from chalicelib.site.render import Only, SiteRender, incident_key, month_keys, render_site
from chalicelib.site.snapshot import HISTORY_DAYS, month_of, on_the_front, read_snapshot
from chalicelib.site.validate import Withheld, check_site
from chalicelib.store.history import HistoryStore
from chalicelib.store.incidents import LISTED_MARK, Changed, IncidentStore, take_changes
from chalicelib.store.records import StateStore
from chalicelib.store.table import AlreadyExists, Conflict, Item, Table

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


@dataclass(frozen=True)
class Changes:
    """What writes changed since the last publish: these incidents, each with where it started before.

    ``Changes()`` (nothing) still republishes what depends on the front: component states,
    notices. Where ``Changes | None`` is taken, None means "render everything".
    """

    incidents: tuple[Changed, ...] = ()

    @classmethod
    def taken(cls) -> "Changes":
        """The incidents this thread of work saved since the last publish asked (``store.incidents.take_changes``)."""
        return cls(tuple(take_changes()))

    def __or__(self, other: "Changes") -> "Changes":
        seen = {c.incident_id: c for c in other.incidents}
        seen.update({c.incident_id: c for c in self.incidents})  # the earlier knows where it started
        return Changes(tuple(seen.values()))

    def encoded(self) -> list[str]:
        return [c.encoded() for c in self.incidents]

    @classmethod
    def decoded(cls, values: Iterable[str]) -> "Changes | None":
        """The changes ``encoded`` wrote; None when one of them asked for everything (``EVERYTHING``)."""
        values = list(values)
        if EVERYTHING in values:
            return None
        return cls(tuple(Changed.decoded(value) for value in values))


EVERYTHING = "*"


def merged(first: Changes | None, second: Changes | None) -> Changes | None:
    return None if first is None or second is None else first | second


def requested_changes(bodies: Iterable[str]) -> Changes | None:
    """What a batch of publish requests (``trigger.request_publish``) changed; None: render everything."""
    changes: Changes | None = Changes()
    for body in bodies:
        try:
            named = json.loads(body).get("incidents")
        except (ValueError, AttributeError):
            named = None
        changes = merged(changes, None if named is None else Changes.decoded(named))
    return changes


class PublishTurn:
    """The site's publishing turn: one item whose version counts the requests made while it is held,
    and whose ``changes`` set gathers what they changed."""

    def __init__(self, table: Table, seconds: int = TURN_SECONDS):
        self.table, self.seconds = table, seconds
        self.holder = new_id()
        self.version = 0

    def take(self, changes: Changes | None = None) -> bool:
        """True when the turn is ours; False when the holder was handed ``changes`` to publish once more."""
        for _ in range(ATTEMPTS):
            try:
                self.version = self.table.create(TURN_PK, TURN_SK, {"holder": self.holder},
                                                 expires_at=self._expiry()).version
                return True
            except AlreadyExists:
                pass
            # One conditional add: it lands on a live turn, or fails when the turn was just given back.
            handed = [EVERYTHING] if changes is None else changes.encoded()
            if self.table.add_to_set(TURN_PK, TURN_SK, "changes", handed):
                return False
        raise Conflict("the publishing turn kept changing hands")

    def give_back(self) -> tuple[bool, Changes | None]:
        """(True, _) when the turn is given back; (False, changes) when publishes were asked for meanwhile."""
        try:
            self.table.delete(TURN_PK, TURN_SK, version=self.version)
            return True, Changes()
        except Conflict:
            pass
        current = self.table.get(TURN_PK, TURN_SK)
        if current is None or current.data.get("holder") != self.holder:
            return True, Changes()  # it expired and someone else holds it: their publish reads the latest state
        handed = Changes.decoded(current.data.get("changes") or ())
        try:
            # Written whole, so the changes just taken are gone from it.
            self.version = self.table.replace(current, {"holder": self.holder}, expires_at=self._expiry()).version
        except Conflict:
            self.version = current.version  # asked again meanwhile: the next give_back sees it
        return False, handed

    def drop(self) -> None:
        try:
            current = self.table.get(TURN_PK, TURN_SK)
            if current is not None and current.data.get("holder") == self.holder:
                self.table.delete(TURN_PK, TURN_SK, version=current.version)
        except Exception:
            log.warning("giving back the publishing turn failed; it expires in %d s", self.seconds, exc_info=True)

    def _expiry(self) -> int:
        return int(self.table.clock().timestamp()) + self.seconds


def publish_site(now: datetime | None = None, *, s3=None, reconcile: bool = False, coalesce: bool = False,
                 changes: Changes | None = None) -> SitePublished:
    """Publish the current state; ``reconcile`` also restores what the bucket lost or altered (the schedule's
    publish, always whole); ``changes`` renders only what they affect (None: everything); ``coalesce`` takes
    the site's publishing turn first (see the module docstring); ``s3`` replaces the bucket's client
    (tests wrap the real one to inject faults)."""
    settings = get_settings()
    # Expiring records (history) are read as of the publish's own clock.
    table = Table(aws.get_table(), clock=(lambda: now) if now else utcnow)
    concurrency = settings.publish_concurrency
    publisher = Publisher(s3 or aws.client("s3", max_pool_connections=concurrency), settings.bucket_name, table,
                          concurrency=concurrency)
    if reconcile:
        changes = None
    if not coalesce:
        return _publish(publisher, table, now, reconcile, changes)
    turn = PublishTurn(table)
    if not turn.take(changes):
        log.info("a publish is running; it publishes again for this change")
        count("PublishCoalesced")
        return SitePublished(uploaded=[], unchanged=0, runs=0)
    runs = 1
    try:
        result = _publish(publisher, table, now, reconcile, changes)
        while True:
            done, handed = turn.give_back()
            if done:
                break
            runs += 1
            result = _publish(publisher, table, now, reconcile, handed)
    except BaseException:
        turn.drop()
        raise
    return SitePublished(**{**vars(result), "runs": runs})


def _publish(publisher: Publisher, table: Table, now: datetime | None, reconcile: bool,
             changes: Changes | None) -> SitePublished:
    try:
        return _publish_once(publisher, table, now, reconcile, changes)
    except BaseException:
        try:  # its changes may be lost with it: the next publish reads the front's listing again
            IncidentStore(table).forget_front()
        except Exception:
            log.warning("could not drop the kept front after a failed publish", exc_info=True)
        raise


def _publish_once(publisher: Publisher, table: Table, now: datetime | None, reconcile: bool,
                  changes: Changes | None) -> SitePublished:
    settings = get_settings()
    site = get_site()
    mark = table.get(*LISTED_MARK)
    listed = mark is not None
    if not listed:
        changes = None  # a table written before the listings: this whole publish lists every record first
    if listed:
        former = mark.data.get("history_before")
    else:  # checks recorded before the listings were made may be stored in the history's former layout
        moment = now or utcnow()
        held = HistoryStore(table).holds_former_layout(site.component_ids, moment.astimezone(timezone.utc).date())
        former = isoformat(moment) if held else None
    history = _history(table, former)
    for attempt in range(1, ATTEMPTS + 1):
        moment = now or utcnow()
        manifest = publisher.read_manifest() if changes is not None else None
        since = (manifest.first_published_at if manifest else publisher.first_published_at()) or moment
        common = dict(history=history, since=since, api_url=settings.api_url,
                      probe_interval_seconds=settings.probe_interval_seconds,
                      publish_interval_seconds=settings.publish_interval_seconds)
        if changes is None:
            states = StateStore(table)
            incidents = states.incidents()
            # Read whole anyway: put back in the listings what a writer that crashed left out of them.
            added = IncidentStore(table).list_missing(incidents, [n.id for n in states.notices()], moment)
            if not listed:
                table.put(*LISTED_MARK, {"added": added, "at": isoformat(moment), "history_before": former})
                listed = True
            elif added:
                log.warning("the listings lacked %d record(s); added", added)
            IncidentStore(table).tidy_front(moment - timedelta(days=HISTORY_DAYS))  # by key, after the listing
            snapshot = read_snapshot(site, states, moment, incidents=incidents, **common)
            checked = checked_stream(SiteRender(snapshot, settings.templates_dir))  # uploaded as it renders
            kwargs = dict(complete=True, rendered=checked.keys)
        else:
            live = manifest.objects
            store = IncidentStore(table)
            kept = store.kept_front(front_tag(manifest.head)) if manifest.head else None
            incidents, pages, months, known = _changed_records(store, site, moment, changes, live, front=kept)
            snapshot = read_snapshot(site, StateStore(table), moment, incidents=incidents, known_months=known,
                                     **common)
            only = Only(incidents=frozenset(pages), months=frozenset(months))
            objects = render_site(snapshot, settings.templates_dir, only=only)
            rendered = {obj.key for obj in objects}
            prefixes = [""] + [f"{language}/" for language in site.languages[1:]]
            named = {prefix + incident_key(incident_id) for incident_id in only.incidents for prefix in prefixes}
            named |= {key for month in only.months for key in month_keys(month)}
            named |= {prefix + month_keys(month)[0] for month in only.months for prefix in prefixes[1:]}
            remove = sorted(key for key in named - rendered if key in live)
            checked = check_site(objects, published=live.keys() - set(remove))
            kwargs = dict(remove=remove)
        try:
            result = publisher.publish(checked.objects, now=moment, reconcile=reconcile, manifest=manifest, **kwargs)
        except (Conflict, AlreadyExists):
            if attempt == ATTEMPTS:
                raise
            log.info("another publish finished first; publishing again from fresh state (attempt %d)", attempt + 1)
            continue
        _keep_front(table, result.manifest_head, [i for i in incidents if on_the_front(i, moment)])
        report_withheld(checked.withheld)
        log.info("publish: %s uploaded, %s unchanged", f"{len(result.uploaded):,}", f"{result.unchanged:,}")
        return SitePublished(**vars(result), withheld=checked.withheld)
    raise AssertionError("unreachable")


def front_tag(head: Item) -> str:
    """What names one write of the manifest: its head's version and its parts, whose keys are random,
    so no other publish's manifest, not even one in a table made again, has the same."""
    return f"{head.version}:{','.join(head.children or ())}"


def _keep_front(table: Table, head: Item | None, front: list[Incident]) -> None:
    """Keep the front this publish rendered from, for the next publish after writes (see the module docstring)."""
    if head is None:
        return
    try:
        if not IncidentStore(table).keep_front(front_tag(head), front):
            log.info("the front (%d incidents) is too large to keep; publishes read its listing", len(front))
    except Exception:
        # The page is live; the next publish reads the front's listing instead.
        log.warning("could not keep the front for the next publish", exc_info=True)


def history_store(table: Table) -> HistoryStore:
    """The history as publishes read it (when its former layout ended comes from ``LISTED_MARK``)."""
    mark = table.get(*LISTED_MARK)
    return _history(table, mark.data.get("history_before") if mark else None)


def _history(table: Table, former: str | None) -> HistoryStore:
    return HistoryStore(table, older_layout_until=datetime.fromisoformat(former.replace("Z", "+00:00"))
                        if former else None)


_MONTH_PAGE = re.compile(r"^history/(\d{4}-\d{2})\.html$")


def _changed_records(store: IncidentStore, site, now: datetime, changes: Changes, live: dict[str, str],
                     front: list[Incident] | None = None):
    """What an incremental publish renders from: the front, the changed incidents and their months' incidents;
    the incidents whose pages to render: the changed ones, and those on the front whose page is not live
    (saved by a write whose publish failed, which took its changes with it); the months to render; and
    every month with incidents (the manifest's month pages, corrected by these).

    ``front``: the front as the publish that wrote the manifest last had it (the kept front), taken
    instead of reading it; the changed incidents are read again whatever it holds. A month that gains
    its first incident or loses its last changes its neighbours' links too, so they are rendered as well.
    """
    zone = site.brand.zone
    ids = {c.incident_id for c in changes.incidents}
    changed = store.by_ids(ids)
    months = {month_of(incident, zone) for incident in changed}
    months |= {c.start_before.astimezone(zone).strftime("%Y-%m") for c in changes.incidents if c.start_before}
    if front is None:
        front = store.front(now - timedelta(days=HISTORY_DAYS))
    else:  # as it was kept, less what aged out since; the changed ones are read again above
        front = [i for i in front if i.id not in ids and on_the_front(i, now)]
    unpublished = [i for i in front if incident_key(i.id) not in live]
    months |= {month_of(i, zone) for i in unpublished}
    by_id = {i.id: i for i in front}
    by_id.update({i.id: i for i in _of_months(store, months, zone, known=by_id.values())})
    by_id.update({i.id: i for i in changed})  # strongly consistent: as saved last
    filled = {month_of(i, zone) for i in by_id.values()} & months
    before = {m.group(1) for key in live if (m := _MONTH_PAGE.match(key))}
    after = (before - months) | filled
    neighbours = set()
    for month in before ^ after:
        for listed in (sorted(before), sorted(after)):
            neighbours |= _next_to(month, listed)
    neighbours &= after
    neighbours -= months
    by_id.update({i.id: i for i in _of_months(store, neighbours, zone, known=by_id.values()) if i.id not in by_id})
    return (list(by_id.values()), ids | {i.id for i in unpublished}, months | neighbours,
            tuple(sorted(after, reverse=True)))


def _of_months(store: IncidentStore, months: set[str], zone, known=()) -> list:
    """The incidents of these months of the brand's zone; those in ``known`` are not read again."""
    if not months:
        return []
    return store.of_months((utc for month in months for utc in _utc_months(month, zone)), known=list(known))


def _next_to(month: str, listed: list[str]) -> set[str]:
    """The months on either side of ``month`` in the sorted list ``listed`` (whether or not it is in it)."""
    earlier = [m for m in listed if m < month]
    later = [m for m in listed if m > month]
    return set(earlier[-1:] + later[:1])


def _utc_months(month: str, zone) -> set[str]:
    """The UTC months a month of the brand's zone overlaps (one or two)."""
    year, number = map(int, month.split("-"))
    first = datetime(year, number, 1, tzinfo=zone)
    after = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
    return {moment.astimezone(timezone.utc).strftime("%Y-%m") for moment in (first, after - timedelta(seconds=1))}


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
