"""The audit log: who changed what, when; newest first, paged, kept a year."""
from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel

from chalicelib.model import new_id
from chalicelib.store.paging import query_page
from chalicelib.store.table import Table

AUDIT = "AUDIT"
KEPT = timedelta(days=365)


class AuditEntry(BaseModel):
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
        self.table.create(AUDIT, entry.id, entry.model_dump(mode="json"), expires_at=int((at + KEPT).timestamp()))
        return entry

    def page(self, *, limit: int = 50, cursor: str | None = None) -> tuple[list[AuditEntry], str | None]:
        page = query_page(self.table, AUDIT, limit=limit, cursor=cursor)
        return [AuditEntry.model_validate(item.data) for item in page.items], page.cursor
