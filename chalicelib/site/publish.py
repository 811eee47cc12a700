"""Publish rendered files to the page bucket, uploading only what changed.

The manifest of what is live (object key → SHA-256 of its bytes) is kept in the table.
Changed objects go up in an order that never shows a reader a link to a missing object:
everything else first, the entry points (``ENTRY_POINTS``) last. The manifest is written
only after every upload succeeded, so a publish that failed half-way is completed by the
next one; it is written at the version it was read at, so two publishers never record
each other's half-work as done.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from chalicelib.site.render import SiteObject
from chalicelib.store.table import Item, Table

MANIFEST_PK, MANIFEST_SK = "SITE", "published"
ENTRY_POINTS = ("index.html", "api/v2/summary.json")


@dataclass(frozen=True)
class PublishResult:
    uploaded: list[str]
    unchanged: int


def digest(obj: SiteObject) -> str:
    return hashlib.sha256(obj.body + obj.content_type.encode() + obj.cache_control.encode()).hexdigest()


def plan_uploads(objects: Sequence[SiteObject], live: dict[str, str]) -> list[SiteObject]:
    changed = [obj for obj in objects if live.get(obj.key) != digest(obj)]
    return sorted(changed, key=lambda obj: (obj.key in ENTRY_POINTS, ENTRY_POINTS.index(obj.key) if obj.key in ENTRY_POINTS else 0))


class Publisher:
    def __init__(self, s3, bucket: str, table: Table):
        self._s3 = s3
        self._bucket = bucket
        self._table = table

    def publish(self, objects: Sequence[SiteObject]) -> PublishResult:
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
        if manifest is None:
            self._table.create(MANIFEST_PK, MANIFEST_SK, {"objects": published})
        else:
            self._table.replace(Item(MANIFEST_PK, MANIFEST_SK, {}, manifest.version), {"objects": published})
        return PublishResult([obj.key for obj in uploads], len(objects) - len(uploads))
