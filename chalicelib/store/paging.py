"""Newest-first pages of one partition, with cursors checked before they reach DynamoDB."""
from __future__ import annotations

import base64
import json

from chalicelib.store.table import Page, Table

_REFUSED = "cursor is not one this API returned; omit it to start from the first page"


def query_page(table: Table, pk: str, *, limit: int, cursor: str | None) -> Page:
    if cursor is not None:
        try:
            key = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4)))
        except ValueError:
            raise ValueError(_REFUSED) from None
        # A cursor of another partition would reach DynamoDB as an invalid request.
        if not isinstance(key, dict) or key.get("pk") != pk or not isinstance(key.get("sk"), str):
            raise ValueError(_REFUSED)
    return table.query(pk, limit=limit, cursor=cursor, descending=True)
