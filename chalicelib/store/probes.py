"""Probe state: confirmed statuses and streaks, heartbeats, transitions, the last run, the cycle lock.

Only the probe cycle writes probe states (one cycle at a time, held by the cycle lock);
heartbeats are written by ``POST /heartbeat/<token>``, one item per probe, last call wins.
Transitions are kept 100 days, for a look back at when each component changed and why.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib.model import ComponentStatus
from chalicelib.probes.rules import ProbeState
from chalicelib.store.table import AlreadyExists, Conflict, Item, Table

PROBE, HEARTBEAT, TRANSITION, PROBE_INCIDENT, PROBE_RUN = "PROBE", "HEARTBEAT", "TRANSITION", "PROBE_INCIDENT", "PROBE_RUN"
LOCK_SK, LATEST_SK = "#cycle-lock", "latest"
TRANSITION_DAYS = 100


class ProbeStore:
    def __init__(self, table: Table):
        self.table = table

    # -- confirmed statuses and streaks
    def probe_states(self) -> dict[str, ProbeState]:
        items = self.table.query_all(PROBE)
        return {i.sk: ProbeState.model_validate({**i.data, "version": i.version})
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
        return state.model_copy(update={"version": item.version})

    # -- the one-cycle-at-a-time lock
    def claim_cycle(self, cycle_id: str, now: datetime, hold_seconds: float, shard: str | None = None) -> bool:
        """One cycle at a time over the whole site, or per shard when the cycle is sharded."""
        return self.table.claim(PROBE, _lock(shard), expires_at=int(now.timestamp() + hold_seconds) + 1,
                                data={"cycle_id": cycle_id, "started_at": now.isoformat()})

    def release_cycle(self, shard: str | None = None) -> None:
        self.table.delete(PROBE, _lock(shard))

    # -- heartbeats
    def beat(self, probe_key: str, at: datetime, *, failed: bool = False) -> None:
        self.table.put(HEARTBEAT, probe_key, {"last_seen": at.isoformat(), "failed": failed})

    def heartbeats(self) -> dict[str, tuple[datetime, bool]]:
        """When each heartbeat probe was last called, and whether that call reported a failure."""
        return {item.sk: (datetime.fromisoformat(item.data["last_seen"]), bool(item.data.get("failed")))
                for item in self.table.query_all(HEARTBEAT)}

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


def _lock(shard: str | None) -> str:
    return LOCK_SK if shard is None else f"{LOCK_SK}#{shard}"
