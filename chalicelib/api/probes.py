"""Probe routes: run a cycle now (marketers), receive heartbeats (public, by secret), read the
last run, create and rotate heartbeat secrets (admins). Only running a cycle loads the probe engine."""
from __future__ import annotations

from typing import Annotated, Any

from chalice import Blueprint
from msgspec import Meta
from chalicelib.api import http
from chalicelib.api.http import ApiError
from chalicelib.api.models import Model, Request, out
from chalicelib.api.openapi import documented
from chalicelib.probes.reports import heartbeat_overview, latest_run, make_heartbeat_secret, receive_heartbeat
from chalicelib.store.windows import TooMany

bp = Blueprint(__name__)
# API Gateway gives a request 29 s: a cycle run through the API ends before that.
API_DEADLINE_SECONDS = 20


class ProbeResultOut(Model, kw_only=True):
    """One probe's result; a probe kind may add fields of its own."""

    probe: str
    component: str
    kind: str
    role: str
    target: str
    status: str | None
    ok: bool
    error: str | None
    latency_ms: float | None
    locations: Annotated[dict[str, str | None], Meta(
        description="With several probe locations: what each saw (null: it could not tell)")] = {}


class UnconfirmedOut(Model, kw_only=True):
    probe: str
    component: str
    seen: Annotated[str, Meta(description="The worst status a location saw")]
    counted: Annotated[str, Meta(
        description="The status the quorum of locations agrees on, which the page and subscribers follow")]
    failing_from: list[str]
    fine_from: list[str]


class CycleOut(Model, kw_only=True):
    """A probe cycle's report (``CycleReport.as_json``), answered as the cycle wrote it."""

    cycle_id: str
    started_at: str
    duration_ms: float
    summary: dict[str, int]
    components: dict[str, dict[str, Any]]
    changes: list[dict[str, Any]]
    incidents: list[str]
    published: bool
    location: str = "home"
    unconfirmed: Annotated[list[UnconfirmedOut], Meta(
        description="Failures fewer than probe_settings.quorum locations see: shown to operators, never to "
                    "subscribers")] = []
    results: list[ProbeResultOut]


class HeartbeatOut(Model, kw_only=True):
    probe: str
    received_at: str
    failed: bool
    runs_in_a_row: Annotated[int, Meta(
        description="Runs in a row reported the same way (failed or fine), this one included")]
    next_expected_by: str


class HeartbeatProbeOut(Model, kw_only=True):
    probe: str
    has_secret: bool
    secret_created_at: str | None
    previous_secret_until: str | None
    last_seen: str | None
    failed_runs: int


class HeartbeatList(Model, kw_only=True):
    data: list[HeartbeatProbeOut]


class RotateSecret(Request, kw_only=True):
    overlap_minutes: Annotated[int, Meta(
        description="How long the old secret keeps working; 0 ends it at once", ge=0, le=7 * 24 * 60)] = 60


class HeartbeatSecretOut(Model, kw_only=True):
    probe: str
    secret: Annotated[str, Meta(description="Shown in this response only; the table keeps its SHA-256")]
    url: Annotated[str, Meta(description="What the job calls: POST after each run, /fail appended when the run failed")]
    created_at: str
    previous_secret_until: str | None


class CycleRunning(ApiError):
    STATUS_CODE, code = 409, "cycle_running"


class TooManyWrongSecrets(ApiError):
    STATUS_CODE, code = 429, "too_many_requests"


@documented(bp, "/probes/run", methods=["POST"], scope="marketer", tag="probes",
            summary="Run every probe now and return each probe's result", responses={200: CycleOut})
def run_probes_now(call):
    # The probe engine (asyncio, the HTTP parser, every check) loads for this route only, on its first
    # call: the API's other routes never run a cycle, and its init is about 40 ms shorter without it.
    from chalicelib.probes.cycle import CycleBusy
    from chalicelib.probes.service import run_probe_cycle

    try:
        return run_probe_cycle(deadline_seconds=API_DEADLINE_SECONDS).as_json()
    except CycleBusy as exc:
        raise CycleRunning(f"{exc}; try again in a minute") from None


@documented(bp, "/probes/latest", methods=["GET"], scope="marketer", tag="probes",
            summary="The results of the last probe cycle", responses={200: CycleOut})
def last_probe_run(call):
    report = latest_run()
    if report is None:
        raise http.NotFoundError("no probe cycle has run yet: the schedule runs one every minute, "
                                 "POST /probes/run runs one now")
    return report


@documented(bp, "/heartbeat/{token}", methods=["POST", "GET"], tag="probes",
            summary="An external job says it ran (GET for cron jobs that cannot POST)",
            responses={200: HeartbeatOut, 429: None})
def heartbeat(call):
    return _beat(call, failed=False)


@documented(bp, "/heartbeat/{token}/fail", methods=["POST"], tag="probes",
            summary="An external job says a run failed: failure_threshold such runs in a row fail its probe",
            responses={200: HeartbeatOut, 429: None})
def heartbeat_failed(call):
    return _beat(call, failed=True)


def _beat(call, *, failed: bool) -> HeartbeatOut:
    try:
        return out(HeartbeatOut, receive_heartbeat(call.params["token"], failed=failed,
                                                   source_ip=http.source_ip(call.request)))
    except TooMany as exc:
        raise TooManyWrongSecrets(str(exc), headers={"Retry-After": str(exc.retry_after)}) from None


@documented(bp, "/heartbeats", methods=["GET"], scope="admin", tag="probes",
            summary="Every heartbeat probe: whether it has a secret (never the secret) and its last call",
            responses={200: HeartbeatList})
def list_heartbeats(call):
    return HeartbeatList(data=[out(HeartbeatProbeOut, row) for row in heartbeat_overview()])


@documented(bp, "/heartbeats/{component_id}/{probe_id}/secret", methods=["POST"], scope="admin",
            tag="probes", summary="Create a heartbeat probe's secret; it is in this response only",
            responses={201: HeartbeatSecretOut})
def create_heartbeat_secret(call):
    return 201, _secret(call, rotate=False)


@documented(bp, "/heartbeats/{component_id}/{probe_id}/rotate", methods=["POST"], scope="admin",
            tag="probes", body=RotateSecret, summary="Replace a heartbeat probe's secret; the old one works "
                                                     "for overlap_minutes more", responses={201: HeartbeatSecretOut})
def rotate_heartbeat_secret(call):
    return 201, _secret(call, rotate=True, overlap_minutes=call.body.overlap_minutes)


def _secret(call, *, rotate: bool, overlap_minutes: int | None = None) -> HeartbeatSecretOut:
    from datetime import timedelta

    from chalicelib.api.auth import audit
    from chalicelib.api.common import table

    probe_key = f"{call.params['component_id']}/{call.params['probe_id']}"
    made = make_heartbeat_secret(probe_key, created_by=call.key.name, rotate=rotate,
                                 overlap=None if overlap_minutes is None else timedelta(minutes=overlap_minutes))
    action = "rotate" if rotate else "create"
    audit(table(), call.key, f"heartbeat_secret.{action}", f"heartbeat/{probe_key}",
          f"secret {action}d" + (f", the old one works until {made['previous_secret_until']}"
                                  if made["previous_secret_until"] else ""))
    return out(HeartbeatSecretOut, made)
