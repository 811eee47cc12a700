"""Probe state: confirmed statuses and streaks, heartbeats and their secrets, transitions, the last run, the cycle lock.

Only the probe cycle writes probe states (one cycle at a time, held by the cycle lock);
heartbeats are written by ``POST /heartbeat/<secret>``, one item per probe holding the last
call and the job's runs in a row reported fine or failed. A heartbeat's secret is one item
per probe holding the SHA-256 of the current secret (and of the previous one while a
rotation's overlap lasts), written conditionally, never the secret itself.
Transitions are kept 100 days, for a look back at when each component changed and why.
Each probe location other than home writes one item per cycle, its ``LocationReport``
(the verdicts that were not "operational", so a quiet cycle writes a few hundred bytes), for
the home cycle to confirm failures across locations; it is the only item those locations write.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib.model import ComponentStatus
from chalicelib.probes.model import HeartbeatCalls, LocationReport
from chalicelib.probes.rules import ProbeState
from chalicelib.store.table import AlreadyExists, Conflict, Item, Table

PROBE, HEARTBEAT, TRANSITION, PROBE_INCIDENT, PROBE_RUN = "PROBE", "HEARTBEAT", "TRANSITION", "PROBE_INCIDENT", "PROBE_RUN"
PROBE_SEEN = "PROBE_SEEN"
LOCATION_REPORT_DAYS = 1
HEARTBEAT_SECRET = "HEARTBEAT_SECRET"
LOCK_SK, LATEST_SK = "#cycle-lock", "latest"
TRANSITION_DAYS = 100


class ProbeStore:
    def __init__(self, table: Table):
        self.table = table

    # -- confirmed statuses and streaks
    def probe_states(self) -> dict[str, ProbeState]:
        items = self.table.query_all(PROBE)
        return {i.sk: ProbeState.from_data({**i.data, "version": i.version})
                for i in items if not i.sk.startswith(LOCK_SK)}

    def save_probe_state(self, state: ProbeState) -> ProbeState:
        data = state.rule_fields()
        try:
            if state.version == 0:
                item = self.table.create(PROBE, state.key, data)
            else:
                item = self.table.replace(Item(PROBE, state.key, {}, state.version), data)
        except AlreadyExists:
            raise Conflict(f"{PROBE}/{state.key} was created by another cycle") from None
        return state.replace(version=item.version)

    # -- the one-cycle-at-a-time lock
    def claim_cycle(self, cycle_id: str, now: datetime, hold_seconds: float, shard: str | None = None) -> bool:
        """One cycle at a time over the whole site, or per shard when the cycle is sharded."""
        return self.table.claim(PROBE, _lock(shard), expires_at=int(now.timestamp() + hold_seconds) + 1,
                                data={"cycle_id": cycle_id, "started_at": now.isoformat()})

    def release_cycle(self, shard: str | None = None) -> None:
        self.table.delete(PROBE, _lock(shard))

    # -- heartbeats
    def beat(self, probe_key: str, at: datetime, *, failed: bool = False) -> HeartbeatCalls:
        """Record one call: a run reported fine, or failed (``/fail``); each kind's streak ends the other's."""

        def counted(data: dict[str, Any] | None) -> dict[str, Any]:
            before = _calls(data) if data else HeartbeatCalls(at)
            return {"last_seen": at.isoformat(), "failed": failed,
                    "failed_runs": before.failed_runs + 1 if failed else 0,
                    "ok_runs": 0 if failed else before.ok_runs + 1}

        return _calls(self.table.update(HEARTBEAT, probe_key, counted).data)

    def heartbeats(self) -> dict[str, HeartbeatCalls]:
        """When each heartbeat probe was last called, and its runs in a row reported fine or failed."""
        return {item.sk: _calls(item.data) for item in self.table.query_all(HEARTBEAT)}

    # -- heartbeat secrets (hashes only)
    def heartbeat_secrets(self) -> list[Item]:
        return self.table.query_all(HEARTBEAT_SECRET)

    def heartbeat_secret(self, probe_key: str) -> Item | None:
        return self.table.get(HEARTBEAT_SECRET, probe_key)

    def add_heartbeat_secret(self, probe_key: str, data: dict[str, Any]) -> Item:
        """``AlreadyExists`` when the probe has a secret."""
        return self.table.create(HEARTBEAT_SECRET, probe_key, data)

    def replace_heartbeat_secret(self, current: Item, data: dict[str, Any]) -> Item:
        """``Conflict`` when it was rotated since ``current`` was read."""
        return self.table.replace(current, data)

    # -- transitions
    def record_transition(self, component_id: str, at: datetime, old: ComponentStatus | None,
                          new: ComponentStatus, cause: str | None) -> None:
        self.table.put(TRANSITION, f"{at.isoformat()}#{component_id}",
                       {"component_id": component_id, "at": at.isoformat(), "old": old.value if old else None,
                        "new": new.value, "cause": cause},
                       expires_at=int((at + timedelta(days=TRANSITION_DAYS)).timestamp()))

    def transitions(self, limit: int = 50) -> list[dict[str, Any]]:
        return [item.data for item in self.table.query(TRANSITION, descending=True, limit=limit).items]

    # -- incidents the probes opened or joined, per component
    def tracked_incidents(self) -> dict[str, dict[str, Any]]:
        return {item.sk: item.data for item in self.table.query_all(PROBE_INCIDENT)}

    def track_incident(self, component_id: str, *, incident_id: str | None, playbook_id: str | None,
                       opened_by_probe: bool, told_status: ComponentStatus, cause: str | None) -> None:
        self.table.put(PROBE_INCIDENT, component_id,
                       {"incident_id": incident_id, "playbook_id": playbook_id, "opened_by_probe": opened_by_probe,
                        "told_status": told_status.value, "cause": cause})

    def untrack_incident(self, component_id: str) -> None:
        self.table.delete(PROBE_INCIDENT, component_id)

    # -- the last cycle's results, for the API and operators
    def save_latest_run(self, report: dict[str, Any]) -> None:
        self.table.put(PROBE_RUN, LATEST_SK, report)

    def latest_run(self) -> dict[str, Any] | None:
        item = self.table.get(PROBE_RUN, LATEST_SK)
        return item.data if item else None

    # -- what the other probe locations saw
    def save_location_report(self, report: LocationReport) -> None:
        self.table.put(PROBE_SEEN, report.location, report.as_json(),
                       expires_at=int((report.at + timedelta(days=LOCATION_REPORT_DAYS)).timestamp()))

    def location_reports(self, locations: list[str]) -> dict[str, LocationReport]:
        if not locations:
            return {}
        return {sk: LocationReport.from_json(item.data) for sk, item in self.table.get_many(PROBE_SEEN, locations).items()}


def _calls(data: dict[str, Any]) -> HeartbeatCalls:
    failed = bool(data.get("failed"))
    # Items written before runs were counted hold the last call only: it counts as one run.
    return HeartbeatCalls(datetime.fromisoformat(data["last_seen"]),
                          failed_runs=int(data.get("failed_runs", 1 if failed else 0)),
                          ok_runs=int(data.get("ok_runs", 0 if failed else 1)))


def _lock(shard: str | None) -> str:
    return LOCK_SK if shard is None else f"{LOCK_SK}#{shard}"
