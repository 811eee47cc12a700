"""Thresholds, combining probes, cause texts and heartbeats, with an injected clock."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.config import Component
from chalicelib.schema import read
from chalicelib.model import ComponentStatus
from chalicelib.probes.checks import check_heartbeat
from chalicelib.probes.model import HeartbeatCalls, ProbeResult
from chalicelib.probes.rules import apply_result, component_probe_status, new_state

UP, SLOW, PARTIAL, DOWN = (ComponentStatus.OPERATIONAL, ComponentStatus.DEGRADED_PERFORMANCE,
                           ComponentStatus.PARTIAL_OUTAGE, ComponentStatus.MAJOR_OUTAGE)
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


def minutes(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def facebook(*probes, rule="worst") -> Component:
    return read(Component, {"id": "facebook", "name": "Facebook", "probe_rule": rule, "probes": list(probes)})


PAGE = {"kind": "http", "url": "https://www.facebook.com/lumencoffee", "label": "our page",
        "failure_threshold": 3, "success_threshold": 2}
PLATFORM = {"kind": "upstream", "url": "https://metastatus.example/api/v2/summary.json"}


def result(status, key="facebook/http") -> ProbeResult:
    return ProbeResult(key, "facebook", "http", "brand", "https://x", status)


def feed(statuses, spec=None):
    spec = spec or facebook(PAGE).probes[0]
    state = new_state("facebook/http", T0)
    history = []
    for minute, status in enumerate(statuses):
        state = apply_result(state, result(status), spec, minutes(minute))
        history.append(state.status)
    return state, history


def test_failures_count_only_after_the_failure_threshold():
    # GIVEN a probe with failure_threshold 3
    state, history = feed([DOWN, DOWN, DOWN])
    # THEN the third failure in a row confirms the outage, at its time
    assert history == [UP, UP, DOWN]
    assert state.since == minutes(2)


def test_recovery_needs_the_success_threshold():
    _, history = feed([DOWN, DOWN, DOWN, UP, UP])
    assert history == [UP, UP, DOWN, DOWN, UP]


def test_flapping_inside_the_thresholds_changes_nothing():
    # GIVEN a target that fails every other minute, and twice in a row at most
    _, history = feed([DOWN, UP, DOWN, DOWN, UP, DOWN, UP, DOWN, DOWN, UP])
    assert set(history) == {UP}


def test_a_result_without_verdict_neither_breaks_nor_extends_a_streak():
    _, history = feed([DOWN, DOWN, None, DOWN])
    assert history == [UP, UP, UP, DOWN]


def test_worse_results_of_different_severity_count_together():
    # GIVEN a page that is first slow, then failing
    _, history = feed([SLOW, DOWN, DOWN])
    assert history[-1] is DOWN


def test_the_worst_probe_decides_by_default():
    component = facebook(PAGE, {**PAGE, "id": "inbox", "label": "our Messenger inbox"})
    states = {"facebook/http": feed([DOWN] * 3)[0]}
    assert component_probe_status(component, states)[0] is DOWN


def test_share_rule_makes_some_failing_probes_a_partial_outage():
    component = facebook(PAGE, {**PAGE, "id": "inbox"}, rule="share")
    one_down = {"facebook/http": feed([DOWN] * 3)[0]}
    both_down = {**one_down, "facebook/inbox": feed([DOWN] * 3)[0].replace(key="facebook/inbox")}
    assert component_probe_status(component, one_down)[0] is PARTIAL
    assert component_probe_status(component, both_down)[0] is DOWN


def _confirmed(status, key):
    return new_state(key, T0).replace(status=status)


@pytest.mark.parametrize("page, platform, expected", [
    (DOWN, DOWN, "Facebook reports a major outage of its own"),
    (UP, PARTIAL, "Facebook reports a partial outage of its own"),
    (DOWN, UP, "Facebook is up, but our page cannot be reached — we are on it"),
    (SLOW, UP, "Facebook is up, but our page is slow — we are on it"),
    (UP, UP, None),
])
def test_the_cause_says_whether_the_platform_or_the_brand_is_at_fault(page, platform, expected):
    component = facebook(PAGE, PLATFORM)
    states = {"facebook/http": _confirmed(page, "facebook/http"), "facebook/upstream": _confirmed(platform, "x")}
    status, cause = component_probe_status(component, states)
    assert cause == expected
    assert status is max([page, platform], key=lambda s: s.severity)


def test_without_a_platform_probe_the_cause_names_only_what_failed():
    component = facebook(PAGE)
    status, cause = component_probe_status(component, {"facebook/http": _confirmed(DOWN, "facebook/http")})
    assert cause == "Our page cannot be reached — we are on it"


def test_the_platform_name_can_differ_from_the_component():
    component = facebook(PAGE, {**PLATFORM, "platform": "Meta"})
    _, cause = component_probe_status(component, {"facebook/upstream": _confirmed(DOWN, "x")})
    assert cause == "Meta reports a major outage of its own"


HEARTBEAT = facebook({"kind": "heartbeat", "period_seconds": 300, "grace_seconds": 60,
                      "label": "our post scheduler"}).probes[0]


def ran(minute: int, *, failed: int = 0, fine: int = 0) -> HeartbeatCalls:
    """The job's last call at ``minute``, after ``failed`` runs in a row reported failed or ``fine`` reported fine."""
    return HeartbeatCalls(minutes(minute), failed_runs=failed, ok_runs=fine)


def test_a_heartbeat_within_its_period_is_up():
    assert check_heartbeat(HEARTBEAT, ran(0, fine=1), T0, minutes(6))[0] is UP


def test_a_missing_heartbeat_is_down_after_period_and_grace():
    status, error, _ = check_heartbeat(HEARTBEAT, ran(0, fine=1), T0, minutes(7))
    assert status is DOWN and error == "no heartbeat for 7 min (expected every 300 s)"


def test_a_heartbeat_never_received_counts_from_when_the_probe_was_first_seen():
    assert check_heartbeat(HEARTBEAT, None, T0, minutes(5))[0] is UP
    status, error, _ = check_heartbeat(HEARTBEAT, None, T0, minutes(7))
    assert status is DOWN and error.startswith("no heartbeat received since 2026-05-01 12:00")


def test_one_failed_run_gives_no_verdict_and_the_threshold_of_runs_confirms():
    # GIVEN a heartbeat with the default failure_threshold of 2 runs
    assert HEARTBEAT.failure_threshold == 2
    # WHEN the job reports one failed run, THEN the probe cannot tell yet: its status stays as it was
    status, error, _ = check_heartbeat(HEARTBEAT, ran(1, failed=1), T0, minutes(2))
    assert status is None and "1 run(s) in a row reported failed" in error and "2 in a row count" in error
    # WHEN it reports a second failed run in a row, THEN the probe fails
    status, error, _ = check_heartbeat(HEARTBEAT, ran(6, failed=2), T0, minutes(7))
    assert status is DOWN and error.startswith("the job 2 run(s) in a row reported failed")


def test_one_failed_run_moves_nothing_however_many_cycles_see_it():
    # GIVEN the job reported one failed run and then stayed quiet within its period
    state = new_state("facebook/heartbeat", T0)
    for minute in range(1, 6):
        status, _, _ = check_heartbeat(HEARTBEAT, ran(0, failed=1), T0, minutes(minute))
        state = apply_result(state, result(status, "facebook/heartbeat"), HEARTBEAT, minutes(minute))
    # THEN five cycles later the probe is still up
    assert state.status is UP


def test_a_confirmed_heartbeat_failure_moves_on_one_cycle_and_recovers_on_a_good_run():
    state = new_state("facebook/heartbeat", T0)
    failing, _, _ = check_heartbeat(HEARTBEAT, ran(5, failed=2), T0, minutes(6))
    state = apply_result(state, result(failing, "facebook/heartbeat"), HEARTBEAT, minutes(6))
    assert state.status is DOWN
    fine, _, _ = check_heartbeat(HEARTBEAT, ran(10, fine=1), T0, minutes(11))
    state = apply_result(state, result(fine, "facebook/heartbeat"), HEARTBEAT, minutes(11))
    assert state.status is UP


def test_the_heartbeat_cause_says_the_job_stopped():
    component = facebook(PAGE, {"kind": "heartbeat", "period_seconds": 300, "label": "our post scheduler"}, PLATFORM)
    _, cause = component_probe_status(component, {"facebook/heartbeat": _confirmed(DOWN, "x")})
    assert cause == "Facebook is up, but our post scheduler has stopped checking in — we are on it"


def test_a_paused_probe_no_longer_counts():
    component = facebook(PAGE, {**PLATFORM, "paused": True})
    states = {"facebook/upstream": _confirmed(DOWN, "x")}
    assert component_probe_status(component, states) == (UP, None)
