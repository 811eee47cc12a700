"""Webhook subscribers against a real HTTP server on 127.0.0.1: signed, retried, disabled when failing."""
from __future__ import annotations

import hashlib
import hmac
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
import yaml

from chalicelib.api.auth import create_key
from chalicelib.model import NotificationEvent, NotificationKind
from chalicelib.notify import service, worker
from chalicelib.config import get_site, reset_site
from chalicelib.settings import reset_settings
from chalicelib.store.notifications import NotificationStore
from tests.conftest import EXAMPLE_SITE
from tests.servers import serving


class Receiver(ThreadingHTTPServer):
    """/ok answers 200; /flaky 503 twice, then 200; /gone always 410. Every request is kept."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[tuple[str, dict, bytes]] = []
        self.flaky_left = 2

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, dict(self.headers), body))
        status = 200
        if self.path == "/gone":
            status = 410
        elif self.path == "/flaky" and self.server.flaky_left:
            self.server.flaky_left -= 1
            status = 503
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    with serving(Receiver()) as server:
        yield server


@pytest.fixture
def admin(aws, table, noon):
    from chalice.test import Client

    import app as app_module

    reset_settings()
    reset_site()
    service.reset()
    secret, _ = create_key(table, name="ops", scope="admin", created_by="test", now=noon)
    with Client(app_module.app) as client:
        yield client, {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    service.reset()


def notify(aws, table, noon, n: int) -> None:
    """Record notification ``n`` and run the consumer over what it queues, without real sleeps."""
    event = NotificationEvent(id=f"nw{n}", kind=NotificationKind.INCIDENT_OPENED, created_at=noon,
                              title="Hootsuite is down", component_ids=["hootsuite"], incident_id="inc9")
    NotificationStore(table).save(event)
    deliverer = worker.deliverer(sleep=lambda seconds: None)
    deliverer.handle([{"messageId": "fan", "body": json.dumps({"type": "notification", "notification_id": event.id})}])
    sqs, url = boto3.client("sqs"), aws.environment["NOTIFY_QUEUE_URL"]
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        records = [{"messageId": m["MessageId"], "body": m["Body"]} for m in messages]
        deliverer.handle(records)
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


@pytest.fixture
def site_allowing_local_webhooks(admin, tmp_path, monkeypatch):
    """The example site, with webhooks allowed to reach this machine (the receiver is on 127.0.0.1)."""
    data = yaml.safe_load(EXAMPLE_SITE.read_text())
    data["subscriptions"] = {**data.get("subscriptions", {}), "webhooks_allow_private_targets": True}
    path = tmp_path / "site.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    monkeypatch.setenv("SITE_CONFIG", str(path))
    # Loaded now: the test client sets .chalice/config.json's SITE_CONFIG while it handles a request.
    reset_settings()
    reset_site()
    assert get_site().subscriptions.webhooks_allow_private_targets
    return admin


def test_a_webhook_to_a_private_address_is_refused_by_default(admin, receiver):
    client, headers = admin
    refused = client.http.post("/webhooks", headers=headers, body=json.dumps(
        {"url": receiver.url + "/ok", "label": "local"}))
    assert refused.status_code == 422
    assert "loopback" in json.loads(refused.body)["message"]


def test_webhooks_are_signed_retried_and_disabled_after_repeated_failures(site_allowing_local_webhooks, aws, table,
                                                                           noon, receiver):
    client, headers = site_allowing_local_webhooks
    # GIVEN three webhooks: a healthy one, one that fails twice first, one that is gone
    secrets = {}
    for path in ("/ok", "/flaky", "/gone"):
        created = client.http.post("/webhooks", headers=headers, body=json.dumps(
            {"url": receiver.url + path, "label": f"scheduler {path}", "components": ["hootsuite"]}))
        assert created.status_code == 201, created.body
        secrets[path] = json.loads(created.body)["secret"]

    # WHEN five notifications go out
    for n in range(5):
        notify(aws, table, noon, n)

    # THEN the healthy and flaky ones got each notification once, signed over timestamp and body
    delivered = [(path, json.loads(body)["notification_id"]) for path, _, body in receiver.received]
    assert sorted(n for p, n in delivered if p == "/ok") == [f"nw{n}" for n in range(5)]
    assert sorted(n for p, n in delivered if p == "/flaky") == ["nw0", "nw0", "nw0", "nw1", "nw2", "nw3", "nw4"]
    for path, sent_headers, body in receiver.received:
        timestamp, signature = (part.split("=", 1)[1] for part in sent_headers["X-Beacon-Signature"].split(","))
        expected = hmac.new(secrets[path].encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(signature, expected)
    payload = json.loads(receiver.received[0][2])
    assert payload["event"] == "incident.opened" and payload["components"][0]["id"] == "hootsuite"
    # AND the gone one was tried once per notification, then disabled and shown as such
    assert [p for p, _ in delivered].count("/gone") == 5
    hooks = {h["destination"]: h for h in json.loads(client.http.get("/webhooks", headers=headers).body)["data"]}
    gone = hooks[receiver.url + "/gone"]
    assert gone["status"] == "disabled" and gone["webhook_failures"] == 5 and "HTTP 410" in gone["last_error"]
    assert hooks[receiver.url + "/flaky"]["status"] == "confirmed"
    notify(aws, table, noon, 5)
    assert [p for p, _, _ in receiver.received].count("/gone") == 5
