"""Run every probe of a cycle at once, in a bounded thread pool, and stop at the deadline.

Each probe has its own timeout; the cycle has a deadline kept below the function's
timeout. Whatever has not finished by then counts as a timeout, so a cycle ends on time
even if every target hangs. A probe that crashes is logged and reported, and never stops
the others. Each probe's thread runs in the context of the cycle that started it, so its
log lines carry the cycle's correlation id.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait

from chalicelib.observability import in_this_context
from chalicelib.probes.checks import ProbeContext, check
from chalicelib.probes.model import PlannedProbe, ProbeResult

log = logging.getLogger("beacon.probes")


def run_probes(planned: Sequence[PlannedProbe], context: ProbeContext, *, deadline_seconds: float,
               max_workers: int, run_one: Callable[[PlannedProbe, ProbeContext], ProbeResult] = check,
               monotonic: Callable[[], float] = time.monotonic) -> list[ProbeResult]:
    """The results in the order of ``planned``; never raises for a probe's sake."""
    if not planned:
        return []
    deadline = monotonic() + deadline_seconds
    executor = ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(planned))), thread_name_prefix="probe")
    try:
        futures = [executor.submit(in_this_context(_guarded_run), run_one, probe, context) for probe in planned]
        wait(futures, timeout=max(0.0, deadline - monotonic()))
    finally:
        # Unfinished probes keep their thread until their own timeout; the cycle does not wait for them.
        executor.shutdown(wait=False, cancel_futures=True)
    results = []
    for probe, future in zip(planned, futures):
        if future.done() and not future.cancelled():
            results.append(future.result())
        else:
            results.append(timed_out(probe, deadline_seconds))
    return results


def _guarded_run(run_one, probe: PlannedProbe, context: ProbeContext) -> ProbeResult:
    try:
        return run_one(probe, context)
    except Exception as exc:  # a bug in a check must not cost the other probes their results
        log.exception("probe %s crashed", probe.key)
        return ProbeResult(probe.key, probe.component_id, probe.spec.kind, probe.spec.role, probe.spec.target(),
                           None, f"the probe crashed ({type(exc).__name__}: {exc}); see the function's log")


def timed_out(probe: PlannedProbe, deadline_seconds: float) -> ProbeResult:
    spec = probe.spec
    status = spec.on_error if spec.kind == "upstream" else spec.on_failure
    return ProbeResult(probe.key, probe.component_id, spec.kind, spec.role, spec.target(), status,
                       f"no result before the cycle deadline ({deadline_seconds:g} s); counted as a timeout")
