"""Notification events: what subscribers are to be told, stored once, listed newest first."""
from __future__ import annotations

from chalicelib.model import NotificationEvent
from chalicelib.store.paging import query_page
from chalicelib.store.table import Page, Table

NOTIFICATION = "NOTIFICATION"


class NotificationStore:
    def __init__(self, table: Table):
        self.table = table

    def save(self, event: NotificationEvent) -> NotificationEvent:
        item = self.table.create(NOTIFICATION, event.id, event.as_json(exclude={"version"}))
        return event.replace(version=item.version)

    def get(self, notification_id: str) -> NotificationEvent | None:
        item = self.table.get(NOTIFICATION, notification_id)
        return None if item is None else _event(item)

    def page(self, *, limit: int = 50, cursor: str | None = None) -> tuple[list[NotificationEvent], str | None]:
        page: Page = query_page(self.table, NOTIFICATION, limit=limit, cursor=cursor)
        return [_event(item) for item in page.items], page.cursor


def _event(item) -> NotificationEvent:
    return NotificationEvent.from_data({**item.data, "version": item.version})
