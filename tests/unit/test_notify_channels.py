"""The channel registry and each chat platform's message shape, colours and size limits."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from chalicelib.model import NotificationEvent, NotificationKind
from chalicelib.notify import channels, content
from chalicelib.notify.destinations import InvalidDestination
from chalicelib.notify.model import Channel, Subscriber
from chalicelib.notify.policy import SubscriptionPolicy
from chalicelib.settings import PROJECT_ROOT

NOON = datetime(2026, 5, 1, 12, tzinfo=timezone.utc)
LINKS = content.Links(page_url="https://status.lumencoffee.com",
                      event_url="https://status.lumencoffee.com/incidents/inc1.html")
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw_"


def event(body="Posts are not going out.", kind=NotificationKind.INCIDENT_OPENED):
    return NotificationEvent(id="n1", kind=kind, created_at=NOON, title="Facebook is down", body=body,
                             incident_id="inc1", component_ids=["facebook"])


def context(site, kind: Channel, destination="https://hooks.example.com/x", secret=None):
    subscriber = Subscriber(id="s1", channel=kind, destination=destination, created_at=NOON, updated_at=NOON,
                            manage_token="t", webhook_secret=secret)
    return channels.RenderContext(site=site, incident=None, links=LINKS, subscriber=subscriber,
                                  templates_dir=PROJECT_ROOT / "templates")


def test_every_channel_is_registered_once_and_the_planner_asks_the_registry():
    assert set(channels.CHANNELS) == set(Channel)
    assert {c.name for c in channels.admin_added()} == {Channel.WEBHOOK, Channel.SLACK, Channel.TEAMS,
                                                        Channel.DISCORD, Channel.TELEGRAM}
    policy = SubscriptionPolicy()
    hearing = {name for name, c in channels.CHANNELS.items() if c.hears(event(kind=NotificationKind.NOTICE_POSTED),
                                                                         policy)}
    assert hearing == set(Channel) - {Channel.SMS}


def test_slack_message_has_text_blocks_and_the_status_colour(example_site):
    payload = channels.get("slack").render(event(), context(example_site, Channel.SLACK))
    assert "Facebook is down" in payload["text"]
    attachment = payload["attachments"][0]
    assert attachment["color"] == "#d93f0b"          # an opened incident is red
    text = json.dumps(attachment["blocks"])
    assert "Facebook" in text and "<https://status.lumencoffee.com/incidents/inc1.html|View the incident>" in text


def test_slack_section_text_stays_under_3000_characters(example_site):
    payload = channels.get("slack").render(event(body="word " * 2000), context(example_site, Channel.SLACK))
    for block in payload["attachments"][0]["blocks"]:
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000


def test_teams_message_is_an_adaptive_card_with_facts_and_a_link(example_site):
    payload = channels.get("teams").render(event(kind=NotificationKind.INCIDENT_RESOLVED),
                                           context(example_site, Channel.TEAMS))
    assert payload["type"] == "message"
    attachment = payload["attachments"][0]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["body"][0]["color"] == "good"
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert facts["Status"] == "Resolved" and "Facebook" in facts["Components"]
    assert card["actions"][0] == {"type": "Action.OpenUrl", "title": "View the incident", "url": LINKS.event_url}


def test_discord_embed_has_title_url_integer_colour_fields_and_limits(example_site):
    payload = channels.get("discord").render(event(body="x" * 5000), context(example_site, Channel.DISCORD))
    embed = payload["embeds"][0]
    assert embed["title"] == "Facebook is down" and embed["url"] == LINKS.event_url
    assert embed["color"] == 0xD93F0B and len(embed["description"]) <= 4096
    assert [f["name"] for f in embed["fields"]] == ["Status", "Components"]
    assert payload["allowed_mentions"] == {"parse": []}     # an incident body cannot ping @everyone


def test_telegram_message_is_escaped_html_within_4096_characters(example_site):
    base, body = channels.get("telegram").render(event(body="<b>bold</b> & " * 1000),
                                                 context(example_site, Channel.TELEGRAM, "-100123", TOKEN))
    assert base == "https://api.telegram.org"
    assert body["chat_id"] == "-100123" and body["parse_mode"] == "HTML"
    assert len(body["text"]) <= 4096 and "&lt;b&gt;bold" in body["text"]
    assert body["text"].endswith('<a href="https://status.lumencoffee.com/incidents/inc1.html">View the incident</a>')


def test_chat_destinations_are_checked_and_masked():
    policy = SubscriptionPolicy()
    slack = channels.get("slack")
    url, secret = slack.destination({"url": "https://hooks.slack.com/services/T0/B0/abc"}, policy)
    assert secret is None and slack.mask(url) == "https://hooks.slack.com/***"
    with pytest.raises(InvalidDestination, match="https"):
        slack.destination({"url": "http://hooks.slack.com/services/T0/B0/abc"}, policy)
    telegram = channels.get("telegram")
    assert telegram.destination({"chat_id": "@beaconstatus", "bot_token": TOKEN}, policy) == ("@beaconstatus", TOKEN)
    assert telegram.target_url("@beaconstatus", policy) == "https://api.telegram.org"
    with pytest.raises(InvalidDestination, match="bot_token"):
        telegram.destination({"chat_id": "-100123", "bot_token": "nope"}, policy)
    with pytest.raises(InvalidDestination, match="admins cannot add"):
        channels.get("email").destination({"url": "x"}, policy)
