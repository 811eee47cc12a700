"""Local HTTP servers for tests: run one on a thread for the length of a test."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def serving(server) -> Iterator:
    """``server`` (a socketserver) answering on its own thread until the block ends."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
