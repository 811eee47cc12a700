"""The probes' data types: a planned probe, its result, a heartbeat's last calls.

Pure data, shared by the checks, the runner, the rules, the cycle and the store, so that
the pure modules (rules, spec, cycle planning) and the store read them without importing
the checks' network code.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from chalicelib.model import ComponentStatus


class PlannedProbe(msgspec.Struct, frozen=True):
    """A probe of the site, ready to run: where it belongs and the spec (targets already rewritten)."""

    component_id: str
    spec: Any

    @property
    def key(self) -> str:
        return f"{self.component_id}/{self.spec.key_id}"


class ProbeResult(msgspec.Struct, frozen=True):
    key: str
    component_id: str
    kind: str
    role: str
    target: str
    status: ComponentStatus | None
    error: str | None = None
    latency_ms: float | None = None
    detail: dict[str, Any] = msgspec.field(default_factory=dict)
    # The locations that saw the target, and what each made of it, once confirmed across them
    # (``rules.confirm_across_locations``); empty for a result of one location.
    locations: dict[str, str | None] = msgspec.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status is ComponentStatus.OPERATIONAL

    def as_json(self) -> dict[str, Any]:
        return {"probe": self.key, "component": self.component_id, "kind": self.kind, "role": self.role,
                "target": self.target, "status": self.status.value if self.status else None, "ok": self.ok,
                "error": self.error, "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
                **({"detail": self.detail} if self.detail else {}),
                **({"locations": self.locations} if self.locations else {})}


class LocationReport(msgspec.Struct, frozen=True):
    """What one location's last cycle saw: the verdicts that were not "operational" (a target it
    ran and does not list answered fine), when, and which plan it ran (a digest of the probe keys)."""

    location: str
    at: datetime
    plan: str
    verdicts: dict[str, str | None] = msgspec.field(default_factory=dict)
    errors: dict[str, str] = msgspec.field(default_factory=dict)

    def verdict(self, key: str, plan: str) -> ComponentStatus | None:
        """The location's status for ``key``; None when it could not tell or ran another plan."""
        if key in self.verdicts:
            value = self.verdicts[key]
            return ComponentStatus(value) if value else None
        return ComponentStatus.OPERATIONAL if plan == self.plan else None

    def as_json(self) -> dict[str, Any]:
        return {"location": self.location, "at": self.at.isoformat(), "plan": self.plan,
                "verdicts": self.verdicts, "errors": self.errors}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "LocationReport":
        return cls(data["location"], datetime.fromisoformat(data["at"]), data["plan"], dict(data.get("verdicts", {})),
                   dict(data.get("errors", {})))


class HeartbeatCalls(msgspec.Struct, frozen=True):
    """What a heartbeat's job last said: when it called, and its runs in a row reported failed or fine."""

    last_seen: datetime
    failed_runs: int = 0
    ok_runs: int = 0
