"""The probe cycle as the app runs it: on the schedule, in a shard, at a location, or now.

Builds the cycle from this container's site, table, settings and clock; the work is in
``cycle``. The scheduled cycle asks for a publish through the publish queue (its role may
not write the bucket); ``POST /probes/run`` publishes at once. Heartbeats and the last
run's report, which run no cycle, are ``probes.reports``.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib import aws
from chalicelib.config import get_site
from chalicelib.model import new_id, utcnow
from chalicelib.probes.cycle import CycleBusy, CycleReport, ProbeCycle, run_in_slots
from chalicelib.probes.overrides import load_overrides
from chalicelib.probes.rules import outcome_summary
from chalicelib.probes.shards import parse_shard_message, shard_components, shard_message
from chalicelib.settings import get_settings
from chalicelib.store.table import Table

log = logging.getLogger("beacon.probes")


def run_probe_cycle(clock: Callable[[], datetime] = utcnow, deadline_seconds: float | None = None,
                    publish: Callable[[], Any] | None = None, component_ids: frozenset[str] | None = None,
                    shard: str | None = None) -> CycleReport:
    """``publish`` defaults to publishing now; the scheduled cycle, which may not write the
    bucket, asks for a publish through the queue instead."""
    return _probe_cycle(clock, publish, component_ids=component_ids, shard=shard).run(deadline_seconds)


def run_location_cycle(location: str, clock: Callable[[], datetime] = utcnow) -> dict[str, Any]:
    """One cycle at another probe location, now: what its schedule runs each slot (its report goes home)."""
    report = _probe_cycle(clock, None, location=location).run()
    return {"cycle_id": report.cycle_id, "location": location, "summary": outcome_summary(report.results)}


def _probe_cycle(clock: Callable[[], datetime], publish: Callable[[], Any] | None, **scope) -> ProbeCycle:
    from chalicelib.incidents import IncidentService
    from chalicelib.site.service import publish_site

    site = get_site()
    table = Table(aws.get_table(), clock)
    return ProbeCycle(site, table, clock, incidents=IncidentService(table, site, clock),
                      publish=publish or publish_site, overrides=load_overrides(get_settings().probe_overrides),
                      **scope)


def _request_publish() -> bool:
    from chalicelib.site.trigger import request_publish

    request_publish("probe cycle")
    return True


def scheduled_probe_cycle(clock: Callable[[], datetime] = utcnow, *, scheduled_at: str | None = None,
                          location: str | None = None, sleep: Callable[[float], None] = time.sleep,
                          seconds_left: Callable[[], float] | None = None) -> dict[str, Any]:
    """The schedule's minute of cycles (one per ``probe_settings.interval_seconds``), run here
    or, for a site with more probes than one invocation runs, sharded onto the probe shard
    queue (each shard then runs the minute's cycles). ``scheduled_at`` is when the schedule
    fired (the event's ``time``, ISO 8601; now when absent), so a late start shortens the minute
    rather than overlapping the next one; ``seconds_left`` is the function's remaining time;
    ``location`` defaults to ``PROBE_LOCATION``, else home. A cycle still running is no error:
    this one skips."""
    minute_start = datetime.fromisoformat(scheduled_at) if scheduled_at else clock()
    site = get_site()
    location = location or get_settings().probe_location or site.probe_settings.home
    if location not in site.probe_settings.locations:
        raise ValueError(f"PROBE_LOCATION {location!r} is not one of probe_settings.locations "
                         f"({', '.join(site.probe_settings.locations)}) in the site file; add it there")
    shards = shard_components(site, site.probe_settings.probes_per_invocation)
    if len(shards) > 1 and location == site.probe_settings.home:
        cycle_id = new_id(clock())
        entries = [{"Id": str(i), "MessageBody": shard_message(cycle_id, i, shard)} for i, shard in enumerate(shards)]
        sqs = aws.client("sqs")
        for start in range(0, len(entries), 10):
            sqs.send_message_batch(QueueUrl=get_settings().probe_shard_queue_url, Entries=entries[start:start + 10])
        log.info("probe cycle %s sharded into %d invocations", cycle_id, len(shards))
        return {"cycle_id": cycle_id, "shards": len(shards), "changes": 0}
    return _run_scheduled(clock, minute_start, sleep, seconds_left, location=location)


def run_probe_shard(body: str, clock: Callable[[], datetime] = utcnow, sleep: Callable[[float], None] = time.sleep,
                    seconds_left: Callable[[], float] | None = None) -> dict[str, Any]:
    """One shard of a sharded minute, from its queue message (sent as the minute started)."""
    shard, component_ids = parse_shard_message(body)
    return _run_scheduled(clock, clock(), sleep, seconds_left, component_ids=component_ids, shard=shard)


def _run_scheduled(clock: Callable[[], datetime], minute_start: datetime, sleep: Callable[[float], None],
                   seconds_left: Callable[[], float] | None, **scope) -> dict[str, Any]:
    settings = get_site().probe_settings
    # One cycle object for the minute: the site, the overrides, the stores and their clients stay.
    cycle = _probe_cycle(clock, _request_publish, sleep=sleep, **scope)

    def one_cycle(deadline_seconds: float) -> dict[str, Any]:
        try:
            report = cycle.run(deadline_seconds)
        except CycleBusy as exc:
            log.info("probe cycle skipped: %s", exc)
            return {"skipped": str(exc), "changes": 0}
        outcomes = outcome_summary(report.results)
        return {"cycle_id": report.cycle_id, "changes": len(report.changes), "duration_ms": round(report.duration_ms),
                "failed": outcomes["down"] + outcomes["unknown"], "unconfirmed": len(report.unconfirmed)}

    cycles = run_in_slots(one_cycle, interval_seconds=settings.interval_seconds,
                          deadline_seconds=settings.deadline_seconds, minute_start=minute_start, clock=clock,
                          sleep=sleep, seconds_left=seconds_left)
    if not cycles:
        return {"cycles": 0, "changes": 0, "skipped": "the scheduled minute was over before its first slot"}
    last = cycles[-1]
    return {**last, "cycles": len(cycles), "changes": sum(c["changes"] for c in cycles),
            "unconfirmed": sum(c.get("unconfirmed", 0) for c in cycles)}
