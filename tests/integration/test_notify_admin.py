"""SES feedback, carrier opt-outs, and the admin routes: list, erase, export, import, stats."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import boto3
import pytest

from chalicelib.api.auth import create_key
from chalicelib.model import NotificationEvent, NotificationKind, utcnow
from chalicelib.notify import service, worker
from chalicelib.notify.model import Channel, Consent, Subscriber, SubscriberStatus
from chalicelib.settings import reset_settings
from chalicelib.store.notifications import NotificationStore
from chalicelib.store.subscribers import SubscriberStore
from tests.integration.api_server import api, api_server  # noqa: F401 (fixtures)

NOON = datetime(2026, 5, 1, 12, tzinfo=timezone.utc)


@pytest.fixture
def admin(aws, table):
    from chalice.test import Client

    import app as app_module

    reset_settings()
    service.reset()
    secret, _ = create_key(table, name="ops", scope="admin", created_by="test", now=NOON)
    with Client(app_module.app) as client:
        yield client, app_module.app, {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}


def confirmed(store, n, channel=Channel.EMAIL, destination=None):
    return store.create(Subscriber(id=f"s{n:03d}", channel=channel, destination=destination or f"p{n}@example.com",
                                   status=SubscriberStatus.CONFIRMED, consent=Consent.IMPORTED, created_at=NOON,
                                   updated_at=NOON, manage_token=f"t{n}"))


def sns_event(message: dict) -> dict:
    return {"Records": [{"EventSource": "aws:sns", "Sns": {
        "Type": "Notification", "MessageId": "m1", "TopicArn": "arn:aws:sns:us-east-1:123456789012:feedback",
        "Subject": None, "Message": json.dumps(message), "Timestamp": "2026-05-01T12:00:00.000Z",
        "MessageAttributes": {}}}]}


def test_bounces_and_complaints_suppress_and_transient_bounces_are_counted(admin, table):
    _, app, _ = admin
    store = SubscriberStore(table)
    for n in range(4):
        confirmed(store, n)
    handler = app.handler_map["ses_feedback"]
    # WHEN SES reports a permanent bounce, a complaint (event-publishing shape) and a transient bounce
    handler(sns_event({"notificationType": "Bounce", "bounce": {"bounceType": "Permanent",
                       "bouncedRecipients": [{"emailAddress": "p0@example.com"}]}}), None)
    handler(sns_event({"eventType": "Complaint", "complaint": {
        "complainedRecipients": [{"emailAddress": "P1 <p1@EXAMPLE.com>"}]}}), None)
    for _ in range(2):
        handler(sns_event({"notificationType": "Bounce", "bounce": {"bounceType": "Transient",
                           "bouncedRecipients": [{"emailAddress": "p2@example.com"}]}}), None)
    # THEN the first two are suppressed with the reason, the third is counted and still receives
    assert store.get("s000").suppressed_reason == "bounce" and not store.get("s000").receives
    assert store.get("s001").suppressed_reason == "complaint"
    assert store.get("s002").receives and store.count_transient_bounce("p2@example.com", utcnow()) == 3
    assert store.counts()["email"] == {"pending": 0, "confirmed": 2, "unsubscribed": 0, "suppressed": 2,
                                       "disabled": 0}


def test_upkeep_suppresses_numbers_that_replied_stop_and_erases_stale_sign_ups(admin, table):
    from tools.local.runner import LambdaContext, scheduled_event

    _, app, _ = admin
    store = SubscriberStore(table)
    # GIVEN a number on SNS's opted-out list, a good one, and sign-ups never confirmed, old and new
    opted_out = boto3.client("sns").list_phone_numbers_opted_out()["phoneNumbers"][0]
    confirmed(store, 1, Channel.SMS, opted_out)
    confirmed(store, 2, Channel.SMS, "+4915112345678")
    for n, created in ((3, NOON), (4, utcnow())):
        store.create(Subscriber(id=f"s{n:03d}", channel=Channel.EMAIL, destination=f"p{n}@example.com",
                                created_at=created, updated_at=created, manage_token="t"))
    # WHEN the hourly upkeep runs
    done = app.handler_map["subscriber_upkeep"](scheduled_event("subscriber_upkeep", NOON),
                                                LambdaContext("subscriber_upkeep"))
    # THEN the opted-out number is suppressed and the stale sign-up erased, address and all
    assert done == {"suppressed": 1, "purged": 1}
    assert store.get("s001").suppressed_reason == "sms-opt-out" and store.get("s002").receives
    assert store.get("s003") is None and store.find(Channel.EMAIL, "p3@example.com") is None
    assert store.get("s004").status is SubscriberStatus.PENDING


def test_admins_list_erase_export_and_import(admin, table):
    client, _, headers = admin
    store = SubscriberStore(table)
    for n in range(5):
        confirmed(store, n)
    # WHEN an admin pages through the list
    first = json.loads(client.http.get("/subscribers?limit=3", headers=headers).body)
    rest = json.loads(client.http.get(f"/subscribers?limit=3&cursor={first['next_cursor']}", headers=headers).body)
    assert len(first["data"]) == 3 and len(rest["data"]) == 2 and first["counts"]["email"]["confirmed"] == 5
    # AND erases one: its address is gone from the table, the counts follow
    assert client.http.delete("/subscribers/s001", headers=headers).status_code == 204
    assert store.find(Channel.EMAIL, "p1@example.com") is None
    assert not any("p1@example.com" in json.dumps(i.data) for pk in ("SUBSCRIBER", "SUBSCRIBER_DESTINATION")
                   for i in table.query_all(pk))
    # AND imports rows consented elsewhere, one of them bad, one already there
    rows = [{"email": "new@example.com", "components": ["facebook"]}, {"phone": "+4915112345600"},
            {"email": "not-an-address"}, {"email": "p2@example.com"}]
    answer = json.loads(client.http.post("/subscribers/import", headers=headers,
                                         body=json.dumps({"rows": rows})).body)
    assert answer["imported"] == 2 and answer["existing"] == 1
    assert answer["problems"][0]["line"] == 4 and answer["problems"][0]["problem"].startswith("email:")
    imported = store.find(Channel.EMAIL, "new@example.com")
    assert imported.receives and imported.consent is Consent.IMPORTED
    # AND exports everyone as CSV
    export = client.http.get("/subscribers/export", headers=headers)
    lines = export.body.decode().splitlines()
    assert export.headers["Content-Type"].startswith("text/csv") and lines[0].startswith("id,channel,destination")
    assert len(lines) == 1 + 6 and any("new@example.com" in line and "facebook" in line for line in lines)
    # AND a key without the admin scope may not
    marketer, _ = create_key(table, name="mia", scope="marketer", created_by="test", now=NOON)
    denied = client.http.get("/subscribers", headers={"Authorization": f"Bearer {marketer}"})
    assert denied.status_code == 403


def test_notification_stats_count_per_channel(admin, aws, table):
    client, _, headers = admin
    store = SubscriberStore(table)
    confirmed(store, 1)
    confirmed(store, 2, Channel.SMS, "+4915112345678")
    unsubscribed = confirmed(store, 3)
    event = NotificationEvent(id="nstats", kind=NotificationKind.INCIDENT_OPENED, created_at=NOON, title="Down")
    NotificationStore(table).save(event)
    deliverer = worker.deliverer(sleep=lambda seconds: None)
    deliverer.fan_out("nstats")
    store.save(unsubscribed.replace(status=SubscriberStatus.UNSUBSCRIBED),
               previous=SubscriberStatus.CONFIRMED)     # unsubscribed between fan-out and delivery
    sqs, url = boto3.client("sqs"), aws.environment["NOTIFY_QUEUE_URL"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    deliverer.handle([{"messageId": m["MessageId"], "body": m["Body"]} for m in messages])
    stats = json.loads(client.http.get("/notifications/nstats", headers=headers).body)
    assert stats["channels"]["email"] == {"queued": 2, "sent": 1, "failed": 0, "suppressed": 1}
    assert stats["channels"]["sms"] == {"queued": 1, "sent": 1, "failed": 0, "suppressed": 0}
    assert client.http.get("/notifications/unknown", headers=headers).status_code == 404


def test_beacon_subscribers_import_and_export(api, table, tmp_path, capsys):
    """Through the API served over real HTTP on 127.0.0.1, as ``chalice local`` serves it."""
    from tools.cli import main

    api, key = api.url, api.admin_secret
    # GIVEN a CSV with good rows, a bad one and a duplicate
    source = tmp_path / "list.csv"
    source.write_text("email,phone,components\nana@example.com,,facebook instagram\n,+4915112345678,\n"
                      "nobody,,\nana@example.com,,\n", encoding="utf-8")
    # WHEN it is imported and everything exported
    code = main(["subscribers", "import", str(source), "--api", api, "--key", key])
    out = capsys.readouterr()
    assert main(["subscribers", "export", "--api", api, "--key", key, "-o", str(tmp_path / "out.csv")]) == 0
    # THEN two are imported as consented, the bad line is named, the progress bar was shown
    assert code == 1 and "2 imported, 1 already subscribed, 1 refused" in out.out
    assert f"{source}:4: email:" in out.err and "importing" in out.err
    exported = (tmp_path / "out.csv").read_text().splitlines()
    assert len(exported) == 3 and all(",confirmed," in line and ",imported," in line for line in exported[1:])
    store = SubscriberStore(table)
    assert store.find(Channel.EMAIL, "ana@example.com").components == ["facebook", "instagram"]


@pytest.fixture
def subscribers_a_spreadsheet_would_run(table):
    """A confirmed address whose local part is a formula, a confirmed number (E.164 starts with +),
    a suppressed subscriber whose reason starts with '-', and an unsubscribed one."""
    store = SubscriberStore(table)
    confirmed(store, 1, destination="=1+2@example.com")
    confirmed(store, 2, channel=Channel.SMS, destination="+4915112345678")
    for n, status, reason in ((3, SubscriberStatus.SUPPRESSED, "-complaint"), (4, SubscriberStatus.UNSUBSCRIBED, None)):
        store.create(Subscriber(id=f"s{n:03d}", channel=Channel.EMAIL, destination=f"p{n}@example.com", status=status,
                                suppressed_reason=reason, created_at=NOON, updated_at=NOON, manage_token=f"t{n}"))
    return store


def test_the_csv_export_runs_no_formula_and_imports_back_as_it_is(subscribers_a_spreadsheet_would_run, example_site):
    import csv
    import io

    from chalicelib.notify.transfer import export_csv, import_rows, read_import_csv

    store = subscribers_a_spreadsheet_would_run
    # WHEN everyone is exported
    exported = export_csv(store)
    # THEN no cell starts with a character that makes a spreadsheet run it
    cells = [cell for row in csv.reader(io.StringIO(exported)) for cell in row]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "'=1+2@example.com" in cells and "'+4915112345678" in cells and "'-complaint" in cells
    # AND the export read back by the import gives the confirmed subscribers as they were
    for subscriber in [s for page in store.pages() for s in page]:
        store.erase(subscriber)
    rows, problems = read_import_csv(exported)
    result = import_rows(store, example_site, rows, first_line=2, now=NOON)
    assert result.imported == 2 and [line for line, _ in problems] == [4, 5]
    assert store.find(Channel.EMAIL, "=1+2@example.com") is not None
    assert store.find(Channel.SMS, "+4915112345678") is not None
