"""Incidents (with their updates) and notices by id, and their listings, newest first, paged.

An incident is one item (pk ``INCIDENT``, sk ``<incident id>``) holding its updates while
they are small (``INLINE_BYTES`` of JSON: a typical incident, a handful of updates, is one
item, so a publish reads a hundred incidents as a hundred items). Past that its updates
move to one item each (sk ``<incident id>#<update id>#<digest of its content>``) and the
header keeps the rest, so an incident never grows past DynamoDB's 400 KB per item: one
update is at most 10,000 characters (120 KB once JSON escapes them), and the service caps
the number of updates. The ``#`` sorts before every id character, so the one query of the
partition that lists incidents returns each header followed by its updates, oldest first.

The local emulator cannot run DynamoDB transactions, so a save writes the update items
first and the header last, conditionally on the version the caller read.
A header whose updates are items lists their keys (``Item.children``), and readers trust
only those: an item written by a save that then lost the race is never shown, and an
edited update gets a new key (its digest changes), so the update readers see changes only
when the header does. Keys a saved header no longer lists are deleted after it is written
(all of them when the updates fit inline again, after an edit shortened them).

Listings for the API read the partition whole (a brand has hundreds of incidents, not
millions) and page by id: ids sort by creation time, so the cursor is the last id a page returned.

The page's publish and the writers read by key only (GetItem, BatchGetItem), never by query,
so what they read does not grow with the history: DynamoDB's cost follows the requests and
items, and the emulator walks the whole table for every query. Membership items (pk
``LISTED``, a string set ``ids``) say which keys to read:

- ``front``: the incidents on the page's front, open or changed within the last 90 days
  (a superset: each save adds its incident; the publish reading it takes out those that
  aged out);
- ``month#<YYYY-MM>``: the incidents that started in that UTC month (a save adds; a reader
  takes out an incident whose start moved to another month);
- ``notices``: every notice not deleted.

A save adds after it wrote the header, one ``ADD`` per set (no read, no lock), and every
add raises the set's version; a reader takes ids out only conditionally on the version it
read (``Table.remove_members``), after reading their headers. A concurrent save's add
either lands after the reader read the set (the version moved: nothing is taken) or
before it, and then so did its header, which the reader reads after the set (strongly
consistent): an incident on the front is never taken out. What a crash between header and add leaves out, the whole
publish of the schedule puts back (``list_missing``), and tables written before listings
existed get theirs once, behind the marker ``LISTED_MARK`` (until then publishes render
everything and writers read every incident). Bounds: an id is 16 characters, so a set
holds about 20,000 ids within DynamoDB's 400 KB per item: incidents changed in 90 days,
started in one month, or live notices.

Each save also notes, for this thread of work, which incidents changed and where their
start was before (``take_changes``): a publish after the write renders just those.

The kept front (``KEPT_FRONT``, one item) is the front as the publish that wrote the page's
manifest last rendered it, tagged with that manifest's head, so the next publish after a write,
in whichever function it runs, starts from it instead of reading the listing and every incident
on it (about 120 items on a busy page): ``keep_front``, ``kept_front``. It is compressed JSON;
a front too large for one item is not kept, and publishes read the listing.
"""
from __future__ import annotations

import base64
import contextvars
import hashlib
import json
import logging
import zlib
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import TypeVar

import msgspec

from chalicelib.model import CLOSED_STATUSES, Incident, IncidentUpdate, Notice, Record, isoformat
from chalicelib.store.table import AlreadyExists, Conflict, Item, Table

log = logging.getLogger("beacon.store")
INCIDENT, NOTICE = "INCIDENT", "NOTICE"
_UPDATE = "#"
LISTED, MEMBERS = "LISTED", "ids"
FRONT, NOTICES = "front", "notices"
# Written once the listings hold every incident and notice of a table written before they existed.
LISTED_MARK = ("SITE", "incidents-listed")
FRONT_DAYS = 90  # the page's bars (site.snapshot.HISTORY_DAYS)
KEPT_FRONT = ("SITE", "front")
# Encoded, within DynamoDB's 400 KB per item: about 400 incidents of three 60-word updates each
# (a busy page has about 120 on its front).
KEPT_FRONT_BYTES = 350_000
# Updates kept in the header while their JSON is at most this: with the header's own fields
# (a name, translations, a postmortem of up to 10,000 characters) far within 400 KB.
INLINE_BYTES = 100_000

R = TypeVar("R", bound=Record)


class Changed(msgspec.Struct, frozen=True):
    """An incident a write saved, with its start before the write (None for a new one)."""

    incident_id: str
    start_before: datetime | None

    def encoded(self) -> str:
        return f"{self.incident_id}|{isoformat(self.start_before) or ''}"

    @classmethod
    def decoded(cls, value: str) -> "Changed":
        incident_id, _, start = value.partition("|")
        return cls(incident_id, datetime.fromisoformat(start.replace("Z", "+00:00")) if start else None)


_changes: contextvars.ContextVar[dict[str, Changed] | None] = contextvars.ContextVar("incident_changes", default=None)


def take_changes() -> list[Changed]:
    """The incidents saved in this thread of work since the last call, and forget them."""
    changes = _changes.get()
    _changes.set(None)
    return list(changes.values()) if changes else []


def _noted(incident_id: str, start_before: datetime | None) -> None:
    changes = _changes.get()
    if changes is None:
        changes = {}
        _changes.set(changes)
    if incident_id not in changes:  # the first save of a burst knows where it started
        changes[incident_id] = Changed(incident_id, start_before)


def month_listing(incident: Incident) -> str:
    """The sort key of the listing of the UTC month the incident started in."""
    return f"month#{incident.start.astimezone(timezone.utc):%Y-%m}"


class IncidentStore:
    def __init__(self, table: Table):
        self.table = table

    def incident(self, incident_id: str) -> Incident | None:
        header = self.table.get(INCIDENT, incident_id)
        if header is None:
            return None
        # Its updates by key: the header lists them (a query would cost what the partition holds, on the emulator).
        updates = self.table.get_many(INCIDENT, header.children) if header.children else {}
        return _incident(header, updates)

    def incidents(self) -> list[Incident]:
        items = self.table.query_all(INCIDENT)
        by_key = {item.sk: item for item in items}
        return [_incident(item, by_key) for item in items if _UPDATE not in item.sk]

    def save_incident(self, incident: Incident) -> Incident:
        """Write what changed: new and edited updates, then the header (``Conflict`` if it moved)."""
        header, updates = stored_form(incident)
        stored = None
        if incident.version:
            stored = self.table.get(INCIDENT, incident.id)
            if stored is None or stored.version != incident.version:
                raise Conflict(f"{INCIDENT}/{incident.id} changed since version {incident.version}")
        listed = set(stored.children or ()) if stored else set()
        for key, update in updates.items():
            if key not in listed:
                try:
                    self.table.create(INCIDENT, key, update.as_json())
                except AlreadyExists:
                    pass  # the key is the content's digest: the item holds this very update
        if stored is None:
            saved = self.table.create(INCIDENT, incident.id, header, children=list(updates))
        else:
            saved = self.table.replace(stored, header, children=list(updates))
        for listing in (FRONT, month_listing(incident)):  # after the header: see the module docstring
            self.table.add_members(LISTED, listing, MEMBERS, [incident.id])
        _noted(incident.id, _incident(stored, {}).start if stored else None)
        for key in listed - set(updates):
            self.table.delete(INCIDENT, key)
        return incident.replace(version=saved.version)

    def front(self, since: datetime) -> list[Incident]:
        """Open incidents and maintenance, and every one changed since ``since`` (read by key, eventually
        consistent like the index it replaces: what a write just changed, read it with ``by_ids``)."""
        return self._with_updates(self.tidy_front(since), consistent=False)

    def tidy_front(self, since: datetime) -> list[Item]:
        """The headers on the front (see ``front``); the listing lets go of the others."""
        listing = self.table.get(LISTED, FRONT)
        headers = self.table.get_many(INCIDENT, sorted(_members(listing)), consistent=False)
        kept = {key: h for key, h in headers.items() if _on_the_front(h, since)}
        # Only what a strongly consistent read confirms leaves the listing (see the module docstring).
        recheck = self.table.get_many(INCIDENT, sorted(_members(listing) - set(kept))) if listing else {}
        kept.update({key: h for key, h in recheck.items() if _on_the_front(h, since)})
        self._take_out(listing, _members(listing) - set(kept))
        return list(kept.values())

    def keep_front(self, tag: str, incidents: Iterable[Incident]) -> bool:
        """Keep these incidents as the front the manifest ``tag`` names was rendered from (see the
        module docstring); False when they are too large for one item, and none is kept (the one
        kept before names another manifest, so no publish takes it)."""
        packed = base64.b64encode(zlib.compress(msgspec.json.encode([i.as_json() for i in incidents]), 6)).decode()
        if len(packed) > KEPT_FRONT_BYTES:
            return False
        self.table.put(*KEPT_FRONT, {"tag": tag, "incidents": packed})
        return True

    def kept_front(self, tag: str) -> list[Incident] | None:
        """The front kept for the manifest ``tag`` names; None when the one kept is another's, or none is."""
        kept = self.table.get(*KEPT_FRONT)
        if kept is None or kept.data.get("tag") != tag:
            return None
        try:
            return msgspec.json.decode(zlib.decompress(base64.b64decode(kept.data["incidents"])), type=list[Incident])
        except (ValueError, KeyError, zlib.error) as exc:  # kept by a release whose incidents read otherwise
            log.warning("the kept front cannot be read (%s); reading the front's listing instead", exc)
            return None

    def forget_front(self) -> None:
        self.table.delete(*KEPT_FRONT)

    def of_months(self, months: Iterable[str], known: Iterable[Incident] = ()) -> list[Incident]:
        """Every incident that started in these UTC months (``YYYY-MM``; read by key, eventually consistent).

        ``known``: incidents the caller read already (the front): not read again.
        """
        wanted = {f"month#{month}" for month in months}
        known_by_id = {i.id: i for i in known}
        listings = self.table.get_keys([(LISTED, sk) for sk in sorted(wanted)])
        ids = sorted({i for item in listings.values() for i in _members(item)} - set(known_by_id))
        headers = self.table.get_many(INCIDENT, ids, consistent=False)
        elsewhere = {i for (_, sk), listing in listings.items() for i in _members(listing)
                     if i not in known_by_id and (i not in headers or _month_of(headers[i]) != sk)}
        headers.update(self.table.get_many(INCIDENT, sorted(elsewhere)))  # confirmed before they leave
        kept: dict[str, Item] = {}
        found: list[Incident] = []
        for (_, sk), listing in listings.items():
            here = {i: headers[i] for i in _members(listing) - set(known_by_id)
                    if i in headers and _month_of(headers[i]) == sk}
            already = [known_by_id[i] for i in _members(listing) if i in known_by_id
                       and month_listing(known_by_id[i]) == sk]
            # Known ones stay listed: they were not confirmed by a strongly consistent read here.
            self._take_out(listing, _members(listing) - set(here) - set(known_by_id))
            kept.update(here)
            found += already
        return found + self._with_updates(list(kept.values()), consistent=False)

    def by_ids(self, ids: Iterable[str]) -> list[Incident]:
        """These incidents as saved last (strongly consistent reads); unknown ids are left out."""
        headers = list(self.table.get_many(INCIDENT, sorted(set(ids))).values())
        return self._with_updates(headers)

    def open_incidents(self) -> list[Incident]:
        """The open incidents and maintenance (read by key once the listings are complete)."""
        found = self.table.get_keys([LISTED_MARK, (LISTED, FRONT)])
        if LISTED_MARK not in found:
            return [i for i in self.incidents() if i.is_open]
        headers = self.table.get_many(INCIDENT, sorted(_members(found.get((LISTED, FRONT)))))
        return self._with_updates([h for h in headers.values() if h.data.get("status") not in _CLOSED])

    def list_missing(self, incidents: Iterable[Incident], notice_ids: Iterable[str], now: datetime) -> int:
        """Add to the listings what they lack of these records (every incident and notice, read whole);
        the number of ids added. Idempotent, and it only adds, so it is safe beside any writer."""
        since = now - timedelta(days=FRONT_DAYS)
        wanted: dict[str, set[str]] = {FRONT: set(), NOTICES: set(notice_ids)}
        for incident in incidents:
            wanted.setdefault(month_listing(incident), set()).add(incident.id)
            if incident.is_open or incident.updated_at >= since:
                wanted[FRONT].add(incident.id)
        listings = self.table.get_keys([(LISTED, sk) for sk in sorted(wanted)])
        added = 0
        for sk, ids in wanted.items():
            missing = ids - set(_members(listings.get((LISTED, sk))))
            self.table.add_members(LISTED, sk, MEMBERS, sorted(missing))
            added += len(missing)
        return added

    def _take_out(self, listing: Item | None, ids: set[str]) -> None:
        if listing is not None and ids:
            # Conditional on the version read: refused when a save added meanwhile (next reader's turn).
            self.table.remove_members(LISTED, listing.sk, MEMBERS, sorted(ids), version=listing.version)

    def _with_updates(self, headers: list[Item], *, consistent: bool = True) -> list[Incident]:
        """Whole incidents from their headers: their listed updates read in batches."""
        headers = list({h.sk: h for h in headers if _UPDATE not in h.sk}.values())
        wanted = [key for h in headers for key in (h.children or ())]
        updates = self.table.get_many(INCIDENT, wanted, consistent=consistent) if wanted else {}
        return [_incident(h, updates) for h in headers]

    def notice(self, notice_id: str) -> Notice | None:
        item = self.table.get(NOTICE, notice_id)
        return None if item is None else Notice.from_data({**item.data, "version": item.version})

    def delete_notice(self, notice_id: str, version: int) -> None:
        self.table.delete(NOTICE, notice_id, version=version)
        self.table.remove_members(LISTED, NOTICES, MEMBERS, [notice_id])  # ids are never reused

    def listed_notices(self) -> list[Notice]:
        """Every notice, read by key (``notices`` listing); ids of deleted ones are taken out."""
        listing = self.table.get(LISTED, NOTICES)
        items = self.table.get_many(NOTICE, sorted(_members(listing)))
        self._take_out(listing, _members(listing) - set(items))
        return [Notice.from_data({**item.data, "version": item.version}) for item in items.values()]


_CLOSED = frozenset(status.value for status in CLOSED_STATUSES)


def _members(listing: Item | None) -> set[str]:
    return set(listing.data.get(MEMBERS) or ()) if listing is not None else set()


def _on_the_front(header: Item, since: datetime) -> bool:
    """Open, or changed since ``since`` (``site.snapshot.on_the_front``, from the header's data)."""
    if header.data.get("status") not in _CLOSED:
        return True
    return datetime.fromisoformat(header.data["updated_at"].replace("Z", "+00:00")) >= since


def _month_of(header: Item) -> str:
    return month_listing(_incident(header, {}))


def _incident(header: Item, items: dict[str, Item]) -> Incident:
    if "updates" in header.data or header.children is None:
        updates = header.data.get("updates", [])
    else:
        # A listed key can be gone only for a reader that read this header just before a newer
        # save deleted the update's replaced revision: it misses that update for this read.
        updates = [items[key].data for key in header.children if key in items]
    return Incident.from_data({**header.data, "updates": updates, "version": header.version})


def stored_form(incident: Incident) -> tuple[dict, dict[str, IncidentUpdate]]:
    """What an incident is stored as: its header's data (its updates inside while small) and its
    update items by key (none while they fit in the header)."""
    header = incident.as_json(exclude={"version", "updates"})
    inline = [update.as_json() for update in incident.updates]
    if len(json.dumps(inline, separators=(",", ":"))) <= INLINE_BYTES:
        return {**header, "updates": inline}, {}
    return header, {_update_key(incident.id, update): update for update in incident.updates}


def _update_key(incident_id: str, update: IncidentUpdate) -> str:
    content = json.dumps(update.as_json(), sort_keys=True, separators=(",", ":"))
    return f"{incident_id}{_UPDATE}{update.id}{_UPDATE}{hashlib.sha256(content.encode()).hexdigest()[:16]}"


def page_of(records: list[R], *, limit: int, cursor: str | None, keep: Callable[[R], bool] = lambda r: True
            ) -> tuple[list[R], str | None]:
    """Newest first; ``cursor`` is the id of the last record of the previous page."""
    chosen = sorted((r for r in records if keep(r)), key=lambda r: r.id, reverse=True)  # type: ignore[attr-defined]
    if cursor:
        chosen = [r for r in chosen if r.id < cursor]  # type: ignore[attr-defined]
    page = chosen[:limit]
    more = len(chosen) > limit
    return page, (page[-1].id if more and page else None)  # type: ignore[attr-defined]
