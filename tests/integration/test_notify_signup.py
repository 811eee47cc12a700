"""Sign-up against the emulator: double opt-in, limits across containers, no enumeration."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from tools.local.outbox import read_outbox
from chalicelib.notify import service
from chalicelib.store.windows import TooMany
from chalicelib.notify.model import Channel, SubscriberStatus
from chalicelib.notify.signup import InvalidLink, WrongCode
from chalicelib.store.subscribers import SubscriberStore
from tests.integration.signup_support import Clock, api, last_code, signups  # noqa: F401


def link_token(endpoint, address):
    text = [m.text for m in read_outbox(endpoint).emails if address in m.to][-1]
    optin, token = re.search(r"/subscribers/confirm/(\w+)\?token=(\S+)", text).groups()
    return optin, token


def test_an_email_link_confirms_once_and_expires_after_seven_days(signups, moto_endpoint):
    subscriptions, clock = signups
    # GIVEN two sign-ups of the same address
    subscriptions.subscribe(email="ana@example.com", phone=None, components=["facebook"], source_ip="198.51.100.1")
    first = link_token(moto_endpoint, "ana@example.com")
    subscriptions.subscribe(email="ana@example.com", phone=None, components=[], source_ip="198.51.100.1")
    second = link_token(moto_endpoint, "ana@example.com")
    # WHEN the first link is used twice, and the second after 7 days
    subscriber = subscriptions.confirm_link(*first)
    with pytest.raises(InvalidLink):
        subscriptions.confirm_link(*first)
    clock.now += timedelta(days=7, seconds=1)
    with pytest.raises(InvalidLink, match="expired"):
        subscriptions.confirm_link(*second)
    # THEN the first confirmed with its components; a wrong token never confirms
    assert subscriber.status is SubscriberStatus.CONFIRMED and subscriber.components == ["facebook"]
    with pytest.raises(InvalidLink):
        subscriptions.confirm_link(first[0], "forged")


def test_an_sms_code_allows_five_tries_then_needs_a_new_code(signups, moto_endpoint):
    subscriptions, _ = signups
    answer = subscriptions.subscribe(email=None, phone="+49 151 12345678", components=[], source_ip="198.51.100.2")
    code = last_code(moto_endpoint, "+4915112345678")
    wrong = f"{(int(code) + 1) % 10 ** 6:06d}"
    left = []
    for _ in range(5):
        with pytest.raises(WrongCode) as caught:
            subscriptions.confirm_code(answer.verify_id, wrong)
        left.append(caught.value.attempts_left)
    assert left == [4, 3, 2, 1, 0]
    with pytest.raises(WrongCode, match="subscribe again"):
        subscriptions.confirm_code(answer.verify_id, code)
    # A new sign-up sends a new code, which works
    answer = subscriptions.subscribe(email=None, phone="+4915112345678", components=[], source_ip="198.51.100.2")
    assert subscriptions.confirm_code(answer.verify_id, last_code(moto_endpoint, "+4915112345678")).receives


def test_sms_sign_ups_per_source_address_are_limited_and_over_the_limit_nothing_is_sent(signups, moto_endpoint):
    subscriptions, _ = signups
    # GIVEN ten SMS sign-ups from one address (Statuspage's limit per 4 hours)
    for n in range(10):
        subscriptions.subscribe(email=None, phone=f"+49151123456{n:02d}", components=[], source_ip="203.0.113.9")
    # WHEN an eleventh arrives from a second container (a fresh service, same table)
    with pytest.raises(TooMany) as caught:
        service.subscriptions(signups[1]).subscribe(email=None, phone="+4915112345699", components=[],
                                                    source_ip="203.0.113.9")
    # THEN it is refused with the time until the window resets, and no text went out for it
    assert 0 < caught.value.retry_after <= 4 * 3600
    assert len(read_outbox(moto_endpoint).sms) == 10
    # AND another address may still sign up
    subscriptions.subscribe(email=None, phone="+4915112345699", components=[], source_ip="203.0.113.10")


def test_confirmations_per_destination_are_limited(signups, moto_endpoint):
    subscriptions, clock = signups
    for n in range(3):
        subscriptions.subscribe(email="ben@example.com", phone=None, components=[], source_ip=f"192.0.2.{n}")
    with pytest.raises(TooMany, match="confirmation messages to this destination"):
        subscriptions.subscribe(email="ben@example.com", phone=None, components=[], source_ip="192.0.2.99")
    assert len(read_outbox(moto_endpoint).emails) == 3
    clock.now += timedelta(days=1)
    subscriptions.subscribe(email="ben@example.com", phone=None, components=[], source_ip="192.0.2.99")
    assert len(read_outbox(moto_endpoint).emails) == 4


def test_the_answer_is_the_same_for_new_confirmed_and_suppressed_destinations(api, table, moto_endpoint):
    # GIVEN a confirmed subscriber and a suppressed one
    def post(address):
        return api.http.post("/subscribers", headers={"Content-Type": "application/json",
                                                      "Accept": "application/json"},
                             body=json.dumps({"email": address}))

    store = SubscriberStore(table)
    post("kept@example.com")
    post("gone@example.com")
    for address, status in (("kept@example.com", SubscriberStatus.CONFIRMED),
                            ("gone@example.com", SubscriberStatus.SUPPRESSED)):
        found = store.find(Channel.EMAIL, address)
        store.save(found.replace(status=status), previous=found.status)
    # WHEN each, and a new address, signs up
    answers = [post(a) for a in ("kept@example.com", "gone@example.com", "new@example.com")]
    # THEN the answers differ only in the masked address; the suppressed one got no second email
    shapes = [{k: v for k, v in json.loads(a.body).items() if k not in ("destination", "message")}
              for a in answers]
    assert {a.status_code for a in answers} == {202} and shapes[0] == shapes[1] == shapes[2]
    sent = [address for mail in read_outbox(moto_endpoint).emails for address in mail.to]
    assert sent.count("gone@example.com") == 1 and sent.count("kept@example.com") == 2


def test_a_plain_form_post_gets_an_html_page_and_errors_name_the_field(api, moto_endpoint):
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    answer = api.http.post("/subscribers", headers=form, body="email=ana%40example.com&components=facebook")
    assert answer.status_code == 202 and b"Check your inbox" in answer.body
    bad = api.http.post("/subscribers", headers=form, body="phone=%2B7+912+345+67+89")
    assert bad.status_code == 422 and b"cannot send text messages to numbers of RU" in bad.body
    unknown = api.http.post("/subscribers", headers={"Content-Type": "application/json"},
                            body=json.dumps({"email": "a@example.com", "components": ["myspace"]}))
    assert unknown.status_code == 422
    assert json.loads(unknown.body)["fields"][0]["field"] == "components"


def test_cors_answers_only_the_page_origins(api):
    preflight = api.http.request("OPTIONS", "/subscribers", headers={"Origin": "https://status.lumencoffee.com"})
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://status.lumencoffee.com"
    other = api.http.request("OPTIONS", "/subscribers", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_rate_limited_requests_get_429_with_retry_after(api, moto_endpoint):
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    for _ in range(3):
        api.http.post("/subscribers", headers=headers, body=json.dumps({"email": "cap@example.com"}))
    refused = api.http.post("/subscribers", headers=headers, body=json.dumps({"email": "cap@example.com"}))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert json.loads(refused.body)["error"] == "too_many_requests"


def test_the_manage_page_changes_components_and_get_never_unsubscribes(api, table):
    from chalicelib.notify.delivery import subscriber_links
    from chalicelib.config import get_site

    api.http.post("/subscribers", headers={"Content-Type": "application/json"},
                  body=json.dumps({"email": "mia@example.com"}))
    store = SubscriberStore(table)
    found = store.find(Channel.EMAIL, "mia@example.com")
    store.save(found.replace(status=SubscriberStatus.CONFIRMED), previous=found.status)
    links = subscriber_links("https://api.beacon.test", get_site(), None, found)
    manage = links.manage_url.removeprefix("https://api.beacon.test")
    page = api.http.get(manage, headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 200 and b'value="facebook" checked' in page.body
    saved = api.http.post(manage, headers={"Content-Type": "application/x-www-form-urlencoded"},
                          body="components=instagram&components=x")
    assert saved.status_code == 200 and b"Saved." in saved.body
    assert store.get(found.id).components == ["instagram", "x"]
    as_json = api.http.get(manage)
    assert json.loads(as_json.body) == {"status": "confirmed", "components": ["instagram", "x"], "language": "en",
                                        "message": ""}
    for _ in range(2):
        api.http.get(links.unsubscribe_url.removeprefix("https://api.beacon.test"))
    assert store.get(found.id).status is SubscriberStatus.CONFIRMED
    forged = api.http.post(f"/subscribers/{found.id}/unsubscribe?token=nope", headers={}, body="")
    assert forged.status_code == 404 and store.get(found.id).status is SubscriberStatus.CONFIRMED
