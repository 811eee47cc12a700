"""Fixtures the integration tests of probes share."""
from __future__ import annotations

import threading

import pytest

from tools.local.demo import DemoServer


@pytest.fixture
def demo():
    """The demo upstream `make run` starts (tools/local/demo.py), on a free port, with its outage switches."""
    server = DemoServer(0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()
