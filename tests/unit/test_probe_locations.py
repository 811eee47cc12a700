"""Confirming a failure across probe locations, and the minute split into cycle slots."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.model import ComponentStatus
from chalicelib.probes.cycle import run_in_slots
from chalicelib.probes.model import LocationReport, ProbeResult
from chalicelib.probes.rules import confirm_across_locations
from chalicelib.schema import Invalid, read
from chalicelib.probes.spec import ProbeSettings

UP, SLOW, PARTIAL, DOWN = (ComponentStatus.OPERATIONAL, ComponentStatus.DEGRADED_PERFORMANCE,
                           ComponentStatus.PARTIAL_OUTAGE, ComponentStatus.MAJOR_OUTAGE)
NOW = datetime(2026, 11, 28, 14, 0, tzinfo=timezone.utc)
PLAN = "plan-a"


def result(status, key="facebook/site", kind="http", error=None) -> ProbeResult:
    return ProbeResult(key, key.split("/")[0], kind, "brand", "https://www.facebook.com/lumencoffee", status,
                       error)


def seen_from(location: str, plan: str = PLAN, **verdicts) -> LocationReport:
    """A location's report; keyword ``facebook__site='major_outage'`` is the verdict for facebook/site."""
    named = {key.replace("__", "/"): value for key, value in verdicts.items()}
    return LocationReport(location, NOW, plan, named, {k: f"HTTP 503 at {location}" for k, v in named.items() if v})


def test_a_failure_seen_from_home_only_counts_as_up_and_is_reported_unconfirmed():
    # GIVEN two locations must agree, and only home sees the page fail
    [counted], [unconfirmed] = confirm_across_locations([result(DOWN, error="HTTP 503")], "home",
                                                        [seen_from("second")], 2, PLAN)
    # THEN the thresholds see it up, and operators see the failure and where it came from
    assert counted.status is UP and counted.locations == {"home": "major_outage", "second": "operational"}
    assert unconfirmed.as_json() == {"probe": "facebook/site", "component": "facebook", "seen": "major_outage",
                                     "counted": "operational", "failing_from": ["home"], "fine_from": ["second"]}
    assert unconfirmed.words() == "facebook/site: major_outage from home only"


def test_a_failure_seen_from_the_other_location_only_is_unconfirmed_too():
    [counted], [unconfirmed] = confirm_across_locations([result(UP)], "home",
                                                        [seen_from("second", facebook__site="major_outage")], 2, PLAN)
    assert counted.status is UP and unconfirmed.failing == ("second",)


def test_a_failure_both_locations_see_counts_with_the_milder_of_the_two_and_the_error_of_home():
    [both], unconfirmed = confirm_across_locations([result(DOWN, error="HTTP 503")], "home",
                                                   [seen_from("second", facebook__site="major_outage")], 2, PLAN)
    assert both.status is DOWN and both.error == "HTTP 503" and unconfirmed == []
    [milder], [partly] = confirm_across_locations([result(DOWN, error="HTTP 503")], "home",
                                                  [seen_from("second", facebook__site="degraded_performance")], 2, PLAN)
    # The slow answer counts (both see trouble); the outage only one sees is unconfirmed
    assert milder.status is SLOW and milder.error == "HTTP 503 at second (from second)"
    assert partly.worst is DOWN and partly.counted is SLOW


def test_two_of_three_locations_confirm_and_the_third_one_fine_does_not_veto():
    [counted], _ = confirm_across_locations(
        [result(DOWN)], "home", [seen_from("second", facebook__site="major_outage"), seen_from("third")], 2, PLAN)
    assert counted.status is DOWN


def test_with_a_quorum_of_one_any_location_seeing_a_failure_counts():
    [counted], unconfirmed = confirm_across_locations([result(UP)], "home",
                                                      [seen_from("second", facebook__site="partial_outage")], 1, PLAN)
    assert counted.status is PARTIAL and unconfirmed == []


def test_a_location_that_cannot_tell_or_ran_another_plan_does_not_count():
    # GIVEN the other location's status API answer was nonsense (no verdict) for this probe
    [counted], _ = confirm_across_locations([result(DOWN)], "home", [seen_from("second", facebook__site=None)], 2, PLAN)
    # THEN the locations that can tell decide: home alone here
    assert counted.status is DOWN
    # AND a location that ran another plan (its site file is older) is not taken as "all fine"
    [counted], _ = confirm_across_locations([result(DOWN)], "home", [seen_from("second", plan="plan-b")], 2, PLAN)
    assert counted.status is DOWN and counted.locations == {"home": "major_outage", "second": None}


def test_without_reports_from_elsewhere_home_decides_alone():
    [counted], unconfirmed = confirm_across_locations([result(DOWN)], "home", [], 2, PLAN)
    assert counted.status is DOWN and unconfirmed == []


def test_heartbeats_are_not_seen_from_a_place_and_pass_as_they_are():
    heartbeat = result(DOWN, key="scheduler/heartbeat", kind="heartbeat")
    [counted], unconfirmed = confirm_across_locations([heartbeat], "home", [seen_from("second")], 2, PLAN)
    assert counted is heartbeat and unconfirmed == []


# -- settings ------------------------------------------------------------------------------------

def test_the_interval_must_split_the_minute_into_whole_slots():
    with pytest.raises(Invalid, match="interval_seconds: 25 does not divide the scheduled minute into whole cycles; "
                                      "use one of 60, 30, 20, 15, 12, 10, 5"):
        read(ProbeSettings, {"interval_seconds": 25})


def test_a_quorum_larger_than_the_locations_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="quorum: 3 locations cannot agree when 2 run probes"):
        ProbeSettings(locations=("us-east-1", "eu-west-1"), quorum=3)
    with pytest.raises(Invalid, match="locations: a location is listed twice"):
        read(ProbeSettings, {"locations": ["home", "home"]})


def test_each_cycle_ends_inside_its_slot():
    assert ProbeSettings().deadline_seconds == 45
    assert ProbeSettings(interval_seconds=15).deadline_seconds == 11.25
    assert ProbeSettings(interval_seconds=15, cycle_deadline_seconds=8).deadline_seconds == 8
    assert ProbeSettings(locations=("eu-west-1", "us-east-1")).home == "eu-west-1"


# -- slots -----------------------------------------------------------------------------------------

class FakeTime:
    def __init__(self, start: datetime):
        self.now = start

    def clock(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def test_a_fifteen_second_interval_runs_four_cycles_on_their_slots():
    time = FakeTime(NOW)
    ran = []

    def cycle(deadline):
        ran.append(((time.now - NOW).total_seconds(), deadline))
        time.sleep(2)  # each cycle takes two seconds

    run_in_slots(cycle, interval_seconds=15, deadline_seconds=11.25, minute_start=NOW, clock=time.clock,
                 sleep=time.sleep)
    assert ran == [(0, 11.25), (15, 11.25), (30, 11.25), (45, 11.25)]


def test_a_late_start_shortens_the_first_slot_and_skips_slots_already_over():
    # GIVEN the invocation starts 20 s after the schedule fired (a cold start behind a throttle)
    time = FakeTime(NOW + timedelta(seconds=20))
    ran = []
    run_in_slots(lambda deadline: ran.append(((time.now - NOW).total_seconds(), deadline)), interval_seconds=15,
                 deadline_seconds=11.25, minute_start=NOW, clock=time.clock, sleep=time.sleep)
    # THEN the slot at 0 s is over, the one at 15 s gets what is left of its deadline, the rest run on time
    assert ran == [(20, 6.25), (30, 11.25), (45, 11.25)]


def test_the_default_interval_is_one_cycle_a_minute():
    time = FakeTime(NOW)
    ran = []
    run_in_slots(ran.append, interval_seconds=60, deadline_seconds=45, minute_start=NOW, clock=time.clock,
                 sleep=time.sleep)
    assert ran == [45]
