"""The probe cycle: run every probe, apply the status rules, act on what changed.

1. take the cycle lock (one cycle at a time; ``CycleBusy`` otherwise);
2. plan the probes of site.yml (targets rewritten by ``PROBE_OVERRIDES`` when given);
3. run them all at once under the cycle deadline (``runner``);
4. move each probe's confirmed status by its thresholds (``rules``) and save what moved;
5. per component: probe status and cause; write ``ComponentState.probe_status``/``cause``
   when they changed (re-read and retry on ``Conflict``) and record the transition;
6. reconcile incidents with the components' probe statuses: open one (or trigger the
   component's playbook) with notifications, update it as the status changes, resolve it
   with the "back up" message once every component it affects is back;
7. record every component's status and latency in the uptime history;
8. keep the results for ``POST /probes/run`` and operators, and republish the page if
   anything changed.
Steps 5-8 each log and carry on when they fail, so one broken step never hides the others
and the next cycle reconciles what this one could not.

With several probe locations (``probe_settings.locations``), the home location's cycle
confirms its results across the others' latest reports before step 4 (``rules.
confirm_across_locations``; it waits a moment for a report of this slot when one is behind and
something fails), and reports what fewer than ``quorum`` locations see as unconfirmed. A cycle
at another location runs steps 2-3 only and writes its report home (``LocationReport``).
"""
from __future__ import annotations

import hashlib
import logging
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec

from chalicelib.config import Component, Site
from chalicelib.model import ComponentState, ComponentStatus, Impact, IncidentStatus, StatusSource, new_id
from chalicelib.probes.checks import ProbeContext
from chalicelib.probes.model import LocationReport, PlannedProbe, ProbeResult
from chalicelib.probes.overrides import ProbeOverrides
from chalicelib.probes.rules import (
    OK, ProbeState, Unconfirmed, apply_result, component_probe_status, confirm_across_locations, is_failing,
    new_state, outcome_summary,
)
from chalicelib.probes.runner import run_probes
from chalicelib.status import component_status
from chalicelib.store.history import HistoryStore
from chalicelib.store.probes import ProbeStore
from chalicelib.store.records import StateStore
from chalicelib.store.table import Conflict, Table

log = logging.getLogger("beacon.probes")

ACTOR = "probe"
LATEST_RESULTS_KEPT = 600
# How long, at most, the home cycle waits for another location's report of its slot (a share of the interval).
WAIT_FOR_LOCATIONS_SHARE = 0.2
_ANSWERED = (ComponentStatus.OPERATIONAL, ComponentStatus.DEGRADED_PERFORMANCE)
_IMPACT = {
    ComponentStatus.DEGRADED_PERFORMANCE: Impact.MINOR,
    ComponentStatus.PARTIAL_OUTAGE: Impact.MAJOR,
    ComponentStatus.MAJOR_OUTAGE: Impact.CRITICAL,
}


class CycleBusy(Exception):
    """Another cycle holds the lock."""


@dataclass
class ComponentChangeReport:
    component_id: str
    old: ComponentStatus
    new: ComponentStatus
    cause: str | None

    def as_json(self) -> dict[str, Any]:
        return {"component": self.component_id, "old": self.old.value, "new": self.new.value, "cause": self.cause}


@dataclass
class CycleReport:
    cycle_id: str
    started_at: datetime
    duration_ms: float = 0.0
    results: list[ProbeResult] = field(default_factory=list)
    changes: list[ComponentChangeReport] = field(default_factory=list)
    components: dict[str, dict[str, Any]] = field(default_factory=dict)
    incidents: list[str] = field(default_factory=list)
    published: bool = False
    location: str = "home"
    unconfirmed: list[Unconfirmed] = field(default_factory=list)

    def as_json(self, max_results: int | None = None) -> dict[str, Any]:
        """The report; with ``max_results``, failing results first and the rest cut (one item holds 400 KB)."""
        results = self.results
        if max_results is not None and len(results) > max_results:
            results = sorted(results, key=lambda r: r.ok)[:max_results]
        report = {
            "cycle_id": self.cycle_id, "started_at": self.started_at.isoformat(),
            "duration_ms": round(self.duration_ms, 1), "summary": outcome_summary(self.results),
            "components": self.components, "changes": [c.as_json() for c in self.changes],
            "incidents": self.incidents, "published": self.published, "location": self.location,
            "unconfirmed": [u.as_json() for u in self.unconfirmed],
            "results": [r.as_json() for r in results],
        }
        if len(results) < len(self.results):
            report["results_left_out"] = len(self.results) - len(results)
        return report


def plan(site: Site, overrides: ProbeOverrides | None,
         components: list[Component] | None = None) -> tuple[list[PlannedProbe], list[ProbeResult]]:
    """The probes to run (of ``components``, default all), and a result for each one the overrides refuse to run."""
    planned, refused = [], []
    for component in site.components if components is None else components:
        for spec in component.probes:
            if spec.paused:
                continue
            target = spec if overrides is None else overrides.rewrite(spec)
            if target is None:
                refused.append(ProbeResult(f"{component.id}/{spec.key_id}", component.id, spec.kind, spec.role,
                                           spec.target(), None, "not run: PROBE_OVERRIDES maps no target for "
                                           f"{spec.target()} (set 'unmatched: keep' to probe it as declared)"))
            else:
                planned.append(PlannedProbe(component.id, target))
    return planned, refused


def run_in_slots(run_one: Callable[[float], Any], *, interval_seconds: int, deadline_seconds: float,
                 minute_start: datetime, clock: Callable[[], datetime], sleep: Callable[[float], None],
                 seconds_left: Callable[[], float] | None = None) -> list[Any]:
    """Run one cycle per slot of the scheduled minute: at ``minute_start``, then every
    ``interval_seconds``, each handed the deadline that ends it inside its slot.

    A slot the invocation reaches late gets what is left of its deadline; a slot already over
    is skipped, so the last cycle ends before the next minute's invocation starts its first.
    ``seconds_left`` (the function's remaining time) stops the minute before a slot whose
    cycle would not finish in it.
    """
    done = []
    for slot in range(60 // interval_seconds):
        at = minute_start + timedelta(seconds=slot * interval_seconds)
        late = (clock() - at).total_seconds()
        if late > 0 and deadline_seconds - late < 1:
            continue
        if seconds_left is not None and seconds_left() < max(0.0, -late) + deadline_seconds - max(0.0, late):
            break
        if late < 0:
            sleep(-late)
        done.append(run_one(deadline_seconds - max(0.0, late)))
    return done


def plan_digest(planned: list[PlannedProbe]) -> str:
    """Which probes a cycle ran, in a few bytes: locations compare it before trusting each other's silence."""
    keys = sorted(p.key for p in planned if p.spec.kind != "heartbeat")
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]


class ProbeCycle:
    def __init__(self, site: Site, table: Table, clock: Callable[[], datetime], *,
                 incidents: Any, publish: Callable[[], Any], overrides: ProbeOverrides | None = None,
                 deadline_seconds: float | None = None, monotonic: Callable[[], float] = time.monotonic,
                 component_ids: frozenset[str] | None = None, shard: str | None = None,
                 location: str | None = None, sleep: Callable[[float], None] = time.sleep):
        self.site = site
        # A shard runs the probes of some components only; None is the whole site.
        self.components = [c for c in site.components if component_ids is None or c.id in component_ids]
        self.shard = shard
        self.table = table
        self.clock = clock
        self.incidents = incidents  # chalicelib.incidents.IncidentService
        self.publish = publish
        self.overrides = overrides
        self.monotonic = monotonic
        self.sleep = sleep
        settings = overrides.settings(site.probe_settings) if overrides else site.probe_settings
        self.location = location or settings.home
        if len(settings.locations) > 1:
            # Targets (and the local demo upstream) can tell which location probes them.
            settings = msgspec.structs.replace(settings, user_agent=f"{settings.user_agent} location={self.location}")
        self.settings = settings
        # A caller with less time than the schedule (the API, behind API Gateway's 29 s) shortens the deadline.
        self.full_deadline = self.deadline = min(self.settings.deadline_seconds, deadline_seconds or float("inf"))
        self.probes = ProbeStore(table)
        self.states = StateStore(table)
        self.history = HistoryStore(table)

    @property
    def at_home(self) -> bool:
        return self.location == self.settings.home

    def run(self, deadline_seconds: float | None = None) -> CycleReport:
        """One cycle; ``deadline_seconds`` shortens this one's deadline (a slot reached late)."""
        now = self.clock()
        report = CycleReport(cycle_id=new_id(now), started_at=now, location=self.location)
        started = self.monotonic()
        self.deadline = min(self.full_deadline, deadline_seconds or float("inf"))
        if not self.at_home:
            self._report_home(report, now, started)
            return report
        hold = self.deadline + 15
        if not self.probes.claim_cycle(report.cycle_id, now, hold, self.shard):
            raise CycleBusy("a probe cycle is running already; its results are in the next page update")
        try:
            self._run(report, now, started)
        finally:
            self.probes.release_cycle(self.shard)
        log.info("probe cycle: %s in %.0f ms%s%s", _outcome_words(outcome_summary(report.results)),
                 report.duration_ms, _change_words(report.changes), _unconfirmed_words(report.unconfirmed),
                 extra={"cycle_id": report.cycle_id})
        return report

    def _report_home(self, report: CycleReport, now: datetime, started: float) -> None:
        """Another location's cycle: run the probes that are seen from a place, and write what they saw."""
        planned, refused = plan(self.site, self.overrides, self.components)
        planned = [p for p in planned if p.spec.kind != "heartbeat"]
        context = ProbeContext(self.settings, now=now, monotonic=self.monotonic)
        try:
            results = run_probes(planned, context, deadline_seconds=self.deadline,
                                 max_workers=self.settings.max_concurrency, monotonic=self.monotonic)
        finally:
            context.close()
        report.results = results + refused
        not_fine = [r for r in results if not r.ok]
        self.probes.save_location_report(LocationReport(
            self.location, now, plan_digest(planned),
            verdicts={r.key: r.status.value if r.status else None for r in not_fine},
            errors={r.key: r.error[:200] for r in not_fine if r.error}))
        report.duration_ms = (self.monotonic() - started) * 1000
        log.info("probe cycle at %s: %s in %.0f ms, reported to %s", self.location,
                 _outcome_words(outcome_summary(report.results)), report.duration_ms, self.settings.home,
                 extra={"cycle_id": report.cycle_id})

    def _run(self, report: CycleReport, now: datetime, started: float) -> None:
        planned, refused = plan(self.site, self.overrides, self.components)
        old_states = self.probes.probe_states()
        context = ProbeContext(self.settings, now=now, heartbeats=self.probes.heartbeats(),
                               watch_since={k: s.watching_since for k, s in old_states.items()},
                               monotonic=self.monotonic)
        try:
            results = run_probes(planned, context, deadline_seconds=self.deadline,
                                 max_workers=self.settings.max_concurrency, monotonic=self.monotonic)
        finally:
            context.close()
        if len(self.settings.locations) > 1:
            results, report.unconfirmed = self._confirm_across_locations(planned, results, now, started)
        report.results = results + refused
        states = self._apply_thresholds(planned, results, old_states, now)
        changed = self._component_states(report, states, now)
        self._step("incidents", self._reconcile_incidents, report, states, now)
        self._step("history", self._record_history, report, now)
        if changed or report.incidents:
            report.published = bool(self._step("publish", self.publish))
        report.duration_ms = (self.monotonic() - started) * 1000
        self._step("latest run", lambda: self.probes.save_latest_run(report.as_json(max_results=LATEST_RESULTS_KEPT)))

    def _step(self, name: str, action: Callable, *args) -> Any:
        try:
            return action(*args) or True
        except Exception:
            log.exception("probe cycle step %r failed; the next cycle retries it", name)
            return None

    # -- 3b. other locations --------------------------------------------------------------------

    def _confirm_across_locations(self, planned: list[PlannedProbe], results: list[ProbeResult], now: datetime,
                                  started: float) -> tuple[list[ProbeResult], list[Unconfirmed]]:
        others = [loc for loc in self.settings.locations if loc != self.location]
        interval = self.settings.interval_seconds
        reports = self._fresh_reports(others, now)
        this_slot = now - timedelta(seconds=interval / 2)

        def behind() -> list[str]:
            return [loc for loc in others if loc not in reports or reports[loc].at < this_slot]

        something_fails = any(r.status is not None and is_failing(r.status) for r in results) or any(
            any(v and is_failing(ComponentStatus(v)) for v in rep.verdicts.values()) for rep in reports.values())
        if behind() and something_fails:
            # Locations start their slot together; a report of this slot is usually a moment away.
            budget = min(interval * WAIT_FOR_LOCATIONS_SHARE, self.deadline - (self.monotonic() - started))
            waited = 0.0
            while behind() and waited < budget:
                pause = min(0.25, budget - waited)
                self.sleep(pause)
                waited += pause
                reports = self._fresh_reports(others, now)
        silent = [loc for loc in others if loc not in reports]
        if silent:
            log.warning("probe location%s %s sent no report in %d s: failures count as the other locations "
                        "see them", "s" if len(silent) > 1 else "", ", ".join(silent), 2 * interval)
        return confirm_across_locations(results, self.location, list(reports.values()), self.settings.quorum,
                                        plan_digest(planned))

    def _fresh_reports(self, locations: list[str], now: datetime) -> dict[str, LocationReport]:
        oldest = now - timedelta(seconds=2 * self.settings.interval_seconds)
        try:
            reports = self.probes.location_reports(locations)
        except Exception:
            log.exception("the other locations' reports could not be read; this cycle counts its own results")
            return {}
        return {loc: rep for loc, rep in reports.items() if rep.at >= oldest}

    # -- 4. thresholds ---------------------------------------------------------------------------

    def _apply_thresholds(self, planned: list[PlannedProbe], results: list[ProbeResult],
                          old: dict[str, ProbeState], now: datetime) -> dict[str, ProbeState]:
        states = dict(old)
        for probe, result in zip(planned, results):
            before = old.get(probe.key) or new_state(probe.key, now)
            after = apply_result(before, result, probe.spec, now)
            states[probe.key] = after
            if after.version == 0 or after.rule_fields() != before.rule_fields():
                try:
                    states[probe.key] = self.probes.save_probe_state(after)
                except Conflict:
                    log.warning("probe state %s changed under this cycle; keeping the stored one", probe.key)
        return states

    # -- 5. component states ---------------------------------------------------------------------

    def _component_states(self, report: CycleReport, states: dict[str, ProbeState], now: datetime) -> bool:
        current = self.states.component_states()
        changed = False
        for component in self.components:
            state = current.get(component.id)
            if not component.probes and state is None:
                continue
            # A component whose probes were removed from site.yml goes back to operational.
            status, cause = component_probe_status(component, states)
            if component.probes:
                report.components[component.id] = {"status": status.value, "cause": cause}
            old = state.probe_status if state else OK
            if state is not None and state.probe_status is status and state.cause == cause:
                continue
            if self._step(f"state of {component.id}", self._save_component_state, component.id, status, cause, now):
                changed = True
                if old is not status:
                    report.changes.append(ComponentChangeReport(component.id, old, status, cause))
                    self._step("transition", self.probes.record_transition, component.id, now, old, status, cause)
        return changed

    def _save_component_state(self, component_id: str, status: ComponentStatus, cause: str | None,
                              now: datetime) -> bool:
        self.states.change_component_state(
            component_id, lambda state: state.replace(probe_status=status, cause=cause, updated_at=now), now)
        return True

    # -- 6. incidents ----------------------------------------------------------------------------

    def _reconcile_incidents(self, report: CycleReport, states: dict[str, ProbeState], now: datetime) -> None:
        # Components of other shards count with the status their own cycle last stored.
        statuses = {cid: (s.probe_status, s.cause) for cid, s in self.states.component_states().items()}
        statuses.update({c.id: component_probe_status(c, states) for c in self.components})
        tracked = self.probes.tracked_incidents()
        quiet = self._held_by_people(now)
        for component in self.components:
            status, cause = statuses[component.id]
            record = tracked.get(component.id)
            try:
                if component.id in quiet and record is None:
                    continue  # a marketer's manual status or a maintenance window: expected, nobody is told
                if is_failing(status) and (record is None or record["told_status"] != status.value
                                           or record.get("cause") != cause):
                    report.incidents.append(self._outage(component, status, cause, record))
                elif not is_failing(status) and record is not None:
                    others = {cid: rec for cid, rec in tracked.items() if cid != component.id}
                    done = self._recovery(component, record, others, statuses)
                    tracked.pop(component.id, None)
                    if done:
                        report.incidents.append(done)
                else:
                    continue
                tracked = self.probes.tracked_incidents()
            except Exception:
                log.exception("incident for %s not updated; the next cycle tries again", component.id)

    def _held_by_people(self, now: datetime) -> set[str]:
        """Components whose page status a marketer set by hand, or that are in a maintenance window."""
        states = self.states.component_states()
        open_incidents = self.states.open_incidents()
        held = set()
        for component_id, state in states.items():
            _, source = component_status(state, open_incidents, now)
            if source in (StatusSource.MANUAL, StatusSource.MAINTENANCE):
                held.add(component_id)
        return held

    def _outage(self, component: Component, status: ComponentStatus, cause: str | None,
                record: dict | None) -> str:
        body = _sentence(cause) or f"{component.name} is failing our checks. We are looking into it."
        platform_fault = bool(cause) and " of its own" in cause
        playbook = self.site.playbook_for(component.id)
        if playbook is not None:
            incident = self._playbook_outage(playbook, component, status, cause, body)
            self.probes.track_incident(component.id, incident_id=incident.id, playbook_id=playbook.id,
                                       opened_by_probe=True, told_status=status, cause=cause)
            return incident.id
        existing = self.incidents.open_incident_for(component.id)
        if existing is None:
            incident = self.incidents.open_incident(
                name=f"{component.name} {status.label.lower()}", body=body, impact=_IMPACT[status],
                components={component.id: status}, notify=True, actor=ACTOR,
                status=IncidentStatus.IDENTIFIED if platform_fault else IncidentStatus.INVESTIGATING, cause=cause)
            opened = True
        else:
            keep = IncidentStatus(existing.status)
            next_status = IncidentStatus.IDENTIFIED if platform_fault and keep is IncidentStatus.INVESTIGATING \
                else keep
            incident = self.incidents.post_update(existing.id, status=next_status, body=body, notify=True,
                                                  actor=ACTOR, components={component.id: status})
            opened = bool(record and record.get("incident_id") == existing.id and record.get("opened_by_probe"))
        self.probes.track_incident(component.id, incident_id=incident.id, playbook_id=None, opened_by_probe=opened,
                                   told_status=status, cause=cause)
        return incident.id

    def _playbook_outage(self, playbook, component: Component, status: ComponentStatus, cause: str | None,
                         body: str):
        """Trigger the prepared texts once; later changes (status, cause) are updates that notify no one."""
        current = self.incidents.open_incident_of_playbook(playbook.id)
        if current is None:
            variables = {k: v for k, v in {"component": component.name, "status": status.label.lower(),
                                            "cause": cause or ""}.items() if k in playbook.variables}
            current = self.incidents.trigger_playbook(playbook.id, variables=variables, actor=ACTOR, cause=cause)
            if "cause" in playbook.variables or not cause:
                return current
        # The playbook's text does not say whose fault it is: the cause follows as an update on the page.
        return self.incidents.post_update(current.id, status=IncidentStatus(current.status), body=body,
                                          notify=False, actor=ACTOR)

    def _recovery(self, component: Component, record: dict, others: dict[str, dict],
                  statuses: dict[str, tuple[ComponentStatus, str | None]]) -> str | None:
        still_down = [cid for cid, rec in others.items()
                      if (rec.get("incident_id") == record.get("incident_id")
                          or (record.get("playbook_id") and rec.get("playbook_id") == record["playbook_id"]))
                      and is_failing(statuses.get(cid, (OK, None))[0])]
        self.probes.untrack_incident(component.id)
        if record.get("playbook_id"):
            if still_down:
                return None
            incident = self.incidents.resolve_playbook(record["playbook_id"], actor=ACTOR)
            return incident.id if incident else None
        incident_id = record.get("incident_id")
        if incident_id is None:
            return None
        try:
            incident = self.incidents.incident(incident_id)
        except KeyError:  # deleted since it was tracked
            return None
        if not incident.is_open:
            return None
        names = ", ".join(self.site.component(cid).name for cid in still_down)
        if still_down:
            self.incidents.post_update(incident_id, status=IncidentStatus(incident.status),
                                       body=f"{component.name} is back up. We are still working on {names}.",
                                       notify=False, actor=ACTOR, components={component.id: OK})
        elif record.get("opened_by_probe"):
            self.incidents.post_update(incident_id, status=IncidentStatus.RESOLVED,
                                       body=f"{component.name} is back up and working normally again. "
                                            f"Thank you for your patience.",
                                       notify=True, actor=ACTOR, components={component.id: OK})
        else:
            # A marketer opened it: say what the probes see, leave resolving to them.
            self.incidents.post_update(incident_id, status=IncidentStatus.MONITORING,
                                       body=f"Our checks see {component.name} working again; we are watching it.",
                                       notify=True, actor=ACTOR, components={component.id: OK})
        return incident_id

    # -- 7. history ------------------------------------------------------------------------------

    def _record_history(self, report: CycleReport, now: datetime) -> None:
        states = self.states.component_states()
        open_incidents = self.states.open_incidents()
        latencies: dict[str, list[float]] = {}
        for result in report.results:
            # Answers only: a timeout's "latency" is the timeout, not how fast the channel is.
            if result.latency_ms is not None and result.role == "brand" and result.status in _ANSWERED:
                latencies.setdefault(result.component_id, []).append(result.latency_ms)
        for component in self.components:
            state = states.get(component.id) or ComponentState(component_id=component.id, updated_at=now)
            status, _ = component_status(state, open_incidents, now)
            samples = latencies.get(component.id)
            self.history.record(component.id, now, status, statistics.median(samples) if samples else None)


def _sentence(text: str | None) -> str | None:
    if not text:
        return None
    return text if text.endswith((".", "!", "?")) else text + "."


def _outcome_words(summary: dict[str, int]) -> str:
    """'17 probes (2 down, 1 unknown)': how many ran, and those not up."""
    total = sum(summary.values())
    not_up = [f"{n} {word}" for word, n in summary.items() if word != "up" and n]
    return f"{total} probe{'s' if total != 1 else ''}" + (f" ({', '.join(not_up)})" if not_up else "")


def _unconfirmed_words(unconfirmed: list[Unconfirmed]) -> str:
    """', 1 unconfirmed (facebook/http: major_outage from second only)', or nothing."""
    if not unconfirmed:
        return ""
    return f", {len(unconfirmed)} unconfirmed ({'; '.join(u.words() for u in unconfirmed)})"


def _change_words(changes) -> str:
    """', 1 change (facebook: operational → major_outage: HTTP 503)', or nothing."""
    if not changes:
        return ""
    told = "; ".join(f"{c.component_id}: {c.old.value} → {c.new.value}" + (f": {c.cause}" if c.cause else "")
                     for c in changes)
    return f", {len(changes)} change{'s' if len(changes) != 1 else ''} ({told})"
