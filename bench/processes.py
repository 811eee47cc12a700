"""Servers a bench runs in processes of their own: the emulator, the slow proxy.

A server in the bench's own process shares its interpreter lock and its heap with the code
measured: every request the server handles, and every garbage collection of what it stores,
lands in the figure. In Lambda the table and the bucket are elsewhere.
"""
from __future__ import annotations

import socket
import subprocess
import sys
import time

import requests

from chalicelib.settings import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerProcess:
    """``code`` run by this interpreter in a child process, serving HTTP on ``port``; ready once
    ``/moto-api/`` answers there (any answer: the slow proxy forwards it to the emulator)."""

    def __init__(self, code: str, port: int, start_timeout: float = 30):
        self.port = port
        self.endpoint = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen([sys.executable, "-c", code], cwd=str(PROJECT_ROOT),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                requests.get(f"{self.endpoint}/moto-api/", timeout=1)
                return
            except requests.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"the server on port {port} did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def emulator() -> ServerProcess:
    """moto in server mode on 127.0.0.1, in a process of its own."""
    port = free_port()
    return ServerProcess(f"from moto.server import main; main(['-H', '127.0.0.1', '-p', '{port}'])", port)
