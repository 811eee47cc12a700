"""Incidents (with their updates) and notices by id, and their listings, newest first, paged.

An incident is a header item (pk ``INCIDENT``, sk ``<incident id>``) and one item per
update (sk ``<incident id>#<update id>#<digest of its content>``), so an incident grows by
small items, never past DynamoDB's 400 KB per item: one update is at most 10,000
characters (120 KB once JSON escapes them), and the service caps the number of updates.
The ``#`` sorts before every id character, so the one query of the partition that lists
incidents returns each header followed by its updates, oldest first.

The local emulator cannot run DynamoDB transactions, so a save writes the update items
first and the header last, conditionally on the version the caller read.
The header lists the keys of its updates (``Item.children``), and readers trust only
those: an item written by a save that then lost the race is never shown, and an edited
update gets a new key (its digest changes), so the update readers see changes only when
the header does. Keys a saved header no longer lists are deleted after it is written.
Headers stored before updates had items of their own carry them inline (no ``children``):
they are read as they are, and their next save moves the updates to items.

Listings read the partition whole (a brand has hundreds of incidents, not millions) and
page by id: ids sort by creation time, so the cursor is the last id a page returned.

Headers are also in two sparse secondary indexes, so the page's publish reads what it shows
without reading the whole history: ``front`` (every header; sort key ``~<id>`` while the
incident is open, else ``<updated_at>#<id>``, so "open, or changed since T" is one query)
and ``month`` (partition the UTC month of the incident's start, sort key ``<start>#<id>``).
Each save also notes, for this thread of work, which incidents changed and where their
start was before (``take_changes``): a publish after the write renders just those.
"""
from __future__ import annotations

import contextvars
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TypeVar

from chalicelib.model import Incident, IncidentUpdate, Notice, Record, isoformat
from chalicelib.store.table import AlreadyExists, Conflict, Item, Table

INCIDENT, NOTICE = "INCIDENT", "NOTICE"
_UPDATE = "#"

R = TypeVar("R", bound=Record)
_OPEN = "~"  # sorts after every timestamp: open incidents are always "changed since T"


@dataclass(frozen=True)
class Changed:
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


def index_keys(incident: Incident) -> dict[str, str]:
    start = incident.start.astimezone(timezone.utc)
    changed = f"{_OPEN}{incident.id}" if incident.is_open else f"{isoformat(incident.updated_at)}#{incident.id}"
    return {"front": INCIDENT, "front_at": changed, "month": f"{start:%Y-%m}",
            "month_at": f"{isoformat(start)}#{incident.id}"}


class IncidentStore:
    def __init__(self, table: Table):
        self.table = table

    def incident(self, incident_id: str) -> Incident | None:
        header = self.table.get(INCIDENT, incident_id)
        if header is None:
            return None
        updates = {} if header.children is None else {
            item.sk: item for item in self.table.query(INCIDENT, prefix=incident_id + _UPDATE, consistent=True).items}
        return _incident(header, updates)

    def incidents(self) -> list[Incident]:
        items = self.table.query_all(INCIDENT)
        by_key = {item.sk: item for item in items}
        return [_incident(item, by_key) for item in items if _UPDATE not in item.sk]

    def save_incident(self, incident: Incident) -> Incident:
        """Write what changed: new and edited updates, then the header (``Conflict`` if it moved)."""
        updates = {_update_key(incident.id, update): update for update in incident.updates}
        header = incident.model_dump(mode="json", exclude={"version", "updates"})
        stored = None
        if incident.version:
            stored = self.table.get(INCIDENT, incident.id)
            if stored is None or stored.version != incident.version:
                raise Conflict(f"{INCIDENT}/{incident.id} changed since version {incident.version}")
        listed = set(stored.children or ()) if stored else set()
        for key, update in updates.items():
            if key not in listed:
                try:
                    self.table.create(INCIDENT, key, update.model_dump(mode="json"))
                except AlreadyExists:
                    pass  # the key is the content's digest: the item holds this very update
        index = index_keys(incident)
        if stored is None:
            saved = self.table.create(INCIDENT, incident.id, header, children=list(updates), index=index)
        else:
            saved = self.table.replace(stored, header, children=list(updates), index=index)
        _noted(incident.id, _incident(stored, {}).start if stored else None)
        for key in listed - set(updates):
            self.table.delete(INCIDENT, key)
        return incident.model_copy(update={"version": saved.version})

    def front(self, since: datetime) -> list[Incident]:
        """Open incidents and maintenance, and every one changed since ``since`` (an index read)."""
        headers = self.table.query_index("front", INCIDENT, from_sort=isoformat(since))
        return self._with_updates(headers)

    def of_months(self, months: Iterable[str]) -> list[Incident]:
        """Every incident that started in these UTC months (``YYYY-MM``; an index read)."""
        headers = [h for month in sorted(set(months)) for h in self.table.query_index("month", month)]
        return self._with_updates(headers)

    def by_ids(self, ids: Iterable[str]) -> list[Incident]:
        """These incidents as saved last (strongly consistent reads); unknown ids are left out."""
        headers = list(self.table.get_many(INCIDENT, sorted(set(ids))).values())
        return self._with_updates(headers)

    def add_missing_index_keys(self) -> int:
        """Give headers saved before the indexes existed their keys; the number given. Idempotent."""
        given = 0
        for incident, header in self._headers_without_index():
            try:
                self.table.replace(header, header.data, index=index_keys(incident))
                given += 1
            except Conflict:
                pass  # saved meanwhile, with its keys
        return given

    def _headers_without_index(self):
        items = self.table.query_all(INCIDENT)
        by_key = {item.sk: item for item in items}
        for item in items:
            if _UPDATE not in item.sk and not item.index:
                yield _incident(item, by_key), item

    def _with_updates(self, headers: list[Item]) -> list[Incident]:
        """Whole incidents from their headers: their listed updates read in batches."""
        headers = list({h.sk: h for h in headers if _UPDATE not in h.sk}.values())
        wanted = [key for h in headers for key in (h.children or ())]
        updates = self.table.get_many(INCIDENT, wanted) if wanted else {}
        return [_incident(h, updates) for h in headers]

    def notice(self, notice_id: str) -> Notice | None:
        item = self.table.get(NOTICE, notice_id)
        return None if item is None else Notice.model_validate({**item.data, "version": item.version})

    def delete_notice(self, notice_id: str, version: int) -> None:
        self.table.delete(NOTICE, notice_id, version=version)


def _incident(header: Item, items: dict[str, Item]) -> Incident:
    if header.children is None:
        updates = header.data.get("updates", [])
    else:
        # A listed key can be gone only for a reader that read this header just before a newer
        # save deleted the update's replaced revision: it misses that update for this read.
        updates = [items[key].data for key in header.children if key in items]
    return Incident.model_validate({**header.data, "updates": updates, "version": header.version})


def _update_key(incident_id: str, update: IncidentUpdate) -> str:
    content = json.dumps(update.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
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
