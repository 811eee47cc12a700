"""Fault injection around the real emulator-backed clients: the end state is still exactly one
message per confirmed recipient and none to anyone else.

Faults: SES throttling on a share of calls (and one address throttled past every in-handler
retry), SES refusing the whole account (sender not verified, sending paused), SNS errors, a
consumer that dies after sending part of a batch, and every message delivered again after
the work is done. SQS records are built by hand, each with its own
messageId, from the messages the fan-out really put on the queue.
"""
from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from chalicelib.settings import reset_settings
from botocore.exceptions import ClientError

from tools.local.outbox import read_outbox
from chalicelib.model import NotificationEvent, NotificationKind
from chalicelib.notify import service, worker
from chalicelib.notify.delivery import LEASE
from chalicelib.notify.senders import Senders
from chalicelib.notify.model import Channel, Consent, Subscriber, SubscriberStatus
from chalicelib.notify.senders import EmailSender, NotificationQueue, SmsSender, WebhookSender
from chalicelib.observability import metrics, operation
from chalicelib.store.notifications import NotificationStore
from chalicelib.store.subscribers import SubscriberStore
from tests.integration.signup_support import metric_total

SLOW_ADDRESS = "slow@example.com"
FLAKY_NUMBER = "+4915112340003"


class ConsumerDied(BaseException):
    """Stands for Lambda killing the container: not an Exception, so nothing in the app catches it."""


class Clock:
    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now


class FlakySes:
    """The real SES client, throttled on a share of calls, one address throttled 6 times first."""

    def __init__(self, real, share: float, seed: int = 7):
        self.real = real
        self.random = random.Random(seed)
        self.share = share
        self.slow_left = 6
        self.die_after: int | None = None
        self.sent = 0

    def send_raw_email(self, **kwargs):
        if self.die_after is not None and self.sent >= self.die_after:
            self.die_after = None
            raise ConsumerDied()
        if kwargs["Destinations"] == [SLOW_ADDRESS] and self.slow_left:
            self.slow_left -= 1
            raise _error("Throttling", "Maximum sending rate exceeded.")
        if self.random.random() < self.share:
            raise _error("Throttling", "Maximum sending rate exceeded.")
        self.sent += 1
        return self.real.send_raw_email(**kwargs)


class FlakySns:
    def __init__(self, real, share: float, seed: int = 11):
        self.real = real
        self.random = random.Random(seed)
        self.share = share
        self.flaky_left = 5

    def check_if_phone_number_is_opted_out(self, **kwargs):
        return self.real.check_if_phone_number_is_opted_out(**kwargs)

    def publish(self, **kwargs):
        if kwargs["PhoneNumber"] == FLAKY_NUMBER and self.flaky_left:
            self.flaky_left -= 1
            raise _error("InternalError", "Internal error")
        if self.random.random() < self.share:
            raise _error("Throttling", "Rate exceeded")
        return self.real.publish(**kwargs)


def _error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "Send")


_subscriber_numbers = itertools.count(1)


def subscriber(store, channel, destination, status=SubscriberStatus.CONFIRMED, components=()):
    n = next(_subscriber_numbers)
    now = datetime(2026, 5, 1, tzinfo=timezone.utc)
    return store.create(Subscriber(id=f"s{n:05d}", channel=channel, destination=destination,
                                   components=list(components), status=status, consent=Consent.IMPORTED,
                                   created_at=now, updated_at=now, manage_token=f"token{n}"))


@pytest.fixture
def audience(aws, table, monkeypatch):
    """Confirmed email and SMS subscribers, and some who must hear nothing."""
    monkeypatch.setenv("EMAIL_SEND_RATE", "100000")
    monkeypatch.setenv("SMS_SEND_RATE", "100000")
    reset_settings()
    service.reset()
    store = SubscriberStore(table)
    expected_emails = [f"reader{i}@example.com" for i in range(40)] + [SLOW_ADDRESS]
    expected_sms = [f"+49151123400{i:02d}" for i in range(1, 13)]
    for address in expected_emails:
        subscriber(store, Channel.EMAIL, address)
    for number in expected_sms:
        subscriber(store, Channel.SMS, number)
    silent = {
        "pending@example.com": SubscriberStatus.PENDING,
        "left@example.com": SubscriberStatus.UNSUBSCRIBED,
        "bounced@example.com": SubscriberStatus.SUPPRESSED,
    }
    for address, status in silent.items():
        subscriber(store, Channel.EMAIL, address, status)
    subscriber(store, Channel.EMAIL, "other-component@example.com", components=["linkedin"])
    subscriber(store, Channel.SMS, "+4915112345699")          # opted out at the carrier (STOP)
    yield expected_emails, expected_sms, [*silent, "other-component@example.com"], ["+4915112345699"]
    service.reset()


def queued_records(aws) -> list[dict]:
    sqs = boto3.client("sqs")
    url = aws.environment["NOTIFY_QUEUE_URL"]
    records = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not got:
            return records
        for message in got:
            records.append({"messageId": f"m{len(records)}", "body": message["Body"],
                            "receiptHandle": message["ReceiptHandle"]})
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_faults_end_with_exactly_one_message_per_confirmed_recipient(aws, table, audience, moto_endpoint, noon):
    expected_emails, expected_sms, silent_emails, silent_numbers = audience
    # GIVEN an incident about Facebook, SES throttling 30 % of calls, SNS failing 20 %, and a consumer
    # that dies after its fifth email
    event = NotificationEvent(id="nfaults", kind=NotificationKind.INCIDENT_OPENED, created_at=noon,
                              title="Facebook is down", body="Use email meanwhile.", component_ids=["facebook"])
    NotificationStore(table).save(event)
    clock = Clock(noon)
    ses = FlakySes(boto3.client("ses"), share=0.3)
    sns = FlakySns(boto3.client("sns"), share=0.2)
    senders = Senders(email=EmailSender(ses), sms=SmsSender(sns), webhook=WebhookSender(),
                      queue=NotificationQueue(boto3.client("sqs"), aws.environment["NOTIFY_QUEUE_URL"]))

    def consumer():
        return worker.deliverer(clock=clock, sleep=lambda seconds: None, with_senders=senders)

    assert consumer().handle([{"messageId": "fan", "body": '{"type":"notification","notification_id":"nfaults"}'}]
                             ) == []
    # A second delivery of the event's message fans out nothing more.
    assert consumer().handle([{"messageId": "fan", "body": '{"type":"notification","notification_id":"nfaults"}'}]
                             ) == []
    records = queued_records(aws)
    assert len(records) == 3    # two email batches of at most 25, one SMS batch

    # WHEN the first consumer dies mid-batch
    ses.die_after = 5
    with pytest.raises(ConsumerDied):
        consumer().handle(records)
    # AND every message is redelivered until none is reported failed (the clock passes the lease each time)
    failed = [r["messageId"] for r in records]
    for _ in range(10):
        clock.now += LEASE + timedelta(minutes=5)
        failed = consumer().handle([r for r in records if r["messageId"] in failed])
        if not failed:
            break
    assert failed == []
    # AND then every message is delivered once more, as SQS may do
    assert consumer().handle(records) == []

    # THEN every confirmed recipient has exactly one message, and nobody else has any
    outbox = read_outbox(moto_endpoint)
    emails = [address for mail in outbox.emails for address in mail.to]
    numbers = [sms.phone_number for sms in outbox.sms]
    assert sorted(emails) == sorted(expected_emails)
    assert sorted(numbers) == sorted(expected_sms)
    assert not set(silent_emails) & set(emails) and not set(silent_numbers) & set(numbers)
    # AND the stats add up; the opted-out number is now suppressed for good
    stats = service.notification_stats("nfaults")
    assert stats["email"] == {"queued": 41, "sent": 41, "failed": 0, "suppressed": 0}
    assert stats["sms"] == {"queued": 13, "sent": 12, "failed": 0, "suppressed": 1}
    assert SubscriberStore(table).find(Channel.SMS, "+4915112345699").status is SubscriberStatus.SUPPRESSED


def test_a_permanent_failure_is_recorded_and_not_retried(aws, table, audience, moto_endpoint, noon):
    # GIVEN SES that rejects one address for good (the sandbox refusing an unverified recipient)
    class RejectingSes:
        def __init__(self, real):
            self.real, self.calls = real, 0

        def send_raw_email(self, **kwargs):
            if kwargs["Destinations"] == ["reader3@example.com"]:
                self.calls += 1
                raise _error("MessageRejected", "Email address is not verified. The following identities failed "
                                                "the check in region US-EAST-1: reader3@example.com")
            return self.real.send_raw_email(**kwargs)

    ses = RejectingSes(boto3.client("ses"))
    event = NotificationEvent(id="nperm", kind=NotificationKind.INCIDENT_UPDATED, created_at=noon,
                              title="Still working on it", component_ids=["facebook"])
    NotificationStore(table).save(event)
    senders = Senders(email=EmailSender(ses), sms=SmsSender(boto3.client("sns")), webhook=WebhookSender(),
                      queue=NotificationQueue(boto3.client("sqs"), aws.environment["NOTIFY_QUEUE_URL"]))
    deliverer = worker.deliverer(clock=lambda: noon, sleep=lambda seconds: None, with_senders=senders)

    # WHEN the update is fanned out and delivered twice
    deliverer.handle([{"messageId": "fan", "body": '{"type":"notification","notification_id":"nperm"}'}])
    records = queued_records(aws)
    assert deliverer.handle(records) == []
    assert deliverer.handle(records) == []

    # THEN the rejection was tried once, counted as failed, and updates go by email only (no SMS)
    assert ses.calls == 1
    stats = service.notification_stats("nperm")
    assert stats["email"]["failed"] == 1 and stats["email"]["sent"] == 40
    assert stats["sms"]["queued"] == 0 and read_outbox(moto_endpoint).sms == []


def test_a_consumer_near_its_time_limit_hands_messages_back_unsent(aws, table, audience, moto_endpoint, noon):
    # GIVEN queued batches and a consumer with less than 15 s of its time limit left
    NotificationStore(table).save(NotificationEvent(id="nlate", kind=NotificationKind.INCIDENT_OPENED,
                                                    created_at=noon, title="Down"))
    deliverer = worker.deliverer(clock=lambda: noon, sleep=lambda seconds: None)
    deliverer.handle([{"messageId": "fan", "body": '{"type":"notification","notification_id":"nlate"}'}])
    records = queued_records(aws)
    # WHEN it handles them
    failed = deliverer.handle(records, remaining_ms=lambda: 10_000)
    # THEN every message is reported for redelivery and nothing was sent or claimed
    assert sorted(failed) == sorted(r["messageId"] for r in records)
    assert read_outbox(moto_endpoint).emails == [] and table.query_all("DELIVERY#nlate") == []


def test_a_message_of_unknown_type_is_reported_so_it_reaches_the_dead_letter_queue(aws, table, audience):
    deliverer = worker.deliverer(sleep=lambda seconds: None)
    assert deliverer.handle([{"messageId": "x", "body": '{"type":"postcard"}'},
                             {"messageId": "y", "body": "not json"}]) == ["x", "y"]


class PausedSes:
    """The real SES client behind an account whose sending AWS has paused, until ``resume()``."""

    def __init__(self, real):
        self.real, self.paused, self.calls = real, True, 0

    def send_raw_email(self, **kwargs):
        self.calls += 1
        if self.paused:
            raise _error("AccountSendingPausedException", "Email sending is disabled for this account.")
        return self.real.send_raw_email(**kwargs)


@pytest.fixture
def sender_not_verified(aws):
    """SES no longer accepts the sender identity: every send is rejected for the account, not the address."""
    ses = boto3.client("ses")
    ses.delete_identity(Identity="status@beacon.test")
    yield ses
    ses.verify_email_identity(EmailAddress="status@beacon.test")


@pytest.mark.parametrize("refusal", ["sender identity not verified", "account sending paused"])
def test_ses_refusing_the_account_fails_no_recipient_and_the_batch_waits_for_redelivery(
        aws, table, audience, moto_endpoint, noon, monkeypatch, capsys, refusal, request):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    # GIVEN an update for email subscribers, and SES refusing the account (a real rejection by the
    # emulator for an unverified sender, or AWS's AccountSendingPausedException)
    if refusal == "sender identity not verified":
        ses = request.getfixturevalue("sender_not_verified")
        resume = lambda: ses.verify_email_identity(EmailAddress="status@beacon.test")  # noqa: E731
    else:
        ses = PausedSes(boto3.client("ses"))
        resume = lambda: setattr(ses, "paused", False)  # noqa: E731
    NotificationStore(table).save(NotificationEvent(id="npause", kind=NotificationKind.INCIDENT_UPDATED,
                                                    created_at=noon, title="Still down", component_ids=["facebook"]))
    senders = Senders(email=EmailSender(ses), sms=SmsSender(boto3.client("sns")), webhook=WebhookSender(),
                      queue=NotificationQueue(boto3.client("sqs"), aws.environment["NOTIFY_QUEUE_URL"]))
    deliverer = worker.deliverer(clock=lambda: noon, sleep=lambda seconds: None, with_senders=senders)
    deliverer.handle([{"messageId": "fan", "body": '{"type":"notification","notification_id":"npause"}'}])
    records = queued_records(aws)

    metrics.clear_metrics()     # what earlier tests counted without flushing

    # WHEN the batches are delivered while the account is refused
    with operation("DeliverNotifications"):
        failed = deliverer.handle(records)

    # THEN every batch is handed back to SQS, no recipient is failed or claimed, and the refusal is counted
    assert sorted(failed) == sorted(r["messageId"] for r in records)
    assert service.notification_stats("npause")["email"] == {"queued": 41, "sent": 0, "failed": 0, "suppressed": 0}
    assert [item for item in table.query_all("DELIVERY#npause") if item.data["state"] == "sending"] == []
    assert metric_total(capsys.readouterr().out, "EmailAccountRefused") == len(records)
    # AND once SES accepts the account again, the redelivery sends each recipient one message
    resume()
    assert deliverer.handle(records) == []
    assert service.notification_stats("npause")["email"]["sent"] == 41
    sent = [address for mail in read_outbox(moto_endpoint).emails for address in mail.to]
    assert len(sent) == len(set(sent)) == 41
