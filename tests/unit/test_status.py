from datetime import timedelta

from chalicelib.model import (
    ComponentState, ComponentStatus, Impact, Incident, IncidentKind, Indicator, StatusSource, isoformat, new_id,
)
from chalicelib.status import component_status, overall_indicator

DOWN, OK = ComponentStatus.MAJOR_OUTAGE, ComponentStatus.OPERATIONAL


def incident(noon, components, kind=IncidentKind.INCIDENT, status="investigating", impact=Impact.MAJOR, **extra):
    return Incident(id=new_id(noon), kind=kind, name="x", status=status, impact=impact, created_at=noon,
                    updated_at=noon, components=components, **extra)


def test_probe_status_is_the_default(noon):
    state = ComponentState(component_id="facebook", probe_status=DOWN, updated_at=noon)
    assert component_status(state, [], noon) == (DOWN, StatusSource.PROBE)


def test_manual_status_wins_until_it_expires(noon):
    # GIVEN a marketer marked Facebook operational for one hour while probes see it down
    state = ComponentState(component_id="facebook", probe_status=DOWN, manual_status=OK,
                           manual_until=noon + timedelta(hours=1), updated_at=noon)
    # THEN the manual status holds inside the hour and the probes take over after it
    assert component_status(state, [], noon) == (OK, StatusSource.MANUAL)
    assert component_status(state, [], noon + timedelta(hours=1)) == (DOWN, StatusSource.PROBE)


def test_maintenance_applies_inside_its_window_only(noon):
    state = ComponentState(component_id="website", updated_at=noon)
    window = incident(noon, {"website": ComponentStatus.UNDER_MAINTENANCE}, kind=IncidentKind.MAINTENANCE,
                      status="scheduled", impact=Impact.MAINTENANCE,
                      scheduled_for=noon + timedelta(minutes=10), scheduled_until=noon + timedelta(minutes=40))
    assert component_status(state, [window], noon)[1] is StatusSource.PROBE
    assert component_status(state, [window], noon + timedelta(minutes=20)) == (
        ComponentStatus.UNDER_MAINTENANCE, StatusSource.MAINTENANCE)


def test_open_incident_raises_but_never_lowers_the_probe_status(noon):
    state = ComponentState(component_id="instagram", probe_status=DOWN, updated_at=noon)
    mild = incident(noon, {"instagram": ComponentStatus.DEGRADED_PERFORMANCE})
    assert component_status(state, [mild], noon) == (DOWN, StatusSource.PROBE)
    healthy = ComponentState(component_id="instagram", updated_at=noon)
    assert component_status(healthy, [mild], noon) == (ComponentStatus.DEGRADED_PERFORMANCE, StatusSource.INCIDENT)


def test_indicator_follows_the_worst_component_and_open_impact(noon):
    assert overall_indicator([OK, OK]) is Indicator.NONE
    assert overall_indicator([OK, ComponentStatus.PARTIAL_OUTAGE]) is Indicator.MAJOR
    assert overall_indicator([OK, DOWN]) is Indicator.CRITICAL
    assert overall_indicator([OK, ComponentStatus.UNDER_MAINTENANCE]) is Indicator.MAINTENANCE
    assert overall_indicator([OK], [incident(noon, {}, impact=Impact.MINOR)]) is Indicator.MINOR
    assert Indicator.MAJOR.description == "Partial System Outage"


def test_timestamps_carry_milliseconds_and_zone(noon):
    assert isoformat(noon + timedelta(microseconds=7000)) == "2026-05-01T12:00:00.007Z"
    assert isoformat(None) is None


def test_ids_sort_by_creation_time(noon):
    ids = [new_id(noon + timedelta(milliseconds=ms)) for ms in (0, 1, 1000, 86_400_000)]
    assert ids == sorted(ids) and len(set(ids)) == 4
