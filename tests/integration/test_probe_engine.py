"""The probes' HTTP engine against real local servers: framing, encodings, redirects, TLS, the cycle.

Each server listens on a loopback address with a port the OS picks and records what it
received; private targets are allowed unless a test says otherwise.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import io
import json
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.model import ComponentStatus
from chalicelib.observability import correlated, logger
from chalicelib.probes.checks import ProbeContext, check
from chalicelib.probes.model import PlannedProbe
from chalicelib.probes.runner import run_probes
from chalicelib.probes.spec import HttpProbe, ProbeSettings
from chalicelib.config import Component
from chalicelib.schema import read

UP, DOWN = ComponentStatus.OPERATIONAL, ComponentStatus.MAJOR_OUTAGE
NOW = dt.datetime.now(dt.timezone.utc)


def probe(**spec) -> PlannedProbe:
    component = read(Component, {"id": "shop", "name": "Shop", "probes": [spec]})
    return PlannedProbe("shop", component.probes[0])


def run(spec: dict, **settings):
    context = ProbeContext(ProbeSettings(**{"allow_private_targets": True, **settings}), now=NOW)
    try:
        return check(probe(**spec), context)
    finally:
        context.close()


class RecordingHandler(BaseHTTPRequestHandler):
    """Answers by path; every request it read is kept in ``server.seen``."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.route()

    def do_POST(self):
        self.route()

    def do_HEAD(self):
        self.route()

    def route(self):
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        self.server.seen.append({"method": self.command, "path": url.path, "headers": dict(self.headers),
                                 "body": self.rfile.read(length).decode() if length else ""})
        getattr(self, "answer_" + url.path.strip("/").replace("-", "_"))(query)

    def answer_ok(self, query):
        self.send(200, b"fine")

    def answer_chunked(self, query):
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for part in (b"the answer ", b"arrives ", b"in pieces, whole"):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        self.wfile.write(b"0\r\n\r\n")

    def answer_until_close(self, query):
        # No length, no chunks: the body ends when the connection does.
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b"read to the close, whole")
        self.close_connection = True

    def answer_gzip(self, query):
        body = gzip.compress(b"compressed, whole")
        self.send_response(200)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def answer_latin1(self, query):
        self.send(200, "caf\u00e9 ouvert".encode("latin-1"), "text/plain; charset=ISO-8859-1")

    def answer_big(self, query):
        # The marker sits after 64 KiB of filler.
        self.send(200, b"x" * 65536 + b"MARKER" + b"x" * 1024)

    def answer_head_only(self, query):
        # A HEAD answer announces a body it does not send, and keeps the connection open.
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(b"x" * 100)

    def answer_echo(self, query):
        self.send(200, json.dumps(self.server.seen[-1]).encode(), "application/json")

    def answer_redirect(self, query):
        self.send_response(int(query.get("code", "302")))
        self.send_header("Location", query["to"])
        self.send_header("Content-Length", "0")
        self.end_headers()

    def answer_slow(self, query):
        with self.server.lock:
            self.server.in_flight += 1
            self.server.peak = max(self.server.peak, self.server.in_flight)
        time.sleep(0.2)
        with self.server.lock:
            self.server.in_flight -= 1
        self.send(200, b"slow but fine")

    def answer_hang(self, query):
        self.server.release.wait(30)

    def answer_early_hints(self, query):
        self.wfile.write(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
        self.send(200, b"after the hints, whole")

    def answer_cut_short(self, query):
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        self.wfile.write(b"x" * 10)
        self.close_connection = True

    def answer_endless_body(self, query):
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        self.wfile.write(b"x" * 10)
        self.wfile.flush()
        self.server.release.wait(30)

    def send(self, status: int, body: bytes, content_type: str = "text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class RecordingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address="127.0.0.1"):
        super().__init__((address, 0), RecordingHandler)
        self.seen: list[dict] = []
        self.lock = threading.Lock()
        self.in_flight = self.peak = 0
        self.release = threading.Event()
        self.scheme = "http"

    def url(self, path: str) -> str:
        host, port = self.server_address[:2]
        return f"{self.scheme}://{host}:{port}{path}"


def _serve(server: RecordingServer):
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _stop(server: RecordingServer):
    server.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def shop_server():
    server = _serve(RecordingServer())
    yield server
    _stop(server)


@pytest.fixture(scope="module")
def other_host_server():
    server = _serve(RecordingServer("127.0.0.2"))
    yield server
    _stop(server)


@pytest.fixture
def shop(shop_server):
    shop_server.seen.clear()
    return shop_server


@pytest.fixture
def other_host(other_host_server):
    other_host_server.seen.clear()
    return other_host_server


# -- framing and encodings ---------------------------------------------------------------------------

def test_a_chunked_answer_is_read_whole(shop):
    result = run({"kind": "http", "url": shop.url("/chunked"), "body_contains": "in pieces, whole"})
    assert (result.status, result.error) == (UP, None)


def test_an_answer_without_a_length_is_read_to_the_close(shop):
    result = run({"kind": "http", "url": shop.url("/until-close"), "body_contains": "to the close, whole"})
    assert (result.status, result.error) == (UP, None)


def test_an_interim_answer_is_skipped_for_the_final_one(shop):
    result = run({"kind": "http", "url": shop.url("/early-hints"), "body_contains": "after the hints, whole"})
    assert (result.status, result.error) == (UP, None)


def test_an_answer_cut_short_of_its_length_is_down(shop):
    result = run({"kind": "http", "url": shop.url("/cut-short")})
    assert result.status is DOWN and result.error == "the connection broke: closed before the answer was whole"


def test_a_gzip_answer_is_decoded_before_the_body_is_checked(shop):
    result = run({"kind": "http", "url": shop.url("/gzip"), "body_contains": "compressed, whole"})
    assert (result.status, result.error) == (UP, None)


def test_the_answer_is_read_in_its_declared_charset(shop):
    result = run({"kind": "http", "url": shop.url("/latin1"), "body_contains": "caf\u00e9 ouvert"})
    assert (result.status, result.error) == (UP, None)


def test_only_max_body_bytes_are_read(shop):
    # GIVEN a marker after 64 KiB of an answer
    spec = {"kind": "http", "url": shop.url("/big"), "body_contains": "MARKER"}
    # THEN a probe that reads 1 MB finds it, one that reads 16 KiB does not
    assert run(spec).status is UP
    short = run(spec, max_body_bytes=16384)
    assert (short.status, short.error) == (DOWN, "the answer does not contain 'MARKER'")


def test_a_head_probe_does_not_wait_for_the_body_its_answer_announces(shop):
    result = run({"kind": "http", "url": shop.url("/head-only"), "method": "HEAD", "timeout_seconds": 5})
    assert (result.status, result.error) == (UP, None)


def test_the_probe_sends_its_method_headers_body_and_user_agent(shop):
    result = run({"kind": "http", "url": shop.url("/echo?x=1"), "method": "POST", "body": '{"ping": true}',
                  "headers": {"X-Shop-Check": "beacon", "Content-Type": "application/json"},
                  "json": {"path": "method", "equals": "POST"}}, user_agent="Shop-Watch/2")
    assert (result.status, result.error) == (UP, None)
    seen = shop.seen[-1]
    assert (seen["method"], seen["body"]) == ("POST", '{"ping": true}')
    assert seen["headers"]["X-Shop-Check"] == "beacon" and seen["headers"]["User-Agent"] == "Shop-Watch/2"
    assert seen["headers"]["Host"] == f"127.0.0.1:{shop.server_address[1]}"


def test_a_header_that_cannot_be_sent_is_named():
    result = run({"kind": "http", "url": "http://127.0.0.1:9/", "headers": {"X-Bad": "line\r\nbreak"}})
    assert result.status is DOWN
    assert result.error == "headers: 'X-Bad' cannot be sent (a header name is a single word, a value one line); " \
                           "check the probe's headers"


# -- redirects ---------------------------------------------------------------------------------------

def test_a_redirect_to_another_host_drops_the_credentials(shop, other_host):
    # GIVEN a probe that sends a token, redirected to the same host and then to another one
    there = other_host.url("/ok")
    here = shop.url(f"/redirect?to={shop.url(f'/redirect?to={there}')}")
    result = run({"kind": "http", "url": here, "headers": {"Authorization": "Bearer s3cret", "X-Trace": "1"}})
    # THEN the same host saw the token on both hops, the other host never did
    assert (result.status, result.error) == (UP, None)
    assert [seen["headers"].get("Authorization") for seen in shop.seen] == ["Bearer s3cret"] * 2
    assert "Authorization" not in other_host.seen[-1]["headers"]
    assert other_host.seen[-1]["headers"]["X-Trace"] == "1"


def test_a_303_turns_a_post_into_a_get_without_body(shop):
    result = run({"kind": "http", "url": shop.url(f"/redirect?code=303&to={shop.url('/ok')}"), "method": "POST",
                  "body": "form=1"})
    assert (result.status, result.error) == (UP, None)
    assert [(seen["method"], seen["body"]) for seen in shop.seen] == [("POST", "form=1"), ("GET", "")]


def test_a_307_keeps_the_method_and_body(shop):
    result = run({"kind": "http", "url": shop.url(f"/redirect?code=307&to={shop.url('/echo')}"), "method": "POST",
                  "body": "form=1"})
    assert (result.status, result.error) == (UP, None)
    assert [(seen["method"], seen["body"]) for seen in shop.seen] == [("POST", "form=1"), ("POST", "form=1")]


def test_a_redirect_to_another_scheme_is_refused(shop):
    result = run({"kind": "http", "url": shop.url("/redirect?to=ftp://127.0.0.1/file")})
    assert result.status is DOWN and result.error == "redirected to ftp://127.0.0.1/file, which is not an http(s) address"


# -- tls with a private authority --------------------------------------------------------------------

@pytest.fixture
def https_shop(tmp_path):
    trustme = pytest.importorskip("trustme", reason="install trustme (requirements-dev.txt) for the TLS tests")
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = RecordingServer()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(tls)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    server.scheme = "https"
    _serve(server)
    yield server, str(ca_file)
    _stop(server)


def test_https_with_a_private_authority_is_up_when_its_ca_file_is_given(https_shop, tmp_path):
    server, ca_file = https_shop
    port = server.server_address[1]
    trusted = run({"kind": "http", "url": f"https://localhost:{port}/ok", "ca_file": ca_file, "body_contains": "fine"})
    unknown = run({"kind": "http", "url": f"https://localhost:{port}/ok"})
    missing = run({"kind": "http", "url": f"https://localhost:{port}/ok", "ca_file": str(tmp_path / "none.pem")})
    assert (trusted.status, trusted.error) == (UP, None)
    assert unknown.status is DOWN and unknown.error == "TLS failed: unable to get local issuer certificate"
    assert missing.status is DOWN and missing.error.startswith(f"ca_file: {tmp_path / 'none.pem'} cannot be read")


def test_upstream_reads_a_status_api_over_https_with_a_private_authority(https_shop):
    server, ca_file = https_shop
    result = run({"kind": "upstream", "url": f"https://localhost:{server.server_address[1]}/ok", "ca_file": ca_file})
    # THEN it reached the API (which answers text, not Statuspage JSON) through TLS
    assert result.status is None and "is not JSON" in result.error


# -- the cycle ---------------------------------------------------------------------------------------

@pytest.fixture
def silent_listener():
    """A TCP port that accepts connections and never says a word."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield sock.getsockname()[1]
    sock.close()


def test_a_cycle_runs_every_kind_together_and_keeps_their_order(shop, silent_listener):
    planned = [probe(kind="http", id="page", url=shop.url("/ok")),
               probe(kind="tcp", id="port", host="127.0.0.1", port=silent_listener),
               probe(kind="heartbeat", id="job", period_seconds=60),
               probe(kind="upstream", id="theirs", url=shop.url("/ok")),
               probe(kind="http", id="missing", url=shop.url("/redirect?code=404&to=/"))]
    context = ProbeContext(ProbeSettings(allow_private_targets=True), now=NOW)
    try:
        results = run_probes(planned, context, deadline_seconds=10, max_workers=8)
    finally:
        context.close()
    assert [r.key for r in results] == ["shop/page", "shop/port", "shop/job", "shop/theirs", "shop/missing"]
    assert [r.status for r in results] == [UP, UP, UP, None, DOWN]


def test_the_deadline_counts_hanging_fetches_and_blocked_threads_as_timeouts(shop, silent_listener):
    # GIVEN an HTTP target that never answers and a TLS handshake that never completes, 30 s timeouts each
    planned = [probe(kind="http", id="page", url=shop.url("/hang"), timeout_seconds=30),
               probe(kind="tls", id="cert", host="127.0.0.1", port=silent_listener, timeout_seconds=30),
               probe(kind="http", id="fine", url=shop.url("/ok"))]
    context = ProbeContext(ProbeSettings(allow_private_targets=True), now=NOW)
    # WHEN the cycle runs with a 1 s deadline
    try:
        results = run_probes(planned, context, deadline_seconds=1, max_workers=8)
    finally:
        context.close()
    # THEN both count as timeouts of the cycle, and the answering probe kept its result
    assert [r.status for r in results] == [DOWN, DOWN, UP]
    assert all("cycle deadline (1 s)" in r.error for r in results[:2])


def test_a_probe_s_timeout_covers_the_body(shop):
    # GIVEN headers at once, then a body that never ends
    result = run({"kind": "http", "url": shop.url("/endless-body"), "timeout_seconds": 0.5})
    assert result.status is DOWN and result.error == "no complete answer within 0.5 s"


def test_a_crash_on_the_event_loop_is_a_result_logged_with_the_cycle_id(shop):
    # GIVEN a probe whose spec skipped validation (built in code: a timeout that is not a number), beside a good one
    broken = PlannedProbe("shop", HttpProbe(kind="http", id="broken", url=shop.url("/ok"), timeout_seconds="10"))
    planned = [broken, probe(kind="http", id="page", url=shop.url("/ok"))]
    context = ProbeContext(ProbeSettings(allow_private_targets=True), now=NOW)
    buffer = io.StringIO()
    previous = logger.registered_handler.setStream(buffer)
    # WHEN a cycle runs them
    try:
        with correlated("cycle-9"):
            results = run_probes(planned, context, deadline_seconds=10, max_workers=4)
    finally:
        logger.registered_handler.setStream(previous)
        context.close()
    # THEN the crash is its probe's result, the other probe answered, and the log line names the cycle
    assert results[0].status is None and results[0].error.startswith("the probe crashed (")
    assert results[1].status is UP
    lines = [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]
    crash = [line for line in lines if line.get("message") == "probe shop/broken crashed"]
    assert crash and crash[0]["correlation_id"] == "cycle-9"


def test_run_probes_works_from_inside_a_running_event_loop(shop):
    context = ProbeContext(ProbeSettings(allow_private_targets=True), now=NOW)

    async def caller():
        return run_probes([probe(kind="http", url=shop.url("/ok"))], context, deadline_seconds=10, max_workers=2)

    answers = []
    # A thread of its own: this one may hold a loop already (the browser tests' driver keeps one).
    runner = threading.Thread(target=lambda: answers.append(asyncio.run(caller())))
    try:
        runner.start()
        runner.join(30)
    finally:
        context.close()
    assert [r.status for r in answers[0]] == [UP]


def test_a_name_is_looked_up_once_per_cycle_and_checked_at_every_use(shop):
    # GIVEN two probes of localhost, with private targets refused
    port = shop.server_address[1]
    planned = [probe(kind="http", id=f"p{i}", url=f"http://localhost:{port}/ok") for i in range(2)]
    context = ProbeContext(ProbeSettings(allow_private_targets=False), now=NOW)
    try:
        results = run_probes(planned, context, deadline_seconds=10, max_workers=2)
    finally:
        context.close()
    # THEN both are refused at the address the name resolved to, and the server saw nothing
    assert all(r.status is DOWN and "localhost resolves to" in r.error for r in results)
    assert shop.seen == []
