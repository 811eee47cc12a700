"""Publish rendered files to the page bucket, uploading only what changed.

The manifest of what is live (object key → SHA-256 of its bytes and headers) is kept in
the table. Changed objects go up in an order that never shows a reader a link to a
missing object: hashed assets first, then the pages they and the entry points link to
(incidents, history, badges, feeds, JSON), the entry points (``ENTRY_POINTS``) last. The
manifest is written only after every upload succeeded, so a publish that failed half-way
is completed by the next one; it is written at the version it was read at, so two
publishers never record each other's half-work as done (the loser gets ``Conflict`` and
``service.publish_site`` runs again).

The manifest says what was put there, not what is still there: an object deleted or
overwritten by hand, or removed by a lifecycle rule, is invisible to it. A reconciling publish (the schedule's) therefore also lists the bucket
and re-uploads every rendered object that is missing or whose ETag is not the MD5 of the
bytes it would upload. That holds for single-part PUTs into a bucket encrypted with
SSE-S3, which is how this module writes and how ``infra/resources.json`` encrypts; an
ETag that is not an MD5 (a multipart upload by hand, SSE-KMS) cannot be checked and counts
as changed, and the single PUT that replaces it makes it checkable from then on. Listing
costs one request per 1,000 objects, so publishes triggered by writes skip it.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.model import isoformat
from chalicelib.site.render import SiteObject
from chalicelib.store.table import Item, Table

log = logging.getLogger("beacon.site")
MANIFEST_PK, MANIFEST_SK = "SITE", "published"
ENTRY_POINTS = ("index.html", "api/v2/summary.json")
# Lower goes up first: what others link to before what links to it.
_RANKS = (("assets/", 0), ("badges/", 1), ("incidents/", 1), ("history", 2), ("api/", 3), ("sitemap.xml", 4),
          ("robots.txt", 4))


@dataclass(frozen=True)
class PublishResult:
    uploaded: list[str]
    unchanged: int
    restored: list[str] = field(default_factory=list)  # uploaded only because the bucket had lost or altered them


def digest(obj: SiteObject) -> str:
    return hashlib.sha256(obj.body + obj.content_type.encode() + obj.cache_control.encode()).hexdigest()[:32]


def upload_rank(key: str) -> tuple[int, int]:
    if key in ENTRY_POINTS:
        return 9, ENTRY_POINTS.index(key)
    for prefix, rank in _RANKS:
        if key.startswith(prefix):
            return rank, 0
    return 5, 0


def stored_etag(obj: SiteObject) -> str:
    """The ETag S3 gives ``obj`` after a single-part PUT: the quoted MD5 of its body."""
    return '"' + hashlib.md5(obj.body, usedforsecurity=False).hexdigest() + '"'


def plan_uploads(objects: Sequence[SiteObject], live: dict[str, str],
                 stored: dict[str, str] | None = None) -> list[SiteObject]:
    """What to upload, in upload order. ``live`` is the manifest (key → digest); ``stored``, when
    given, is the bucket's listing (key → ETag), and whatever it lacks or holds other bytes of
    goes up too."""
    changed = [obj for obj in objects
               if live.get(obj.key) != digest(obj) or (stored is not None and stored.get(obj.key) != stored_etag(obj))]
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

    def stored_etags(self) -> dict[str, str]:
        """Every object in the bucket and its ETag, as S3 lists them now."""
        pages = self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket)
        return {entry["Key"]: entry["ETag"] for page in pages for entry in page.get("Contents", [])}

    def publish(self, objects: Sequence[SiteObject], now: datetime | None = None, *,
                reconcile: bool = False) -> PublishResult:
        """Upload what changed since the manifest; with ``reconcile``, also what the bucket lost or altered."""
        manifest = self._table.get(MANIFEST_PK, MANIFEST_SK)
        live = dict(manifest.data.get("objects", {})) if manifest else {}
        uploads = plan_uploads(objects, live, self.stored_etags() if reconcile else None)
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
        restored = [obj.key for obj in uploads if live.get(obj.key) == digest(obj)]
        if restored:
            log.warning("restored %d object(s) the bucket had lost or altered: %s", len(restored), ", ".join(restored))
        return PublishResult([obj.key for obj in uploads], len(objects) - len(uploads), restored)
