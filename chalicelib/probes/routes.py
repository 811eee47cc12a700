"""Probe routes: run a cycle now (marketers), receive heartbeats (public, by token), read the last run."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint
from pydantic import BaseModel, ConfigDict

from chalicelib.api.http import ApiError
from chalicelib.api.openapi import documented
from chalicelib.probes.cycle import CycleBusy
from chalicelib.probes.service import latest_run, receive_heartbeat, run_probe_cycle

probes_api = Blueprint(__name__)
# API Gateway gives a request 29 s: a cycle run through the API ends before that.
API_DEADLINE_SECONDS = 20


class ProbeResultOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    probe: str
    component: str
    kind: str
    role: str
    target: str
    status: str | None
    ok: bool
    error: str | None
    latency_ms: float | None


class CycleOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    cycle_id: str
    started_at: str
    duration_ms: float
    summary: dict[str, int]
    components: dict[str, dict[str, Any]]
    changes: list[dict[str, Any]]
    incidents: list[str]
    published: bool
    results: list[ProbeResultOut]


class HeartbeatOut(BaseModel):
    probe: str
    received_at: str
    failed: bool
    next_expected_by: str


class CycleRunning(ApiError):
    STATUS_CODE, code = 409, "cycle_running"


@documented(probes_api, "/probes/run", methods=["POST"], scope="marketer", tag="probes",
            summary="Run every probe now and return each probe's result", responses={200: CycleOut})
def run_probes_now(call):
    try:
        return CycleOut.model_validate(run_probe_cycle(deadline_seconds=API_DEADLINE_SECONDS).as_json())
    except CycleBusy as exc:
        raise CycleRunning(f"{exc}; try again in a minute") from None


@documented(probes_api, "/probes/latest", methods=["GET"], scope="marketer", tag="probes",
            summary="The results of the last probe cycle", responses={200: CycleOut})
def last_probe_run(call):
    report = latest_run()
    if report is None:
        raise KeyError("no probe cycle has run yet")
    return CycleOut.model_validate(report)


@documented(probes_api, "/heartbeat/{token}", methods=["POST", "GET"], tag="probes",
            summary="An external job says it ran (GET for cron jobs that cannot POST)", responses={200: HeartbeatOut})
def heartbeat(call):
    return HeartbeatOut.model_validate(receive_heartbeat(call.params["token"]))


@documented(probes_api, "/heartbeat/{token}/fail", methods=["POST"], tag="probes",
            summary="An external job says it failed: its heartbeat probe fails at the next cycle",
            responses={200: HeartbeatOut})
def heartbeat_failed(call):
    return HeartbeatOut.model_validate(receive_heartbeat(call.params["token"], failed=True))
