"""API keys, stored only as the SHA-256 of the secret (pk ``KEY``, sk the hex digest)."""
from __future__ import annotations

from datetime import datetime

from chalicelib.model import Record
from chalicelib.store.table import Table

KEY = "KEY"


class ApiKey(Record, kw_only=True):
    """A key's public side: the secret itself is never stored."""

    id: str
    name: str
    scope: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class KeyStore:
    def __init__(self, table: Table):
        self.table = table

    def add(self, digest: str, key: ApiKey) -> ApiKey:
        self.table.create(KEY, digest, {**key.as_json(), "digest": digest})
        return key

    def by_digest(self, digest: str) -> tuple[str, ApiKey] | None:
        item = self.table.get(KEY, digest)
        if item is None:
            return None
        data = dict(item.data)
        return data.pop("digest"), ApiKey.from_data(data)

    def all(self) -> list[ApiKey]:
        keys = []
        for item in self.table.query_all(KEY):
            data = dict(item.data)
            data.pop("digest", None)
            keys.append(ApiKey.from_data(data))
        return sorted(keys, key=lambda k: k.created_at)

    def revoke(self, key_id: str, at: datetime) -> ApiKey | None:
        for item in self.table.query_all(KEY):
            if item.data.get("id") == key_id:
                data = {**item.data, "revoked_at": item.data.get("revoked_at") or at.isoformat()}
                self.table.replace(item, data)
                data.pop("digest")
                return ApiKey.from_data(data)
        return None
