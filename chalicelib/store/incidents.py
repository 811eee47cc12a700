"""Single incidents and notices by id, and their listings, newest first, paged.

Listings read the partition whole (a brand has hundreds of incidents, not millions; the
page's publish reads it whole too) and page by id: ids sort by creation time, so the
cursor is the last id a page returned.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from chalicelib.model import Incident, Notice, Record
from chalicelib.store.records import INCIDENT, NOTICE
from chalicelib.store.table import Table

R = TypeVar("R", bound=Record)


class IncidentStore:
    def __init__(self, table: Table):
        self.table = table

    def incident(self, incident_id: str) -> Incident | None:
        return self._get(INCIDENT, incident_id, Incident)

    def notice(self, notice_id: str) -> Notice | None:
        return self._get(NOTICE, notice_id, Notice)

    def delete_notice(self, notice_id: str, version: int) -> None:
        self.table.delete(NOTICE, notice_id, version=version)

    def _get(self, pk: str, sk: str, model: type[R]) -> R | None:
        item = self.table.get(pk, sk)
        return None if item is None else model.model_validate({**item.data, "version": item.version})


def page_of(records: list[R], *, limit: int, cursor: str | None, keep: Callable[[R], bool] = lambda r: True
            ) -> tuple[list[R], str | None]:
    """Newest first; ``cursor`` is the id of the last record of the previous page."""
    chosen = sorted((r for r in records if keep(r)), key=lambda r: r.id, reverse=True)  # type: ignore[attr-defined]
    if cursor:
        chosen = [r for r in chosen if r.id < cursor]  # type: ignore[attr-defined]
    page = chosen[:limit]
    more = len(chosen) > limit
    return page, (page[-1].id if more and page else None)  # type: ignore[attr-defined]
