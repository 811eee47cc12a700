"""The probe capability as the app calls it: run a cycle, receive a heartbeat.

Builds the cycle from this container's site, table, settings and clock; the work is in
``cycle``. The scheduled cycle asks for a publish through the publish queue (its role may
not write the bucket); ``POST /probes/run`` publishes at once.
"""
from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from chalicelib import aws
from chalicelib.config import Site, get_site
from chalicelib.model import isoformat, new_id, utcnow
from chalicelib.probes.cycle import CycleBusy, CycleReport, ProbeCycle
from chalicelib.probes.overrides import load_overrides
from chalicelib.probes.rules import outcome_summary
from chalicelib.probes.shards import parse_shard_message, shard_components, shard_message
from chalicelib.probes.spec import HeartbeatProbe
from chalicelib.settings import get_settings
from chalicelib.store.probes import ProbeStore
from chalicelib.store.table import Table

log = logging.getLogger("beacon.probes")


def run_probe_cycle(clock: Callable[[], datetime] = utcnow, deadline_seconds: float | None = None,
                    publish: Callable[[], Any] | None = None, component_ids: frozenset[str] | None = None,
                    shard: str | None = None) -> CycleReport:
    """``publish`` defaults to publishing now; the scheduled cycle, which may not write the
    bucket, asks for a publish through the queue instead."""
    from chalicelib.incidents import IncidentService
    from chalicelib.site.service import publish_site

    site = get_site()
    table = Table(aws.get_table(), clock)
    cycle = ProbeCycle(site, table, clock, incidents=IncidentService(table, site, clock),
                       publish=publish or publish_site,
                       overrides=load_overrides(get_settings().probe_overrides), deadline_seconds=deadline_seconds,
                       component_ids=component_ids, shard=shard)
    return cycle.run()


def _request_publish() -> bool:
    from chalicelib.site.trigger import request_publish

    request_publish("probe cycle")
    return True


def scheduled_probe_cycle(clock: Callable[[], datetime] = utcnow) -> dict[str, Any]:
    """The schedule's cycle, run here or, for a site with more probes than one invocation
    runs, sharded onto the probe shard queue. A cycle still running is no error: this one skips."""
    site = get_site()
    shards = shard_components(site, site.probe_settings.probes_per_invocation)
    if len(shards) > 1:
        cycle_id = new_id(clock())
        entries = [{"Id": str(i), "MessageBody": shard_message(cycle_id, i, shard)} for i, shard in enumerate(shards)]
        sqs = aws.client("sqs")
        for start in range(0, len(entries), 10):
            sqs.send_message_batch(QueueUrl=get_settings().probe_shard_queue_url, Entries=entries[start:start + 10])
        log.info("probe cycle %s sharded into %d invocations", cycle_id, len(shards))
        return {"cycle_id": cycle_id, "shards": len(shards), "changes": 0}
    return _run_scheduled(clock)


def run_probe_shard(body: str, clock: Callable[[], datetime] = utcnow) -> dict[str, Any]:
    """One shard of a sharded cycle, from its queue message."""
    shard, component_ids = parse_shard_message(body)
    return _run_scheduled(clock, component_ids=component_ids, shard=shard)


def _run_scheduled(clock: Callable[[], datetime], **scope) -> dict[str, Any]:
    try:
        report = run_probe_cycle(clock, publish=_request_publish, **scope)
    except CycleBusy as exc:
        log.info("probe cycle skipped: %s", exc)
        return {"skipped": str(exc), "changes": 0}
    outcomes = outcome_summary(report.results)
    return {"cycle_id": report.cycle_id, "changes": len(report.changes), "duration_ms": round(report.duration_ms),
            "failed": outcomes["down"] + outcomes["unknown"]}


class UnknownHeartbeat(KeyError):
    def __str__(self) -> str:
        return "no heartbeat probe has this token; check the URL against site.yml"


def heartbeat_probe(site: Site, token: str) -> tuple[str, HeartbeatProbe]:
    found = None
    for component in site.components:
        for probe in component.probes:
            # Compare every token in constant time, so the answer's timing says nothing about any of them.
            if isinstance(probe, HeartbeatProbe) and hmac.compare_digest(probe.token.encode(), token.encode()):
                found = (f"{component.id}/{probe.key_id}", probe)
    if found is None:
        raise UnknownHeartbeat(token)
    return found


def receive_heartbeat(token: str, *, failed: bool = False, clock: Callable[[], datetime] = utcnow) -> dict[str, Any]:
    key, probe = heartbeat_probe(get_site(), token)
    now = clock()
    ProbeStore(Table(aws.get_table(), clock)).beat(key, now, failed=failed)
    return {"probe": key, "received_at": isoformat(now), "failed": failed,
            "next_expected_by": isoformat(now + timedelta(seconds=probe.period_seconds + probe.grace_seconds))}


def latest_run(transitions: int = 20) -> dict[str, Any] | None:
    """The last cycle's results, with the most recent component transitions (newest first)."""
    store = ProbeStore(Table(aws.get_table()))
    report = store.latest_run()
    if report is None:
        return None
    return {**report, "recent_transitions": store.transitions(limit=transitions)}
