"""Status rules: from a probe's raw results to the status a component shows, and its cause.

A probe's result moves its confirmed status only after ``failure_threshold`` results in a
row worse than it (``success_threshold`` better), the way updown and Gatus count, so a
flapping target inside the thresholds changes nothing (a heartbeat's thresholds count the
job's runs as it reports them, so one cycle result moves it). A component combines its
probes' confirmed statuses by its ``probe_rule``; when it has both kinds of probe, the
brand's own (page, inbox, integration) and the platform's (its status page), the cause
says whose fault it is. Pure: states and results in, states and texts out; the clock is passed in.

With more than one probe location, a result is first confirmed across them
(``confirm_across_locations``): each probe counts the status at least ``quorum`` locations
agree it is at least as bad as, so a target failing from one location only stays
operational for the thresholds (and so for subscribers) and is reported as unconfirmed.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal

import msgspec

from chalicelib.config import Component
from chalicelib.model import ComponentStatus, Record
from chalicelib.probes.model import LocationReport, ProbeResult

OK = ComponentStatus.OPERATIONAL
FAILING_FROM = ComponentStatus.DEGRADED_PERFORMANCE.severity


def is_failing(status: ComponentStatus) -> bool:
    return status.severity >= FAILING_FROM


class ProbeState(Record, frozen=True, kw_only=True):
    """A probe's confirmed status and the streak of results that may change it."""

    key: str
    status: ComponentStatus = OK
    since: datetime | None = None
    streak: int = 0
    streak_toward: Literal["worse", "better"] | None = None
    watching_since: datetime
    version: int = 0

    def rule_fields(self) -> dict:
        return self.as_json(exclude={"version"})


def new_state(key: str, now: datetime) -> ProbeState:
    return ProbeState(key=key, watching_since=now)


def apply_result(state: ProbeState, result: ProbeResult, spec, now: datetime) -> ProbeState:
    """The state after one more result of the probe."""
    verdict = result.status
    if verdict is None:  # the probe could not tell: nothing counts either way
        return state
    if verdict is state.status:
        return state.replace(streak=0, streak_toward=None)
    toward = "worse" if verdict.severity > state.status.severity else "better"
    streak = state.streak + 1 if state.streak_toward == toward else 1
    if streak >= spec.results_to_confirm(toward):
        return state.replace(status=verdict, since=now, streak=0, streak_toward=None)
    return state.replace(streak=streak, streak_toward=toward)


def _worst(statuses: Iterable[ComponentStatus]) -> ComponentStatus:
    return max(statuses, key=lambda s: s.severity, default=OK)


def component_probe_status(component: Component, states: dict[str, ProbeState]) -> tuple[ComponentStatus, str | None]:
    """The status the component's probes give it, and the cause shown with it (None when all is well)."""
    running = [p for p in component.probes if not p.paused]
    brand = [(p, _status(states, component, p)) for p in running if p.role == "brand"]
    platform = [(p, _status(states, component, p)) for p in running if p.role == "platform"]
    brand_status = _combine([s for _, s in brand], component.probe_rule)
    platform_status = _worst(s for _, s in platform)
    status = _worst([brand_status, platform_status])
    return status, cause_text(component, brand, platform)


def _status(states: dict[str, ProbeState], component: Component, probe) -> ComponentStatus:
    state = states.get(f"{component.id}/{probe.key_id}")
    return state.status if state else OK


def _combine(statuses: list[ComponentStatus], rule: str) -> ComponentStatus:
    worst = _worst(statuses)
    if rule == "share" and statuses and not all(is_failing(s) for s in statuses):
        # Some of the brand's probes still answer: a partial outage at most.
        return min(worst, ComponentStatus.PARTIAL_OUTAGE, key=lambda s: s.severity)
    return worst


_PLATFORM_PHRASE = {
    ComponentStatus.MAJOR_OUTAGE: "reports a major outage of its own",
    ComponentStatus.PARTIAL_OUTAGE: "reports a partial outage of its own",
    ComponentStatus.DEGRADED_PERFORMANCE: "reports degraded performance of its own",
    ComponentStatus.UNDER_MAINTENANCE: "reports maintenance of its own",
}
_DOWN_PHRASE = {"http": "cannot be reached", "tcp": "cannot be reached", "dns": "cannot be resolved",
                "tls": "has a certificate problem", "heartbeat": "has stopped checking in",
                "upstream": "cannot be reached"}
_SLOW_PHRASE = {"http": "is slow", "tcp": "is slow", "tls": "expires soon"}


def cause_text(component: Component, brand: list, platform: list) -> str | None:
    """Whose fault: the platform's own outage, or ours while the platform is up."""
    failing_platform = [(p, s) for p, s in platform if s is not OK]
    if failing_platform:
        probe, status = max(failing_platform, key=lambda pair: pair[1].severity)
        name = getattr(probe, "platform", None) or component.name
        return f"{name} {_PLATFORM_PHRASE[status]}"
    failing_brand = [(p, s) for p, s in brand if s is not OK]
    if not failing_brand:
        return None
    probe, status = max(failing_brand, key=lambda pair: pair[1].severity)
    if status is ComponentStatus.DEGRADED_PERFORMANCE:
        what = f"{probe.what} {_SLOW_PHRASE.get(probe.kind, 'is degraded')}"
    else:
        what = f"{probe.what} {_DOWN_PHRASE.get(probe.kind, 'is failing')}"
    if platform:
        return f"{component.name} is up, but {what} — we are on it"
    return f"{what[0].upper()}{what[1:]} — we are on it"


def outcome_summary(results: Iterable[ProbeResult]) -> dict[str, int]:
    summary = {"up": 0, "degraded": 0, "down": 0, "unknown": 0}
    for result in results:
        if result.status is None:
            summary["unknown"] += 1
        elif result.status is OK:
            summary["up"] += 1
        elif result.status.severity <= FAILING_FROM:
            summary["degraded"] += 1
        else:
            summary["down"] += 1
    return summary


# -- confirmation across probe locations -------------------------------------------------------

class Unconfirmed(msgspec.Struct, frozen=True):
    """A failure fewer than ``quorum`` locations see: for operators, never for subscribers."""

    key: str
    component_id: str
    worst: ComponentStatus
    counted: ComponentStatus
    failing: tuple[str, ...]
    fine: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"probe": self.key, "component": self.component_id, "seen": self.worst.value,
                "counted": self.counted.value, "failing_from": list(self.failing), "fine_from": list(self.fine)}

    def words(self) -> str:
        return f"{self.key}: {self.worst.value} from {', '.join(self.failing)} only"


def confirm_across_locations(results: Sequence[ProbeResult], home: str, reports: Sequence[LocationReport],
                             quorum: int, plan: str) -> tuple[list[ProbeResult], list[Unconfirmed]]:
    """Each result as the locations confirm it: the ``quorum``-th worst status they report.

    ``reports`` are the other locations' fresh reports; a location that could not tell (or
    ran another plan) does not count, and when fewer locations can tell than ``quorum``, those
    that can decide. Heartbeats are pushed by the job, not seen from a place: they pass as they are.
    """
    confirmed, unconfirmed = [], []
    for result in results:
        if result.kind == "heartbeat":
            confirmed.append(result)
            continue
        seen = {home: result.status, **{r.location: r.verdict(result.key, plan) for r in reports}}
        known = sorted((s for s in seen.values() if s is not None), key=lambda s: s.severity, reverse=True)
        if not known:
            confirmed.append(msgspec.structs.replace(result, locations=_values(seen)))
            continue
        counted, worst = known[min(quorum, len(known)) - 1], known[0]
        error = result.error if counted is result.status else _error_of(reports, result.key, seen, counted)
        confirmed.append(msgspec.structs.replace(result, status=counted, error=error, locations=_values(seen)))
        if is_failing(worst) and counted.severity < worst.severity:
            unconfirmed.append(Unconfirmed(
                result.key, result.component_id, worst, counted,
                failing=tuple(loc for loc, s in seen.items() if s is not None and is_failing(s)),
                fine=tuple(loc for loc, s in seen.items() if s is not None and not is_failing(s))))
    return confirmed, unconfirmed


def _values(seen: dict[str, ComponentStatus | None]) -> dict[str, str | None]:
    return {location: status.value if status else None for location, status in seen.items()}


def _error_of(reports: Sequence[LocationReport], key: str, seen: dict, counted: ComponentStatus) -> str | None:
    """What a location that saw the counted status said about it (None when that is "operational")."""
    for report in reports:
        if seen.get(report.location) is counted and key in report.errors:
            return f"{report.errors[key]} (from {report.location})"
    return None
