"""The probes of a cycle share one connection pool per host, sized to the cycle's concurrency.

A pool smaller than the threads that use it closes the connections it cannot keep, with a
"Connection pool is full, discarding connection" warning per connection and cycle.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chalicelib.config import Component
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
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def shop_answering_all_probes_at_once():
    server = ThreadingHTTPServer(("127.0.0.1", 0), AllAtOnceHandler)
    server.daemon_threads = True
    server.together = threading.Barrier(CONCURRENCY, timeout=5)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_cycle_with_more_probes_at_once_than_ten_keeps_every_connection(shop_answering_all_probes_at_once, caplog):
    # GIVEN as many probes of one host as the cycle runs at once
    component = Component.model_validate({"id": "shop", "name": "Shop", "probes": [
        {"kind": "http", "url": f"{shop_answering_all_probes_at_once}/page/{n}"} for n in range(CONCURRENCY)]})
    planned = [PlannedProbe("shop", spec) for spec in component.probes]
    settings = ProbeSettings(allow_private_targets=True, max_concurrency=CONCURRENCY)
    context = ProbeContext(settings, now=dt.datetime.now(dt.timezone.utc))

    # WHEN the cycle runs them
    with caplog.at_level(logging.WARNING, logger="urllib3"):
        try:
            results = run_probes(planned, context, deadline_seconds=10, max_workers=settings.max_concurrency)
        finally:
            context.close()

    # THEN every probe answered, and the pool kept every connection
    assert [r.status for r in results] == [ComponentStatus.OPERATIONAL] * CONCURRENCY, [r.error for r in results]
    assert not [r.getMessage() for r in caplog.records if "Connection pool is full" in r.getMessage()]
