"""The local scheduler and queue poller drive Chalice handlers as Lambda would."""
import pytest
from chalice import Chalice, Rate

from tools.local.runner import Scheduler, rate_seconds


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def app_with_two_schedules():
    app = Chalice(app_name="fixture")
    calls = []

    @app.schedule(Rate(1, unit=Rate.MINUTES), name="probe_cycle")
    def probes(event):
        calls.append(("probe_cycle", event.to_dict()["detail-type"]))

    @app.schedule(Rate(5, unit=Rate.MINUTES), name="publish_site")
    def publish(event):
        calls.append(("publish_site", event.to_dict()["detail-type"]))

    return app, calls


def test_rate_expressions_become_seconds():
    assert rate_seconds(Rate(1, unit=Rate.MINUTES)) == 60
    assert rate_seconds("rate(2 hours)") == 7200
    with pytest.raises(ValueError, match="rate\\(\\) schedules only"):
        rate_seconds("cron(0 12 * * ? *)")


def test_scheduler_runs_each_function_at_its_rate(app_with_two_schedules):
    # GIVEN two schedules, the probe cycle sped up to 10 s for a demo
    app, calls = app_with_two_schedules
    clock = FakeClock()
    scheduler = Scheduler(app, {"probe_cycle": 10}, clock=clock)
    # WHEN 5 minutes pass in 10-second steps
    for step in range(31):
        clock.now = step * 10.0
        scheduler.run_due()
    # THEN probes ran every 10 s and the publish every 5 min, each with a scheduled event
    assert [c for c in calls if c[0] == "probe_cycle"] == [("probe_cycle", "Scheduled Event")] * 31
    assert len([c for c in calls if c[0] == "publish_site"]) == 2


def test_a_failing_scheduled_function_does_not_stop_the_scheduler():
    app = Chalice(app_name="fixture")

    @app.schedule(Rate(1, unit=Rate.MINUTES), name="broken")
    def broken(event):
        raise RuntimeError("boom")

    scheduler = Scheduler(app, clock=FakeClock())
    assert scheduler.run_due() == ["broken"]


def test_concurrent_scheduling_runs_functions_side_by_side_and_skips_a_turn_still_running():
    import threading

    app = Chalice(app_name="fixture")
    release = threading.Event()
    calls = []

    @app.schedule(Rate(1, unit=Rate.MINUTES), name="probe_cycle")
    def probes(event):
        calls.append("probe_cycle")
        release.wait(10)  # a minute of cycle slots

    @app.schedule(Rate(1, unit=Rate.MINUTES), name="publish_site")
    def publish(event):
        calls.append("publish_site")

    clock = FakeClock()
    scheduler = Scheduler(app, clock=clock, concurrent=True)
    # WHEN the probe function is still in its minute as the next turn comes
    assert scheduler.run_due() == ["probe_cycle", "publish_site"]
    scheduler.running["publish_site"].join(5)
    clock.now = 60.0
    # THEN the publish runs again and the probe function's turn is skipped, as Lambda throttles it
    assert scheduler.run_due() == ["publish_site"]
    release.set()
    scheduler.wait(5)
    assert calls.count("probe_cycle") == 1 and calls.count("publish_site") == 2


def test_an_added_job_runs_with_a_scheduled_event_like_the_apps_own():
    seen = []
    scheduler = Scheduler(Chalice(app_name="fixture"), clock=FakeClock())
    scheduler.add("probe_cycle@second", 60, lambda event, context: seen.append((event["detail-type"],
                                                                              context.function_name)))
    assert scheduler.run_due() == ["probe_cycle@second"]
    assert seen == [("Scheduled Event", "probe_cycle@second")]
