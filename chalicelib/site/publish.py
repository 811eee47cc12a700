"""Publish rendered files to the page bucket, uploading only what changed, in parallel and resumably.

The manifest of what is live (object key → SHA-256 of its bytes and headers) is kept in
the table. Changed objects go up in an order that never shows a reader a link to a
missing object: hashed assets (the console's modules too), icons, incident pages and badges
first, then the month pages,
``history.html``, the feeds and the JSON, the month sitemaps before the sitemaps that list
them, and the entry points (``ENTRY_POINTS``) last.
Up to ``concurrency`` uploads are in flight at once (setting ``PUBLISH_CONCURRENCY``), through
the one client given (its connection pool as large). The objects may come as a stream that
is rendered while it is uploaded (``checked_stream`` over a ``render.SiteRender``): the
assets, incident pages and badges (rank ``STREAMED_RANK``: they link to no asset, and only
objects ranked above them link to them) go up as they come, never more than
``QUEUED_PER_THREAD`` times ``concurrency`` of them handed to the pool, so the site is never
held whole; every object ranked above is held until they are all up, then goes up rank by
rank (``upload_rank``), a rank starting only when every upload of the ranks below it has
finished, and the entry points one after the other, last. A render or check that fails
half-way through the stream stops it: what went up (assets, incident pages and badges of
that render, each checked) is recorded, and nothing else goes up, so the entry points and
everything they list stay as the last good publish left them.

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
between the switch and the delete re-reads the head). A checkpoint in the middle of a
publish writes only what went up since the last write, as one more part listed last (a
later part's entry wins over an earlier one's), so recording progress costs what it
records, not the whole manifest. A partial publish (the republish after a write: a few
objects) ends the same way, with one small part; a full publish's last write is whole again
and drops those parts, as is any write once the head lists ``MAX_PARTS`` of them. Parts are
read with one batch request. A head stored before parts existed holds ``objects`` inline
and is read as such until the next write.

Deletes: a full render (``complete=True``) deletes what the manifest lists and the render
no longer has (a deleted incident's page), except what ``keep`` names, or for a stream what
``rendered`` names (pages withheld by their checks, whose last good copy stays); ``remove`` deletes named keys in a partial
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
import re
import time
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from queue import SimpleQueue
from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.model import isoformat, new_id
from chalicelib.site.render import SiteObject, SiteRender
from chalicelib.site.validate import Withheld, check_site
from chalicelib.store.table import AlreadyExists, Conflict, Item, Table

log = logging.getLogger("beacon.site")
MANIFEST_PK, MANIFEST_SK = "SITE", "published"
PART_PREFIX = "published#"
ENTRY_POINTS = ("index.html", "api/v2/summary.json")
# Lower goes up first: what others link to before what links to it.
# The first prefix a key starts with gives its rank.
# The console's modules (``admin/<contents>/``) and the icons link to nothing: they go up with the
# assets, and the console's page, which names its modules' folder, after them.
_RANKS = (("assets/", 0), ("incidents/", 0), ("badges/", 0), ("badge.svg", 0), ("favicon.svg", 0),
          ("admin/index.html", 5), ("admin/", 0),
          ("history/", 2), ("history", 3), ("uptime.html", 3), ("api/", 3),
          ("sitemap-pages.xml", 4), ("sitemap-", 3), ("sitemap.xml", 5), ("robots.txt", 6))
_ENTRY_RANK = 9
_LANGUAGE_FOLDER = re.compile(r"^[a-z]{2}/")
# Rank 0 (hashed assets, incident pages, badges: the bulk of a site, linking to nothing ranked
# above) goes up as it comes; every rank above is held until all of rank 0 is up, then goes up
# rank by rank.
STREAMED_RANK = 0
CHECK_BATCH = 32  # incident pages checked at once: each check copies the render's keys
# Uploads handed to the pool per thread: enough to keep it busy while the publish writes a checkpoint
# of the manifest (three requests), few enough that a stream is never held whole.
QUEUED_PER_THREAD = 8
CHECKPOINT_OBJECTS = 500
CHECKPOINT_SECONDS = 1.0
PART_BYTES = 200_000  # a part's JSON; DynamoDB refuses items over 400 KB
MAX_PARTS = 24  # parts a head may list before a checkpoint writes the manifest whole again
DELETE_BATCH = 1000  # S3's DeleteObjects limit


@dataclass(frozen=True)
class PublishResult:
    uploaded: list[str]
    unchanged: int
    restored: list[str] = field(default_factory=list)  # uploaded only because the bucket had lost or altered them
    deleted: list[str] = field(default_factory=list)  # removed from the bucket: no longer rendered, or asked to
    # The manifest's head as this publish left it (None: not known, or nothing ever published).
    manifest_head: Item | None = field(default=None, repr=False)


def digest(obj: SiteObject) -> str:
    return hashlib.sha256(obj.body + obj.content_type.encode() + obj.cache_control.encode()).hexdigest()[:32]


def upload_rank(key: str) -> tuple[int, int]:
    # A language's pages (``de/index.html``) rank as the default language's do.
    key = key[3:] if _LANGUAGE_FOLDER.match(key) else key
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
    changed = [obj for obj in objects if _needs_upload(obj, digest(obj), live, stored)]
    return sorted(changed, key=lambda obj: (upload_rank(obj.key), obj.key))


def _needs_upload(obj: SiteObject, digested: str, live: dict[str, str], stored: dict[str, str] | None) -> bool:
    return live.get(obj.key) != digested or (stored is not None and stored.get(obj.key) != stored_etag(obj))


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
            found = self._table.get_many(MANIFEST_PK, head.children)  # one request for up to 100 parts
            if all(sk in found for sk in head.children):
                return Manifest(head, tuple((sk, found[sk].data) for sk in head.children))
            # A newer publish switched the head and deleted a part it replaced, between our two reads.
        raise Conflict(f"{MANIFEST_PK}/{MANIFEST_SK} kept changing while it was read")

    def publish(self, objects: Iterable[SiteObject], now: datetime | None = None, *, reconcile: bool = False,
                complete: bool = False, remove: Collection[str] = (), keep: Collection[str] = (),
                rendered: Collection[str] | None = None, manifest: Manifest | None = None) -> PublishResult:
        """Upload what changed since the manifest; with ``reconcile``, also what the bucket lost or altered.

        ``complete``: ``objects`` is the whole site, and what the manifest lists beyond it and
        ``keep`` is deleted; otherwise only the keys in ``remove`` are (see the module docstring).
        ``rendered``: every key of the render, when ``objects`` is a stream (``checked_stream``)
        uploaded as it is consumed; a key it names that the stream withholds is kept, as ``keep``
        keeps it. Without it, ``objects`` is read whole first.
        ``manifest``: the manifest as the caller read it for this publish (``read_manifest``), not read
        again; every write of it is conditional on that read, so a publish that finished meanwhile
        still makes this one's writes fail with ``Conflict``.
        """
        if rendered is None:
            objects = list(objects)
            rendered = [obj.key for obj in objects]
        rendered = set(rendered)
        if clash := rendered & set(remove):
            raise ValueError(f"remove names keys that are also published: {', '.join(sorted(clash))}")
        manifest = manifest or self.read_manifest()
        live = manifest.objects
        stored = self.stored_etags() if reconcile else None
        gone = {key for key in remove if key in live}
        if complete:
            gone |= {key for key in live if key not in rendered and key not in keep}
        progress = _Progress(self._table, manifest, manifest.since or isoformat(now), self._monotonic)
        sent = _Sent()
        self._upload(objects, live, stored, progress, sent)
        deleted: list[str] = []
        if gone:
            # Only while the version holds (nobody published meanwhile), and with what went up recorded.
            if not progress.save():
                progress.check()
            deleted = self._delete(sorted(gone))
            progress.forget(deleted)
        # A partial publish changed a few objects: recorded as one more part, as a checkpoint is.
        progress.save(checkpoint=not complete)
        if sent.restored:
            log.warning("restored %d object(s) the bucket had lost or altered: %s", len(sent.restored),
                        ", ".join(sent.restored))
        return PublishResult(sent.uploaded, sent.unchanged, sent.restored, deleted, progress.head)

    def _upload(self, objects: Iterable[SiteObject], live: dict[str, str], stored: dict[str, str] | None,
                progress: _Progress, sent: _Sent) -> None:
        """One pass over ``objects``: the streamed rank goes up as it comes (a bounded number of uploads
        handed to the pool, so a stream is never held whole), the others once it is all up."""
        held: list[tuple[SiteObject, str]] = []
        in_flight: dict[Future, tuple[str, str]] = {}
        finished: SimpleQueue[Future] = SimpleQueue()  # uploads done (or failed), in the order they ended

        def submit(obj: SiteObject, digested: str) -> None:
            future = pool.submit(self._put, obj)
            in_flight[future] = (obj.key, digested)
            sent.uploaded.append(obj.key)
            future.add_done_callback(finished.put)

        def settle(block: bool = False) -> None:
            """Record every upload that ended (waiting for one first if ``block``), and checkpoint when due."""
            ended = [finished.get()] if block else []
            while not finished.empty():
                ended.append(finished.get())
            for future in ended:
                key, digested = in_flight.pop(future)
                future.result()
                progress.uploaded(key, digested)
                if progress.due(self._checkpoint_objects, self._checkpoint_seconds):
                    progress.save(checkpoint=True)

        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="publish") as pool:
            try:
                for obj in objects:
                    settle()
                    digested = digest(obj)
                    if not _needs_upload(obj, digested, live, stored):
                        sent.unchanged += 1
                        continue
                    if live.get(obj.key) == digested:
                        sent.restored.append(obj.key)
                    if upload_rank(obj.key)[0] > STREAMED_RANK:
                        held.append((obj, digested))
                        continue
                    while len(in_flight) >= QUEUED_PER_THREAD * self.concurrency:
                        settle(block=True)
                    submit(obj, digested)
                while in_flight:
                    settle(block=True)
                held.sort(key=lambda pair: (upload_rank(pair[0].key), pair[0].key))
                for rank, group in itertools.groupby(held, key=lambda pair: upload_rank(pair[0].key)):
                    if rank == (_ENTRY_RANK, 0):
                        progress.check()
                    for obj, digested in group:
                        submit(obj, digested)
                    while in_flight:
                        settle(block=True)
            except BaseException as exc:
                for future in in_flight:
                    future.cancel()
                # A failed upload or render records what did go up, so the next publish resumes; an
                # interrupt (the runtime stopping) records nothing more, as a kill would.
                if isinstance(exc, Exception):
                    wait(in_flight)
                    for future, (key, digested) in in_flight.items():
                        if not future.cancelled() and future.exception() is None:
                            progress.uploaded(key, digested)
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


@dataclass
class _Sent:
    """What one publish did with the objects it was given, as it went."""

    uploaded: list[str] = field(default_factory=list)  # in the order they were handed to the pool
    restored: list[str] = field(default_factory=list)
    unchanged: int = 0


class CheckedStream:
    """A ``SiteRender`` checked as it is read: what ``validate.check_site`` gives, as a stream.

    Reading it first checks ``first`` (the front and the months' objects) whole: a problem there
    raises ``SiteInvalid`` before one object is handed on. The incident pages are then checked a
    few at a time as they are rendered, their links against every key of the render (``keys``)
    and ``published``; a page with a problem is withheld (listed in ``withheld`` once read past),
    as ``check_site`` withholds it.
    """

    def __init__(self, rendered: SiteRender, published: Collection[str] = ()):
        self.keys = rendered.keys
        self.withheld: list[Withheld] = []
        self._rendered = rendered
        self._known = set(rendered.keys) | set(published)

    @property
    def objects(self) -> "CheckedStream":
        """What may be uploaded, read once, as ``CheckedSite.objects`` is for a render held whole."""
        return self

    def __iter__(self) -> Iterator[SiteObject]:
        yield from self._checked(self._rendered.first)
        batch: list[SiteObject] = []
        for page in self._rendered.pages():
            batch.append(page)
            if len(batch) == CHECK_BATCH:
                yield from self._checked(batch)
                batch = []
        yield from self._checked(batch)

    def _checked(self, objects: Sequence[SiteObject]) -> list[SiteObject]:
        checked = check_site(objects, published=self._known)
        self.withheld += checked.withheld
        return checked.objects


def checked_stream(rendered: SiteRender, published: Collection[str] = ()) -> CheckedStream:
    """``rendered``, checked as it is read (``CheckedStream``), for ``Publisher.publish(..., rendered=its keys)``."""
    return CheckedStream(rendered, published)


def _appended_to(written: Manifest) -> bool:
    """Whether the manifest ends with small parts appended after its last whole write (a full
    publish folds them in, even when it changed nothing)."""
    parts = written.parts
    return (len(parts) > 1 and _json_size(parts[-1][1]) < PART_BYTES // 4
            and len(parts) > len(split_manifest(written.objects)))


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

    @property
    def head(self) -> Item | None:
        """The manifest's head as read, or as this publish last wrote it."""
        return self._written.head

    def uploaded(self, key: str, digested: str) -> None:
        self._objects[key] = digested
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

    def save(self, checkpoint: bool = False) -> bool:
        """Write the manifest as it stands now, if it differs from what was read or last written.

        A ``checkpoint`` (progress in the middle of a publish, or the end of a partial one) writes
        only what changed since the last write, as one more part (see the module docstring), while
        the head lists fewer than ``MAX_PARTS`` and nothing was taken out; every other write is
        whole, and drops the parts it replaces.
        """
        self._pending, self._last = 0, self._monotonic()
        data = {"since": self._since} if self._since else {}
        written = self._written
        if written.head is not None and written.head.children is not None and written.head.data == data \
                and written.objects == self._objects and (checkpoint or not _appended_to(written)):
            return False
        if checkpoint and written.head is not None and written.head.children is not None \
                and written.head.data == data and len(written.parts) < MAX_PARTS:
            before = written.objects
            changed = {key: value for key, value in self._objects.items() if before.get(key) != value}
            if before.keys() <= self._objects.keys() and _json_size(changed) <= PART_BYTES:
                return self._save_changes(written, data, changed)
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

    def _save_changes(self, written: Manifest, data: dict, changed: dict[str, str]) -> bool:
        sk = PART_PREFIX + new_id()
        try:
            self._table.create(MANIFEST_PK, sk, changed)
            head = self._table.replace(written.head, data, children=[*written.head.children, sk])
        except (Conflict, AlreadyExists):
            self._lost = True
            self._drop([sk])
            raise
        self._written = Manifest(head, (*written.parts, (sk, changed)))
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
        if not sks:
            return
        try:
            self._table.delete_many(MANIFEST_PK, sks)  # one request for up to 25 parts
        except Exception:
            log.warning("could not delete the replaced manifest part(s) %s; they are never read again",
                        ", ".join(sks), exc_info=True)
