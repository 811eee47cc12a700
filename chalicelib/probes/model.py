"""The probes' data types: a planned probe, its result, a heartbeat's last calls.

Pure data, shared by the checks, the runner, the rules, the cycle and the store, so that
the pure modules (rules, spec, cycle planning) and the store read them without importing
the checks' network code.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.model import ComponentStatus


@dataclass(frozen=True)
class PlannedProbe:
    """A probe of the site, ready to run: where it belongs and the spec (targets already rewritten)."""

    component_id: str
    spec: Any

    @property
    def key(self) -> str:
        return f"{self.component_id}/{self.spec.key_id}"


@dataclass(frozen=True)
class ProbeResult:
    key: str
    component_id: str
    kind: str
    role: str
    target: str
    status: ComponentStatus | None
    error: str | None = None
    latency_ms: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status is ComponentStatus.OPERATIONAL

    def as_json(self) -> dict[str, Any]:
        return {"probe": self.key, "component": self.component_id, "kind": self.kind, "role": self.role,
                "target": self.target, "status": self.status.value if self.status else None, "ok": self.ok,
                "error": self.error, "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
                **({"detail": self.detail} if self.detail else {})}


@dataclass(frozen=True)
class HeartbeatCalls:
    """What a heartbeat's job last said: when it called, and its runs in a row reported failed or fine."""

    last_seen: datetime
    failed_runs: int = 0
    ok_runs: int = 0
