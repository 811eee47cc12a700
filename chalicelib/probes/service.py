"""The probe capability as the app calls it: run a cycle, receive a heartbeat, manage heartbeat secrets.

Builds the cycle from this container's site, table, settings and clock; the work is in
``cycle``. The scheduled cycle asks for a publish through the publish queue (its role may
not write the bucket); ``POST /probes/run`` publishes at once. A heartbeat's secret is
looked up by its hash (``heartbeats``); wrong secrets are counted per source address, and
past ``WRONG_SECRETS_PER_ADDRESS`` in ``WRONG_SECRET_WINDOW_SECONDS`` that address gets
``TooMany`` (429) instead of 404. A right secret is always accepted, so guesses from an
address a job shares (a NAT) never silence the job.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from chalicelib import aws
from chalicelib.config import get_site
from chalicelib.model import isoformat, new_id, utcnow
from chalicelib.probes.cycle import CycleBusy, CycleReport, ProbeCycle, run_in_slots
from chalicelib.probes.overrides import load_overrides
from chalicelib.probes.rules import outcome_summary
from chalicelib.probes.shards import parse_shard_message, shard_components, shard_message
from chalicelib.settings import get_settings
from chalicelib.store.probes import ProbeStore
from chalicelib.store.table import Table

log = logging.getLogger("beacon.probes")

WRONG_SECRETS_PER_ADDRESS, WRONG_SECRET_WINDOW_SECONDS = 10, 600


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


class UnknownHeartbeat(KeyError):
    def __str__(self) -> str:
        return ("no heartbeat has this secret; check the job's URL, or make a new secret with "
                "`beacon heartbeats rotate <component>/<probe>`")


def receive_heartbeat(secret: str, *, failed: bool = False, source_ip: str = "unknown",
                      clock: Callable[[], datetime] = utcnow) -> dict[str, Any]:
    """Record a job's call; ``UnknownHeartbeat`` for a wrong secret, ``TooMany`` past the wrong-secret limit."""
    from chalicelib.probes.heartbeats import find_heartbeat
    from chalicelib.store.windows import WindowCounters

    now = clock()
    table = Table(aws.get_table(), clock)
    store = ProbeStore(table)
    found = find_heartbeat(get_site(), store.heartbeat_secrets(), secret, now)
    if found is None:
        WindowCounters(table).spend(f"heartbeat-secret:ip:{source_ip}", limit=WRONG_SECRETS_PER_ADDRESS,
                                    window_seconds=WRONG_SECRET_WINDOW_SECONDS, now=now,
                                    what="wrong heartbeat URLs from your address")
        log.warning("heartbeat with an unknown secret from %s", source_ip)
        raise UnknownHeartbeat()
    key, probe = found
    calls = store.beat(key, now, failed=failed)
    return {"probe": key, "received_at": isoformat(now), "failed": failed,
            "runs_in_a_row": calls.failed_runs if failed else calls.ok_runs,
            "next_expected_by": isoformat(now + timedelta(seconds=probe.period_seconds + probe.grace_seconds))}


def heartbeat_overview(clock: Callable[[], datetime] = utcnow) -> list[dict[str, Any]]:
    """Every heartbeat probe of the site: whether it has a secret (never the secret), its last call."""
    from chalicelib.probes.heartbeats import heartbeat_probes, secrets_by_probe

    store = ProbeStore(Table(aws.get_table(), clock))
    stored, calls = secrets_by_probe(store), store.heartbeats()
    rows = []
    for key in heartbeat_probes(get_site()):
        secret, call = stored.get(key), calls.get(key)
        rows.append({"probe": key, "has_secret": secret is not None,
                     "secret_created_at": isoformat(secret.created_at) if secret else None,
                     "previous_secret_until": isoformat(secret.previous_until) if secret else None,
                     "last_seen": isoformat(call.last_seen) if call else None,
                     "failed_runs": call.failed_runs if call else 0})
    return rows


def make_heartbeat_secret(probe_key: str, *, created_by: str, rotate: bool = False,
                          overlap: timedelta | None = None, clock: Callable[[], datetime] = utcnow) -> dict[str, Any]:
    """Create (or rotate) a probe's secret; the answer holds the secret and the job's URL, shown once."""
    from chalicelib.probes.heartbeats import DEFAULT_OVERLAP, create_secret

    store = ProbeStore(Table(aws.get_table(), clock))
    secret, record = create_secret(store, get_site(), probe_key, now=clock(), created_by=created_by, rotate=rotate,
                                   overlap=DEFAULT_OVERLAP if overlap is None else overlap)
    return {"probe": probe_key, "secret": secret, "url": f"{get_settings().api_url}/heartbeat/{secret}",
            "created_at": isoformat(record.created_at), "previous_secret_until": isoformat(record.previous_until)}


def latest_run(transitions: int = 20) -> dict[str, Any] | None:
    """The last cycle's results, with the most recent component transitions (newest first)."""
    store = ProbeStore(Table(aws.get_table()))
    report = store.latest_run()
    if report is None:
        return None
    return {**report, "recent_transitions": store.transitions(limit=transitions)}
