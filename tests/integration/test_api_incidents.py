"""Incidents through the real API: open, update, edit, resolve, postmortem; the page follows."""

from tests.integration.api_server import api, api_server  # noqa: F401


def page_json(aws_env, path="api/v2/summary.json"):
    import boto3
    import json
    from chalicelib.settings import get_settings

    body = boto3.client("s3").get_object(Bucket=get_settings().bucket_name, Key=path)["Body"].read()
    return json.loads(body)


def test_a_marketer_opens_updates_and_resolves_an_incident_on_facebook(api, aws):
    # WHEN a marketer opens an incident on Facebook
    opened = api.send("POST", "/incidents", {
        "name": "Facebook Messenger is down", "body": "We cannot read messages sent on Facebook.",
        "impact": "major", "components": {"facebook": "major_outage"}, "notify": True})
    assert opened.status_code == 201, opened.text
    incident = opened.json()
    assert incident["status"] == "investigating" and incident["version"] == 1
    assert opened.headers["ETag"] == '"1"'
    # THEN the page shows it at once
    summary = page_json(aws)
    assert [i["name"] for i in summary["incidents"]] == ["Facebook Messenger is down"]
    assert {c["id"]: c["status"] for c in summary["components"]}["facebook"] == "major_outage"

    # WHEN two updates follow, each with the version it read
    first = api.send("POST", f"/incidents/{incident['id']}/updates",
                     {"status": "identified", "body": "Meta confirms an outage.", "version": 1})
    assert first.status_code == 201, first.text
    second = api.send("POST", f"/incidents/{incident['id']}/updates",
                      {"status": "monitoring", "body": "Messages arrive again.", "notify": True},
                      headers={"If-Match": first.headers["ETag"]})
    assert second.status_code == 201, second.text
    assert second.json()["monitoring_at"] is not None
    assert [u["status"] for u in second.json()["incident_updates"]] == ["monitoring", "identified", "investigating"]

    # AND it is resolved
    resolved = api.send("POST", f"/incidents/{incident['id']}/resolve",
                        {"body": "Facebook works again.", "notify": True})
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved" and resolved.json()["resolved_at"]
    # THEN Facebook returns to what its probes say, and the page says so
    summary = page_json(aws)
    assert summary["incidents"] == []
    assert {c["id"]: c["status"] for c in summary["components"]}["facebook"] == "operational"
    # AND subscribers are to hear of the opening, the second update and the resolution
    events = api.get("/notifications").json()["data"]
    assert [e["kind"] for e in events] == ["incident.resolved", "incident.updated", "incident.opened"]


def test_two_marketers_editing_at_once_lose_no_update(api):
    # GIVEN an incident both marketers read at version 1
    incident = api.send("POST", "/incidents", {"name": "X is slow", "body": "Posts load slowly."}).json()
    # WHEN the first posts an update with version 1
    assert api.send("POST", f"/incidents/{incident['id']}/updates",
                    {"status": "identified", "body": "First.", "version": 1}).status_code == 201
    # THEN the second, still at version 1, gets 409 and a message telling what to do
    stale = api.send("POST", f"/incidents/{incident['id']}/updates",
                     {"status": "monitoring", "body": "Second."}, headers={"If-Match": '"1"'})
    assert stale.status_code == 409
    assert stale.json()["error"] == "version_conflict" and "read it again" in stale.json()["message"]
    assert len(api.get(f"/incidents/{incident['id']}").json()["incident_updates"]) == 2


def test_an_update_text_is_edited_and_a_postmortem_added(api):
    incident = api.send("POST", "/incidents", {"name": "Help centre down", "body": "Tpyo.",
                                               "components": {"help-centre": "partial_outage"}}).json()
    update_id = incident["incident_updates"][0]["id"]
    edited = api.send("PATCH", f"/incidents/{incident['id']}/updates/{update_id}", {"body": "Typo fixed."})
    assert edited.status_code == 200 and edited.json()["incident_updates"][0]["body"] == "Typo fixed."
    early = api.send("PUT", f"/incidents/{incident['id']}/postmortem", {"body": "What happened."})
    assert early.status_code == 422 and "resolve it before" in early.json()["message"]
    api.send("POST", f"/incidents/{incident['id']}/resolve", {})
    done = api.send("PUT", f"/incidents/{incident['id']}/postmortem", {"body": "What happened."})
    assert done.status_code == 200 and done.json()["postmortem"] == "What happened."


def test_incidents_are_listed_by_status_and_paged(api):
    ids = [api.send("POST", "/incidents", {"name": f"Incident {n}", "body": "b"}).json()["id"] for n in range(3)]
    api.send("POST", f"/incidents/{ids[0]}/resolve", {})
    open_ones = api.get("/incidents", params={"status": "open"}).json()["data"]
    assert [i["id"] for i in open_ones] == sorted(ids[1:], reverse=True)
    first = api.get("/incidents", params={"limit": 2}).json()
    assert len(first["data"]) == 2 and first["next_cursor"]
    rest = api.get("/incidents", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [i["id"] for i in first["data"] + rest["data"]] == sorted(ids, reverse=True)
    assert rest["next_cursor"] is None


def test_unknown_incident_is_404(api):
    response = api.get("/incidents/0000000000zzzzzz")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "message": "no incident with id '0000000000zzzzzz'"}


def test_an_update_that_loses_a_race_is_reapplied_not_lost(table, example_site):
    from chalicelib.incidents import IncidentService
    from chalicelib.model import IncidentStatus, Impact, utcnow

    # GIVEN an open incident and two marketers' services
    ana = IncidentService(table, example_site, utcnow)
    ben = IncidentService(table, example_site, utcnow)
    incident = ana.open_incident(name="Instagram DMs delayed", body="b", impact=Impact.MINOR, components={},
                                 notify=False, actor="ana")
    # AND Ben's update lands between Ana's read and Ana's save (injected around Ana's real store)
    real_save = ana.states.save_incident
    raced = []

    def save_after_ben(record):
        if not raced:
            raced.append(ben.post_update(incident.id, status=IncidentStatus.IDENTIFIED, body="Ben's update",
                                         notify=False, actor="ben"))
        return real_save(record)

    ana.states.save_incident = save_after_ben
    # WHEN Ana posts without a version
    saved = ana.post_update(incident.id, status=IncidentStatus.MONITORING, body="Ana's update", notify=False,
                            actor="ana")
    # THEN both updates are there, Ana's applied on top of Ben's
    assert [u.body for u in saved.updates] == ["b", "Ben's update", "Ana's update"]
    assert saved.version == 3


def test_a_name_pasted_with_controls_is_cleaned_and_can_be_corrected(api, aws):
    # WHEN an incident is opened with a name pasted from a document: a soft line break, a NUL, an override
    opened = api.send("POST", "/incidents", {"name": "Checkout\u000bis slow\u0000\u202e",
                                             "body": "Card\u000cpayments."})
    assert opened.status_code == 201, opened.text
    incident = opened.json()
    # THEN it is stored as what was meant, and the page's feed is readable XML
    assert incident["name"] == "Checkout is slow"
    assert incident["incident_updates"][0]["body"] == "Card\npayments."
    import xml.etree.ElementTree as ElementTree

    import boto3
    from chalicelib.settings import get_settings

    feed = boto3.client("s3").get_object(Bucket=get_settings().bucket_name, Key="history.atom")["Body"].read()
    ElementTree.fromstring(feed)
    # WHEN the marketer corrects the name with the version they read
    renamed = api.send("PATCH", f"/incidents/{incident['id']}", {"name": "Checkout is slow for card payments",
                                                                 "version": 1})
    # THEN it is renamed, the page shows the new name, and the edit is audited
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Checkout is slow for card payments" and renamed.json()["version"] == 2
    assert [i["name"] for i in page_json(aws)["incidents"]] == ["Checkout is slow for card payments"]
    audit = api.get("/audit", secret=api.admin_secret).json()["data"]
    assert audit[0]["action"] == "incident.rename" and audit[0]["target"] == f"incident/{incident['id']}"
    # AND a second marketer still at version 1 is told to read it again
    stale = api.send("PATCH", f"/incidents/{incident['id']}", {"name": "Checkout is down", "version": 1})
    assert stale.status_code == 409 and stale.json()["error"] == "version_conflict"


def test_a_maintenance_is_not_renamed_as_an_incident(api):
    # GIVEN a scheduled maintenance
    scheduled = api.send("POST", "/maintenance", {
        "name": "Shop upgrade", "scheduled_for": "2030-01-01T22:00:00Z", "scheduled_until": "2030-01-01T23:00:00Z",
        "components": ["website"]}).json()
    # WHEN it is renamed through the incidents route  THEN it is not found there (PATCH /maintenance/{id} renames it)
    response = api.send("PATCH", f"/incidents/{scheduled['id']}", {"name": "Shop upgrade (extended)"})
    assert response.status_code == 404
    assert api.send("PATCH", f"/maintenance/{scheduled['id']}", {"name": "Shop\u000bupgrade"}).json()["name"] == \
        "Shop upgrade"


def test_publish_answers_which_incident_page_it_withheld_and_publishes_the_rest(api, aws, tmp_path, monkeypatch):
    import shutil

    from chalicelib import settings
    from tests.conftest import ROOT

    # GIVEN two incidents, and templates with a fault that only the 'Checkout' incident's page meets
    api.send("POST", "/incidents", {"name": "Facebook is down", "body": "Use email."})
    checkout = api.send("POST", "/incidents", {"name": "Checkout is slow", "body": "Card payments fail."}).json()
    copy = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", copy)
    page = copy / "page/incident.html"
    page.write_text(page.read_text().replace(
        "{% block content %}\n", "{% block content %}\n{% if 'Checkout' in i.name %}<a href=\"runbook.html\">r</a>"
        "{% endif %}\n", 1))
    monkeypatch.setenv("TEMPLATES_DIR", str(copy))
    settings.reset_settings()
    # WHEN a marketer publishes
    answer = api.send("POST", "/publish")
    settings.reset_settings()
    # THEN the answer names the withheld page and why, and the rest of the page went out
    assert answer.status_code == 200, answer.text
    # (the page in each language: the example site is English and German)
    assert answer.json()["withheld"] == [{
        "key": f"{language}incidents/{checkout['id']}.html", "incident_id": checkout["id"],
        "problems": ["links to 'runbook.html', which this render does not contain"]} for language in ("", "de/")]
    assert {i["name"] for i in page_json(aws)["incidents"]} == {"Facebook is down", "Checkout is slow"}


def test_opening_an_incident_reads_the_table_by_key_only(api, aws):
    from collections import Counter

    from chalicelib import aws as aws_clients
    from chalicelib.site.service import publish_site

    publish_site()  # GIVEN a published page (its first publish reads everything)
    operations: Counter[str] = Counter()

    def count(model=None, **_):
        operations[model.name] += 1

    client = aws_clients.get_table().meta.client  # the one this process's API uses
    client.meta.events.register("after-call.dynamodb", count)
    try:
        # WHEN a marketer opens an incident (save, audit, the publish of what it changed)
        opened = api.send("POST", "/incidents", {"name": "Instagram is down", "body": "Write to us by email.",
                                                 "impact": "major", "components": {"instagram": "major_outage"}})
    finally:
        client.meta.events.unregister("after-call.dynamodb", count)
    assert opened.status_code == 201, opened.text
    # THEN nothing was queried or scanned, whose cost would follow the size of the history
    assert operations["BatchGetItem"] and not {"Query", "Scan"} & set(operations), operations
