"""Probe locations and sub-minute cycles end to end: the demo upstream, the emulator, incidents.

Two locations, ``home`` and ``second``, must agree (``quorum: 2``) before a failure counts. The
demo upstream fails a target for one location only when asked (``?location=second``): it
reads the location the probes name in their User-Agent. Each location's cycle is the same
code; ``second`` writes its report to the table and home confirms across both.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests

from chalicelib import aws as aws_clients
from chalicelib.incidents import IncidentService
from chalicelib.probes.cycle import ProbeCycle
from chalicelib.probes.overrides import load_overrides
from chalicelib.probes.spec import ProbeSettings
from chalicelib.settings import PROJECT_ROOT
from chalicelib.site.service import publish_site
from chalicelib.store.probes import ProbeStore
from chalicelib.store.records import StateStore
from chalicelib.store.table import Table
from tools.local.demo import DemoServer


class FakeTime:
    """The clock the cycles read, and the sleep that moves it: a minute of slots runs at once."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _demo_url(demo: DemoServer, name: str) -> str:
    return f"http://127.0.0.1:{demo.server_address[1]}/_demo/outage/{name}"


def _overrides(demo: DemoServer):
    return load_overrides(PROJECT_ROOT / "tools/local/demo-targets.yml", environ={
        "DEMO_PORT": str(demo.server_address[1]), "DEMO_SMTP_PORT": str(demo.mail.port)})


class TwoLocations:
    def __init__(self, demo: DemoServer, site):
        self.site = site.replace(probe_settings=ProbeSettings(
            allow_private_targets=False, locations=("home", "second"), quorum=2))
        self.demo = demo
        self.time = FakeTime(datetime.now(timezone.utc).replace(microsecond=0))
        self.table = Table(aws_clients.get_table(), self.time)
        self.incidents = IncidentService(self.table, self.site, self.time)
        self.overrides = _overrides(demo)

    def minute(self, count: int = 1):
        """The second location's cycle, then home's, as their schedules fire the same minute."""
        report = None
        for _ in range(count):
            self.time.sleep(60)
            for location in ("second", "home"):
                report = ProbeCycle(self.site, self.table, self.time, incidents=self.incidents,
                                    publish=publish_site, overrides=self.overrides, location=location,
                                    sleep=self.time.sleep).run()
        return report

    def notifications(self) -> list[dict]:
        return [item.data for item in self.table.query_all("NOTIFICATION")]

    def open_incidents(self):
        return [i for i in StateStore(self.table).incidents() if i.is_open]


@pytest.fixture
def locations(aws, demo, example_site):
    return TwoLocations(demo, example_site)


def test_a_failure_seen_from_one_location_notifies_no_one_and_is_shown_to_operators(locations):
    locations.minute()
    # GIVEN Facebook fails for the second location only (a network fault between it and Facebook)
    requests.post(_demo_url(locations.demo, "facebook"), params={"location": "second"}, timeout=5).raise_for_status()
    # WHEN both locations probe for three minutes, past every threshold
    report = locations.minute(3)
    # THEN no incident, no notification, Facebook stays operational
    assert locations.open_incidents() == [] and locations.notifications() == []
    assert StateStore(locations.table).component_states()["facebook"].probe_status.value == "operational"
    # AND operators see the failure as unconfirmed, from where it was seen, in the stored run
    unconfirmed = {u["probe"]: u for u in ProbeStore(locations.table).latest_run()["unconfirmed"]}
    assert report.location == "home" and "facebook/http" in unconfirmed
    assert unconfirmed["facebook/http"]["failing_from"] == ["second"]
    assert unconfirmed["facebook/http"]["fine_from"] == ["home"]
    # AND the second location wrote what it saw, for home to read
    seen = ProbeStore(locations.table).location_reports(["second"])["second"]
    assert seen.verdicts["facebook/http"] == "major_outage" and "home" not in seen.verdicts


def test_an_outage_both_locations_see_opens_the_playbook_and_notifies_once(locations):
    locations.minute()
    requests.post(_demo_url(locations.demo, "facebook"), timeout=5).raise_for_status()
    locations.minute(3)
    [incident] = locations.open_incidents()
    assert incident.playbook_id == "facebook-outage"
    assert [n["kind"] for n in locations.notifications()] == ["incident.opened"]


def test_home_waits_a_moment_for_a_late_location_then_counts_the_locations_that_report(locations):
    locations.minute()
    requests.post(_demo_url(locations.demo, "facebook"), timeout=5).raise_for_status()
    # GIVEN the second location has sent nothing for three minutes (its region is in trouble)
    locations.time.sleep(180)
    report = ProbeCycle(locations.site, locations.table, locations.time, incidents=locations.incidents,
                        publish=publish_site, overrides=locations.overrides, sleep=locations.time.sleep).run()
    # THEN home waited a fifth of its interval at most for a report of its slot
    assert timedelta(0) < locations.time.now - report.started_at <= timedelta(seconds=12)
    # AND then counted the failure as the locations that report see it: home alone
    assert report.unconfirmed == []
    assert {r.key: r.status for r in report.results}["facebook/http"].value == "major_outage"


def test_a_report_of_the_last_slot_still_counts_so_a_failure_home_sees_first_waits_for_the_next(locations):
    locations.minute()
    requests.post(_demo_url(locations.demo, "facebook"), timeout=5).raise_for_status()
    # GIVEN home runs this minute before the second location (whose last report says all is fine)
    locations.time.sleep(60)
    report = ProbeCycle(locations.site, locations.table, locations.time, incidents=locations.incidents,
                        publish=publish_site, overrides=locations.overrides, sleep=locations.time.sleep).run()
    # THEN the failure is unconfirmed for now
    assert "facebook/http" in {u.key for u in report.unconfirmed}


def test_a_minute_of_fifteen_second_cycles_enqueues_the_outage_within_45_seconds(aws, demo, example_site, tmp_path,
                                                                                 monkeypatch):
    from chalicelib import config, settings
    from chalicelib.probes.service import scheduled_probe_cycle

    # GIVEN the site probes every 15 s with the default thresholds (two failures in a row)
    site_file = tmp_path / "site.yml"
    site_file.write_text((PROJECT_ROOT / "site.yml").read_text().replace(
        "  cycle_deadline_seconds: 45\n", "  cycle_deadline_seconds: 45\n  interval_seconds: 15\n"))
    monkeypatch.setenv("SITE_CONFIG", str(site_file))
    monkeypatch.setenv("PROBE_OVERRIDES", str(PROJECT_ROOT / "tools/local/demo-targets.yml"))
    monkeypatch.setenv("DEMO_PORT", str(demo.server_address[1]))
    monkeypatch.setenv("DEMO_SMTP_PORT", str(demo.mail.port))
    settings.reset_settings()
    config.reset_site()
    minute = datetime.now(timezone.utc).replace(second=0, microsecond=0) + timedelta(minutes=1)
    time = FakeTime(minute)
    # AND Facebook went down a second before the minute's first slot
    requests.post(_demo_url(demo, "facebook"), timeout=5).raise_for_status()
    outage_started = minute - timedelta(seconds=1)
    # WHEN the schedule fires once
    summary = scheduled_probe_cycle(time, scheduled_at=minute.isoformat(), sleep=time.sleep)
    # THEN it ran four cycles inside its minute, and the first notification was enqueued within 45 s
    assert summary["cycles"] == 4 and summary["changes"] >= 1
    assert time.now < minute + timedelta(seconds=60)
    table = Table(aws_clients.get_table(), time)
    [opened] = [item.data for item in table.query_all("NOTIFICATION")]
    assert opened["kind"] == "incident.opened"
    enqueued = datetime.fromisoformat(opened["created_at"])
    assert enqueued - outage_started <= timedelta(seconds=45)
    queued = aws_clients.client("sqs").get_queue_attributes(
        QueueUrl=settings.get_settings().notify_queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    assert int(queued["Attributes"]["ApproximateNumberOfMessages"]) >= 1
