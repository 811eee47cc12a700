"""The probes' HTTP client: one request and its redirects, on an event loop, through the target guard.

A fetch opens a connection per hop with ``TargetGuard.open`` (the address connected to is the
address checked), writes an HTTP/1.1 request through an asyncio protocol and reads the answer
with httptools (llhttp: status line, headers, Content-Length, chunked bodies; HEAD, interim 1xx
and read-to-close answers are handled here, as the parser does not know the request), then
closes the connection: probes of one cycle run at once, so a pool would keep nothing worth
reusing. Its ``timeout`` covers the whole exchange, every hop included: name lookup, connect,
TLS, headers and body. The body is read up to ``max_body`` bytes, enough to judge; headers up to
64 KiB. Redirects (301, 302, 303, 307, 308) are followed up to the limit; a hop to another
origin (scheme, host or port) drops the credentials the probe sent (Authorization, Cookie,
Proxy-Authorization).

Why this design, measured with ``python -m bench probes`` on 2 cores (1,000 probes of loopback
endpoints answering after 200 ms, all at once; CPU time per probe; wall times swing with the
machine's load, so each client is compared within one run):

- urllib3 in a 500-thread pool (the engine before this one): 0.75-0.91 s, 0.58-0.76 ms;
- ``requests`` in a 250-thread pool: 1.1-2.3 s, 0.7-1.1 ms: threads, not the network, cost the CPU;
- aiohttp: 0.42-0.52 s, 0.18-0.24 ms, and about 90 ms more cold import of the probe function;
- asyncio with h11 (pure Python) parsing: 0.47-0.6 s, 0.2-0.26 ms: no faster than aiohttp;
- asyncio with httptools (this module): 0.35-0.37 s, 0.15-0.16 ms, for about 20 ms more cold
  import (asyncio; httptools itself about 1 ms). It is a compiled wheel, as msgspec and
  nh3 already are (manylinux, packaged by ``chalice package``).
Threads stay for tcp, dns and tls, which are few and cheap to block on.
"""
from __future__ import annotations

import asyncio
import contextvars
import re
import ssl
import zlib
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import quote, urljoin, urlsplit

import httptools

from chalicelib.probes.guard import NameNotResolved, TargetGuard

REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CREDENTIALS = frozenset({"authorization", "cookie", "proxy-authorization"})
_MAX_HEAD = 65536  # bytes before the end of the answer's headers
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_PATH_SAFE = "!#$%&'()*+,/:;=?@[]~"


class FetchFailed(Exception):
    """No usable answer: the message says why, in the words a probe result shows."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # names in lower case; a repeated header keeps its last value
    body: bytes  # decoded (gzip, deflate), at most max_body bytes
    url: str  # the last hop's


@dataclass
class _Progress:
    """How far the exchange got, to say what a timeout interrupted."""

    phase: str = "connect"


async def fetch(url: str, *, guard: TargetGuard, lookup: Callable[[str, int], Awaitable[list[tuple]]],
                tls: Callable[[], ssl.SSLContext], timeout: float, user_agent: str, method: str = "GET",
                headers: dict[str, str] | None = None, body: str | None = None, redirects: int = 5,
                follow: bool = True, max_body: int = 1_000_000) -> Answer:
    """The answer to one request; ``FetchFailed`` or ``TargetRefused`` otherwise.

    ``lookup(host, port)`` resolves a name off the loop (``TargetGuard.open`` checks every address
    it gives); ``tls()`` gives the TLS context to verify https targets with.
    """
    progress = _Progress()
    try:
        async with asyncio.timeout(timeout):
            hops = 0
            while True:
                answer = await _exchange(url, method, headers or {}, body, guard, lookup, tls, user_agent,
                                         max_body, follow, progress)
                location = answer.headers.get("location")
                if not follow or answer.status not in REDIRECTS or not location:
                    return answer
                if hops >= redirects:
                    raise FetchFailed("too many redirects")
                hops += 1
                next_url = urljoin(url, location.strip())
                if urlsplit(next_url).scheme not in ("http", "https"):
                    raise FetchFailed(f"redirected to {next_url}, which is not an http(s) address")
                if answer.status == 303 or (answer.status in (301, 302) and method == "POST"):
                    method, body = ("HEAD" if method == "HEAD" else "GET"), None
                if _origin(next_url) != _origin(url):
                    headers = {k: v for k, v in (headers or {}).items() if k.lower() not in _CREDENTIALS}
                url = next_url
                progress.phase = "connect"
    except TimeoutError:
        what = {"connect": "no connection", "answer": "no answer", "body": "no complete answer"}[progress.phase]
        raise FetchFailed(f"{what} within {timeout:g} s") from None


async def _exchange(url, method, headers, body, guard, lookup, tls, user_agent, max_body, follow,
                    progress: _Progress) -> Answer:
    try:
        parts = urlsplit(url)
        host, port, secure = parts.hostname, parts.port, parts.scheme.lower() == "https"
    except ValueError:
        raise FetchFailed(f"{url} is not a valid address") from None
    if not host or parts.scheme.lower() not in ("http", "https"):
        raise FetchFailed(f"{url} is not a valid address")
    port = port or (443 if secure else 80)
    payload = body.encode() if body is not None else b""
    request = _request(method, parts, port, secure, user_agent, headers, payload)
    verify = tls() if secure else None
    loop = asyncio.get_running_loop()
    try:
        sock = await guard.open(loop, host, port, lookup)
    except NameNotResolved:
        raise FetchFailed(f"{host} does not resolve") from None
    except OSError as exc:
        raise FetchFailed(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from None
    reading = _Reading(request, loop.create_future(), method == "HEAD", max_body, follow, progress)
    transport = None
    try:
        try:
            transport, _ = await loop.create_connection(
                lambda: reading, sock=sock, ssl=verify, server_hostname=host if secure else None)
        except ssl.SSLError as exc:
            raise FetchFailed(f"TLS failed: {tls_reason(exc)}") from None
        except OSError as exc:
            raise FetchFailed(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from None
        progress.phase = "answer"
        status, headers, content = await reading.answer
    except ssl.SSLError as exc:
        raise FetchFailed(f"TLS failed: {tls_reason(exc)}") from None
    except OSError as exc:
        raise FetchFailed(f"the connection broke: {exc.strerror or exc}") from None
    finally:
        # At once, without a TLS close_notify round trip: the cycle's loop must not wait on it.
        if transport is not None:
            transport.abort()
        else:
            sock.close()
    return Answer(status, headers, _decoded(content, headers.get("content-encoding", ""), max_body)[:max_body], url)


class _Reading(asyncio.Protocol):
    """Sends the request once connected, then feeds what arrives to httptools until the answer is whole.

    The parser (llhttp) does not know the request: a HEAD answer ends with its headers here, an
    interim 1xx answer is skipped, and an answer framed by neither Content-Length nor chunks
    ends with the connection.
    """

    def __init__(self, request: bytes, answer: asyncio.Future, head: bool, max_body: int, follow: bool,
                 progress: _Progress):
        self.parser = httptools.HttpResponseParser(self)
        self.request, self.answer, self.head = request, answer, head
        self.max_body, self.follow, self.progress = max_body, follow, progress
        self.status, self.headers, self.chunks, self.size = 0, {}, [], 0
        self.head_bytes, self.headers_done, self.whole = 0, False, False

    def connection_made(self, transport) -> None:
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        if self.answer.done():
            return
        if not self.headers_done:
            self.head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.whole = self.headers_done
        except httptools.HttpParserError as exc:
            if not self.whole:
                self.answer.set_exception(FetchFailed(f"the answer is not valid HTTP ({exc})"))
                return
        if self.whole:
            self.answer.set_result((self.status, self.headers, b"".join(self.chunks)))
        elif not self.headers_done and self.head_bytes > _MAX_HEAD:
            self.answer.set_exception(FetchFailed(f"the answer's headers run over {_MAX_HEAD // 1024} KiB"))

    def eof_received(self) -> None:
        framed = "content-length" in self.headers or "chunked" in self.headers.get("transfer-encoding", "").lower()
        if not self.answer.done() and self.headers_done and not framed:
            self.answer.set_result((self.status, self.headers, b"".join(self.chunks)))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answer.done():
            self.answer.set_exception(exc or ConnectionResetError("closed before the answer was whole"))

    # httptools' callbacks

    def on_message_begin(self) -> None:
        self.headers, self.chunks, self.size = {}, [], 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            return  # an interim answer (100 Continue, 103 Early Hints); the final one follows
        self.status, self.headers_done = status, True
        self.progress.phase = "body"
        if self.head or (self.follow and status in REDIRECTS and "location" in self.headers):
            self.whole = True  # no body follows, or the hop's body says nothing

    def on_body(self, body: bytes) -> None:
        if self.whole:
            return
        self.chunks.append(body)
        self.size += len(body)
        if self.size > self.max_body:
            self.whole = True  # enough to judge; the rest is not read

    def on_message_complete(self) -> None:
        if self.headers_done:
            self.whole = True


def _target(parts) -> str:
    """The request target, with spaces, controls and non-ASCII characters percent-encoded."""
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    return f"{path}?{quote(parts.query, safe=_PATH_SAFE)}" if parts.query else path


def _request(method: str, parts, port: int, secure: bool, user_agent: str, given: dict[str, str],
             payload: bytes) -> bytes:
    """The request's bytes; a header that would break the request is refused, naming the field."""
    lines = [f"{method} {_target(parts)} HTTP/1.1"]
    for name, value in _request_headers(parts, port, secure, user_agent, given, payload, method):
        if not _TOKEN.fullmatch(name) or any(c in value for c in "\r\n\0"):
            raise FetchFailed(f"headers: {name!r} cannot be sent (a header name is a single word, a value one "
                              f"line); check the probe's headers")
        lines.append(f"{name}: {value}")
    try:
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload
    except UnicodeEncodeError:
        raise FetchFailed("headers: a header value has characters beyond Latin-1; check the probe's headers") from None


def _request_headers(parts, port: int, secure: bool, user_agent: str, given: dict[str, str], payload: bytes,
                     method: str) -> list[tuple[str, str]]:
    host = parts.hostname
    try:
        host.encode("ascii")
    except UnicodeEncodeError:
        host = host.encode("idna").decode("ascii")
    if ":" in host:
        host = f"[{host}]"
    if port != (443 if secure else 80):
        host = f"{host}:{port}"
    merged = {"host": ("Host", host), "user-agent": ("User-Agent", user_agent), "accept": ("Accept", "*/*"),
              "accept-encoding": ("Accept-Encoding", "gzip, deflate")}
    merged |= {name.lower(): (name, value) for name, value in given.items()}
    # One exchange per connection; the body is framed by Content-Length.
    merged["connection"] = ("Connection", "close")
    merged.pop("transfer-encoding", None)
    merged.pop("content-length", None)
    if payload or method in ("POST", "PUT"):
        merged["content-length"] = ("Content-Length", str(len(payload)))
    return list(merged.values())


def _decoded(body: bytes, encoding: str, max_body: int) -> bytes:
    encoding = encoding.strip().lower()
    if encoding not in ("gzip", "x-gzip", "deflate") or not body:
        return body
    try:
        # 47: a gzip or zlib header, told apart by the data; raw deflate (some servers) needs -15.
        return zlib.decompressobj(47).decompress(body, max_body + 1)
    except zlib.error:
        try:
            return zlib.decompressobj(-15).decompress(body, max_body + 1)
        except zlib.error:
            raise FetchFailed(f"the answer's {encoding} body is corrupt") from None


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.hostname, parts.port


def tls_reason(exc: BaseException) -> str:
    """An OpenSSL verification failure in a few words ("certificate has expired"), else its text."""
    text = getattr(exc, "verify_message", None) or str(exc)
    for known in ("certificate has expired", "self-signed certificate", "unable to get local issuer certificate",
                  "Hostname mismatch", "certificate is not yet valid"):
        if known.lower() in text.lower():
            return known.lower()
    return text


def run_to_end(work: Awaitable):
    """Run ``work`` on an event loop of its own, in this thread, or in another if this one runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    context = contextvars.copy_context()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="probe-loop") as thread:
        return thread.submit(context.run, asyncio.run, work).result()
