"""The maintenance lifecycle by its window: pure, the clock passed in."""
from datetime import datetime, timedelta, timezone

from chalicelib.maintenance import next_maintenance_status
from chalicelib.model import Incident, IncidentKind, MaintenanceStatus

NOON = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


def maintenance(status="scheduled"):
    return Incident(id="m", kind=IncidentKind.MAINTENANCE, name="Shop upgrade", status=status, created_at=NOON,
                    updated_at=NOON, scheduled_for=NOON + timedelta(hours=1),
                    scheduled_until=NOON + timedelta(hours=2))


def test_it_waits_before_its_window():
    assert next_maintenance_status(maintenance(), NOON) is None


def test_it_starts_at_the_window_start_and_completes_at_its_end():
    assert next_maintenance_status(maintenance(), NOON + timedelta(hours=1)) is MaintenanceStatus.IN_PROGRESS
    assert next_maintenance_status(maintenance("in_progress"), NOON + timedelta(hours=1, minutes=30)) is None
    assert next_maintenance_status(maintenance("in_progress"), NOON + timedelta(hours=2)) is MaintenanceStatus.COMPLETED


def test_a_scheduled_one_found_after_its_window_completes_at_once():
    assert next_maintenance_status(maintenance(), NOON + timedelta(hours=3)) is MaintenanceStatus.COMPLETED


def test_cancelled_and_completed_ones_stay():
    assert next_maintenance_status(maintenance("cancelled"), NOON + timedelta(hours=3)) is None
    assert next_maintenance_status(maintenance("completed"), NOON + timedelta(hours=3)) is None
