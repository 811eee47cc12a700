"""Sign-up abuse against the emulator: cross-site posts, code guessing in parallel, the SMS
ceilings, address variants, and answers that do not tell who subscribes."""
from __future__ import annotations

import json
import re
import threading
from datetime import timedelta

import boto3
import msgspec
import pytest

from chalicelib import config
from tools.local.outbox import read_outbox
from chalicelib.notify import service
from chalicelib.store.windows import TooMany
from chalicelib.notify.model import Channel, SubscriberStatus
from chalicelib.notify.policy import Limit
from chalicelib.notify.signup import WrongCode
from chalicelib.settings import get_settings, reset_settings
from chalicelib.store.subscribers import SubscriberStore
from chalicelib.store.table import Table
from tests.conftest import EXAMPLE_SITE
from tests.integration.signup_support import Clock, api, last_code, metric_total, signups  # noqa: F401

PAGE = "https://status.lumencoffee.com"
JSON = {"Content-Type": "application/json", "Accept": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def texts_sent(endpoint) -> int:
    return len(read_outbox(endpoint).sms)


# -- cross-site posts ----------------------------------------------------------------------
@pytest.mark.parametrize("headers", [
    {**FORM, "Origin": "https://evil.example"},
    {"Content-Type": "text/plain", "Origin": "https://evil.example", "Accept": "application/json"},
    {"Content-Type": "text/plain", "Referer": "https://evil.example/trap.html", "Accept": "application/json"},
    {**FORM, "Origin": "null"},                       # a sandboxed frame, or a page hiding its origin
], ids=["form", "text-plain", "referer-only", "origin-null"])
def test_a_sign_up_posted_from_another_site_is_refused_and_nothing_is_sent(api, moto_endpoint, headers):
    # GIVEN a page elsewhere whose form posts a phone number to the sign-up route
    body = "phone=%2B4915112345678" if headers["Content-Type"] == FORM["Content-Type"] else "phone=+4915112345678"
    # WHEN a visitor's browser sends it
    answer = api.http.post("/subscribers", headers=headers, body=body)
    # THEN it is refused with a 403 that names the status page, and no text goes out
    assert answer.status_code == 403
    assert PAGE.encode() in answer.body
    if "Accept" in headers:
        assert json.loads(answer.body)["error"] == "forbidden"
    else:
        assert answer.headers["Content-Type"].startswith("text/html")
    assert texts_sent(moto_endpoint) == 0


@pytest.mark.parametrize("headers", [
    {**FORM, "Origin": PAGE},
    {**FORM, "Referer": PAGE + "/index.html"},
    FORM,                                              # curl: no browser, no Origin, no Referer
], ids=["page-origin", "page-referer", "no-browser"])
def test_a_sign_up_from_the_page_or_from_no_browser_is_accepted(api, moto_endpoint, headers):
    answer = api.http.post("/subscribers", headers=headers, body="phone=%2B4915112345678")
    assert answer.status_code == 202 and texts_sent(moto_endpoint) == 1


def test_the_code_form_of_the_apis_own_page_posts_but_another_sites_does_not(api, moto_endpoint):
    # GIVEN an SMS sign-up and its code
    api.http.post("/subscribers", headers=FORM, body="phone=%2B4915112345678")
    optin_id = read_outbox(moto_endpoint).sms[-1].message
    optin_id = re.search(r"/subscribers/confirm/(\w+)", optin_id).group(1)
    code = last_code(moto_endpoint, "+4915112345678")
    # WHEN another site posts the code form, and then the API's own code page does
    foreign = api.http.post(f"/subscribers/verify/{optin_id}", headers={**FORM, "Origin": "https://evil.example"},
                            body=f"code={code}")
    own = api.http.post(f"/subscribers/verify/{optin_id}", headers={**FORM, "Origin": "https://api.beacon.test"},
                        body=f"code={code}")
    # THEN only the second confirms
    assert foreign.status_code == 403 and own.status_code == 200 and b"Subscribed" in own.body


# -- code tries under concurrency --------------------------------------------------------
def test_fifteen_parallel_wrong_codes_use_up_the_five_tries_and_the_right_code_is_then_refused(
        signups, moto_endpoint, aws):
    subscriptions, clock = signups
    # GIVEN an SMS sign-up and its code
    answer = subscriptions.subscribe(email=None, phone="+4915112345678", components=[], source_ip="198.51.100.2")
    code = last_code(moto_endpoint, "+4915112345678")
    wrong = f"{(int(code) + 1) % 10 ** 6:06d}"
    start = threading.Barrier(15)
    outcomes: list[object] = []

    def guesser():
        # Each guesser has its own connection, as separate containers would.
        own = msgspec.structs.replace(subscriptions, store=SubscriberStore(
            Table(boto3.session.Session().resource("dynamodb").Table(get_settings().table_name), clock=clock)))
        return threading.Thread(target=guess, args=(own,))

    def guess(own):
        start.wait()
        try:
            own.confirm_code(answer.verify_id, wrong)
        except WrongCode as exc:
            outcomes.append(exc.attempts_left)
        except Exception as exc:      # noqa: BLE001 - the assertion below shows it
            outcomes.append(exc)

    # WHEN 15 wrong codes arrive at once
    guessers = [guesser() for _ in range(15)]
    for thread in guessers:
        thread.start()
    for thread in guessers:
        thread.join()

    # THEN each was refused, exactly five were counted as tries, and the right code no longer works
    assert len(outcomes) == 15 and all(isinstance(left, int) for left in outcomes)
    assert sorted(outcomes) == [0] * 11 + [1, 2, 3, 4]
    with pytest.raises(WrongCode, match="subscribe again"):
        subscriptions.confirm_code(answer.verify_id, code)
    assert subscriptions.store.get_optin(answer.verify_id).attempts == 5


# -- the SMS ceilings --------------------------------------------------------------------
@pytest.fixture
def site_with_low_sms_ceilings(aws, tmp_path, monkeypatch):
    """The example site with room for 3 confirmation texts an hour, 2 of them per country."""
    site = tmp_path / "site.yml"
    site.write_text(EXAMPLE_SITE.read_text() + "  limits:\n"
                    "    sms_confirmations: {count: 3, hours: 1}\n"
                    "    sms_confirmations_per_country: {count: 2, hours: 1}\n")
    monkeypatch.setenv("SITE_CONFIG", str(site))
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    reset_settings()
    config.reset_site()
    # Loaded now: the test client runs requests with .chalice/config.json's SITE_CONFIG.
    assert config.get_site().subscriptions.limits.sms_confirmations.count == 3
    yield
    config.reset_site()


def test_the_sms_ceilings_refuse_sign_ups_from_anywhere_count_a_metric_and_send_nothing(
        site_with_low_sms_ceilings, api, moto_endpoint, capsys):
    def sign_up(number):
        return api.http.post("/subscribers", headers={**JSON, "Origin": PAGE}, body=json.dumps({"phone": number}))

    # GIVEN two German sign-ups this hour, each to its own number
    assert sign_up("+4915112340001").status_code == 202
    assert sign_up("+4915112340002").status_code == 202
    # WHEN a third German number signs up, and then a Swiss one (the page's third and fourth)
    german = sign_up("+4915112340003")
    swiss = sign_up("+41791234567")
    # THEN the German one meets its country's ceiling, the Swiss one the page's
    for refused in (german, swiss):
        assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 3600
        assert json.loads(refused.body)["error"] == "too_many_requests"
    assert b"this country" in german.body and b"on this page" in swiss.body
    # AND only the first two texts went out, and the ceiling was counted as a metric
    assert texts_sent(moto_endpoint) == 2
    assert metric_total(capsys.readouterr().out, "SmsCeilingReached") == 2


def test_the_sms_ceiling_opens_again_in_the_next_hour(signups, moto_endpoint):
    subscriptions, clock = signups
    policy = subscriptions.site.subscriptions
    low = msgspec.structs.replace(policy, limits=msgspec.structs.replace(
        policy.limits, sms_confirmations=Limit(count=1, hours=1)))
    subscriptions = msgspec.structs.replace(subscriptions, site=subscriptions.site.replace(subscriptions=low))
    subscriptions.subscribe(email=None, phone="+4915112340001", components=[], source_ip="203.0.113.1")
    with pytest.raises(TooMany):
        subscriptions.subscribe(email=None, phone="+4915112340002", components=[], source_ip="203.0.113.2")
    clock.now += timedelta(hours=1)
    subscriptions.subscribe(email=None, phone="+4915112340002", components=[], source_ip="203.0.113.2")
    assert texts_sent(moto_endpoint) == 2


# -- address variants --------------------------------------------------------------------
def test_plus_tags_case_and_gmail_dots_count_as_one_destination(signups, moto_endpoint):
    subscriptions, _ = signups
    # GIVEN three sign-ups of one mailbox written three ways (the limit is 3 a day)
    for n, address in enumerate(("ana+news@example.com", "Ana@Example.com", "ANA+x@example.COM")):
        subscriptions.subscribe(email=address, phone=None, components=[], source_ip=f"192.0.2.{n}")
    # WHEN a fourth variant arrives
    with pytest.raises(TooMany, match="this destination"):
        subscriptions.subscribe(email="ana+other@example.com", phone=None, components=[], source_ip="192.0.2.9")
    # THEN it was refused, and Gmail's dotted and googlemail variants share one limit too
    for n, address in enumerate(("jo.doe@gmail.com", "j.o.doe+1@googlemail.com", "JODOE@gmail.com")):
        subscriptions.subscribe(email=address, phone=None, components=[], source_ip=f"192.0.2.{20 + n}")
    with pytest.raises(TooMany):
        subscriptions.subscribe(email="jodoe@gmail.com", phone=None, components=[], source_ip="192.0.2.30")
    # AND mail went to each address as it was given
    sent = [address for mail in read_outbox(moto_endpoint).emails for address in mail.to]
    assert "ana+news@example.com" in sent and "j.o.doe+1@googlemail.com" in sent


# -- answers that do not tell who subscribes ---------------------------------------------
def _confirmed(table, channel, destination):
    store = SubscriberStore(table)
    found = store.find(channel, destination)
    return store.save(found.replace(status=SubscriberStatus.CONFIRMED), previous=found.status)


def test_the_answer_for_a_confirmed_address_is_byte_identical_to_a_new_ones(api, table):
    # GIVEN a confirmed subscriber k…@example.com
    api.http.post("/subscribers", headers=JSON, body=json.dumps({"email": "kept@example.com"}))
    _confirmed(table, Channel.EMAIL, "kept@example.com")
    # WHEN it signs up again, and a new address with the same mask does
    known = api.http.post("/subscribers", headers=JSON, body=json.dumps({"email": "kept@example.com"}))
    new = api.http.post("/subscribers", headers=JSON, body=json.dumps({"email": "kxyz@example.com"}))
    # THEN status, headers and body are the same bytes
    assert (known.status_code, known.headers, known.body) == (new.status_code, new.headers, new.body)


def test_a_known_and_a_new_address_cost_the_same_store_requests(signups, table):
    subscriptions, _ = signups
    # GIVEN a confirmed subscriber, and the table's requests recorded by name
    subscriptions.subscribe(email="kept@example.com", phone=None, components=[], source_ip="192.0.2.1")
    _confirmed(table, Channel.EMAIL, "kept@example.com")
    requests: list[str] = []
    events = service.table()._table.meta.client.meta.events

    def record(model, **_):
        requests.append(model.name)

    events.register("before-call.dynamodb", record)
    try:
        # WHEN the known address and a new one sign up
        subscriptions.subscribe(email="kept@example.com", phone=None, components=[], source_ip="192.0.2.2")
        known, requests[:] = list(requests), []
        subscriptions.subscribe(email="newbie@example.com", phone=None, components=[], source_ip="192.0.2.3")
    finally:
        events.unregister("before-call.dynamodb", record)
    # THEN both made the same requests in the same order
    assert known == requests and known


def test_the_code_page_of_a_suppressed_number_answers_like_any_other(signups, table, moto_endpoint):
    subscriptions, _ = signups
    # GIVEN a number that replied STOP (suppressed) and a new number
    subscriptions.subscribe(email=None, phone="+4915112340011", components=[], source_ip="192.0.2.1")
    store = SubscriberStore(table)
    found = store.find(Channel.SMS, "+4915112340011")
    store.save(found.replace(status=SubscriberStatus.SUPPRESSED), previous=found.status)
    # WHEN each signs up and a guessed code is posted to its code page
    verify_ids = [subscriptions.subscribe(email=None, phone=number, components=[], source_ip="192.0.2.2").verify_id
                  for number in ("+4915112340011", "+4915112340012")]
    guessed = "000000" if last_code(moto_endpoint, "+4915112340012") != "000000" else "111111"
    answers = []
    for verify_id in verify_ids:
        with pytest.raises(WrongCode) as caught:
            subscriptions.confirm_code(verify_id, guessed)
        answers.append((str(caught.value), caught.value.attempts_left))
    # THEN both say the same, and the suppressed number got no second text
    assert answers[0] == answers[1]
    assert [m.phone_number for m in read_outbox(moto_endpoint).sms].count("+4915112340011") == 1
