"""Publish rendered files to the page bucket, uploading only what changed, in parallel and resumably.

The manifest of what is live (object key → SHA-256 of its bytes and headers) is kept in
the table. Changed objects go up in an order that never shows a reader a link to a
missing object: hashed assets first, then incident pages and badges, the month pages,
``history.html``, the feeds and the JSON, the month sitemaps before the sitemaps that list
them, and the entry points (``ENTRY_POINTS``) last.
Objects of one rank (``upload_rank``) go up together, up to ``concurrency`` at once
(setting ``PUBLISH_CONCURRENCY``); a rank starts only when every upload of the ranks
below it has finished, and the entry points go up one after the other, last.

Progress is recorded as objects go up: the manifest is rewritten once a second or every
``CHECKPOINT_OBJECTS`` uploads, whichever comes first, when an upload fails, and at the
end, so a publish that dies half-way (a timeout, a crash) is resumed by the next one,
which uploads only what was not recorded yet (a rank's work of under a second is cheaper
to redo than to record). Each write is conditional on the version read (or last written), so two
publishers never record each other's half-work as done: the first to write wins, the other
gets ``Conflict`` at its next write, stops uploading, and ``service.publish_site`` runs
it again from a fresh read. It also reads the manifest's version once more before its
entry points go up, so a publisher that fell behind rarely shows its older entry points.
Only what finished uploading is ever recorded, so the manifest never names bytes the
bucket does not hold (short of the hand-made changes below).

The manifest is one head item (``SITE``/``published``: ``since``, the first publish)
listing its parts in ``children``: items of at most ~200 KB (6,000 objects fit in three),
far under DynamoDB's 400 KB item limit. A part is never rewritten in place: a changed
part is written under a new sort key, the head is switched to it conditionally, and only
then is the part it replaced deleted, so a head never lists a part that is gone (a reader
between the switch and the delete re-reads the head). A head stored before parts
existed holds ``objects`` inline and is read as such until the next write.

Deletes: a full render (``complete=True``) deletes what the manifest lists and the render
no longer has (a deleted incident's page), except what ``keep`` names (pages withheld by
their checks, whose last good copy stays); ``remove`` deletes named keys in a partial
publish (``complete=False``, the default, keeps every key absent from ``objects``). Deletes
come after the entry points went up (no page links to them any more), in batches of up to
1,000, and are recorded after they succeed; a key the manifest never recorded (an object
placed by hand) is never deleted.

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
import itertools
import json
import logging
import time
import zlib
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.model import isoformat, new_id
from chalicelib.site.render import SiteObject
from chalicelib.store.table import AlreadyExists, Conflict, Item, Table

log = logging.getLogger("beacon.site")
MANIFEST_PK, MANIFEST_SK = "SITE", "published"
PART_PREFIX = "published#"
ENTRY_POINTS = ("index.html", "api/v2/summary.json")
# Lower goes up first: what others link to before what links to it.
# The first prefix a key starts with gives its rank.
_RANKS = (("assets/", 0), ("badges/", 1), ("incidents/", 1), ("history/", 2), ("history", 3), ("api/", 3),
          ("sitemap-pages.xml", 4), ("sitemap-", 3), ("sitemap.xml", 5), ("robots.txt", 6))
_ENTRY_RANK = 9
CHECKPOINT_OBJECTS = 500
CHECKPOINT_SECONDS = 1.0
PART_BYTES = 200_000  # a part's JSON; DynamoDB refuses items over 400 KB
DELETE_BATCH = 1000  # S3's DeleteObjects limit


@dataclass(frozen=True)
class PublishResult:
    uploaded: list[str]
    unchanged: int
    restored: list[str] = field(default_factory=list)  # uploaded only because the bucket had lost or altered them
    deleted: list[str] = field(default_factory=list)  # removed from the bucket: no longer rendered, or asked to


def digest(obj: SiteObject) -> str:
    return hashlib.sha256(obj.body + obj.content_type.encode() + obj.cache_control.encode()).hexdigest()[:32]


def upload_rank(key: str) -> tuple[int, int]:
    if key in ENTRY_POINTS:
        return _ENTRY_RANK, ENTRY_POINTS.index(key)
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


def _json_size(value) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())


def split_manifest(objects: dict[str, str], part_bytes: int | None = None) -> list[dict[str, str]]:
    """The manifest cut into parts of about ``part_bytes`` of JSON each, a key's part fixed by its
    hash and the number of parts, so a publish that changes a few objects rewrites few parts."""
    part_bytes = part_bytes or PART_BYTES
    count = max(1, -(-_json_size(objects) // part_bytes))
    while True:
        parts: list[dict[str, str]] = [{} for _ in range(count)]
        for key in sorted(objects):
            parts[zlib.crc32(key.encode()) % count][key] = objects[key]
        if count == 1 or max(_json_size(part) for part in parts) <= 1.5 * part_bytes:
            return parts
        count *= 2


@dataclass(frozen=True)
class Manifest:
    """The manifest as read or last written: its head item (None before the first publish) and its parts."""

    head: Item | None
    parts: tuple[tuple[str, dict[str, str]], ...] = ()  # (sort key, key → digest), in the head's order

    @property
    def objects(self) -> dict[str, str]:
        inline = dict(self.head.data.get("objects", {})) if self.head else {}
        for _, part in self.parts:
            inline.update(part)
        return inline

    @property
    def since(self) -> str | None:
        return self.head.data.get("since") if self.head else None

    @property
    def first_published_at(self) -> datetime | None:
        since = self.since
        return datetime.fromisoformat(since.replace("Z", "+00:00")) if since else None


class Publisher:
    def __init__(self, s3, bucket: str, table: Table, *, concurrency: int | None = None,
                 checkpoint_objects: int = CHECKPOINT_OBJECTS, checkpoint_seconds: float = CHECKPOINT_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic):
        """``concurrency``: uploads in flight at once (None: the ``PUBLISH_CONCURRENCY`` setting), at most
        the connections ``s3`` keeps open (``aws.client("s3", max_pool_connections=...)``)."""
        if concurrency is None:
            from chalicelib.settings import get_settings

            concurrency = get_settings().publish_concurrency
        pool = getattr(getattr(getattr(s3, "meta", None), "config", None), "max_pool_connections", None)
        if isinstance(pool, int) and pool < concurrency:
            log.warning("the bucket's client keeps %d connections open: publishing %d uploads at a time, not %d; "
                        "make it with aws.client('s3', max_pool_connections=%d)", pool, pool, concurrency, concurrency)
            concurrency = pool
        self._s3 = s3
        self._bucket = bucket
        self._table = table
        self.concurrency = max(1, concurrency)
        self._checkpoint_objects = checkpoint_objects
        self._checkpoint_seconds = checkpoint_seconds
        self._monotonic = monotonic

    def first_published_at(self) -> datetime | None:
        return Manifest(self._table.get(MANIFEST_PK, MANIFEST_SK)).first_published_at

    def stored_etags(self) -> dict[str, str]:
        """Every object in the bucket and its ETag, as S3 lists them now."""
        pages = self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket)
        return {entry["Key"]: entry["ETag"] for page in pages for entry in page.get("Contents", [])}

    def read_manifest(self, attempts: int = 3) -> Manifest:
        for _ in range(attempts):
            head = self._table.get(MANIFEST_PK, MANIFEST_SK)
            if head is None or not head.children:
                return Manifest(head)
            parts = [(sk, self._table.get(MANIFEST_PK, sk)) for sk in head.children]
            if all(item is not None for _, item in parts):
                return Manifest(head, tuple((sk, item.data) for sk, item in parts))
            # A newer publish switched the head and deleted a part it replaced, between our two reads.
        raise Conflict(f"{MANIFEST_PK}/{MANIFEST_SK} kept changing while it was read")

    def publish(self, objects: Sequence[SiteObject], now: datetime | None = None, *, reconcile: bool = False,
                complete: bool = False, remove: Collection[str] = (), keep: Collection[str] = ()) -> PublishResult:
        """Upload what changed since the manifest; with ``reconcile``, also what the bucket lost or altered.

        ``complete``: ``objects`` is the whole site, and what the manifest lists beyond it and
        ``keep`` is deleted; otherwise only the keys in ``remove`` are (see the module docstring).
        """
        rendered = {obj.key for obj in objects}
        if clash := rendered & set(remove):
            raise ValueError(f"remove names keys that are also published: {', '.join(sorted(clash))}")
        manifest = self.read_manifest()
        live = manifest.objects
        uploads = plan_uploads(objects, live, self.stored_etags() if reconcile else None)
        gone = {key for key in remove if key in live}
        if complete:
            gone |= {key for key in live if key not in rendered and key not in keep}
        progress = _Progress(self._table, manifest, manifest.since or isoformat(now), self._monotonic)
        self._upload(uploads, progress)
        deleted: list[str] = []
        if gone:
            # Only while the version holds (nobody published meanwhile), and with what went up recorded.
            if not progress.save():
                progress.check()
            deleted = self._delete(sorted(gone))
            progress.forget(deleted)
        progress.save()
        restored = [obj.key for obj in uploads if live.get(obj.key) == digest(obj)]
        if restored:
            log.warning("restored %d object(s) the bucket had lost or altered: %s", len(restored), ", ".join(restored))
        return PublishResult([obj.key for obj in uploads], len(objects) - len(uploads), restored, deleted)

    def _upload(self, uploads: list[SiteObject], progress: _Progress) -> None:
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="publish") as pool:
            for rank, group in itertools.groupby(uploads, key=lambda obj: upload_rank(obj.key)):
                if rank == (_ENTRY_RANK, 0):
                    progress.check()
                futures = {pool.submit(self._put, obj): obj for obj in group}
                try:
                    for future in as_completed(futures):
                        future.result()
                        progress.uploaded(futures[future])
                        if progress.due(self._checkpoint_objects, self._checkpoint_seconds):
                            progress.save()
                except BaseException as exc:
                    for future in futures:
                        future.cancel()
                    # A failed upload records what did go up, so the next publish resumes; an
                    # interrupt (the runtime stopping) records nothing more, as a kill would.
                    if isinstance(exc, Exception):
                        wait(futures)
                        for future, obj in futures.items():
                            if future.done() and not future.cancelled() and future.exception() is None:
                                progress.uploaded(obj)
                        progress.save_quietly()
                    raise

    def _put(self, obj: SiteObject) -> None:
        self._s3.put_object(Bucket=self._bucket, Key=obj.key, Body=obj.body, ContentType=obj.content_type,
                            CacheControl=obj.cache_control)

    def _delete(self, keys: list[str]) -> list[str]:
        deleted = []
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start:start + DELETE_BATCH]
            response = self._s3.delete_objects(Bucket=self._bucket,
                                               Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True})
            failed = {error["Key"]: error.get("Message", error.get("Code")) for error in response.get("Errors", [])}
            if failed:
                # Kept in the manifest: the next full publish deletes them again.
                log.error("could not delete %d object(s): %s", len(failed),
                          "; ".join(f"{key}: {why}" for key, why in failed.items()))
            deleted += [key for key in batch if key not in failed]
        return deleted


class _Progress:
    """What this publish has made live, and the manifest writes that record it."""

    def __init__(self, table: Table, manifest: Manifest, since: str | None, monotonic: Callable[[], float]):
        self._table, self._monotonic = table, monotonic
        self._written = manifest
        self._since = since
        self._objects = manifest.objects
        self._pending = 0
        self._last = monotonic()
        self._lost = False  # another publisher wrote the manifest: record nothing more

    def uploaded(self, obj: SiteObject) -> None:
        self._objects[obj.key] = digest(obj)
        self._pending += 1

    def forget(self, keys: list[str]) -> None:
        for key in keys:
            self._objects.pop(key, None)

    def due(self, objects: int, seconds: float) -> bool:
        return self._pending >= objects or (self._pending > 0 and self._monotonic() - self._last >= seconds)

    def check(self) -> None:
        """``Conflict`` if another publisher wrote the manifest since this one read or wrote it."""
        head = self._table.get(MANIFEST_PK, MANIFEST_SK)
        written = self._written.head
        if (head.version if head else 0) != (written.version if written else 0):
            self._lost = True
            raise Conflict(f"{MANIFEST_PK}/{MANIFEST_SK} changed since version {written.version if written else 0}")

    def save(self) -> bool:
        """Write the manifest as it stands now, if it differs from what was read or last written."""
        self._pending, self._last = 0, self._monotonic()
        data = {"since": self._since} if self._since else {}
        written = self._written
        if written.head is not None and written.head.children is not None and written.head.data == data \
                and written.objects == self._objects:
            return False
        reusable = {json.dumps(part, sort_keys=True): sk for sk, part in written.parts}
        parts, created = [], []
        try:
            for part in split_manifest(self._objects):
                sk = reusable.get(json.dumps(part, sort_keys=True))
                if sk is None:
                    sk = PART_PREFIX + new_id()
                    self._table.create(MANIFEST_PK, sk, part)
                    created.append(sk)
                parts.append((sk, part))
            sks = [sk for sk, _ in parts]
            if written.head is None:
                head = self._table.create(MANIFEST_PK, MANIFEST_SK, data, children=sks)
            else:
                head = self._table.replace(written.head, data, children=sks)
        except (Conflict, AlreadyExists):
            self._lost = True
            self._drop(created)
            raise
        self._written = Manifest(head, tuple(parts))
        self._drop([sk for sk, _ in written.parts if sk not in set(sks)])
        return True

    def save_quietly(self) -> None:
        """Record progress on the way out of a failed publish; the failure, not this, is what the caller sees."""
        if self._lost:
            return
        try:
            self.save()
        except Exception:
            log.warning("could not record the progress of a failed publish; the next one redoes it", exc_info=True)

    def _drop(self, sks: list[str]) -> None:
        for sk in sks:
            try:
                self._table.delete(MANIFEST_PK, sk)
            except Exception:
                log.warning("could not delete the replaced manifest part %s; it is never read again", sk,
                            exc_info=True)
