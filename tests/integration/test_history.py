"""History is counted in place: one item per component and day, however many checks."""
from datetime import timedelta

import pytest

from chalicelib import aws
from chalicelib.model import ComponentStatus
from chalicelib.store import Table
from chalicelib.store.history import HistoryStore, percentile_ms


@pytest.fixture
def history(aws, noon):
    """History read and written at a fixed noon: the TTLs are relative to the data's own days."""
    return HistoryStore(Table(aws_table(), clock=lambda: noon))


def aws_table():
    return aws.get_table()


def test_checks_aggregate_into_one_item_per_day(history, noon):
    # GIVEN a day of one check per minute for 60 minutes: 54 up, 6 down
    for minute in range(60):
        status = ComponentStatus.MAJOR_OUTAGE if minute < 6 else ComponentStatus.OPERATIONAL
        history.record("facebook", noon + timedelta(minutes=minute), status, 80.0 + minute)
    # THEN one day item holds the counts and percentiles
    (day,) = history.days(["facebook"], noon.date())["facebook"]
    assert (day.operational, day.major, day.checks) == (54, 6, 60)
    assert abs(day.uptime - 0.9) < 1e-9
    assert day.latency_p50_ms == 150.0 and day.latency_p95_ms == 150.0
    assert len(history.table.query_all("HISTORY#facebook")) == 1


def test_latency_series_has_288_five_minute_points(history, noon):
    history.record("website", noon - timedelta(minutes=4), ComponentStatus.OPERATIONAL, 100.0)
    history.record("website", noon - timedelta(minutes=3), ComponentStatus.OPERATIONAL, 300.0)
    series = history.latency(["website"], noon)["website"]
    assert len(series) == 288
    assert series[-2] == 200.0 and series[-1] is None and series[0] is None


def test_partial_outage_weighs_thirty_percent_and_maintenance_not_at_all(history, noon):
    for status in [ComponentStatus.PARTIAL_OUTAGE] * 5 + [ComponentStatus.OPERATIONAL] * 5 + [
            ComponentStatus.UNDER_MAINTENANCE] * 10:
        history.record("x", noon, status, None)
    (day,) = history.days(["x"], noon.date())["x"]
    assert abs(day.uptime - 0.85) < 1e-9


def test_percentiles_come_from_bucket_bounds():
    assert percentile_ms({}, 0.5) is None
    assert percentile_ms({0: 1, 5: 1}, 0.5) == 25.0


def test_checks_stored_in_the_former_layout_still_count_before_the_change(aws, noon):
    table = Table(aws_table(), clock=lambda: noon)
    # GIVEN checks stored an item per day and per 5-minute slot (the former layout) until an hour ago
    before = noon - timedelta(hours=1)
    table.add("HISTORY#facebook", f"{before.date().isoformat()}", {"operational": 3, "major": 1})
    table.add("LATENCY#facebook", f"{before:%Y-%m-%dT%H:%M}", {"operational": 1, "sum_ms": 300, "n": 1})
    # AND one check since, in the current layout
    HistoryStore(table).record("facebook", noon, ComponentStatus.OPERATIONAL, 100.0)
    # WHEN a reader told when the layout changed reads the day and the last 24 hours
    history = HistoryStore(table, older_layout_until=noon - timedelta(minutes=30))
    (day,) = history.days(["facebook"], noon.date())["facebook"]
    series = history.latency(["facebook"], noon)["facebook"]
    # THEN both layouts count
    assert (day.operational, day.major) == (4, 1)
    assert series[-1] == 100.0 and series[-13] == 300.0
    # AND a reader not told reads the current layout only
    (current,) = HistoryStore(table).days(["facebook"], noon.date())["facebook"]
    assert (current.operational, current.major) == (1, 0)
