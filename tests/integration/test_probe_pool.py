"""The probes of a cycle run at once, each on its own connection, at most ``max_concurrency`` together.

Probes of one host do not queue behind one another (the server below answers only once all
of them are connected), and a cycle with more probes than ``max_concurrency`` never holds
more connections than that.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chalicelib.config import Component
from chalicelib.schema import read
from chalicelib.model import ComponentStatus
from chalicelib.probes.checks import ProbeContext
from chalicelib.probes.model import PlannedProbe
from chalicelib.probes.runner import run_probes
from chalicelib.probes.spec import ProbeSettings

CONCURRENCY = 16


class AllAtOnceHandler(BaseHTTPRequestHandler):
    """Answers once every probe of the cycle is connected, so all their connections are open together."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        try:
            self.server.together.wait()
        except threading.BrokenBarrierError:
            pass
        self.answer()

    def answer(self):
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class CountingHandler(AllAtOnceHandler):
    """Counts the requests in flight, each held 100 ms."""

    def do_GET(self):
        server = self.server
        with server.lock:
            server.in_flight += 1
            server.peak = max(server.peak, server.in_flight)
        time.sleep(0.1)
        with server.lock:
            server.in_flight -= 1
        self.answer()


def _serve(handler):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.together = threading.Barrier(CONCURRENCY, timeout=5)
    server.lock = threading.Lock()
    server.in_flight = server.peak = 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def shop_answering_all_probes_at_once():
    server = _serve(AllAtOnceHandler)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def shop_counting_requests_in_flight():
    server = _serve(CountingHandler)
    yield server
    server.shutdown()
    server.server_close()


def _cycle(base_url: str, probes: int, concurrency: int):
    component = read(Component, {"id": "shop", "name": "Shop", "probes": [
        {"kind": "http", "id": f"p{n}", "url": f"{base_url}/page/{n}"} for n in range(probes)]})
    planned = [PlannedProbe("shop", spec) for spec in component.probes]
    settings = ProbeSettings(allow_private_targets=True, max_concurrency=concurrency)
    context = ProbeContext(settings, now=dt.datetime.now(dt.timezone.utc))
    try:
        return run_probes(planned, context, deadline_seconds=10, max_workers=settings.max_concurrency)
    finally:
        context.close()


def test_the_probes_of_one_host_are_all_connected_at_once(shop_answering_all_probes_at_once):
    # GIVEN as many probes of one host as the cycle runs at once
    # WHEN the cycle runs them  THEN every probe answered: none waited for another's connection
    results = _cycle(shop_answering_all_probes_at_once, CONCURRENCY, CONCURRENCY)
    assert [r.status for r in results] == [ComponentStatus.OPERATIONAL] * CONCURRENCY, [r.error for r in results]


def test_a_cycle_holds_no_more_connections_than_its_max_concurrency(shop_counting_requests_in_flight):
    # GIVEN 12 probes of one host and a max_concurrency of 3
    server = shop_counting_requests_in_flight
    results = _cycle(f"http://127.0.0.1:{server.server_address[1]}", 12, 3)
    # THEN all answered, never more than 3 at a time, and more than one at a time
    assert [r.status for r in results] == [ComponentStatus.OPERATIONAL] * 12, [r.error for r in results]
    assert 2 <= server.peak <= 3
