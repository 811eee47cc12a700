"""The audit log: who changed what, when; newest first, paged, kept a year.

``AuditStore.watch()`` collects the entries recorded in this context while it is open: the
API's route decorator uses it to know whether a call's service recorded its write.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta

from chalicelib.model import Record, new_id
from chalicelib.store.paging import query_page
from chalicelib.store.table import Table

AUDIT = "AUDIT"
KEPT = timedelta(days=365)
_WATCHED: ContextVar[list | None] = ContextVar("audit_entries_watched", default=None)


class AuditEntry(Record, kw_only=True):
    id: str
    at: datetime
    actor: str
    action: str
    target: str
    summary: str = ""


class AuditStore:
    def __init__(self, table: Table):
        self.table = table

    def record(self, *, actor: str, action: str, target: str, summary: str, at: datetime) -> AuditEntry:
        entry = AuditEntry(id=new_id(at), at=at, actor=actor, action=action, target=target, summary=summary[:2000])
        self.table.create(AUDIT, entry.id, entry.as_json(), expires_at=int((at + KEPT).timestamp()))
        watched = _WATCHED.get()
        if watched is not None:
            watched.append(entry)
        return entry

    @staticmethod
    @contextmanager
    def watch() -> Iterator[list[AuditEntry]]:
        """The entries recorded in this context until the block ends."""
        token = _WATCHED.set([])
        try:
            yield _WATCHED.get()
        finally:
            _WATCHED.reset(token)

    def page(self, *, limit: int = 50, cursor: str | None = None) -> tuple[list[AuditEntry], str | None]:
        page = query_page(self.table, AUDIT, limit=limit, cursor=cursor)
        return [AuditEntry.from_data(item.data) for item in page.items], page.cursor
