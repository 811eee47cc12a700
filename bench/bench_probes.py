"""Probe cycle speed: 1,000 HTTP probes of slow endpoints, and 500 targets that never answer.

The endpoints run in a separate process (asyncio, one port per endpoint), so the figures
count only the probing side. Measured side by side in this run, over the same endpoints:

- 1,000 probes, each endpoint answering after 200 ms, all in flight at once
  (``max_concurrency: 1000``): the cycle's wall time and CPU per probe, against targets of
  0.45 s and 0.3 ms, and again at the default ``max_concurrency`` of 500;
- the same 1,000 requests through ``requests`` in a 250-thread pool, and through aiohttp
  (one session, 1,000 connections at once: the fastest Python client we know);
- a sequential loop with ``requests`` (how Upptime checks). It takes 200 s for 1,000, so it
  is measured over 50 endpoints and multiplied by 20, as the row says;
- 500 targets that accept and never answer, 2 s timeout: the cycle's wall time, against
  the 2.3 s it must stay under.
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
from chalicelib.schema import read
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
    component = read(Component, {"id": "bench", "name": "Bench", "probes": [
        {"kind": "http", "id": f"p{i}", "url": f"http://127.0.0.1:{port}/", "timeout_seconds": timeout}
        for i, port in enumerate(ports)]})
    return [PlannedProbe("bench", spec) for spec in component.probes]


def _cycle(planned: list[PlannedProbe], deadline: float, concurrency: int = 1000) -> tuple[float, float, list]:
    settings = ProbeSettings(allow_private_targets=True, max_concurrency=concurrency)
    context = ProbeContext(settings, now=datetime.now(timezone.utc))
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        results = run_probes(planned, context, deadline_seconds=deadline, max_workers=settings.max_concurrency)
    finally:
        context.close()
    return time.perf_counter() - wall, time.process_time() - cpu, results


def _requests_pool(ports: list[int]) -> tuple[float, float]:
    """Wall and CPU of the same requests through ``requests`` in a 250-thread pool."""
    def one(port: int) -> None:
        requests.get(f"http://127.0.0.1:{port}/", timeout=10)

    wall, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=250) as pool:
        list(pool.map(one, ports))
    return time.perf_counter() - wall, time.process_time() - cpu


def _aiohttp(ports: list[int]) -> tuple[float, float]:
    """Wall and CPU of the same requests through aiohttp, all at once in one session."""
    import asyncio

    import aiohttp

    async def all_at_once() -> None:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=len(ports)), timeout=timeout) as session:
            async def one(port: int) -> None:
                async with session.get(f"http://127.0.0.1:{port}/") as response:
                    await response.read()

            await asyncio.gather(*(one(port) for port in ports))

    wall, cpu = time.perf_counter(), time.process_time()
    asyncio.run(all_at_once())
    return time.perf_counter() - wall, time.process_time() - cpu


def _sequential(ports: list[int]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for port in ports:
        requests.get(f"http://127.0.0.1:{port}/", timeout=10)
    return time.perf_counter() - wall, time.process_time() - cpu


def run() -> list[Row]:
    _raise_fd_limit(8192)
    rows: list[Row] = []
    n = SLOW_ENDPOINTS
    server, ports = _endpoints("slow", n)
    try:
        # Warm up each client once: imports, the interpreter's thread and event-loop machinery.
        _cycle(_planned(ports[:50], 10), 30)
        _aiohttp(ports[:50])
        _requests_pool(ports[:50])
        wall, cpu, results = _cycle(_planned(ports, 10), 40)
        failed = sum(1 for r in results if not r.ok)
        half_wall, _, _ = _cycle(_planned(ports, 10), 40, concurrency=500)
        aio_wall, aio_cpu = _aiohttp(ports)
        pool_wall, pool_cpu = _requests_pool(ports)
        seq_wall, seq_cpu = _sequential(ports[:SEQUENTIAL_SAMPLE])
    finally:
        server.kill()
        server.wait()
    scale = n / SEQUENTIAL_SAMPLE
    rows.append(Row(f"probe cycle: {n} HTTP probes, 200 ms endpoints, 1000 at once ({failed} failed)", wall, "s",
                    0.45, "target"))
    rows.append(Row("  same, max_concurrency 500 (the default): two rounds", half_wall, "s", wall, "1000 at once"))
    rows.append(Row("  aiohttp, one session, 1000 at once", aio_wall, "s", wall, "probe cycle"))
    rows.append(Row("  requests, 250-thread pool", pool_wall, "s", wall, "probe cycle"))
    rows.append(Row(f"  sequential loop ({SEQUENTIAL_SAMPLE} measured, x{n // SEQUENTIAL_SAMPLE} extrapolated)",
                    seq_wall * scale, "s", wall, "probe cycle"))
    rows.append(Row("probe cycle: CPU per HTTP probe", cpu / n * 1000, "ms", 0.3, "target"))
    rows.append(Row("  aiohttp: CPU per probe", aio_cpu / n * 1000, "ms", cpu / n * 1000, "probe cycle"))
    rows.append(Row("  requests, 250-thread pool: CPU per probe", pool_cpu / n * 1000, "ms", cpu / n * 1000,
                    "probe cycle"))
    rows.append(Row("  sequential loop: CPU per probe", seq_cpu / SEQUENTIAL_SAMPLE * 1000, "ms", cpu / n * 1000,
                    "probe cycle"))
    server, ports = _endpoints("hang", HANGING_TARGETS)
    try:
        wall, _, results = _cycle(_planned(ports, 2), 40)
        timed_out = sum(1 for r in results if r.error and "within 2 s" in r.error)
    finally:
        server.kill()
        server.wait()
    rows.append(Row(f"probe cycle: {HANGING_TARGETS} silent targets, 2 s timeout ({timed_out} timed out)", wall, "s",
                    2.3, "target"))
    return rows
