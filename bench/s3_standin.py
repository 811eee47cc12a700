"""A lean S3 stand-in for benchmarks: objects in memory, every answer 20 ms (``delay``) late.

The publish bench measures the publisher behind a network, not an emulator: real S3 spends
none of our CPU, but moto's server parses, signs and stores each request in Python, and on a
small machine that work, not the publisher's, set the figure. This server does next to
nothing per request, in a process of its own, and holds every answer ``delay`` seconds
after the request arrived in full, without holding anything else: it is one asyncio loop, so
requests in flight at once wait their delays side by side, as they would on a network. It
costs less CPU per request than ``http.server.ThreadingHTTPServer`` doing the same work
(a thread per connection and the standard library's header parsing).

It speaks, path-style (``/bucket/key``), what boto3 sends for: CreateBucket, HeadBucket,
PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects (``POST ?delete``) and
ListObjectsV2 (``prefix``, ``start-after``, ``max-keys``, ``continuation-token``,
``encoding-type=url``). A PUT's ETag is the quoted MD5 of its body; a ``Content-MD5`` or
``x-amz-checksum-crc32`` that does not match the body is refused (``BadDigest``), other
checksums are stored and given back unchecked; an ``aws-chunked`` body is decoded (its trailers
dropped). Objects keep their ``Content-Type``, ``Cache-Control`` and ``x-amz-meta-*`` headers.

It does not check signatures or permissions, and does not implement virtual-hosted
addressing, ``delimiter`` (common prefixes), ranges, conditional requests, multipart
uploads, copies, versioning, tagging, ACLs, bucket policies or any other bucket
configuration; what it does not know gets 501 ``NotImplemented``.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import select
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape

XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
LIST_LIMIT = 1000
_KEPT_HEADERS = ("content-type", "cache-control", "content-disposition", "content-encoding", "content-language",
                 "expires")


@dataclass(frozen=True)
class StoredObject:
    body: bytes
    etag: str
    modified: float
    headers: tuple[tuple[str, str], ...]


class Answer:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: dict[str, str] | None = None, body: bytes = b""):
        self.status, self.headers, self.body = status, headers or {}, body


def _error(status: int, code: str, message: str, resource: str = "") -> Answer:
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{escape(message)}</Message>'
            f"<Resource>{escape(resource)}</Resource><RequestId>standin</RequestId></Error>").encode()
    return Answer(status, {"Content-Type": "application/xml"}, body)


def _xml(body: str) -> Answer:
    return Answer(200, {"Content-Type": "application/xml"},
                  ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode())


def decode_aws_chunked(body: bytes) -> bytes:
    """The payload of an ``aws-chunked`` body: ``<hex size>[;chunk-signature=...]\\r\\n<data>\\r\\n``
    until a chunk of size 0, then the trailers, which are dropped."""
    out, at = [], 0
    while True:
        end = body.index(b"\r\n", at)
        size = int(body[at:end].split(b";", 1)[0], 16)
        if size == 0:
            return b"".join(out)
        out.append(body[end + 2:end + 2 + size])
        at = end + 2 + size + 2


def _digest_refused(headers: dict[str, str], body: bytes) -> str:
    """Why the body's ``Content-MD5`` or ``x-amz-checksum-crc32`` is refused, or "" if it has none or they match."""
    md5 = headers.get("content-md5")
    if md5 is not None and base64.b64decode(md5) != hashlib.md5(body, usedforsecurity=False).digest():
        return "The Content-MD5 you specified did not match what we received."
    crc32 = headers.get("x-amz-checksum-crc32")
    if crc32 is not None and base64.b64decode(crc32) != zlib.crc32(body).to_bytes(4, "big"):
        return "The CRC32 you specified did not match the calculated checksum."
    return ""


class S3Store:
    """Buckets of objects in memory, and the answer to one S3 request."""

    def __init__(self):
        self.buckets: dict[str, dict[str, StoredObject]] = {}

    def answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Answer:
        split = urlsplit(target)
        bucket, _, key = unquote(split.path).lstrip("/").partition("/")
        query = parse_qs(split.query, keep_blank_values=True)
        if not bucket:
            return _error(501, "NotImplemented", "ListBuckets is not implemented", "/")
        if "aws-chunked" in headers.get("content-encoding", ""):
            body, headers = decode_aws_chunked(body), dict(headers)
            encodings = [e.strip() for e in headers.pop("content-encoding").split(",") if e.strip() != "aws-chunked"]
            if encodings:
                headers["content-encoding"] = ", ".join(encodings)
        if refused := _digest_refused(headers, body):
            return _error(400, "BadDigest", refused, key or bucket)
        if not key:
            return self._on_bucket(method, bucket, query, body)
        objects = self.buckets.get(bucket)
        if objects is None:
            return _error(404, "NoSuchBucket", "The specified bucket does not exist", bucket)
        if set(query) - {"x-id"}:
            return _error(501, "NotImplemented", f"{method} with ?{split.query} is not implemented", key)
        if method == "PUT":
            return self._put(objects, key, headers, body)
        if method in ("GET", "HEAD"):
            stored = objects.get(key)
            if stored is None:
                return _error(404, "NoSuchKey", "The specified key does not exist.", key)
            with_checksums = headers.get("x-amz-checksum-mode", "").upper() == "ENABLED"
            answer = Answer(200, {"ETag": stored.etag, "Last-Modified": formatdate(stored.modified, usegmt=True),
                                  "Content-Length": str(len(stored.body)),
                                  **{name: value for name, value in stored.headers
                                     if with_checksums or not name.startswith("x-amz-checksum-")}})
            answer.body = stored.body if method == "GET" else b""
            return answer
        if method == "DELETE":
            objects.pop(key, None)
            return Answer(204)
        return _error(501, "NotImplemented", f"{method} on an object is not implemented", key)

    def _on_bucket(self, method: str, bucket: str, query: dict[str, list[str]], body: bytes) -> Answer:
        if method == "PUT" and not query:
            if bucket in self.buckets:
                return _error(409, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket "
                              "succeeded and you already own it.", bucket)
            self.buckets[bucket] = {}
            return Answer(200, {"Location": f"/{bucket}"})
        objects = self.buckets.get(bucket)
        if objects is None:
            return _error(404, "NoSuchBucket", "The specified bucket does not exist", bucket)
        if method == "HEAD" and not query:
            return Answer(200)
        if method == "GET" and query.get("list-type") == ["2"] and "delimiter" not in query:
            return self._list(bucket, objects, {name: values[-1] for name, values in query.items()})
        if method == "POST" and "delete" in query:
            return self._delete_many(objects, body)
        return _error(501, "NotImplemented", f"{method} /{bucket}?{'&'.join(query)} is not implemented", bucket)

    def _put(self, objects: dict[str, StoredObject], key: str, headers: dict[str, str], body: bytes) -> Answer:
        kept = tuple((name, value) for name, value in headers.items()
                     if name in _KEPT_HEADERS or name.startswith("x-amz-meta-")
                     or (name.startswith("x-amz-checksum-") and name not in ("x-amz-checksum-algorithm",
                                                                             "x-amz-checksum-mode")))
        if not any(name == "content-type" for name, _ in kept):
            kept += (("content-type", "binary/octet-stream"),)
        etag = f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'
        objects[key] = StoredObject(body, etag, time.time(), kept)
        checksums = {name: value for name, value in kept if name.startswith("x-amz-checksum-")}
        return Answer(200, {"ETag": etag, **checksums})

    def _list(self, bucket: str, objects: dict[str, StoredObject], query: dict[str, str]) -> Answer:
        prefix = query.get("prefix", "")
        limit = min(int(query.get("max-keys", LIST_LIMIT)), LIST_LIMIT)
        after = max(query.get("start-after", ""), query.get("continuation-token", ""))
        encode = (lambda text: quote(text, safe="/")) if query.get("encoding-type") == "url" else (lambda text: text)
        keys = sorted(key for key in objects if key.startswith(prefix) and key > after)
        page, truncated = keys[:limit], len(keys) > limit
        contents = "".join(
            f"<Contents><Key>{escape(encode(key))}</Key>"
            f"<LastModified>{time.strftime('%Y-%m-%dT%H:%M:%S.000Z', time.gmtime(objects[key].modified))}"
            f"</LastModified><ETag>{escape(objects[key].etag)}</ETag><Size>{len(objects[key].body)}</Size>"
            f"<StorageClass>STANDARD</StorageClass></Contents>"
            for key in page)
        parts = [f'<ListBucketResult xmlns="{XMLNS}"><Name>{escape(bucket)}</Name>',
                 f"<Prefix>{escape(encode(prefix))}</Prefix><KeyCount>{len(page)}</KeyCount>",
                 f"<MaxKeys>{limit}</MaxKeys><IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"]
        if query.get("encoding-type") == "url":
            parts.append("<EncodingType>url</EncodingType>")
        for name, element in (("continuation-token", "ContinuationToken"), ("start-after", "StartAfter")):
            if name in query:
                parts.append(f"<{element}>{escape(query[name])}</{element}>")
        if truncated:
            parts.append(f"<NextContinuationToken>{escape(page[-1])}</NextContinuationToken>")
        return _xml("".join(parts) + contents + "</ListBucketResult>")

    @staticmethod
    def _delete_many(objects: dict[str, StoredObject], body: bytes) -> Answer:
        try:
            request = ElementTree.fromstring(body)
        except ElementTree.ParseError:
            return _error(400, "MalformedXML", "The XML you provided was not well-formed")
        ns = request.tag[:request.tag.index("}") + 1] if request.tag.startswith("{") else ""
        keys = [element.findtext(f"{ns}Key") or "" for element in request.iter(f"{ns}Object")]
        if len(keys) > LIST_LIMIT:
            return _error(400, "MalformedXML", "The request names more than 1000 objects")
        quiet = (request.findtext(f"{ns}Quiet") or "").strip().lower() == "true"
        for key in keys:
            objects.pop(key, None)
        deleted = "" if quiet else "".join(f"<Deleted><Key>{escape(key)}</Key></Deleted>" for key in keys)
        return _xml(f'<DeleteResult xmlns="{XMLNS}">{deleted}</DeleteResult>')


_REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 404: "Not Found", 409: "Conflict",
            411: "Length Required", 501: "Not Implemented"}


class _Connection(asyncio.Protocol):
    """One client's connection: each request read in full is answered ``delay`` seconds later by a
    timer of the loop, so no request waits for another's delay."""

    def __init__(self, store: S3Store, delay: float):
        self._store, self._delay = store, delay
        self._loop = asyncio.get_running_loop()
        self._buffer = bytearray()
        self._request: tuple[str, str, dict[str, str], int] | None = None  # headers read, body awaited
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while self._transport is not None:
            if self._request is None:
                end = self._buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = self._buffer[:end].decode("latin-1").split("\r\n")
                del self._buffer[:end + 4]
                if not self._read_head(head):
                    return
            method, target, headers, length = self._request
            if len(self._buffer) < length:
                return
            body, self._request = bytes(self._buffer[:length]), None
            del self._buffer[:length]
            self._loop.call_later(self._delay, self._respond, method, target, headers, body)

    def _read_head(self, head: list[str]) -> bool:
        try:
            method, target, _ = head[0].split(" ", 2)
        except ValueError:
            self._transport.close()
            self._transport = None
            return False
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            # S3 wants a Content-Length too; boto3 sends one for a body it holds.
            self._write(method, _error(411, "MissingContentLength", "You must provide the Content-Length HTTP header."))
            self._transport.close()
            self._transport = None
            return False
        if headers.get("expect", "").lower() == "100-continue":
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self._request = (method, target, headers, int(headers.get("content-length") or 0))
        return True

    def _respond(self, method: str, target: str, headers: dict[str, str], body: bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            return
        self._write(method, self._store.answer(method, target, headers, body))
        if headers.get("connection", "").lower() == "close":
            self._transport.close()

    def _write(self, method: str, answer: Answer) -> None:
        head = [f"HTTP/1.1 {answer.status} {_REASONS.get(answer.status, 'Unknown')}",
                *(f"{name}: {value}" for name, value in answer.headers.items())]
        if "Content-Length" not in answer.headers:
            head.append(f"Content-Length: {len(answer.body)}")
        out = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        self._transport.write(out + answer.body if method != "HEAD" else out)

    def connection_lost(self, exc) -> None:
        self._transport = None


async def _serve(delay: float, port: int) -> None:
    store = S3Store()
    server = await asyncio.get_running_loop().create_server(lambda: _Connection(store, delay), "127.0.0.1", port,
                                                            backlog=256)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def serve(delay: float, port: int = 0) -> None:
    """Serve until killed, on ``port`` (0: any free one); the port is printed on stdout once listening."""
    asyncio.run(_serve(delay, port))


class S3StandIn:
    """The stand-in in a process of its own, so its work does not share the caller's interpreter lock,
    as S3's does not. ``endpoint`` is the URL to give boto3's ``endpoint_url``."""

    def __init__(self, delay: float, start_timeout: float = 10):
        self.process = subprocess.Popen(
            [sys.executable, "-c", f"from bench.s3_standin import serve; serve({delay!r})"],
            cwd=str(Path(__file__).resolve().parent.parent), stdout=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.process.stdout], [], [], start_timeout)
        line = self.process.stdout.readline().strip() if ready else ""
        if not line.isdigit():
            self.stop()
            raise RuntimeError("the S3 stand-in did not start")
        self.port = int(line)
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        if self.process.stdout:
            self.process.stdout.close()

    def __enter__(self) -> S3StandIn:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
