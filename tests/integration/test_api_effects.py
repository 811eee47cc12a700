"""Component statuses, notices, maintenance and playbooks through the real API, seen on the page."""
import json
from datetime import datetime, timedelta, timezone

import boto3

from tests.integration.api_server import api, api_server  # noqa: F401


def published(key: str) -> str:
    from chalicelib.settings import get_settings

    return boto3.client("s3").get_object(Bucket=get_settings().bucket_name, Key=key)["Body"].read().decode()


def summary():
    return json.loads(published("api/v2/summary.json"))


def statuses():
    return {c["id"]: c["status"] for c in summary()["components"]}


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def test_a_manual_status_wins_over_probes_until_cleared(api, table):
    from chalicelib.model import ComponentState, utcnow
    from chalicelib.store.records import StateStore

    # GIVEN probes say Hootsuite works
    StateStore(table).save_component_state(ComponentState(component_id="hootsuite", updated_at=utcnow()))
    # WHEN a marketer sets it to degraded by hand for an hour
    until = iso(datetime.now(timezone.utc) + timedelta(hours=1))
    response = api.send("PUT", "/components/hootsuite/status", {"status": "degraded_performance", "until": until})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "degraded_performance" and response.json()["source"] == "manual"
    assert statuses()["hootsuite"] == "degraded_performance"
    listed = {c["id"]: c for c in api.get("/components").json()["data"]}
    assert listed["hootsuite"]["source"] == "manual" and listed["facebook"]["source"] == "probe"
    # WHEN it is cleared, THEN the probes decide again
    cleared = api.send("DELETE", "/components/hootsuite/status")
    assert cleared.json()["source"] == "probe" and statuses()["hootsuite"] == "operational"


def test_a_stale_component_version_is_409(api):
    api.send("PUT", "/components/x/status", {"status": "partial_outage"})
    stale = api.send("PUT", "/components/x/status", {"status": "major_outage", "version": 99})
    assert stale.status_code == 409
    assert api.send("PUT", "/components/nope/status", {"status": "major_outage"}).status_code == 404


def test_a_notice_is_shown_while_active(api):
    posted = api.send("POST", "/notices", {
        "title": "We answer on SMS and email today",
        "body": "Our Facebook inbox is down; text +49 30 120045670.", "notify": True})
    assert posted.status_code == 201, posted.text
    assert "We answer on SMS and email today" in published("index.html")
    later = api.send("POST", "/notices", {"title": "Holiday hours",
                                          "starts_at": iso(datetime.now(timezone.utc) + timedelta(days=3))})
    assert later.json()["active"] is False
    assert [n["title"] for n in api.get("/notices", params={"active": "true"}).json()["data"]] == [
        "We answer on SMS and email today"]
    assert api.send("DELETE", f"/notices/{posted.json()['id']}").status_code == 204
    assert "We answer on SMS and email today" not in published("index.html")
    assert [e["kind"] for e in api.get("/notifications").json()["data"]] == ["notice.posted"]


def test_maintenance_starts_and_completes_by_itself(api, table, example_site):
    from chalicelib.maintenance import MaintenanceService

    # GIVEN a maintenance of the help centre scheduled for the next two minutes, with notifications
    start = datetime.now(timezone.utc) + timedelta(minutes=1)
    response = api.send("POST", "/maintenance", {
        "name": "Help centre upgrade", "body": "Order tracking pauses for a few minutes.",
        "scheduled_for": iso(start), "scheduled_until": iso(start + timedelta(minutes=1)),
        "components": ["help-centre"], "notify": True})
    assert response.status_code == 201, response.text
    maintenance_id = response.json()["id"]
    # WHEN the scheduled step runs inside the window (its clock moved, nothing waits)
    clock = [start + timedelta(seconds=1)]
    service = MaintenanceService(table, example_site, lambda: clock[0])
    assert [m.status for m in service.advance_maintenance()] == ["in_progress"]
    from chalicelib.site.service import publish_site

    publish_site(clock[0])
    # THEN the component is under maintenance on the page
    assert statuses()["help-centre"] == "under_maintenance"
    # WHEN the window ends, THEN it completes and the component is back
    clock[0] = start + timedelta(minutes=1, seconds=1)
    assert [m.status for m in service.advance_maintenance()] == ["completed"]
    publish_site(clock[0])
    assert statuses()["help-centre"] == "operational"
    got = api.get(f"/maintenance/{maintenance_id}").json()
    assert [u["status"] for u in got["incident_updates"]] == ["completed", "in_progress", "scheduled"]
    kinds = [e["kind"] for e in api.get("/notifications").json()["data"]]
    assert kinds == ["maintenance.completed", "maintenance.started", "maintenance.scheduled"]


def test_maintenance_is_updated_and_cancelled(api):
    start = datetime.now(timezone.utc) + timedelta(days=1)
    created = api.send("POST", "/maintenance", {
        "name": "Shop upgrade", "scheduled_for": iso(start), "scheduled_until": iso(start + timedelta(hours=1)),
        "components": ["website"]}).json()
    moved = api.send("PATCH", f"/maintenance/{created['id']}", {
        "scheduled_until": iso(start + timedelta(hours=2)), "body": "We need an extra hour.", "version": 1})
    assert moved.status_code == 200, moved.text
    backwards = api.send("PATCH", f"/maintenance/{created['id']}", {"scheduled_until": iso(start)})
    assert backwards.status_code == 422 and "after scheduled_for" in backwards.json()["message"]
    cancelled = api.send("POST", f"/maintenance/{created['id']}/cancel", {"version": 2})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert api.get("/maintenance", params={"status": "open"}).json()["data"] == []


def test_a_playbook_opens_its_incident_updates_it_when_triggered_again_and_resolves_it(api):
    # WHEN the Facebook playbook is triggered with an expected time
    first = api.send("POST", "/playbooks/facebook-outage/trigger", {"variables": {"eta": "14:00 CET"}})
    assert first.status_code == 200, first.text
    incident = first.json()
    assert incident["playbook_id"] == "facebook-outage" and "Next update: 14:00 CET." in \
        incident["incident_updates"][0]["body"]
    assert statuses()["facebook"] == "major_outage"
    # AND again, later
    again = api.send("POST", "/playbooks/facebook-outage/trigger", {"variables": {"eta": "16:00 CET"}}).json()
    # THEN the same incident got an update instead of a second incident opening
    assert again["id"] == incident["id"] and len(again["incident_updates"]) == 2
    assert len(api.get("/incidents", params={"status": "open"}).json()["data"]) == 1
    assert api.get("/playbooks/facebook-outage").json()["open_incident_id"] == incident["id"]
    # AND the notification carries the prepared SMS and email texts and the contacts to put first
    event = api.get("/notifications").json()["data"][0]
    assert "Update 16:00 CET." in event["sms_text"] and event["contacts_first"] == ["email", "sms", "phone"]
    # WHEN it is resolved, THEN the prepared "we are back" text closes it
    resolved = api.send("POST", "/playbooks/facebook-outage/resolve", {}).json()
    assert resolved["resolved"] and resolved["incident"]["status"] == "resolved"
    assert "work again" in resolved["incident"]["incident_updates"][0]["body"]
    assert statuses()["facebook"] == "operational"
    assert api.send("POST", "/playbooks/facebook-outage/resolve", {}).json() == {"resolved": False, "incident": None}


def test_a_playbook_refuses_unknown_variables_and_ids(api):
    unknown = api.send("POST", "/playbooks/x-outage/trigger", {"variables": {"when": "soon"}})
    assert unknown.status_code == 422 and "has no variable when; it takes: eta" in unknown.json()["message"]
    assert api.send("POST", "/playbooks/myspace-outage/trigger", {}).status_code == 404
    assert {p["id"] for p in api.get("/playbooks").json()["data"]} == {
        "facebook-outage", "instagram-outage", "whatsapp-outage", "x-outage", "linkedin-outage"}


def test_the_every_minute_function_advances_maintenance_and_publishes(api, table):
    import app as beacon_app
    from chalice.app import ScheduledEventConfig

    # GIVEN the app's schedule, and a maintenance whose window has begun
    source = next(s for s in beacon_app.app.event_sources
                  if isinstance(s, ScheduledEventConfig) and s.name == "advance_maintenance")
    assert source.schedule_expression.to_string() == "rate(1 minute)"
    now = datetime.now(timezone.utc)
    api.send("POST", "/maintenance", {"name": "Support inbox move", "scheduled_for": iso(now - timedelta(seconds=5)),
                                      "scheduled_until": iso(now + timedelta(hours=1)),
                                      "components": ["support-inbox"]})
    # WHEN the scheduled function runs
    from tools.local.runner import LambdaContext, scheduled_event

    handler = beacon_app.app.handler_map["advance_maintenance"]
    assert handler(scheduled_event("advance_maintenance", now), LambdaContext("advance_maintenance")) == {"moved": 1}
    # AND the publish it asked for is handled from the publish queue
    import boto3

    from tools.local.runner import QueuePoller
    from chalicelib.settings import get_settings

    poller = QueuePoller(beacon_app.app, boto3.client("sqs"), {"publish_requested": get_settings().publish_queue_url})
    assert poller.poll_once(wait_seconds=1) == 1
    # THEN the maintenance is in progress on the page
    assert [m["status"] for m in summary()["scheduled_maintenances"]] == ["in_progress"]
    assert statuses()["support-inbox"] == "under_maintenance"


def test_a_maintenance_completed_early_by_hand_frees_its_components(api):
    now = datetime.now(timezone.utc)
    created = api.send("POST", "/maintenance", {
        "name": "Shop upgrade", "scheduled_for": iso(now - timedelta(minutes=1)),
        "scheduled_until": iso(now + timedelta(hours=1)), "components": ["website"]}).json()
    assert statuses()["website"] == "under_maintenance"
    done = api.send("PATCH", f"/maintenance/{created['id']}", {"status": "completed", "body": "Done early."})
    assert done.status_code == 200 and done.json()["status"] == "completed"
    assert statuses()["website"] == "operational"


def test_a_notice_is_edited_with_its_version(api):
    notice = api.send("POST", "/notices", {"title": "Holiday hours", "body": "Closed on the 25th."}).json()
    edited = api.send("PATCH", f"/notices/{notice['id']}", {"body": "Closed on the 25th and 26th.", "version": 1})
    assert edited.status_code == 200 and edited.json()["version"] == 2
    stale = api.send("PATCH", f"/notices/{notice['id']}", {"title": "Holidays"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 409
    backwards = api.send("PATCH", f"/notices/{notice['id']}", {
        "starts_at": "2026-12-26T00:00:00Z", "ends_at": "2026-12-25T00:00:00Z"})
    assert backwards.status_code == 422 and "ends_at: must be after starts_at" in backwards.json()["message"]
