"""Notifications: fan-out of 100,000 subscribers, sender overhead per recipient, send rate vs cap.

* Fan-out: 100,000 confirmed subscribers are written to the emulator's table (batch
  writes; setup, not measured), then one notification is fanned out as the queue consumer
  does it: read every subscriber page, plan the batches, enqueue them on SQS. Baseline:
  reading the same pages without planning or enqueueing, in the same run. The emulator
  runs as its own process (moto_server), so its work is not billed to ours; it is still
  far slower per call than DynamoDB and SQS, so the figure is an upper bound.
* Sender CPU per recipient: ``Deliverer.deliver`` with every AWS call stubbed (an
  in-memory table, providers that return at once), process CPU time per recipient.
  Baseline: rendering and encoding the email alone (templates + MIME).
* Send rate: the same stubbed consumer paced by its token bucket (real clock and sleep)
  at a cap of 100 emails per second; achieved rate measured from the provider's side.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from bench.table import Row

ROOT = Path(__file__).resolve().parent.parent
SUBSCRIBERS = 100_000
NOW = datetime(2026, 5, 1, 12, tzinfo=timezone.utc)


def run() -> list[Row]:
    rows = []
    rows += _sender_rows()
    rows += _fan_out_rows()
    return rows


# -- fan-out against the emulator ------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _fan_out_rows() -> list[Row]:
    port = _free_port()
    server = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        _wait_for(endpoint)
        return _fan_out(endpoint)
    finally:
        server.terminate()
        server.wait(timeout=10)


def _wait_for(endpoint: str) -> None:
    import requests

    for _ in range(100):
        try:
            requests.get(endpoint + "/moto-api/", timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError("moto_server did not start")


def _fan_out(endpoint: str) -> list[Row]:
    import boto3

    from chalicelib import aws, config, settings
    from tools.local.provision import provision

    os.environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1", "API_URL": "https://api.bench.test",
                       "EMAIL_SENDER": "status@bench.test", "SITE_CONFIG": str(ROOT / "site.yml")})
    provisioned = provision(boto3.session.Session(), "beacon-bench", email_sender="status@bench.test")
    os.environ.update(provisioned.environment)
    settings.reset_settings()
    config.reset_site()
    aws.reset_clients()

    from chalicelib.model import NotificationEvent, NotificationKind
    from chalicelib.notify import service, worker
    from chalicelib.notify.model import Subscriber
    from chalicelib.notify.planning import FanOutPlanner
    from chalicelib.store.notifications import NotificationStore
    from chalicelib.store.table import _to_item

    event = NotificationEvent(id="nbench", kind=NotificationKind.INCIDENT_OPENED, created_at=NOW,
                              title="Facebook is down", component_ids=["facebook"])
    table = service.table()
    NotificationStore(table).save(event)
    sqs = boto3.client("sqs")

    # 100,000: plan from stored items (parse + select + batch), then enqueue every batch on SQS.
    raw_items = [_subscriber_item(n) for n in range(SUBSCRIBERS)]
    started = time.perf_counter()
    planner = FanOutPlanner(event, config.get_site().subscriptions)
    messages = []
    for first in range(0, SUBSCRIBERS, 1000):
        page = [Subscriber.from_data({**_to_item(raw).data, "version": 1})
                for raw in raw_items[first:first + 1000]]
        messages += planner.add(page)
    messages += planner.finish()
    plan_seconds = time.perf_counter() - started
    # The emulator's SQS slows down with queue depth (each send scans the queue; SQS does not), so
    # the batches go to ten fresh queues of 400 messages each, and the time counts the sends only.
    from chalicelib.notify.senders import NotificationQueue

    bodies = [m.as_json() for m in messages]
    enqueue_seconds = 0.0
    chunk = -(-len(bodies) // 10)
    for round_ in range(10):
        url = sqs.create_queue(QueueName=f"beacon-bench-fanout-{round_}")["QueueUrl"]
        started = time.perf_counter()
        NotificationQueue(sqs, url).send(bodies[round_ * chunk:(round_ + 1) * chunk])
        enqueue_seconds += time.perf_counter() - started
        assert _queued(sqs, url) == len(bodies[round_ * chunk:(round_ + 1) * chunk])

    # The whole consumer path, reading from the emulator's table, at the size it answers in seconds.
    stored = SUBSCRIBERS // 10
    with aws.get_table().batch_writer() as writer:
        for raw in raw_items[:stored]:
            writer.put_item(Item=raw)
    started = time.perf_counter()
    queued = worker.deliverer().fan_out("nbench")
    whole_seconds = time.perf_counter() - started
    assert sum(queued.values()) == sum(planner.counts.values()) // 10, (queued, planner.counts)
    return [
        Row(f"fan-out {SUBSCRIBERS:,}: plan (parse+select+batch, in memory)", plan_seconds, "s", None, ""),
        Row(f"fan-out {SUBSCRIBERS:,}: enqueue {len(messages):,} SQS messages (emulator)", enqueue_seconds, "s",
            None, ""),
        Row(f"fan-out {SUBSCRIBERS:,}: plan + enqueue", plan_seconds + enqueue_seconds, "s", plan_seconds,
            "planning alone"),
        Row(f"fan-out {stored:,} read from the emulator's table + plan + enqueue, per subscriber",
            whole_seconds * 1e6 / stored, "µs", (plan_seconds + enqueue_seconds) * 1e6 / SUBSCRIBERS,
            "plan + enqueue without the table read"),
    ]


def _queued(sqs, url: str) -> int:
    return int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
               ["Attributes"]["ApproximateNumberOfMessages"])


def _subscriber_item(n: int) -> dict:
    channel = "sms" if n % 4 == 0 else "email"
    destination = f"+49151{n:08d}" if channel == "sms" else f"reader{n}@example.com"
    data = {"id": f"s{n:07d}", "channel": channel, "destination": destination,
            "components": [] if n % 3 else ["facebook"], "status": "confirmed", "consent": "imported",
            "created_at": NOW.isoformat(), "updated_at": NOW.isoformat(), "confirmed_at": NOW.isoformat(),
            "unsubscribed_at": None, "suppressed_reason": None, "manage_token": f"token{n:07d}", "label": None,
            "webhook_secret": None, "webhook_failures": 0, "last_error": None}
    return {"pk": "SUBSCRIBER", "sk": data["id"], "data": json.dumps(data, separators=(",", ":")), "version": 1}


# -- the sender with AWS stubbed ----------------------------------------------------------------
class _MemoryTable:
    """Just enough of a boto3 Table resource for the consumer's calls, in memory (no conditions)."""

    def __init__(self):
        self.items: dict[tuple[str, str], dict] = {}

    def get_item(self, Key, ConsistentRead=True):
        found = self.items.get((Key["pk"], Key["sk"]))
        return {"Item": dict(found)} if found else {}

    def put_item(self, Item, ConditionExpression=None):
        self.items[(Item["pk"], Item["sk"])] = dict(Item)

    def delete_item(self, Key, ConditionExpression=None):
        self.items.pop((Key["pk"], Key["sk"]), None)

    def update_item(self, Key, UpdateExpression, ExpressionAttributeNames, ExpressionAttributeValues, **_):
        item = self.items.setdefault((Key["pk"], Key["sk"]), {"pk": Key["pk"], "sk": Key["sk"]})
        adds = UpdateExpression.removeprefix("ADD ").split(" SET ")[0]
        for clause in adds.split(", "):
            name, value = clause.split(" ")
            field = ExpressionAttributeNames[name]
            item[field] = item.get(field, 0) + ExpressionAttributeValues[value]
        return {"Attributes": {k: v for k, v in item.items() if k not in ("pk", "sk")}}


class _Provider:
    def __init__(self):
        self.sent_at: list[float] = []

    def send_raw_email(self, **kwargs):
        self.sent_at.append(time.perf_counter())
        return {"MessageId": "m"}

    def publish(self, **kwargs):
        self.sent_at.append(time.perf_counter())
        return {"MessageId": "m"}

    def check_if_phone_number_is_opted_out(self, **kwargs):
        return {"isOptedOut": False}


def _stubbed_deliverer(rate: float, count: int, channel):
    from chalicelib.config import load_site
    from chalicelib.notify.delivery import Deliverer
    from chalicelib.notify.senders import Senders
    from chalicelib.notify.limits import TokenBucket
    from chalicelib.notify.model import Channel, DeliverMessage
    from chalicelib.notify.senders import EmailSender, NotificationQueue, SmsSender, WebhookSender
    from chalicelib.store.table import Item, Table
    from chalicelib.store.table import _to_raw

    memory = _MemoryTable()
    for n in range(count):
        item = _subscriber_item(n if channel is Channel.SMS else n * 4 + 1)
        data = json.loads(item["data"])
        data["id"] = item["sk"] = f"r{n:06d}"
        data["channel"] = channel.value
        data["destination"] = f"+49151{n:08d}" if channel is Channel.SMS else f"reader{n}@example.com"
        item["data"] = json.dumps(data)
        memory.put_item(item)
    event = {"id": "nstub", "kind": "incident.opened", "created_at": NOW.isoformat(), "title": "Facebook is down",
             "body": "We are **on it**; email us meanwhile.", "component_ids": ["facebook"]}
    memory.put_item(_to_raw(Item("NOTIFICATION", "nstub", event, 1)))
    provider = _Provider()
    buckets = {c: TokenBucket(rate) for c in Channel}
    deliverer = Deliverer(table=Table(memory, clock=lambda: NOW), site=load_site(ROOT / "site.yml"),
                          senders=Senders(EmailSender(provider), SmsSender(provider), WebhookSender(),
                                          NotificationQueue(None, "")),
                          api_url="https://api.bench.test", email_source="status@bench.test",
                          templates_dir=ROOT / "templates", buckets=buckets, clock=lambda: NOW)
    message = DeliverMessage(type="deliver", notification_id="nstub", channel=channel,
                             subscriber_ids=[f"r{n:06d}" for n in range(count)])
    return deliverer, message, provider


def _sender_rows() -> list[Row]:
    from chalicelib.config import load_site
    from chalicelib.model import NotificationEvent, NotificationKind
    from chalicelib.notify import content
    from chalicelib.notify.model import Channel

    count = 2000
    rows = []
    for channel in (Channel.EMAIL, Channel.SMS):
        deliverer, message, _ = _stubbed_deliverer(1e9, count, channel)
        started = time.process_time()
        assert deliverer.deliver(message)
        per_recipient = (time.process_time() - started) / count * 1e6
        rows.append((channel, per_recipient))
    site = load_site(ROOT / "site.yml")
    event = NotificationEvent(id="nstub", kind=NotificationKind.INCIDENT_OPENED, created_at=NOW,
                              title="Facebook is down", body="We are **on it**; email us meanwhile.",
                              component_ids=["facebook"])
    links = content.Links("https://p", "https://p/incidents/x.html", "https://a/u", "https://a/m")
    started = time.process_time()
    for n in range(count):
        mail = content.notification_email(event, site, None, links, ROOT / "templates")
        content.raw_email("status@bench.test", site.brand.name, f"reader{n}@example.com", mail,
                          content.unsubscribe_headers(links.unsubscribe_url))
    render_only = (time.process_time() - started) / count * 1e6

    cap = 100.0
    deliverer, message, provider = _stubbed_deliverer(cap, 300, Channel.EMAIL)
    assert deliverer.deliver(message)
    sends = provider.sent_at
    achieved = (len(sends) - 1) / (sends[-1] - sends[0])
    # The stub's clock reads sit a few microseconds after each token; allow that much, no more.
    if achieved > cap * 1.0005:
        raise AssertionError(f"the token bucket let {achieved:.3f}/s through a cap of {cap}/s")
    return [
        Row("sender CPU per email recipient (AWS stubbed)", rows[0][1], "µs", render_only,
            "render + MIME alone"),
        Row("sender CPU per SMS recipient (AWS stubbed)", rows[1][1], "µs", render_only, "email render + MIME"),
        Row("achieved send rate, 300 emails, one consumer", achieved, "/s", cap, "configured cap (≤ 1.00x)"),
        Row("send rate below the cap", (1 - achieved / cap) * 100, "%", 5.0, "allowed shortfall"),
    ]
