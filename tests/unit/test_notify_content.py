"""Email and SMS content: segments, shortening, hostile text, MIME headers, webhook payloads."""
from __future__ import annotations

import email
import email.policy
from datetime import datetime, timezone

import pytest

from chalicelib.model import NotificationEvent, NotificationKind
from chalicelib.notify import content
from chalicelib.settings import PROJECT_ROOT

TEMPLATES = PROJECT_ROOT / "templates"
NOON = datetime(2026, 5, 1, 12, tzinfo=timezone.utc)
LINKS = content.Links(page_url="https://status.lumencoffee.com",
                      event_url="https://status.lumencoffee.com/incidents/inc1.html",
                      unsubscribe_url="https://api.test/subscribers/s1/unsubscribe?token=t",
                      manage_url="https://api.test/subscribers/s1/manage?token=t")


def event(title="Facebook is down", body="", kind=NotificationKind.INCIDENT_OPENED, **extra):
    return NotificationEvent(id="n1", kind=kind, created_at=NOON, title=title, body=body, incident_id="inc1",
                             component_ids=["facebook"], **extra)


def test_gsm7_and_ucs2_lengths():
    assert content.sms_length("Hello [world]") == (15, 160)       # brackets are extension characters
    assert content.sms_length("Störung – café") == (14, 70)       # the en dash forces UCS-2
    assert content.sms_length(content.to_gsm("Störung – café")) == (14, 160)
    assert content.sms_length("Outage 🔥") == (9, 70)              # an emoji is two UTF-16 units


def test_a_short_text_fits_one_segment_with_everything(example_site):
    # GIVEN a short incident WHEN its SMS is written
    text = content.notification_sms(event(body="Use email."), example_site, None, LINKS, TEMPLATES)
    # THEN it keeps brand, body, link and the stop hint in one GSM-7 segment
    assert text.startswith("Lumen Coffee Roasters: Incident: Facebook is down - Use email.")
    assert LINKS.event_url in text and "STOP" in text
    assert content.fits_one_segment(text)


def test_a_long_text_is_shortened_keeping_brand_and_link(example_site):
    # GIVEN a long title and body with characters that would force UCS-2
    title = "Facebook Messenger, Instagram Direct and WhatsApp Business are not delivering messages “right now” " * 2
    text = content.notification_sms(event(title=title, body="Long body " * 30), example_site, None, LINKS,
                                     TEMPLATES)
    # THEN the text is one GSM-7 segment that still names the brand and carries the whole link
    assert content.fits_one_segment(text) and content.is_gsm7(text)
    assert text.startswith("Lumen Coffee Roasters:") and text.endswith(LINKS.event_url)
    assert "..." in text


def test_a_character_outside_gsm7_keeps_the_text_within_70(example_site):
    text = content.notification_sms(event(title="Störung bei 微信 Zahlungen heute Abend"), example_site, None,
                                    LINKS, TEMPLATES)
    assert not content.is_gsm7(text) or content.fits_one_segment(text)
    assert LINKS.event_url in text


def test_hostile_incident_text_is_inert_in_the_html_part(example_site):
    # GIVEN an incident body with script, an event handler and a javascript: link
    hostile = 'Down <script>alert(1)</script> <img src=x onerror=alert(2)> [click](javascript:alert(3)) **bold**'
    mail = content.notification_email(event(title="<b>Outage</b>", body=hostile), example_site, None, LINKS,
                                      TEMPLATES)
    # THEN none of it is markup in the HTML; Markdown emphasis still works
    assert "<script" not in mail.html and "<img" not in mail.html
    assert 'href="javascript' not in mail.html and "&lt;script&gt;" in mail.html
    assert "&lt;b&gt;Outage&lt;/b&gt;" in mail.html and "<strong>bold</strong>" in mail.html
    assert "#8a4b1f" in mail.html                                   # the brand's accent colour


def test_the_email_lists_what_is_affected_and_how_to_reach_the_brand(example_site):
    mail = content.notification_email(event(contacts_first=["phone"]), example_site, None, LINKS, TEMPLATES)
    assert "Affected:" in mail.text and "Facebook" in mail.text
    reach = mail.text.split("How to reach us", 1)[1]
    assert reach.index("Call us") < reach.index("Help centre")       # the playbook's contact first
    assert "Facebook Messenger: https://m.me/lumencoffee (may be affected)" in reach
    assert LINKS.event_url in mail.text and LINKS.event_url in mail.html
    assert mail.subject == "[Lumen Coffee Roasters] Incident: Facebook is down"


def test_a_playbook_subject_and_text_replace_the_defaults(example_site):
    mail = content.notification_email(event(email_subject="We are on it", email_text="Prepared words."),
                                      example_site, None, LINKS, TEMPLATES)
    assert mail.subject == "We are on it" and "Prepared words." in mail.text


def test_raw_email_carries_one_click_unsubscribe_and_both_parts(example_site):
    mail = content.notification_email(event(), example_site, None, LINKS, TEMPLATES)
    raw = content.raw_email("status@beacon.test", "Lumen", "ana@example.com", mail,
                            content.unsubscribe_headers(LINKS.unsubscribe_url))
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["List-Unsubscribe"] == f"<{LINKS.unsubscribe_url}>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["From"] == "Lumen <status@beacon.test>"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]


def test_webhook_payload_names_event_incident_and_components(example_site):
    payload = content.webhook_payload(event(), example_site, None)
    assert payload["event"] == "incident.opened" and payload["url"] == LINKS.event_url
    assert payload["components"] == [{"id": "facebook", "name": "Facebook", "status": None}]


@pytest.mark.parametrize("kind", list(NotificationKind))
def test_every_kind_has_a_subject_and_an_sms(example_site, kind):
    assert content.notification_email(event(kind=kind), example_site, None, LINKS, TEMPLATES).subject
    assert content.fits_one_segment(content.notification_sms(event(kind=kind), example_site, None, LINKS, TEMPLATES))


def test_a_playbooks_prepared_sms_is_sent_as_written(example_site):
    # GIVEN the Facebook playbook, whose SMS text was written to fit one message
    from chalicelib.notify.content import Links, notification_sms
    from chalicelib.model import NotificationEvent, NotificationKind
    from chalicelib.settings import PROJECT_ROOT
    from datetime import datetime, timezone

    playbook = example_site.playbook("facebook-outage")
    text = playbook.sms_text.replace("{eta}", "within the hour")
    event = NotificationEvent(id="n1", kind=NotificationKind.INCIDENT_OPENED, title=playbook.name, body=playbook.body,
                              created_at=datetime(2026, 5, 1, tzinfo=timezone.utc), component_ids=["facebook"],
                              sms_text=text)
    sms = notification_sms(event, example_site, None, Links(page_url="https://s.example/", event_url="https://s.example/i/1"),
                           PROJECT_ROOT / "templates")
    # THEN the customer reads the marketer's words, whole, with the link when it fits
    assert sms.startswith(text) and sms.endswith("https://s.example/i/1")
