"""The local chat receiver and the outbox: Beacon's own channels deliver to it, the outbox reads them back."""
from __future__ import annotations

import json
import socket

import boto3
import pytest
import requests
import yaml

from chalicelib.config import SiteConfigError, load_site
from chalicelib.model import NotificationEvent, NotificationKind
from chalicelib.notify import service, worker
from chalicelib.settings import get_settings
from chalicelib.store.notifications import NotificationStore
from tests.conftest import EXAMPLE_SITE, _forget_caches
from tests.integration.test_notify_chat import queued
from tests.servers import serving
from tools.local import startup
from tools.local.chat import ChatReceiver
from tools.local.outbox import format_text, read_outbox
from tools.local.stack import write_local_site
from tools.local.static import PageServer


@pytest.fixture
def chat_receiver():
    with serving(ChatReceiver(0)) as server:
        yield server


@pytest.fixture
def local_site_with_seeded_chat_subscribers(aws, chat_receiver, tmp_path, monkeypatch):
    """The example site as the local stack runs it (its derived copy), and the stack's chat subscribers seeded."""
    monkeypatch.setenv("SITE_CONFIG", str(write_local_site(EXAMPLE_SITE, tmp_path, chat_receiver.url)))
    monkeypatch.setenv("CHAT_PORT", str(chat_receiver.server_address[1]))
    _forget_caches()
    service.reset()
    startup.seed_chat_subscribers(None)
    yield chat_receiver
    service.reset()


def deliver_incident(aws, table, noon) -> None:
    event = NotificationEvent(id="lc1", kind=NotificationKind.INCIDENT_OPENED, created_at=noon,
                              title="Hootsuite is down", body="Scheduled posts are not going out.",
                              component_ids=["hootsuite"], incident_id="inc9")
    NotificationStore(table).save(event)
    deliverer = worker.deliverer(sleep=lambda seconds: None)
    assert deliverer.handle([{"messageId": "fan", "body": json.dumps(
        {"type": "notification", "notification_id": event.id})}]) == []
    assert deliverer.handle(queued(aws)) == []


def test_every_chat_kind_and_the_webhook_reach_the_outbox_readably(local_site_with_seeded_chat_subscribers, aws,
                                                                   table, noon, moto_endpoint):
    receiver = local_site_with_seeded_chat_subscribers
    # GIVEN the stack's seeding ran a second time on the same data (a second `make run`)
    startup.seed_chat_subscribers(None)

    # WHEN an incident on Hootsuite is fanned out and delivered by the real channels
    deliver_incident(aws, table, noon)

    # THEN the outbox lists one message per kind, each read as its platform shows it
    outbox = read_outbox(moto_endpoint, receiver.url)
    assert outbox.chat_problem == ""
    by_platform = {chat.platform: chat for chat in outbox.chat}
    assert sorted(by_platform) == ["discord", "slack", "teams", "telegram", "webhook"]
    assert len(outbox.chat) == 5
    for platform, chat in by_platform.items():
        assert "Hootsuite is down" in chat.title, platform
        assert chat.link.endswith("/incidents/inc9.html"), platform
        assert "Hootsuite" in chat.components, platform
        assert chat.status, platform
    assert by_platform["telegram"].target == "chat -1000000000001"
    assert by_platform["slack"].target.startswith("/slack/")
    assert by_platform["webhook"].raw["notification_id"] == "lc1"
    webhook = [m for m in receiver.snapshot() if m["platform"] == "webhook"][0]
    assert webhook["headers"]["X-Beacon-Signature"].startswith("t=")
    # AND the text outbox prints them
    text = format_text(outbox)
    assert text.startswith("0 email(s), 0 SMS, 5 chat/webhook message(s)")
    assert "TELEGRAM to chat -1000000000001" in text and "Link: " in text

    # AND the page server's /_outbox shows them, with the raw JSON
    settings = get_settings()
    page = PageServer(("127.0.0.1", 0), boto3.client("s3"), settings.bucket_name, moto_endpoint,
                      settings.templates_dir, receiver.url)
    with serving(page):
        html = requests.get(f"http://127.0.0.1:{page.server_address[1]}/_outbox", timeout=5).text
    assert "Chat and webhooks" in html and html.count("Raw JSON") == 5 and "Hootsuite is down" in html


def test_the_outbox_says_so_when_the_chat_receiver_is_not_running(aws, moto_endpoint):
    # GIVEN no chat receiver on a port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    # WHEN the outbox is read
    outbox = read_outbox(moto_endpoint, closed, timeout=2)
    # THEN email and SMS are still there to read, and the text names the receiver that did not answer
    assert outbox.chat == [] and closed in outbox.chat_problem
    assert "not reachable" in format_text(outbox)


def test_the_receiver_answers_as_each_platform_answers_success(chat_receiver):
    base = chat_receiver.url
    slack = requests.post(base + "/slack/services/T/B/x", json={"text": "hi"}, timeout=5)
    teams = requests.post(base + "/teams/x", json={"type": "message", "attachments": []}, timeout=5)
    discord = requests.post(base + "/discord/api/webhooks/1/x", json={"content": "hi"}, timeout=5)
    telegram = requests.post(base + "/bot1:abc/sendMessage", json={"chat_id": "-100", "text": "hi"}, timeout=5)
    assert (slack.status_code, slack.text) == (200, "ok")
    assert teams.status_code == 202 and discord.status_code == 204 and discord.content == b""
    assert telegram.json()["ok"] is True and telegram.json()["result"]["chat"]["id"] == -100
    # AND what is not a platform's shape is refused as the platform refuses it
    assert requests.post(base + "/slack/x", data=b"not json", timeout=5).status_code == 400
    refused = requests.post(base + "/bot1:abc/sendMessage", json={"chat_id": "-100"}, timeout=5)
    assert refused.status_code == 400 and refused.json()["ok"] is False
    assert requests.post(base + "/elsewhere", json={}, timeout=5).status_code == 404
    listed = requests.get(base + "/_messages", timeout=5).json()["messages"]
    assert [m["platform"] for m in listed] == ["slack", "teams", "discord", "telegram"]


def test_the_receiver_keeps_only_the_latest_messages():
    receiver = ChatReceiver(0, kept=3)
    with serving(receiver):
        for n in range(5):
            requests.post(f"{receiver.url}/discord/x", json={"content": str(n)}, timeout=5)
    assert [m["body"]["content"] for m in receiver.snapshot()] == ["2", "3", "4"]


def test_the_local_site_file_changes_only_the_keys_the_stack_needs(tmp_path):
    original = EXAMPLE_SITE.read_bytes()
    # WHEN the stack derives its site file, with PROBE_INTERVAL_SECONDS=15
    derived = write_local_site(EXAMPLE_SITE, tmp_path, "http://127.0.0.1:8070", probe_interval=15)
    # THEN the stack's keys are set and everything else is equal
    data, before = yaml.safe_load(derived.read_text()), yaml.safe_load(original)
    subscriptions = data["subscriptions"]
    # (webhooks may reach this machine's receivers, and no other private address)
    assert subscriptions.pop("webhooks_allowed_private_networks") == ["127.0.0.1/32"]
    assert subscriptions.pop("telegram_api_url") == "http://127.0.0.1:8070"
    # (probes run from a second location that must agree, on 15-second slots)
    probes = data["probe_settings"]
    assert (probes.pop("locations"), probes.pop("quorum"), probes.pop("interval_seconds")) == (["home", "second"], 2, 15)
    assert data == before
    # AND it is a valid site, and the original is untouched
    assert derived.parent == tmp_path and EXAMPLE_SITE.read_bytes() == original
    assert load_site(derived).subscriptions.telegram_api_url == "http://127.0.0.1:8070"
    assert load_site(derived).subscriptions.webhooks_allow_private_targets is False


def test_a_broken_site_file_is_refused_under_its_own_name(tmp_path):
    broken = tmp_path / "mine.yml"
    broken.write_text(EXAMPLE_SITE.read_text() + "\nbrand: {name: again}\n")
    (tmp_path / "out").mkdir()
    with pytest.raises(SiteConfigError) as caught:
        write_local_site(broken, tmp_path / "out", "http://127.0.0.1:8070")
    assert "mine.yml" in str(caught.value) and "duplicate key" in str(caught.value)
    assert not (tmp_path / "out" / "mine.yml").exists()



def test_webhooks_reach_the_allowed_private_network_and_no_other():
    from chalicelib.notify.senders import Permanent, WebhookSender

    sender = WebhookSender(allowed_networks=("127.0.0.1/32",))
    # GIVEN only 127.0.0.1/32 allowed THEN a receiver there is accepted
    sender.check("http://127.0.0.1:8070/slack/x")
    # AND another private address is still refused, with the setting to change named
    with pytest.raises(Permanent, match="webhooks_allowed_private_networks"):
        sender.check("http://10.1.2.3/hook")
    with pytest.raises(Permanent):
        WebhookSender().check("http://127.0.0.1:8070/slack/x")
