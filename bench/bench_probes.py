"""Probe cycle speed: 1,000 HTTP probes of slow endpoints, and 500 targets that never answer.

The endpoints run in a separate process (asyncio, one port per endpoint), so the figures
count only the probing side. Measured side by side in this run:

- 1,000 probes, each endpoint answering after 200 ms: the cycle's wall time and CPU per
  probe, against a sequential loop with ``requests`` over the same kind of endpoints (how
  Upptime checks). A sequential loop over 1,000 takes 200 s, so it is measured over 50
  endpoints and multiplied by 20, as the row says.
- CPU per probe through urllib3 (what the checks use) against ``requests`` in the same pool.
- 500 targets that accept and never answer, 2 s timeout: the cycle's wall time, against the
  3 s it must stay under.
"""
from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import requests

from bench.table import Row
from chalicelib.config import Component
from chalicelib.probes.checks import PlannedProbe, ProbeContext
from chalicelib.probes.runner import run_probes
from chalicelib.probes.spec import ProbeSettings

SLOW_ENDPOINTS, HANGING_TARGETS, SEQUENTIAL_SAMPLE = 1000, 500, 50
DELAY_SECONDS = 0.2

_SERVER = r"""
import asyncio, json, sys
mode, count, delay = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])

async def answer(reader, writer):
    try:
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        if mode == "hang":
            await asyncio.sleep(3600)
        await asyncio.sleep(delay)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
        await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()

async def main():
    servers = [await asyncio.start_server(answer, "127.0.0.1", 0, backlog=1024) for _ in range(count)]
    print(json.dumps([s.sockets[0].getsockname()[1] for s in servers]), flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def _raise_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def _endpoints(mode: str, count: int) -> tuple[subprocess.Popen, list[int]]:
    server = subprocess.Popen([sys.executable, "-c", _SERVER, mode, str(count), str(DELAY_SECONDS)],
                              stdout=subprocess.PIPE, text=True)
    return server, json.loads(server.stdout.readline())


def _planned(ports: list[int], timeout: float) -> list[PlannedProbe]:
    component = Component.model_validate({"id": "bench", "name": "Bench", "probes": [
        {"kind": "http", "id": f"p{i}", "url": f"http://127.0.0.1:{port}/", "timeout_seconds": timeout}
        for i, port in enumerate(ports)]})
    return [PlannedProbe("bench", spec) for spec in component.probes]


def _cycle(planned: list[PlannedProbe], deadline: float) -> tuple[float, float, list]:
    context = ProbeContext(ProbeSettings(allow_private_targets=True), now=datetime.now(timezone.utc))
    wall, cpu = time.perf_counter(), time.process_time()
    results = run_probes(planned, context, deadline_seconds=deadline, max_workers=500)
    return time.perf_counter() - wall, time.process_time() - cpu, results


def _requests_cycle(ports: list[int]) -> float:
    """CPU of the same probes through requests, in the same size of thread pool."""
    def one(port: int) -> None:
        requests.get(f"http://127.0.0.1:{port}/", timeout=10)

    cpu = time.process_time()
    with ThreadPoolExecutor(max_workers=500) as pool:
        list(pool.map(one, ports))
    return time.process_time() - cpu


def run() -> list[Row]:
    _raise_fd_limit(8192)
    rows: list[Row] = []
    server, ports = _endpoints("slow", SLOW_ENDPOINTS)
    try:
        _cycle(_planned(ports[:50], 10), 30)  # warm up imports and the interpreter's thread machinery
        wall, cpu, results = _cycle(_planned(ports, 10), 40)
        failed = sum(1 for r in results if not r.ok)
        started = time.perf_counter()
        for port in ports[:SEQUENTIAL_SAMPLE]:
            requests.get(f"http://127.0.0.1:{port}/", timeout=10)
        sequential = (time.perf_counter() - started) * (SLOW_ENDPOINTS / SEQUENTIAL_SAMPLE)
        requests_cpu = _requests_cycle(ports)
    finally:
        server.kill()
        server.wait()
    rows.append(Row(f"probe cycle: {SLOW_ENDPOINTS} HTTP probes, 200 ms endpoints ({failed} failed)", wall, "s"))
    rows.append(Row(f"sequential loop, same endpoints ({SEQUENTIAL_SAMPLE} measured, "
                    f"x{SLOW_ENDPOINTS // SEQUENTIAL_SAMPLE} extrapolated)", sequential, "s", wall, "probe cycle"))
    rows.append(Row("probe cycle: CPU per HTTP probe (urllib3)", cpu / SLOW_ENDPOINTS * 1000, "ms",
                    requests_cpu / SLOW_ENDPOINTS * 1000, "requests, same pool"))
    server, ports = _endpoints("hang", HANGING_TARGETS)
    try:
        wall, _, results = _cycle(_planned(ports, 2), 40)
        timed_out = sum(1 for r in results if r.error and "within 2 s" in r.error)
    finally:
        server.kill()
        server.wait()
    rows.append(Row(f"probe cycle: {HANGING_TARGETS} silent targets, 2 s timeout ({timed_out} timed out)", wall, "s",
                    3.0, "target"))
    return rows
