"""The probe cycle end to end: the demo upstream, the emulator, incidents, history, the page.

The example site.yml runs with tools/local/demo-targets.yml, as in ``make run``; the
clock is injected and moves one minute per cycle. Thresholds are the site's defaults:
two results in a row change a probe's status.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import requests

from chalicelib import aws as aws_clients
from chalicelib.incidents import IncidentService
from tools.local.demo import DemoServer
from chalicelib.model import ComponentStatus, IncidentStatus
from chalicelib.probes.cycle import CycleBusy, ProbeCycle
from chalicelib.probes.overrides import load_overrides
from chalicelib.settings import PROJECT_ROOT
from chalicelib.site.service import publish_site
from chalicelib.store.history import HistoryStore
from chalicelib.store.probes import ProbeStore
from chalicelib.store.records import StateStore
from chalicelib.store.table import Table

UP, DOWN = ComponentStatus.OPERATIONAL, ComponentStatus.MAJOR_OUTAGE


class Clock:
    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: float = 1) -> None:
        self.now += timedelta(minutes=minutes)


class World:
    """The stack the cycle sees, plus the handles a test needs to drive and read it."""

    def __init__(self, demo: DemoServer, site):
        self.demo = demo
        self.site = site
        self.clock = Clock(datetime.now(timezone.utc).replace(microsecond=0))
        self.table = Table(aws_clients.get_table(), self.clock)
        self.overrides = load_overrides(PROJECT_ROOT / "tools/local/demo-targets.yml", environ={
            "DEMO_PORT": str(demo.server_address[1]), "DEMO_SMTP_PORT": str(demo.mail.port)})
        self.incidents = IncidentService(self.table, site, self.clock)
        self.states = StateStore(self.table)

    def cycle(self, minutes: int = 1):
        reports = []
        for _ in range(minutes):
            self.clock.advance()
            reports.append(ProbeCycle(self.site, self.table, self.clock, incidents=self.incidents,
                                      publish=publish_site, overrides=self.overrides).run())
        return reports[-1]

    def outage(self, name: str, scope: str | None = None) -> None:
        url = f"http://127.0.0.1:{self.demo.server_address[1]}/_demo/outage/{name}"
        requests.post(url, params={"scope": scope} if scope else None, timeout=5).raise_for_status()

    def heartbeat_secret(self, probe_key: str) -> str:
        """The secret `beacon heartbeats create` would print for the probe."""
        from chalicelib.probes.heartbeats import create_secret

        secret, _ = create_secret(ProbeStore(self.table), self.site, probe_key, now=self.clock(), created_by="test")
        return secret

    def recover(self, name: str) -> None:
        requests.delete(f"http://127.0.0.1:{self.demo.server_address[1]}/_demo/outage/{name}",
                        timeout=5).raise_for_status()

    def state(self, component_id: str):
        return self.states.component_states()[component_id]

    def open_incidents(self):
        return [i for i in self.states.incidents() if i.is_open]

    def notifications(self) -> list[dict]:
        return [item.data for item in self.table.query_all("NOTIFICATION")]

    def published_summary(self) -> dict:
        body = aws_clients.client("s3").get_object(Bucket=_bucket(), Key="api/v2/summary.json")["Body"].read()
        return json.loads(body)


def _bucket() -> str:
    from chalicelib.settings import get_settings

    return get_settings().bucket_name


@pytest.fixture
def world(aws, demo, example_site):
    return World(demo, example_site)


def _status_on_page(summary: dict, component_id: str) -> str:
    return next(c["status"] for c in summary["components"] if c["id"] == component_id)


def test_a_quiet_cycle_finds_everything_up_and_records_history(world):
    # WHEN a cycle runs against the healthy demo upstream
    report = world.cycle()
    # THEN every probe but the certificate (no TLS in the demo) is up, nothing changed
    by_key = {r.probe: r for r in map(_Result, report.as_json()["results"])}
    assert by_key["website/tls"].error.startswith("not run: PROBE_OVERRIDES maps no target")
    assert {r.status for k, r in by_key.items() if k != "website/tls"} == {"operational"}
    assert report.changes == [] and world.open_incidents() == []
    # AND each component's check is counted in its day and its 24-hour uptime
    day = HistoryStore(world.table).days(["facebook"], world.clock().date(), count=1)["facebook"][0]
    assert day.operational == 1 and day.latency_p50_ms is not None
    assert HistoryStore(world.table).uptime(["facebook"], world.clock())["facebook"]["24h"] == 1.0


class _Result:
    def __init__(self, data):
        self.__dict__.update(data)


def test_a_platform_outage_opens_the_playbook_with_the_platform_as_cause_and_recovery_resolves_it(world):
    world.cycle()
    # GIVEN Facebook itself goes down
    world.outage("facebook")
    # WHEN one cycle sees it: inside the threshold, nothing happens yet
    assert world.cycle().changes == []
    assert world.state("facebook").probe_status is UP
    # WHEN the second cycle sees it too
    report = world.cycle()
    # THEN Facebook is down with the platform named as the cause, on the page too
    assert [c.as_json() for c in report.changes] == [{"component": "facebook", "old": "operational",
                                                      "new": "major_outage",
                                                      "cause": "Facebook reports a major outage of its own"}]
    assert world.state("facebook").cause == "Facebook reports a major outage of its own"
    assert _status_on_page(world.published_summary(), "facebook") == "major_outage"
    # AND the facebook playbook's incident is open, subscribers are told, the cause is on the page
    [incident] = world.open_incidents()
    assert incident.playbook_id == "facebook-outage" and incident.cause == "Facebook reports a major outage of its own"
    assert [u.body for u in incident.updates][-1] == "Facebook reports a major outage of its own."
    assert [n["kind"] for n in world.notifications()] == ["incident.opened"]
    # WHEN Facebook comes back and two cycles see it
    world.recover("facebook")
    world.cycle(2)
    # THEN the incident is resolved with the playbook's "back up" text, and subscribers are told
    resolved = world.states.incidents()[0]
    assert resolved.status == IncidentStatus.RESOLVED.value
    assert resolved.updates[-1].body.startswith("Facebook and Messenger work again")
    assert [n["kind"] for n in world.notifications()] == ["incident.opened", "incident.resolved"]
    assert world.state("facebook").probe_status is UP and world.state("facebook").cause is None
    assert _status_on_page(world.published_summary(), "facebook") == "operational"


def test_our_own_page_failing_while_the_platform_is_up_says_so(world):
    world.outage("facebook", scope="brand")
    world.cycle(2)
    assert world.state("facebook").cause == "Facebook is up, but our page cannot be reached — we are on it"
    [incident] = world.open_incidents()
    assert incident.updates[-1].body == "Facebook is up, but our page cannot be reached — we are on it."


def test_without_a_playbook_the_probe_opens_and_resolves_its_own_incident(world):
    # GIVEN HubSpot's status page reports a major outage (HubSpot has no playbook)
    world.outage("hubspot")
    world.cycle(2)
    [incident] = world.open_incidents()
    assert incident.name == "HubSpot major outage"
    assert incident.status == IncidentStatus.IDENTIFIED.value  # their own outage: the cause is known
    assert incident.impact.value == "critical" and incident.components == {"hubspot": DOWN}
    assert incident.updates[0].body == "HubSpot reports a major outage of its own."
    # WHEN it is back
    world.recover("hubspot")
    world.cycle(2)
    resolved = world.states.incidents()[0]
    assert resolved.status == IncidentStatus.RESOLVED.value
    assert resolved.updates[-1].body == "HubSpot is back up and working normally again. Thank you for your patience."
    assert [n["kind"] for n in world.notifications()] == ["incident.opened", "incident.resolved"]


def test_a_closed_mail_port_is_an_outage_of_the_support_inbox(world):
    world.outage("support-inbox")
    report = world.cycle(2)
    assert report.components["support-inbox"] == {"status": "major_outage",
                                                  "cause": "Our support inbox cannot be reached — we are on it"}
    [incident] = world.open_incidents()
    assert incident.name == "Email & SMS support major outage"
    assert incident.status == IncidentStatus.INVESTIGATING.value


def test_flapping_inside_the_thresholds_opens_nothing(world):
    # GIVEN Facebook fails every other minute
    for _ in range(3):
        world.outage("facebook")
        world.cycle()
        world.recover("facebook")
        world.cycle()
    # THEN nothing changed and nobody was told
    assert world.state("facebook").probe_status is UP
    assert world.open_incidents() == [] and world.notifications() == []


def test_a_missing_heartbeat_takes_the_scheduler_down_until_it_calls(world):
    from chalice.test import Client

    import app as beacon

    world.cycle()
    # GIVEN the post scheduler has not called for longer than its period and grace (5 + 2 minutes)
    world.clock.advance(10)
    world.cycle(1)
    # THEN Hootsuite shows our scheduler as the cause (heartbeats count at once: threshold 1)
    assert world.state("hootsuite").cause == "Hootsuite is up, but our post scheduler has stopped checking in — we are on it"
    # WHEN the scheduler calls its heartbeat URL
    secret = world.heartbeat_secret("hootsuite/heartbeat")
    with Client(beacon.app) as client:
        answer = client.http.post(f"/heartbeat/{secret}")
        unknown = client.http.post("/heartbeat/not-a-known-token-0000")
    assert answer.status_code == 200 and answer.json_body["probe"] == "hootsuite/heartbeat"
    assert unknown.status_code == 404
    world.clock.now = datetime.now(timezone.utc)
    world.cycle(1)
    # THEN the next cycle finds it back
    assert world.state("hootsuite").probe_status is UP


def test_a_failed_run_reported_once_notifies_nobody_and_a_second_in_a_row_opens_the_outage(world):
    from chalice.test import Client

    import app as beacon

    # GIVEN the post scheduler calls with its secret and all is well
    secret = world.heartbeat_secret("hootsuite/heartbeat")
    world.clock.now = datetime.now(timezone.utc).replace(microsecond=0)
    with Client(beacon.app) as client:
        assert client.http.post(f"/heartbeat/{secret}").status_code == 200
        # WHEN someone without the secret reports a failure
        spoofed = client.http.post("/heartbeat/hb_guessed-0000000000000000000000000000000000000/fail")
        # THEN it is refused and changes nothing
        assert spoofed.status_code == 404
        world.cycle(2)
        assert world.state("hootsuite").probe_status is UP and world.notifications() == []
        # WHEN the job itself reports one failed run
        first = client.http.post(f"/heartbeat/{secret}/fail")
        assert first.status_code == 200 and first.json_body["runs_in_a_row"] == 1
        world.cycle(2)
        # THEN however many cycles see it, nothing moves and nobody is told
        assert world.state("hootsuite").probe_status is UP
        assert world.open_incidents() == [] and world.notifications() == []
        # WHEN its next run fails too (failure_threshold: 2 runs in a row)
        assert client.http.post(f"/heartbeat/{secret}/fail").json_body["runs_in_a_row"] == 2
        world.cycle()
    # THEN the outage is confirmed and subscribers are told, as for any probe
    assert world.state("hootsuite").cause == ("Hootsuite is up, but our post scheduler has stopped checking in "
                                              "— we are on it")
    assert [n["kind"] for n in world.notifications()] == ["incident.opened"]


def test_one_cycle_at_a_time(world):
    store = ProbeStore(world.table)
    assert store.claim_cycle("another", world.clock(), 60)
    with pytest.raises(CycleBusy):
        world.cycle()
    store.release_cycle()
    world.cycle()


def test_marketers_run_a_cycle_through_the_api(world, table):
    from chalice.test import Client

    import app as beacon
    from chalicelib.api.auth import create_key

    secret, _ = create_key(table, name="ana", scope="marketer", created_by="test", now=world.clock())
    with Client(beacon.app) as client:
        before = client.http.get("/probes/latest", headers={"Authorization": f"Bearer {secret}"})
        refused = client.http.post("/probes/run")
        ran = client.http.post("/probes/run", headers={"Authorization": f"Bearer {secret}"})
        latest = client.http.get("/probes/latest", headers={"Authorization": f"Bearer {secret}"})
    assert (before.status_code, before.json_body["error"]) == (404, "not_found")
    assert "POST /probes/run" in before.json_body["message"]
    assert refused.status_code == 401
    assert ran.status_code == 200, ran.body
    # The API's cycle probes the real targets of site.yml: without PROBE_OVERRIDES they are public names,
    # which this machine cannot reach; every probe still reports a result.
    results = ran.json_body["results"]
    assert len(results) == sum(len(c.probes) for c in world.site.components)
    assert all(set(r) >= {"probe", "status", "error", "latency_ms"} for r in results)
    assert latest.json_body["cycle_id"] == ran.json_body["cycle_id"]
    assert isinstance(latest.json_body["recent_transitions"], list)


def test_transitions_are_recorded_with_their_cause(world):
    world.outage("hubspot")
    world.cycle(2)
    world.recover("hubspot")
    world.cycle(2)
    transitions = ProbeStore(world.table).transitions()
    assert [(t["component_id"], t["old"], t["new"], t["cause"]) for t in transitions] == [
        ("hubspot", "major_outage", "operational", None),
        ("hubspot", "operational", "major_outage", "HubSpot reports a major outage of its own"),
    ]


def test_a_manual_status_holds_the_page_and_keeps_probes_from_opening_incidents(world):
    world.cycle()
    # GIVEN a marketer set Facebook's status by hand for the next hour (a known false alarm)
    state = world.state("facebook")
    world.states.save_component_state(state.replace(manual_status=UP, manual_until=world.clock() + timedelta(hours=1)))
    # WHEN Facebook's probes fail past their threshold
    world.outage("facebook")
    world.cycle(2)
    # THEN the probes record what they see, but open no incident and tell nobody
    assert world.state("facebook").probe_status is DOWN
    assert world.state("facebook").manual_status is UP
    assert world.open_incidents() == [] and world.notifications() == []
    assert _status_on_page(world.published_summary(), "facebook") == "operational"
