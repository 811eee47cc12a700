"""Fan-out planning, the send-rate token bucket, destinations, webhook signatures, the policy."""
from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timezone

import msgspec
import pytest

from chalicelib.config import SiteConfigError, parse_site
from chalicelib.model import NotificationEvent, NotificationKind
from chalicelib.notify.destinations import InvalidDestination, check_webhook_url, normalise_email, normalise_phone
from chalicelib.notify.limits import TokenBucket
from chalicelib.store.windows import TooMany
from chalicelib.notify.model import Channel, Subscriber, SubscriberStatus
from chalicelib.notify.planning import FanOutPlanner
from chalicelib.notify.policy import SubscriptionPolicy
from chalicelib.notify.senders import sign

NOON = datetime(2026, 5, 1, 12, tzinfo=timezone.utc)


def person(n: int, channel=Channel.EMAIL, status=SubscriberStatus.CONFIRMED, components=()):
    return Subscriber(id=f"s{n:06d}", channel=channel, destination=f"p{n}@example.com", components=list(components),
                      status=status, created_at=NOON, updated_at=NOON, manage_token="t")


def event(kind=NotificationKind.INCIDENT_OPENED, components=("facebook",)):
    return NotificationEvent(id="n1", kind=kind, created_at=NOON, title="t", component_ids=list(components))


def test_only_confirmed_subscribers_of_the_affected_components_are_planned():
    # GIVEN subscribers of every state and of other components
    everyone = [person(1), person(2, components=["facebook"]), person(3, components=["linkedin"]),
                person(4, status=SubscriberStatus.PENDING), person(5, status=SubscriberStatus.UNSUBSCRIBED),
                person(6, status=SubscriberStatus.SUPPRESSED), person(7, Channel.SMS), person(8, Channel.WEBHOOK),
                person(9, Channel.WEBHOOK, SubscriberStatus.DISABLED)]
    # WHEN an incident about Facebook is planned
    planner = FanOutPlanner(event(), SubscriptionPolicy())
    batches = planner.add(everyone) + planner.finish()
    # THEN it reaches 1, 2 (email), 7 (SMS) and 8 (webhook), nobody else
    planned = {(b.channel, s) for b in batches for s in b.subscriber_ids}
    assert planned == {(Channel.EMAIL, "s000001"), (Channel.EMAIL, "s000002"), (Channel.SMS, "s000007"),
                       (Channel.WEBHOOK, "s000008")}
    assert planner.counts == {"email": 2, "sms": 1, "webhook": 1, "slack": 0, "teams": 0, "discord": 0, "telegram": 0}


def test_updates_go_by_email_only_and_an_event_without_components_reaches_everyone():
    planner = FanOutPlanner(event(NotificationKind.INCIDENT_UPDATED, components=()), SubscriptionPolicy())
    batches = planner.add([person(1, components=["linkedin"]), person(2, Channel.SMS)]) + planner.finish()
    assert [(b.channel, b.subscriber_ids) for b in batches] == [(Channel.EMAIL, ["s000001"])]


def test_batches_are_full_before_they_are_sent_and_the_rest_goes_at_the_end():
    planner = FanOutPlanner(event(components=()), SubscriptionPolicy(), batch_size={c: 25 for c in Channel})
    full = planner.add(person(n) for n in range(60))
    rest = planner.finish()
    assert [len(b.subscriber_ids) for b in full] == [25, 25] and [len(b.subscriber_ids) for b in rest] == [10]
    assert planner.batches == 3


class FakeTime:
    def __init__(self):
        self.now = 0.0
        self.slept = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds * 1.02        # sleeps overrun a little, as real ones do


def test_the_token_bucket_never_runs_above_its_rate():
    # GIVEN a bucket of 10 per second on a clock whose sleeps overrun by 2 %
    time = FakeTime()
    bucket = TokenBucket(10, clock=time.clock, sleep=time.sleep)
    # WHEN 101 sends acquire it back to back
    for _ in range(101):
        bucket.acquire()
    # THEN 100 intervals took at least 10 s, and at most 2 % longer
    assert 10.0 <= time.now <= 10.2 + 1e-9


def test_the_token_bucket_does_not_bank_idle_time_as_a_burst():
    time = FakeTime()
    bucket = TokenBucket(10, clock=time.clock, sleep=time.sleep)
    bucket.acquire()
    time.now += 60
    bucket.acquire()
    bucket.acquire()
    assert time.slept[-1] == pytest.approx(0.1)


def test_too_many_says_when_to_come_back():
    assert str(TooMany("SMS sign-ups from your address", 7200)) == (
        "too many SMS sign-ups from your address; try again in 2 hour(s)")


def test_phone_numbers_are_normalised_and_limited_to_allowed_countries():
    policy = SubscriptionPolicy(sms_countries=("DE",))
    assert normalise_phone("0151 1234 5678", policy) == "+4915112345678"
    assert normalise_phone("+49 (151) 12345678", policy) == "+4915112345678"
    with pytest.raises(InvalidDestination, match="numbers of DE can subscribe"):
        normalise_phone("+1 415 555 2671", policy)
    with pytest.raises(InvalidDestination, match="phone: not a phone number"):
        normalise_phone("call me", policy)


def test_email_addresses_are_checked_and_normalised():
    assert normalise_email(" Ana@Example.COM ") == "ana@example.com"
    with pytest.raises(InvalidDestination, match="^email: "):
        normalise_email("ana@")


def test_webhook_urls_must_be_absolute_http_without_credentials():
    assert check_webhook_url("https://hooks.example.com/x") == "https://hooks.example.com/x"
    for bad in ("ftp://x", "hooks.example.com", "https://user:pw@hooks.example.com/"):
        with pytest.raises(InvalidDestination, match="^url: "):
            check_webhook_url(bad)


def test_the_webhook_signature_is_hmac_sha256_over_timestamp_and_body():
    body = b'{"event":"incident.opened"}'
    expected = hmac.new(b"whsec_x", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("whsec_x", 1700000000, body) == f"t=1700000000,v1={expected}"


def test_a_bad_subscriptions_section_is_refused_with_the_key_path(example_site):
    text = (msgspec.json.encode(example_site).decode())
    import json

    data = json.loads(text)
    data["subscriptions"] = {"sms_countries": ["XX"], "smss": True}
    with pytest.raises(SiteConfigError) as caught:
        parse_site(json.dumps(data))
    problems = "\n".join(caught.value.problems)
    assert "subscriptions.sms_countries: unknown country code(s) ['XX']" in problems
    assert "subscriptions.smss: unknown key" in problems
