"""The whole path against the emulator: sign up by email and SMS, confirm, notify, unsubscribe.

Sent email and SMS are read back from the emulator's outbox; queue messages are handed to
the app's own ``deliver_notifications`` handler by the local stack's poller.
"""
from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import boto3
import pytest

from chalicelib.settings import reset_settings

from tools.local.outbox import read_outbox
from chalicelib.model import NotificationEvent, NotificationKind

CONFIRMED_EMAIL = "ana@example.com"
UNCONFIRMED_EMAIL = "ben@example.com"
CONFIRMED_PHONE = "+4915112345678"


@pytest.fixture
def notifier(aws, monkeypatch):
    """The app against the emulator, sending as fast as the emulator takes it."""
    monkeypatch.setenv("EMAIL_SEND_RATE", "100000")
    monkeypatch.setenv("SMS_SEND_RATE", "100000")
    reset_settings()
    from chalice.test import Client

    from chalicelib.notify import service

    service.reset()
    import app as app_module

    with Client(app_module.app) as client:
        yield client, app_module.app
    service.reset()


def drain(app, aws) -> int:
    """Hand every queued message to the app's queue handlers until the notification queue is empty."""
    from tools.local.runner import QueuePoller

    poller = QueuePoller(app, boto3.client("sqs"), {"deliver_notifications": aws.environment["NOTIFY_QUEUE_URL"],
                                                   "publish_requested": aws.environment["PUBLISH_QUEUE_URL"]})
    handed = 0
    for _ in range(50):
        got = poller.poll_once(wait_seconds=0)
        handed += got
        if not got:
            return handed
    raise AssertionError("the queue never emptied")


def post_json(client, path: str, body: dict, **headers):
    return client.http.post(path, headers={"Content-Type": "application/json", "Accept": "application/json",
                                           **headers}, body=json.dumps(body))


def local_path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def emails_to(endpoint, address):
    return [m for m in read_outbox(endpoint).emails if address in m.to]


def sms_to(endpoint, number):
    return [m for m in read_outbox(endpoint).sms if m.phone_number == number]


def record(table, noon, kind=NotificationKind.INCIDENT_OPENED, components=("facebook",)):
    from chalicelib.notify.events import record_notification

    event = NotificationEvent(id=f"n{kind.value.replace('.', '')}{len(components)}", kind=kind, created_at=noon,
                              title="Facebook Messenger is down", body="We are **on it**.",
                              incident_id="inc1", component_ids=list(components))
    record_notification(table, event)
    return event


def test_sign_up_confirm_notify_unsubscribe(notifier, aws, table, moto_endpoint, noon):
    client, app = notifier
    # GIVEN an email subscriber who confirms by link, one who never confirms, and a phone confirmed by code
    answer = post_json(client, "/subscribers", {"email": CONFIRMED_EMAIL, "components": ["facebook"]},
                       Origin="https://status.lumencoffee.com")
    assert answer.status_code == 202
    assert answer.headers["Access-Control-Allow-Origin"] == "https://status.lumencoffee.com"
    assert post_json(client, "/subscribers", {"email": UNCONFIRMED_EMAIL}).status_code == 202
    confirmation = emails_to(moto_endpoint, CONFIRMED_EMAIL)[0]
    link = re.search(r"https://api\.beacon\.test(/subscribers/confirm/\S+)", confirmation.text).group(1)
    page = client.http.get(link, headers={"Accept": "text/html"})
    assert page.status_code == 200 and b"Confirm subscription" in page.body
    assert client.http.post(link, headers={"Content-Type": "application/x-www-form-urlencoded"},
                            body="").status_code == 200

    form = client.http.post("/subscribers", headers={"Content-Type": "application/x-www-form-urlencoded"},
                            body="phone=%2B49+151+12345678&components=facebook&components=instagram")
    assert form.status_code == 202 and form.headers["Content-Type"].startswith("text/html")
    verify_path = re.search(rb'action="https://api\.beacon\.test(/subscribers/verify/\w+)"', form.body).group(1)
    code = re.search(r"code: (\d{6})", sms_to(moto_endpoint, CONFIRMED_PHONE)[0].message).group(1)
    confirmed = client.http.post(verify_path.decode(), headers={"Content-Type": "application/x-www-form-urlencoded"},
                                 body=f"code={code}")
    assert confirmed.status_code == 200 and b"You are subscribed" in confirmed.body

    # WHEN an incident about Facebook is recorded and the queue is drained
    record(table, noon)
    drain(app, aws)

    # THEN each confirmed subscriber has exactly one message, the unconfirmed one only its confirmation
    notifications = [m for m in emails_to(moto_endpoint, CONFIRMED_EMAIL) if "Facebook" in m.subject]
    assert len(notifications) == 1
    assert len(emails_to(moto_endpoint, UNCONFIRMED_EMAIL)) == 1
    texts = sms_to(moto_endpoint, CONFIRMED_PHONE)
    assert len(texts) == 2 and "Facebook Messenger is down" in texts[1].message
    assert "https://status.lumencoffee.com/incidents/inc1.html" in texts[1].message
    mail = notifications[0]
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "https://status.lumencoffee.com/incidents/inc1.html" in mail.text and "<strong>on it</strong>" in mail.html

    # WHEN the one-click unsubscribe URL is fetched, then POSTed as a mail client does
    unsubscribe = local_path(mail.headers["List-Unsubscribe"].strip("<>"))
    assert client.http.get(unsubscribe).status_code == 200
    from chalicelib.store.subscribers import SubscriberStore
    from chalicelib.notify.model import Channel

    store = SubscriberStore(table)
    assert store.find(Channel.EMAIL, CONFIRMED_EMAIL).status.value == "confirmed"
    done = client.http.post(unsubscribe, headers={"Content-Type": "application/x-www-form-urlencoded"},
                            body="List-Unsubscribe=One-Click")

    # THEN it answers 200, and the next notification goes to the phone only
    assert done.status_code == 200
    assert store.find(Channel.EMAIL, CONFIRMED_EMAIL).status.value == "unsubscribed"
    record(table, noon, NotificationKind.INCIDENT_RESOLVED)
    drain(app, aws)
    assert len([m for m in emails_to(moto_endpoint, CONFIRMED_EMAIL) if "Facebook" in m.subject]) == 1
    assert len(sms_to(moto_endpoint, CONFIRMED_PHONE)) == 3
