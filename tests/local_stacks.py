"""`make run`'s stack started in a test process, on free ports.

The emulator keeps its state per process, so every stack starts from, and leaves, a clean one
(reset through the session's emulator after the stack has stopped, so no step of it still runs).
"""
from __future__ import annotations

import os
from contextlib import contextmanager

import requests

from tools.local.stack import LocalStack, Ports


@contextmanager
def local_stack_on_free_ports(moto_endpoint: str, ports: Ports | None = None, **environ: str | None):
    """A started ``LocalStack``; ``environ`` is set (None: removed) for it and restored after."""
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10).raise_for_status()
    saved = dict(os.environ)
    for name, value in environ.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    stack = LocalStack(ports or Ports(aws=0, api=0, page=0, chat=0)).start()
    try:
        yield stack
    finally:
        stack.stop()
        requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10).raise_for_status()
        os.environ.clear()
        os.environ.update(saved)
        from tests.conftest import _forget_caches

        _forget_caches()
