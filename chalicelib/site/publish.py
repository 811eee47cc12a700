"""Publish rendered files to the page bucket, uploading only what changed.

The manifest of what is live (object key → SHA-256 of its bytes and headers) is kept in
the table. Changed objects go up in an order that never shows a reader a link to a
missing object: hashed assets first, then the pages they and the entry points link to
(incidents, history, badges, feeds, JSON), the entry points (``ENTRY_POINTS``) last. The
manifest is written only after every upload succeeded, so a publish that failed half-way
is completed by the next one; it is written at the version it was read at, so two
publishers never record each other's half-work as done (the loser gets ``Conflict`` and
``service.publish_site`` runs again).
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from chalicelib.model import isoformat
from chalicelib.site.render import SiteObject
from chalicelib.store.table import Item, Table

MANIFEST_PK, MANIFEST_SK = "SITE", "published"
ENTRY_POINTS = ("index.html", "api/v2/summary.json")
# Lower goes up first: what others link to before what links to it.
_RANKS = (("assets/", 0), ("badges/", 1), ("incidents/", 1), ("history", 2), ("api/", 3), ("sitemap.xml", 4),
          ("robots.txt", 4))


@dataclass(frozen=True)
class PublishResult:
    uploaded: list[str]
    unchanged: int


def digest(obj: SiteObject) -> str:
    return hashlib.sha256(obj.body + obj.content_type.encode() + obj.cache_control.encode()).hexdigest()[:32]


def upload_rank(key: str) -> tuple[int, int]:
    if key in ENTRY_POINTS:
        return 9, ENTRY_POINTS.index(key)
    for prefix, rank in _RANKS:
        if key.startswith(prefix):
            return rank, 0
    return 5, 0


def plan_uploads(objects: Sequence[SiteObject], live: dict[str, str]) -> list[SiteObject]:
    changed = [obj for obj in objects if live.get(obj.key) != digest(obj)]
    return sorted(changed, key=lambda obj: (upload_rank(obj.key), obj.key))


class Publisher:
    def __init__(self, s3, bucket: str, table: Table):
        self._s3 = s3
        self._bucket = bucket
        self._table = table

    def first_published_at(self) -> datetime | None:
        manifest = self._table.get(MANIFEST_PK, MANIFEST_SK)
        since = manifest.data.get("since") if manifest else None
        return datetime.fromisoformat(since.replace("Z", "+00:00")) if since else None

    def publish(self, objects: Sequence[SiteObject], now: datetime | None = None) -> PublishResult:
        manifest = self._table.get(MANIFEST_PK, MANIFEST_SK)
        live = dict(manifest.data.get("objects", {})) if manifest else {}
        uploads = plan_uploads(objects, live)
        for obj in uploads:
            self._s3.put_object(
                Bucket=self._bucket,
                Key=obj.key,
                Body=obj.body,
                ContentType=obj.content_type,
                CacheControl=obj.cache_control,
            )
        published = {**live, **{obj.key: digest(obj) for obj in objects}}
        since = (manifest.data.get("since") if manifest else None) or isoformat(now)
        data = {"objects": published, **({"since": since} if since else {})}
        if manifest is None:
            self._table.create(MANIFEST_PK, MANIFEST_SK, data)
        elif uploads or data != manifest.data:
            self._table.replace(Item(MANIFEST_PK, MANIFEST_SK, {}, manifest.version), data)
        return PublishResult([obj.key for obj in uploads], len(objects) - len(uploads))
