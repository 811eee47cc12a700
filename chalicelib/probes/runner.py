"""Run every probe of a cycle at once, on one event loop, and stop at the deadline.

The probes that fetch over HTTP (``checks.ON_LOOP``: http, upstream) run as tasks of one
event loop (``checks.check_on_loop``); the others, and every probe when the caller passes
its own ``run_one``, run in a thread pool the loop waits on. At most ``max_workers`` probes
are in flight at once (each holds a socket). Each probe has its own timeout; the cycle has
a deadline kept below the function's timeout. Whatever has not finished by then counts as a
timeout: its task is cancelled (closing its connection), and a thread still blocked keeps
running until its own timeout without holding the cycle up. A probe that crashes is logged
and reported, and never stops the others. Tasks and threads run in the context of the
cycle that started them, so their log lines carry the cycle's correlation id.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from chalicelib.observability import in_this_context
from chalicelib.probes.checks import ON_LOOP, ProbeContext, check, check_on_loop
from chalicelib.probes.http import run_to_end
from chalicelib.probes.model import PlannedProbe, ProbeResult

log = logging.getLogger("beacon.probes")


def run_probes(planned: Sequence[PlannedProbe], context: ProbeContext, *, deadline_seconds: float,
               max_workers: int, run_one: Callable[[PlannedProbe, ProbeContext], ProbeResult] = check,
               monotonic: Callable[[], float] = time.monotonic) -> list[ProbeResult]:
    """The results in the order of ``planned``; never raises for a probe's sake."""
    if not planned:
        return []
    deadline = monotonic() + deadline_seconds
    on_loop = [run_one is check and probe.spec.kind in ON_LOOP for probe in planned]
    in_threads = len(planned) - sum(on_loop)
    threads = ThreadPoolExecutor(max_workers=max(1, min(max_workers, in_threads)), thread_name_prefix="probe")
    try:
        finished = run_to_end(_run_all(planned, on_loop, context, run_one, threads, max(1, max_workers),
                                       lambda: max(0.0, deadline - monotonic())))
    finally:
        # Unfinished probes keep their thread until their own timeout; the cycle does not wait for them.
        threads.shutdown(wait=False, cancel_futures=True)
    return [result if result is not None else timed_out(probe, deadline_seconds)
            for probe, result in zip(planned, finished)]


async def _run_all(planned, on_loop, context, run_one, threads, limit: int,
                   remaining: Callable[[], float]) -> list[ProbeResult | None]:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(limit)

    async def one(probe: PlannedProbe, here: bool) -> ProbeResult:
        async with gate:
            if here:
                try:
                    return await check_on_loop(probe, context)
                except Exception as exc:  # a bug in a check must not cost the other probes their results
                    return crashed(probe, exc)
            return await loop.run_in_executor(threads, in_this_context(_guarded_run), run_one, probe, context)

    tasks = [asyncio.create_task(one(probe, here)) for probe, here in zip(planned, on_loop)]
    _, pending = await asyncio.wait(tasks, timeout=remaining())
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=1)  # let cancelled fetches close their connections
    return [task.result() if task.done() and not task.cancelled() else None for task in tasks]


def _guarded_run(run_one, probe: PlannedProbe, context: ProbeContext) -> ProbeResult:
    try:
        return run_one(probe, context)
    except Exception as exc:  # a bug in a check must not cost the other probes their results
        return crashed(probe, exc)


def crashed(probe: PlannedProbe, exc: Exception) -> ProbeResult:
    log.exception("probe %s crashed", probe.key, exc_info=exc)
    return ProbeResult(probe.key, probe.component_id, probe.spec.kind, probe.spec.role, probe.spec.target(),
                       None, f"the probe crashed ({type(exc).__name__}: {exc}); see the function's log")


def timed_out(probe: PlannedProbe, deadline_seconds: float) -> ProbeResult:
    spec = probe.spec
    status = spec.on_error if spec.kind == "upstream" else spec.on_failure
    return ProbeResult(probe.key, probe.component_id, spec.kind, spec.role, spec.target(), status,
                       f"no result before the cycle deadline ({deadline_seconds:g} s); counted as a timeout")
