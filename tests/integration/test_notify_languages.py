"""Subscribers in their own language, end to end on the emulator: one trigger, each reader their words.

A customer who signs up from ``/de/`` gets the Facebook playbook's SMS and email in German, one
who signs up from ``/`` in English, from the same trigger; delivery counts are split by language.
"""
from __future__ import annotations

import json
import re

import pytest

from chalicelib.api.auth import create_key
from chalicelib.model import utcnow
from tests.integration.test_notify_flow import drain, emails_to, notifier, post_json, sms_to  # noqa: F401

PAGE = "https://status.lumencoffee.com"
MARKETER = "bk_marketer_for_language_tests_000000000000"


def sign_up_from_the_page(client, language: str | None, **fields) -> str:
    """A plain form post, as the page in ``language`` sends it (the German page adds language=de)."""
    form = "&".join(f"{name}={value}" for name, value in fields.items())
    if language:
        form += f"&language={language}"
    answer = client.http.post("/subscribers", headers={"Content-Type": "application/x-www-form-urlencoded",
                                                       "Origin": PAGE}, body=form)
    assert answer.status_code == 202, answer.body
    return answer.body.decode()


def confirm_email(client, endpoint, address: str) -> str:
    confirmation = emails_to(endpoint, address)[-1]
    link = re.search(r"https://api\.beacon\.test(/subscribers/confirm/\S+)", confirmation.text).group(1)
    done = client.http.post(link, headers={"Content-Type": "application/x-www-form-urlencoded",
                                           "Accept": "text/html"}, body="")
    assert done.status_code == 200
    return done.body.decode()


def confirm_phone(client, endpoint, number: str, answer_page: str) -> str:
    verify = re.search(r'action="https://api\.beacon\.test(/subscribers/verify/\w+)"', answer_page).group(1)
    code = re.search(r"\b(\d{6})\b", sms_to(endpoint, number)[-1].message).group(1)
    done = client.http.post(verify, headers={"Content-Type": "application/x-www-form-urlencoded",
                                             "Accept": "text/html"}, body=f"code={code}")
    assert done.status_code == 200
    return done.body.decode()


@pytest.fixture
def marketer(table):
    create_key(table, name="ana-marketing", scope="marketer", created_by="test", now=utcnow(), secret=MARKETER)
    return {"Authorization": f"Bearer {MARKETER}", "Content-Type": "application/json"}


def test_one_trigger_tells_each_subscriber_in_the_language_they_signed_up_in(notifier, aws, moto_endpoint,
                                                                              marketer):
    client, app = notifier
    # GIVEN a German and an English subscriber by email, and by SMS, each confirmed in their language
    german_answer = sign_up_from_the_page(client, "de", email="lena%40example.de")
    assert "Fast geschafft" in german_answer and 'lang="de"' in german_answer
    german_confirmation = emails_to(moto_endpoint, "lena@example.de")[-1]
    assert "Bestätigen" in german_confirmation.subject
    assert "Sie erhalten Status-Updates" in confirm_email(client, moto_endpoint, "lena@example.de")
    sign_up_from_the_page(client, None, email="ana%40example.com")
    assert "You are subscribed" in confirm_email(client, moto_endpoint, "ana@example.com")
    german_phone = sign_up_from_the_page(client, "de", phone="%2B4915112345678")
    assert "Code" in sms_to(moto_endpoint, "+4915112345678")[-1].message
    assert "Sie erhalten Status-Updates" in confirm_phone(client, moto_endpoint, "+4915112345678", german_phone)
    # A script says what it reads with Accept-Language instead of a field.
    english_phone = post_json(client, "/subscribers", {"phone": "+4915198765432"}, **{"Accept-Language": "en-GB"})
    assert english_phone.status_code == 202 and "Almost done" in english_phone.json_body["message"]
    code = re.search(r"\b(\d{6})\b", sms_to(moto_endpoint, "+4915198765432")[-1].message).group(1)
    verify = re.search(r"/subscribers/verify/\w+", english_phone.json_body["verify_url"]).group(0)
    assert post_json(client, verify, {"code": code}).status_code == 200

    # AND the preview shows each language's SMS as it will go out, with its size, and who reads it
    preview = client.http.get("/playbooks/facebook-outage/preview", headers=marketer).json_body
    german, english = preview["languages"]["de"], preview["languages"]["en"]
    assert (german["recipients"], english["recipients"], german["translated"]) == (2, 2, True)
    assert "sind gestört" in german["sms"]["text"] and german["sms"]["encoding"] == "GSM-7"
    assert german["sms"]["segments"] == 1 and german["sms"]["characters"] == len(german["sms"]["text"])
    assert english["sms"] == preview["sms"] and "Bestätigen" not in german["email"]["subject"]

    # WHEN the marketer triggers the Facebook playbook once, and the queue is drained
    triggered = client.http.post("/playbooks/facebook-outage/trigger", headers=marketer,
                                 body=json.dumps({"variables": {}}))
    assert triggered.status_code in (200, 201), triggered.body
    incident = triggered.json_body
    assert incident["translations"]["de"]  # the German name from site.yml
    drain(app, aws)

    # THEN the German subscribers read German, with links to the German page, and the English ones English
    german_mail = [m for m in emails_to(moto_endpoint, "lena@example.de") if "Facebook" in m.subject]
    english_mail = [m for m in emails_to(moto_endpoint, "ana@example.com") if "Facebook" in m.subject]
    assert len(german_mail) == 1 and len(english_mail) == 1
    assert german_mail[0].subject != english_mail[0].subject
    assert "Status-Updates" in german_mail[0].text and "ä" in german_mail[0].text + german_mail[0].subject
    assert f"{PAGE}/de/incidents/{incident['id']}.html" in german_mail[0].text
    assert "status updates" in english_mail[0].text and f"{PAGE}/incidents/{incident['id']}.html" in english_mail[0].text
    german_sms = sms_to(moto_endpoint, "+4915112345678")[-1].message
    english_sms = sms_to(moto_endpoint, "+4915198765432")[-1].message
    assert german_sms == german["sms"]["text"] and german_mail[0].subject == german["email"]["subject"]
    assert len(sms_to(moto_endpoint, "+4915112345678")) == 2 and len(sms_to(moto_endpoint, "+4915198765432")) == 2
    assert "Facebook & Messenger sind gestört" in german_sms and "(nicht übersetzt)" not in german_sms
    assert "Facebook & Messenger are down" in english_sms

    # AND the delivery counts say who read which language
    notifications = client.http.get("/notifications", headers=marketer).json_body["data"]
    stats = client.http.get(f"/notifications/{notifications[0]['id']}", headers=marketer).json_body
    assert stats["languages"] == {"de": {"sent": 2, "failed": 0, "suppressed": 0},
                                  "en": {"sent": 2, "failed": 0, "suppressed": 0}}


def test_a_text_written_in_one_language_reaches_the_others_with_a_notice(notifier, aws, moto_endpoint, marketer):
    client, app = notifier
    # GIVEN a German subscriber
    sign_up_from_the_page(client, "de", email="jonas%40example.de")
    confirm_email(client, moto_endpoint, "jonas@example.de")

    # WHEN an incident is opened in English only, then updated with a German text
    opened = client.http.post("/incidents", headers=marketer, body=json.dumps({
        "name": "Checkout is slow", "body": "Payments take a minute.", "components": {"website": "degraded_performance"},
        "notify": True}))
    assert opened.status_code == 201, opened.body
    drain(app, aws)
    updated = client.http.post(f"/incidents/{opened.json_body['id']}/updates", headers=marketer, body=json.dumps({
        "status": "identified", "body": "A payment provider is slow.", "notify": True,
        "translations": {"de": {"body": "Ein Zahlungsanbieter ist langsam."}}}))
    assert updated.status_code == 201, updated.body
    drain(app, aws)

    # THEN the first email carries the original with a German notice, the second the German text
    mails = [m for m in emails_to(moto_endpoint, "jonas@example.de") if "Checkout" in m.subject]
    assert len(mails) == 2
    first, second = sorted(mails, key=lambda m: "Payments" not in m.text)
    assert "Payments take a minute." in first.text and "keine Übersetzung" in first.text
    assert "Ein Zahlungsanbieter ist langsam." in second.text and "keine Übersetzung" not in second.text

    # AND a language the page does not have is refused, naming the field
    refused = client.http.post("/incidents", headers=marketer, body=json.dumps({
        "name": "x", "body": "y", "translations": {"fr": {"name": "x"}}}))
    assert refused.status_code == 422 and "translations" in refused.body.decode()


def test_sign_up_errors_read_in_the_language_of_the_page_they_came_from(notifier, aws, moto_endpoint):
    client, _ = notifier
    # WHEN a number that is no mobile number is sent from the German page
    refused = client.http.post("/subscribers", headers={"Content-Type": "application/x-www-form-urlencoded",
                                                        "Origin": PAGE}, body="phone=%2B493012345678&language=de")
    # THEN the answer page says why in German, and a script asking in English gets the API's English
    assert refused.status_code == 422 and "Das ist keine Handynummer" in refused.body.decode()
    as_json = post_json(client, "/subscribers", {"phone": "+493012345678"})
    assert as_json.json_body["fields"] == [
        {"field": "phone", "problem": "this is not a mobile number; enter a number that can receive texts"}]
    # AND a language the page is not written in is refused, naming the field
    french = post_json(client, "/subscribers", {"email": "zoe@example.fr", "language": "fr"})
    assert french.status_code == 422 and french.json_body["fields"][0]["field"] == "language"
    # AND a wrong code typed on the German code page is told in German
    answer = sign_up_from_the_page(client, "de", phone="%2B4915112345670")
    verify = re.search(r'action="https://api\.beacon\.test(/subscribers/verify/\w+)"', answer).group(1)
    wrong = client.http.post(verify, headers={"Content-Type": "application/x-www-form-urlencoded",
                                              "Accept": "text/html"}, body="code=000000")
    assert wrong.status_code == 422 and "Dieser Code ist nicht richtig; noch 4 Versuche." in wrong.body.decode()
