"""From what is known of a component to the status the page shows, and to the page's indicator.

Precedence, strongest first: a manual status that has not expired; a maintenance in its
window; an open incident's status for the component; the probes. Pure functions: state
in, status out.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from chalicelib.model import ComponentState, ComponentStatus, Incident, IncidentKind, Indicator, StatusSource


def component_status(
    state: ComponentState, open_incidents: Iterable[Incident], now: datetime
) -> tuple[ComponentStatus, StatusSource]:
    if state.manual_status is not None and (state.manual_until is None or now < state.manual_until):
        return state.manual_status, StatusSource.MANUAL
    incident_status: ComponentStatus | None = None
    for incident in open_incidents:
        given = incident.components.get(state.component_id)
        if given is None:
            continue
        if incident.kind is IncidentKind.MAINTENANCE:
            if _in_window(incident, now):
                return ComponentStatus.UNDER_MAINTENANCE, StatusSource.MAINTENANCE
            continue
        if incident_status is None or given.severity > incident_status.severity:
            incident_status = given
    if incident_status is not None and incident_status.severity >= state.probe_status.severity:
        return incident_status, StatusSource.INCIDENT
    return state.probe_status, StatusSource.PROBE


def _in_window(maintenance: Incident, now: datetime) -> bool:
    starts, ends = maintenance.scheduled_for, maintenance.scheduled_until
    return (starts is None or starts <= now) and (ends is None or now < ends)


def overall_indicator(statuses: Iterable[ComponentStatus], open_incidents: Iterable[Incident] = ()) -> Indicator:
    """Statuspage's rule of thumb: the worst component decides, an open incident's impact can raise it."""
    worst = max((status.severity for status in statuses), default=0)
    indicator = {
        ComponentStatus.MAJOR_OUTAGE.severity: Indicator.CRITICAL,
        ComponentStatus.PARTIAL_OUTAGE.severity: Indicator.MAJOR,
        ComponentStatus.DEGRADED_PERFORMANCE.severity: Indicator.MINOR,
        ComponentStatus.UNDER_MAINTENANCE.severity: Indicator.MAINTENANCE,
        ComponentStatus.OPERATIONAL.severity: Indicator.NONE,
    }[worst]
    order = [Indicator.NONE, Indicator.MAINTENANCE, Indicator.MINOR, Indicator.MAJOR, Indicator.CRITICAL]
    for incident in open_incidents:
        if incident.kind is IncidentKind.INCIDENT and incident.impact.value in order:
            impact = Indicator(incident.impact.value)
            if order.index(impact) > order.index(indicator):
                indicator = impact
    return indicator
