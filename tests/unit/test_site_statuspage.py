"""The public JSON: Statuspage v2 field for field, checked against a JSON Schema written from its documentation."""
import json
from datetime import timedelta

import jsonschema
import pytest

from chalicelib.model import ComponentStatus, Impact, IncidentKind, MaintenanceStatus
from chalicelib.site.render import render_site
from chalicelib.site.snapshot import build_snapshot
from chalicelib.site.statuspage import ENDPOINTS
from tests.conftest import ROOT
from tests.site_scenarios import HOSTILE_BODY, HOSTILE_TITLE, facebook_outage, history, incident, past_incidents

SCHEMA = json.loads((ROOT / "tests/schemas/statuspage-v2.schema.json").read_text())
TEMPLATES = ROOT / "templates"


def validator_for(endpoint: str) -> jsonschema.Draft202012Validator:
    pointer = endpoint.replace("~", "~0").replace("/", "~1")
    return jsonschema.Draft202012Validator({**SCHEMA, "$ref": f"#/endpoints/{pointer}"})


def documents(snapshot) -> dict[str, dict]:
    return {o.key.removeprefix("api/v2/"): json.loads(o.body)
            for o in render_site(snapshot, TEMPLATES) if o.key.startswith("api/v2/")}


@pytest.fixture
def site_with_facebook_down(example_site, noon):
    states, incidents, notices = facebook_outage(example_site, noon)
    incidents += past_incidents(60, noon, ["website", "x"])
    days, latency = history(example_site, noon)
    return build_snapshot(example_site, states, incidents, notices, noon, days=days, latency=latency,
                          api_url="https://api.beacon.test")


def test_all_eight_endpoints_are_rendered_and_match_the_schema(site_with_facebook_down):
    # WHEN the page with an outage, maintenance and 60 past incidents is rendered
    docs = documents(site_with_facebook_down)
    # THEN every Statuspage endpoint is there and valid
    assert set(docs) == set(ENDPOINTS)
    for endpoint, document in docs.items():
        errors = sorted(validator_for(endpoint).iter_errors(document), key=str)
        assert not errors, f"{endpoint}: {errors[0].message} at {list(errors[0].absolute_path)}"


def test_the_quiet_example_site_matches_the_schema_too(example_site, noon):
    docs = documents(build_snapshot(example_site, {}, [], [], noon))
    for endpoint, document in docs.items():
        validator_for(endpoint).validate(document)
    assert docs["status.json"]["status"] == {"indicator": "none", "description": "All Systems Operational"}


def test_the_schema_rejects_what_strict_clients_reject(site_with_facebook_down):
    # GIVEN a valid summary
    summary = documents(site_with_facebook_down)["summary.json"]
    validator = validator_for("summary.json")
    validator.validate(summary)
    # WHEN a timestamp loses its milliseconds, or a status leaves the vocabulary, or a field goes missing
    broken = [
        {**summary, "page": {**summary["page"], "updated_at": "2026-05-01T12:00:00Z"}},
        {**summary, "status": {"indicator": "bad", "description": "x"}},
        {**summary, "components": [{k: v for k, v in summary["components"][0].items() if k != "showcase"}]},
    ]
    # THEN the schema says no
    for document in broken:
        assert not validator.is_valid(document)


def test_summary_carries_the_outage_in_statuspage_words(site_with_facebook_down):
    summary = documents(site_with_facebook_down)["summary.json"]
    assert summary["status"] == {"indicator": "critical", "description": "Major System Outage"}
    components = {c["id"]: c for c in summary["components"]}
    assert components["facebook"]["status"] == "major_outage"
    assert components["hubspot"]["status"] == "under_maintenance"
    assert components["social"]["group"] is True and "facebook" in components["social"]["components"]
    assert components["facebook"]["group_id"] == "social"
    assert [i["name"] for i in summary["incidents"]] == ["Facebook Messenger is down"]
    assert {m["status"] for m in summary["scheduled_maintenances"]} == {"in_progress", "scheduled"}
    assert summary["page"]["url"] == "https://status.lumencoffee.com"
    assert summary["page"]["time_zone"] == "Europe/Berlin"


def test_lists_are_capped_and_split_as_statuspage_splits_them(site_with_facebook_down):
    docs = documents(site_with_facebook_down)
    assert len(docs["incidents.json"]["incidents"]) == 50
    assert [i["status"] for i in docs["incidents/unresolved.json"]["incidents"]] == ["identified"]
    assert [m["name"] for m in docs["scheduled-maintenances/upcoming.json"]["scheduled_maintenances"]] == [
        "Shop software upgrade"]
    assert [m["name"] for m in docs["scheduled-maintenances/active.json"]["scheduled_maintenances"]] == [
        "HubSpot inbox migration"]
    newest_first = [i["started_at"] for i in docs["incidents.json"]["incidents"]]
    assert newest_first == sorted(newest_first, reverse=True)


def test_a_cancelled_maintenance_is_reported_in_statuspage_vocabulary(example_site, noon):
    cancelled = incident("01cancel00000001", "Cancelled work", noon - timedelta(days=1), kind=IncidentKind.MAINTENANCE,
                         statuses=("scheduled", MaintenanceStatus.CANCELLED.value), impact=Impact.MAINTENANCE,
                         scheduled=(noon + timedelta(days=1), noon + timedelta(days=1, hours=1)))
    docs = documents(build_snapshot(example_site, {}, [cancelled], [], noon))
    (maintenance,) = docs["scheduled-maintenances.json"]["scheduled_maintenances"]
    assert maintenance["status"] == "completed"
    validator_for("scheduled-maintenances.json").validate(docs["scheduled-maintenances.json"])


def test_json_keeps_hostile_text_as_plain_text(example_site, noon):
    # GIVEN an incident whose title and body are hostile
    hostile = incident("01hostile0000001", HOSTILE_TITLE, noon - timedelta(minutes=5), body=HOSTILE_BODY,
                       components={"x": ComponentStatus.MAJOR_OUTAGE})
    summary = documents(build_snapshot(example_site, {}, [hostile], [], noon))["summary.json"]
    # THEN JSON carries exactly what was written: it is data, and whoever shows it escapes it
    assert summary["incidents"][0]["name"] == HOSTILE_TITLE
    assert summary["incidents"][0]["incident_updates"][0]["body"] == HOSTILE_BODY


def test_json_does_not_change_when_only_the_clock_moves(site_with_facebook_down, example_site, noon):
    # GIVEN the same records read a minute apart
    states, incidents, notices = facebook_outage(example_site, noon)
    later = build_snapshot(example_site, states, incidents + past_incidents(60, noon, ["website", "x"]), notices,
                           noon + timedelta(minutes=1), days=history(example_site, noon)[0],
                           latency=history(example_site, noon)[1], api_url="https://api.beacon.test")
    # THEN every JSON file is byte-identical, so a scheduled publish uploads none of them
    assert documents(later) == documents(site_with_facebook_down)


def test_timestamps_have_milliseconds_and_a_zone(site_with_facebook_down):
    text = json.dumps(documents(site_with_facebook_down)["summary.json"])
    assert '"updated_at": "2026-' in text
    assert all(stamp.endswith("Z") and len(stamp) == 24 for stamp in _timestamps(json.loads(text)))


def _timestamps(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key.endswith("_at") or key in ("scheduled_for", "scheduled_until"):
                if value is not None:
                    yield value
            else:
                yield from _timestamps(value)
    elif isinstance(node, list):
        for value in node:
            yield from _timestamps(value)


def test_a_maintenance_whose_window_began_is_reported_in_progress(example_site, noon):
    # GIVEN a maintenance still marked scheduled, but its window started ten minutes ago
    started = incident("01window00000001", "Window open", noon - timedelta(days=1), kind=IncidentKind.MAINTENANCE,
                       statuses=("scheduled",), impact=Impact.MAINTENANCE, components={"website": ComponentStatus.UNDER_MAINTENANCE},
                       scheduled=(noon - timedelta(minutes=10), noon + timedelta(hours=1)))
    docs = documents(build_snapshot(example_site, {}, [started], [], noon))
    # THEN it is active, in progress, and its component is under maintenance
    (active,) = docs["scheduled-maintenances/active.json"]["scheduled_maintenances"]
    assert active["status"] == "in_progress"
    assert docs["scheduled-maintenances/upcoming.json"]["scheduled_maintenances"] == []
    assert {c["id"]: c["status"] for c in docs["components.json"]["components"]}["website"] == "under_maintenance"
    validator_for("scheduled-maintenances/active.json").validate(docs["scheduled-maintenances/active.json"])
