"""Slack, Teams, Discord and Telegram subscribers against local servers that check each platform's payload.

Each server answers 400 to a message that breaks the platform's documented shape, as the
platform would, so a wrong shape shows up as a failed delivery.
"""
from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
import yaml

from chalicelib.config import get_site, reset_site
from chalicelib.model import NotificationEvent, NotificationKind
from chalicelib.notify import service, worker
from chalicelib.settings import reset_settings
from chalicelib.store.notifications import NotificationStore
from tests.conftest import EXAMPLE_SITE
from tests.integration.test_notify_webhooks import admin  # noqa: F401  (fixture)
from tests.servers import serving

BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw_"


def slack_problems(body: dict) -> list[str]:
    problems = [] if isinstance(body.get("text"), str) and body["text"] else ["text missing"]
    for attachment in body.get("attachments", []):
        if not str(attachment.get("color", "")).startswith("#"):
            problems.append("attachment colour is not #rrggbb")
        for block in attachment.get("blocks", []):
            if block["type"] == "section" and len(block.get("text", {}).get("text", "")) > 3000:
                problems.append("section text over 3000")
    return problems


def teams_problems(body: dict) -> list[str]:
    if body.get("type") != "message" or len(body.get("attachments", [])) != 1:
        return ["not a message with one attachment"]
    attachment = body["attachments"][0]
    card = attachment.get("content", {})
    if attachment.get("contentType") != "application/vnd.microsoft.card.adaptive" or card.get("type") != "AdaptiveCard":
        return ["not an Adaptive Card"]
    return [] if card.get("body") and card.get("version") else ["card without body or version"]


def discord_problems(body: dict) -> list[str]:
    embeds = body.get("embeds", [])
    if not body.get("content") and not embeds:
        return ["neither content nor embeds"]
    problems = []
    for embed in embeds:
        if not isinstance(embed.get("color"), int):
            problems.append("colour is not an integer")
        if len(embed.get("title", "")) > 256 or len(embed.get("description", "")) > 4096:
            problems.append("embed over its limits")
        if any(len(f["value"]) > 1024 for f in embed.get("fields", [])):
            problems.append("field value over 1024")
    return problems


def telegram_problems(body: dict) -> list[str]:
    problems = [] if body.get("chat_id") and body.get("text") else ["chat_id or text missing"]
    if len(body.get("text", "")) > 4096:
        problems.append("text over 4096")
    return problems


class Platforms(ThreadingHTTPServer):
    """/slack, /teams, /discord (incoming webhooks) and /bot<token>/sendMessage (Telegram); every call is kept."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[tuple[str, dict]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Platforms

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == f"/bot{BOT_TOKEN}/sendMessage":
            platform, problems = "telegram", telegram_problems(body)
        else:
            platform = self.path.strip("/")
            problems = {"slack": slack_problems, "teams": teams_problems, "discord": discord_problems}.get(
                platform, lambda b: ["unknown path"])(body)
        self.server.received.append((platform, body))
        answer = json.dumps({"ok": True, "result": {"message_id": 1}} if not problems
                            else {"ok": False, "description": "; ".join(problems)}).encode()
        self.send_response(400 if problems else (204 if platform == "discord" else 200))
        self.send_header("Content-Length", str(len(answer) if platform != "discord" or problems else 0))
        self.end_headers()
        if platform != "discord" or problems:
            self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def platforms():
    with serving(Platforms()) as server:
        yield server


@pytest.fixture
def site_with_local_chat_platforms(admin, platforms, tmp_path, monkeypatch):  # noqa: F811
    """The example site, with webhooks allowed to reach this machine and Telegram's API on the local server."""
    data = yaml.safe_load(EXAMPLE_SITE.read_text())
    data["subscriptions"] = {**data.get("subscriptions", {}), "webhooks_allow_private_targets": True,
                             "telegram_api_url": platforms.url}
    path = tmp_path / "site.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    monkeypatch.setenv("SITE_CONFIG", str(path))
    reset_settings()
    reset_site()
    assert get_site().subscriptions.telegram_api_url == platforms.url
    return admin


def queued(aws) -> list[dict]:
    sqs, url = boto3.client("sqs"), aws.environment["NOTIFY_QUEUE_URL"]
    records = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        records += [{"messageId": m["MessageId"], "body": m["Body"]} for m in messages]
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return records


def test_chat_subscribers_get_one_message_per_event_in_their_platform_shape(site_with_local_chat_platforms, aws,
                                                                            table, noon, platforms):
    client, headers = site_with_local_chat_platforms
    # GIVEN one subscriber of each chat platform, added through the API
    added = {}
    for kind, fields in (("slack", {"url": platforms.url + "/slack"}), ("teams", {"url": platforms.url + "/teams"}),
                         ("discord", {"url": platforms.url + "/discord"}),
                         ("telegram", {"chat_id": "-1001234567890", "bot_token": BOT_TOKEN})):
        answer = client.http.post(f"/channels/{kind}", headers=headers, body=json.dumps(
            {"label": f"ops {kind}", "components": ["hootsuite"], **fields}))
        assert answer.status_code == 201, answer.body
        added[kind] = json.loads(answer.body)
    # AND the answers show no secret
    assert added["slack"]["destination"].endswith("/***") and "secret" not in json.dumps(added["slack"]).lower() \
        or added["slack"]["secret"] is None
    assert BOT_TOKEN not in json.dumps(added["telegram"])

    # WHEN an incident on a component they follow is opened, fanned out and delivered
    event = NotificationEvent(id="nc1", kind=NotificationKind.INCIDENT_OPENED, created_at=noon,
                              title="Hootsuite is down", body="Scheduled posts are not going out.",
                              component_ids=["hootsuite"], incident_id="inc9")
    NotificationStore(table).save(event)
    deliverer = worker.deliverer(sleep=lambda seconds: None)
    assert deliverer.handle([{"messageId": "fan", "body": json.dumps(
        {"type": "notification", "notification_id": event.id})}]) == []
    batches = queued(aws)
    assert deliverer.handle(batches) == []

    # THEN each platform got exactly one message, in its own shape, naming the incident and its component
    assert sorted(platform for platform, _ in platforms.received) == ["discord", "slack", "teams", "telegram"]
    bodies = dict(platforms.received)
    assert "Hootsuite is down" in bodies["slack"]["text"]
    assert bodies["discord"]["embeds"][0]["url"].endswith("/incidents/inc9.html")
    assert "Hootsuite" in json.dumps(bodies["teams"]) and bodies["telegram"]["chat_id"] == "-1001234567890"
    assert bodies["telegram"]["parse_mode"] == "HTML" and "inc9.html" in bodies["telegram"]["text"]

    # WHEN the same queue messages are delivered again (a redelivery), and the event is fanned out again
    deliverer.handle([{"messageId": "fan-again", "body": json.dumps(
        {"type": "notification", "notification_id": event.id})}])
    deliverer.handle([{**record, "messageId": record["messageId"] + "-again"} for record in batches])
    # THEN nothing is sent twice, and nothing new was queued
    assert len(platforms.received) == 4 and queued(aws) == []
    stats = service.notification_stats(event.id)
    assert all(stats[kind]["sent"] == 1 for kind in ("slack", "teams", "discord", "telegram"))

    # AND the listing shows them confirmed, with the webhook URLs masked
    listed = {s["channel"]: s for s in json.loads(client.http.get("/channels", headers=headers).body)["data"]}
    assert set(listed) == {"slack", "teams", "discord", "telegram"}
    assert all(s["status"] == "confirmed" for s in listed.values())
    assert "/slack" not in listed["slack"]["destination"]


def test_chat_subscribers_are_refused_bad_destinations(admin, platforms):  # noqa: F811
    client, headers = admin
    # GIVEN the default policy (public targets only)
    # WHEN a Slack webhook on this machine, a plain-http Discord one, a Telegram chat without a token and an unknown kind are added
    private = client.http.post("/channels/slack", headers=headers, body=json.dumps(
        {"label": "x", "url": "https://127.0.0.1/services/T0/B0/x"}))
    plain_http = client.http.post("/channels/discord", headers=headers, body=json.dumps(
        {"label": "x", "url": platforms.url + "/discord"}))
    no_token = client.http.post("/channels/telegram", headers=headers, body=json.dumps(
        {"label": "x", "chat_id": "-100123"}))
    unknown = client.http.post("/channels/email", headers=headers, body=json.dumps({"label": "x", "url": "x"}))
    # THEN each is refused, naming the field
    assert private.status_code == 422 and "loopback" in json.loads(private.body)["message"]
    assert plain_http.status_code == 422 and "https" in json.loads(plain_http.body)["message"]
    assert no_token.status_code == 422 and "bot_token" in json.loads(no_token.body)["message"]
    assert unknown.status_code == 422 and "kind" in json.loads(unknown.body)["message"]
