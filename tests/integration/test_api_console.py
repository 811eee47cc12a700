"""The routes the marketer console needs (``chalicelib/api/console.py``), through the real API on the emulator:
who the key is, when the page was published, a body and a playbook previewed as they will go out."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
import requests

from chalicelib.notify.model import Channel, Consent, Subscriber, SubscriberStatus
from chalicelib.settings import reset_settings
from chalicelib.store.subscribers import SubscriberStore
from tests.integration.api_server import api, api_server  # noqa: F401
from tests.integration.test_notify_flow import drain
from tools.local.outbox import read_outbox

EMAIL, PHONE = "ana@example.com", "+4915112345678"


def subscriber(store, n, channel, destination, status=SubscriberStatus.CONFIRMED, components=()):
    now = datetime(2026, 5, 1, tzinfo=timezone.utc)
    return store.create(Subscriber(id=f"c{n:05d}", channel=channel, destination=destination,
                                   components=list(components), status=status, consent=Consent.IMPORTED,
                                   created_at=now, updated_at=now, manage_token=f"token{n}"))


@pytest.fixture
def facebook_audience(table, monkeypatch):
    """GIVEN one confirmed email and one confirmed SMS subscriber who hear about Facebook, one who has not
    confirmed, and one who follows Instagram only."""
    monkeypatch.setenv("EMAIL_SEND_RATE", "100000")
    monkeypatch.setenv("SMS_SEND_RATE", "100000")
    reset_settings()
    store = SubscriberStore(table)
    subscriber(store, 1, Channel.EMAIL, EMAIL)
    subscriber(store, 2, Channel.SMS, PHONE)
    subscriber(store, 3, Channel.EMAIL, "ben@example.com", status=SubscriberStatus.PENDING)
    subscriber(store, 4, Channel.EMAIL, "cem@example.com", components=["instagram"])


def same_but_ids(text: str) -> str:
    """A message with its incident's id (a new one's is not known before it opens) and each recipient's
    own link parts made placeholders."""
    text = re.sub(r"/incidents/[0-9a-z]+\.html", "/incidents/INCIDENT.html", text)
    text = re.sub(r"/subscribers/[A-Za-z0-9_-]+/", "/subscribers/SUBSCRIBER/", text)
    return re.sub(r"token=[A-Za-z0-9_-]+", "token=TOKEN", text)


def test_me_tells_a_key_its_name_and_scope(api):
    marketer = api.get("/me")
    assert marketer.status_code == 200
    assert marketer.json()["name"] == "ana-marketing" and marketer.json()["scope"] == "marketer"
    assert api.get("/me", secret=api.admin_secret).json()["scope"] == "admin"
    assert requests.get(api.url + "/me", timeout=5).status_code == 401


def test_page_says_when_it_was_last_published(api, example_site):
    # GIVEN a page never published
    before = api.get("/page").json()
    assert before == {"url": example_site.brand.page_url, "time_zone": example_site.brand.time_zone,
                      "published_at": None}
    # WHEN it is published
    assert api.send("POST", "/publish", {}).status_code == 200
    # THEN the time of its entry point's upload is given, in the API's timestamp form
    after = api.get("/page").json()["published_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", after)
    assert requests.get(api.url + "/page", timeout=5).status_code == 401


def test_page_gives_the_site_time_zone_the_console_enters_windows_in(api, example_site):
    # WHEN a marketer key asks for the page
    answer = api.get("/page")
    # THEN it names the brand's IANA zone, the one the page shows times in
    assert answer.status_code == 200
    assert answer.json()["time_zone"] == example_site.brand.time_zone == "Europe/Berlin"
    # AND the route needs a key, and refuses a method it does not have
    assert requests.get(api.url + "/page", timeout=5, headers={"Authorization": "Bearer bk_unknown"}).status_code == 401
    assert api.send("POST", "/page", {}).status_code == 405


def test_a_body_is_previewed_through_the_page_sanitiser(api):
    answer = api.send("POST", "/preview", {"body": "We are **on it**.\n\n<script>alert(1)</script> "
                                                   "[safe](https://example.com) [bad](javascript:alert(1))"})
    assert answer.status_code == 200, answer.text
    html = answer.json()["html"]
    assert "<strong>on it</strong>" in html and '<a href="https://example.com"' in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript:' not in html


def test_a_preview_of_nothing_names_the_field(api):
    answer = api.send("POST", "/preview", {"text": "x"})
    assert answer.status_code == 422
    assert {f["field"] for f in answer.json()["fields"]} == {"body", "text"}
    assert requests.post(api.url + "/preview", json={"body": "x"}, timeout=5).status_code == 401


def test_a_playbook_preview_is_what_the_trigger_and_the_resolve_send(api, aws, moto_endpoint, facebook_audience):
    import app as app_module

    # WHEN the marketer previews the Facebook playbook with a variable
    preview = api.get("/playbooks/facebook-outage/preview", params={"variables": '{"eta": "15:00"}'})
    assert preview.status_code == 200, preview.text
    shown = preview.json()
    # THEN it opens an incident, says so in the page's words, and counts who hears it per channel
    assert shown["effect"] == "open" and shown["incident_id"] is None
    assert shown["components"] == {"facebook": "major_outage"} and "Next update: 15:00." in shown["body"]
    assert shown["recipients"]["email"] == 1 and shown["recipients"]["sms"] == 1
    assert shown["sms"]["segments"] == 1 and shown["sms"]["encoding"] == "GSM-7"
    assert shown["email"]["subject"] == "Facebook is down: email or text us instead"
    assert api.get("/incidents").json()["data"] == []  # a preview writes nothing

    # WHEN it is triggered with the same variables and the notification delivered
    incident = api.send("POST", "/playbooks/facebook-outage/trigger", {"variables": {"eta": "15:00"}}).json()
    drain(app_module.app, aws)
    outbox = read_outbox(moto_endpoint)
    # THEN the SMS and the email that went out are the previewed ones, to the letter
    [sms] = [m for m in outbox.sms if m.phone_number == PHONE]
    assert same_but_ids(sms.message) == same_but_ids(shown["sms"]["text"])
    assert len(sms.message) == len(shown["sms"]["text"])
    [email] = [m for m in outbox.emails if EMAIL in m.to]
    assert email.subject == shown["email"]["subject"]
    assert same_but_ids(email.text).strip() == same_but_ids(shown["email"]["text"]).strip()
    assert not [m for m in outbox.emails if "ben@example.com" in m.to or "cem@example.com" in m.to]

    # WHEN the resolve is previewed and then done
    resolving = api.get("/playbooks/facebook-outage/preview", params={"action": "resolve"}).json()
    assert resolving["effect"] == "resolve" and resolving["incident_id"] == incident["id"]
    assert resolving["status"] == "resolved" and resolving["recipients"]["sms"] == 1
    assert api.send("POST", "/playbooks/facebook-outage/resolve", {}).json()["resolved"] is True
    drain(app_module.app, aws)
    # THEN the "we are back" SMS is the previewed one
    back = [m for m in read_outbox(moto_endpoint).sms if m.phone_number == PHONE and "work again" in m.message]
    assert [m.message for m in back] == [resolving["sms"]["text"]]
    # AND with nothing open, resolving would do nothing
    assert api.get("/playbooks/facebook-outage/preview", params={"action": "resolve"}).json()["effect"] == "nothing"


def test_a_second_trigger_is_previewed_as_an_update_of_the_open_incident(api):
    opened = api.send("POST", "/playbooks/facebook-outage/trigger", {}).json()
    shown = api.get("/playbooks/facebook-outage/preview").json()
    assert shown["effect"] == "update" and shown["incident_id"] == opened["id"]
    assert shown["status"] == opened["status"] and shown["recipients"] == {c.value: 0 for c in Channel}


@pytest.mark.parametrize("params, field", [
    ({"variables": "{eta"}, "variables"),
    ({"variables": '{"eta": 15}'}, "variables.eta"),
    ({"variables": '{"ETA!": "x"}'}, "variables.ETA!"),
    ({"action": "undo"}, "action"),
    ({"colour": "red"}, "colour"),
])
def test_a_bad_playbook_preview_names_the_field(api, params, field):
    answer = api.get("/playbooks/facebook-outage/preview", params=params)
    assert answer.status_code == 422, answer.text
    assert field in [f["field"] for f in answer.json()["fields"]]


def test_a_playbook_preview_refuses_an_unknown_playbook_or_variable(api):
    unknown = api.get("/playbooks/myspace-outage/preview")
    assert unknown.status_code == 404 and "myspace-outage" in unknown.json()["message"]
    variable = api.get("/playbooks/facebook-outage/preview", params={"variables": '{"when": "soon"}'})
    assert variable.status_code == 422 and "no variable when; it takes: eta" in variable.json()["message"]
    assert requests.get(api.url + "/playbooks/facebook-outage/preview", timeout=5).status_code == 401


def test_the_console_origin_may_send_the_key_and_if_match_and_read_the_etag(api):
    # GIVEN the page's origin, where the console is served
    origin = "http://127.0.0.1:8080"
    incident = api.send("POST", "/incidents", {"name": "Instagram DMs delayed", "body": "b"}).json()
    # WHEN the browser asks before a PATCH with the key and the version
    preflight = requests.options(f"{api.url}/incidents/{incident['id']}", timeout=5, headers={
        "Origin": origin, "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "authorization,content-type,if-match"})
    # THEN it may, and it may read the version of what it reads
    assert preflight.status_code == 200
    allowed = {h.strip().lower() for h in preflight.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "if-match"} <= allowed
    assert "PATCH" in preflight.headers["Access-Control-Allow-Methods"]
    read = api.get(f"/incidents/{incident['id']}", headers={"Origin": origin})
    assert read.headers["Access-Control-Allow-Origin"] in ("*", origin)
    assert "ETag" in read.headers["Access-Control-Expose-Headers"] and read.headers["ETag"] == '"1"'


def test_a_variable_outside_ascii_is_previewed_when_json_escapes_it(api):
    # The API takes query values in printable ASCII; JSON spells any other character as \uXXXX.
    shown = api.get("/playbooks/facebook-outage/preview", params={"variables": '{"eta": "\\u00e0 15 h"}'})
    assert shown.status_code == 200, shown.text
    assert "Next update: à 15 h." in shown.json()["body"] and "Update à 15 h." in shown.json()["sms"]["text"]
    # a character that would cut the SMS to 70 is refused as the trigger refuses it
    dash = api.get("/playbooks/facebook-outage/preview", params={"variables": '{"eta": "15 \\u2013 16 h"}'})
    assert dash.status_code == 422 and "sms_text" in dash.json()["message"]


@pytest.fixture
def mixed_audience(table):
    """GIVEN two email subscribers, one SMS subscriber and a Slack channel whose URL is its secret."""
    store = SubscriberStore(table)
    subscriber(store, 1, Channel.EMAIL, EMAIL)
    subscriber(store, 2, Channel.SMS, PHONE)
    subscriber(store, 3, Channel.EMAIL, "ben@example.com", status=SubscriberStatus.PENDING)
    subscriber(store, 4, Channel.SLACK, "https://hooks.slack.com/services/T0/B0/secretpart")


def test_subscriber_search_keeps_those_whose_shown_destination_holds_q(api, mixed_audience):
    # WHEN an admin looks for part of an address, in another case
    found = api.get("/subscribers/search", secret=api.admin_secret, params={"q": "ANA@"})
    assert found.status_code == 200, found.text
    answer = found.json()
    # THEN it finds that subscriber among every one looked at, with the counts per channel and status
    assert [s["destination"] for s in answer["data"]] == [EMAIL]
    assert answer["looked_at"] == 4 and answer["next_cursor"] is None
    assert answer["counts"]["email"] == {"pending": 1, "confirmed": 1, "unsubscribed": 0, "suppressed": 0,
                                         "disabled": 0}
    assert answer["counts"]["sms"]["confirmed"] == 1
    # AND a chat URL is matched, and shown, by its host only: its secret path is neither
    assert [s["channel"] for s in api.get("/subscribers/search", secret=api.admin_secret,
                                          params={"q": "hooks.slack.com"}).json()["data"]] == ["slack"]
    assert api.get("/subscribers/search", secret=api.admin_secret, params={"q": "secretpart"}).json()["data"] == []


def test_subscriber_search_pages_with_a_cursor_until_the_last(api, mixed_audience):
    seen, cursor, pages = [], None, 0
    while True:
        answer = api.get("/subscribers/search", secret=api.admin_secret,
                         params={"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
        seen += [s["id"] for s in answer["data"]]
        pages += 1
        cursor = answer["next_cursor"]
        if cursor is None:
            break
    assert pages == 2 and sorted(seen) == ["c00001", "c00002", "c00003", "c00004"]


def test_subscriber_search_needs_an_admin_key(api, mixed_audience):
    assert api.get("/subscribers/search").status_code == 403
    assert requests.get(api.url + "/subscribers/search", timeout=5).status_code == 401


@pytest.mark.parametrize("params, field", [
    ({"limit": "0"}, "limit"),
    ({"limit": "1001"}, "limit"),
    ({"q": "x" * 201}, "q"),
    ({"cursor": "not-a-cursor"}, "cursor"),
    ({"colour": "red"}, "colour"),
])
def test_a_bad_subscriber_search_names_the_field(api, params, field):
    answer = api.get("/subscribers/search", secret=api.admin_secret, params=params)
    assert answer.status_code == 422, answer.text
    assert field in [f["field"] for f in answer.json()["fields"]]


def test_the_console_may_search_subscribers_from_the_page_origin(api):
    # GIVEN the page's origin, where the console is served; WHEN the browser asks before a search with the key
    preflight = requests.options(f"{api.url}/subscribers/search", timeout=5, headers={
        "Origin": "http://127.0.0.1:8080", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    # THEN it may
    assert preflight.status_code == 200
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]


def test_a_browser_on_the_page_may_list_subscribers_with_a_key(api):
    # GIVEN the page's origin (site.yml's page_url); WHEN a browser asks before GET /subscribers, whose path the sign-up form posts to
    preflight = requests.options(f"{api.url}/subscribers", timeout=5, headers={
        "Origin": "https://status.lumencoffee.com", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    # THEN the page's origin may send the key with a GET; another site's may not read the answer
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://status.lumencoffee.com"
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    elsewhere = requests.options(f"{api.url}/subscribers", timeout=5, headers={
        "Origin": "https://elsewhere.example", "Access-Control-Request-Method": "GET"})
    assert "Access-Control-Allow-Origin" not in elsewhere.headers
