"""Uptime windows and the sparkline, from what the probe cycle records, with an injected clock."""
from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib import aws as aws_clients
from chalicelib.model import ComponentStatus
from chalicelib.store.history import HistoryStore
from chalicelib.store.table import Table

UP, PARTIAL, DOWN, MAINTENANCE = (ComponentStatus.OPERATIONAL, ComponentStatus.PARTIAL_OUTAGE,
                                  ComponentStatus.MAJOR_OUTAGE, ComponentStatus.UNDER_MAINTENANCE)


@pytest.fixture
def table_at_noon(aws, noon):
    # The table hides items past their TTL by its clock: read them as of the test's noon.
    return Table(aws_clients.get_table(), lambda: noon)


@pytest.fixture
def facebook_with_a_rough_month(table_at_noon, noon):
    """Facebook checked every 6 hours for 40 days: down all day 20 days ago, and at 06:00 today."""
    history = HistoryStore(table_at_noon)
    for day in range(40):
        for hour in (0, 6, 12, 18):
            at = noon - timedelta(days=day, hours=hour)
            down = (day == 20 and hour in (0, 6, 12, 18)) or (day == 0 and hour == 6)
            history.record("facebook", at, DOWN if down else UP, 120.0)
    history.record("facebook", noon - timedelta(minutes=30), PARTIAL, 900.0)
    history.record("facebook", noon - timedelta(minutes=20), MAINTENANCE, None)
    return history


def test_uptime_over_each_window_weights_outages_like_statuspage(facebook_with_a_rough_month, noon):
    uptime = facebook_with_a_rough_month.uptime(["facebook"], noon)["facebook"]
    # 24 h: checks at 12:00 (this one), 06:00 (down) and 00:00 today, 18:00 yesterday (up), plus the
    # partial outage at 11:30 (counts 30 %); maintenance at 11:40 counts neither way.
    assert uptime["24h"] == pytest.approx(1 - (1 + 0.3) / 5)
    # 7 calendar days: today's 3 checks (00:00, 06:00 down, 12:00) + the partial one, 6 days x 4
    assert uptime["7d"] == pytest.approx(1 - (1 + 0.3) / 28)
    # 30 days add the day that was down all day (4 checks)
    assert uptime["30d"] == pytest.approx(1 - (5 + 0.3) / 120)
    # 90 days: only 40 days were ever recorded (161 counted checks)
    assert uptime["90d"] == pytest.approx(1 - (5 + 0.3) / 161)


def test_a_component_never_checked_has_no_uptime(table_at_noon, noon):
    assert HistoryStore(table_at_noon).uptime(["x"], noon)["x"] == {"24h": None, "7d": None, "30d": None, "90d": None}


def test_the_sparkline_keeps_the_last_24_hours_in_5_minute_slots(facebook_with_a_rough_month, noon):
    points = facebook_with_a_rough_month.latency(["facebook"], noon)["facebook"]
    assert len(points) == 288
    assert points[-1] == 120.0  # the check at 12:00
    assert points[-7] == 900.0  # 11:30
    assert points[-5] is None  # 11:40: maintenance, no latency
