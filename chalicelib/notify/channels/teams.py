"""Microsoft Teams incoming webhooks (and Workflows): one message carrying an Adaptive Card.

The card: the title in the status colour, the status and components as facts, the body, and
a button to the incident. Teams refuses messages over 28 KB; the body is cut well below.
"""
from __future__ import annotations

from chalicelib.notify.channels.base import GREEN, ORANGE, RED, YELLOW, ChatChannel, clip, summary
from chalicelib.notify.model import Channel as ChannelName

CARD_TYPE = "application/vnd.microsoft.card.adaptive"
# Adaptive Cards have named colours, not RGB.
_CARD_COLOURS = {RED: "attention", ORANGE: "warning", YELLOW: "warning", GREEN: "good"}


class Teams(ChatChannel):
    name = ChannelName.TEAMS
    hosts = ("your tenant's webhook.office.com or Workflows",)
    send_rate = 4.0

    def render(self, event, context) -> dict:
        s = summary(event, context)
        body = [
            {"type": "TextBlock", "text": clip(f"{s.brand}: {s.title}", 300), "weight": "Bolder", "size": "Medium",
             "wrap": True, "color": _CARD_COLOURS.get(s.colour, "accent")},
            {"type": "FactSet", "facts": [{"title": "Status", "value": s.status},
                                          {"title": "Components", "value": clip(s.components_text, 1000)}]},
        ]
        if s.body:
            body.append({"type": "TextBlock", "text": clip(s.body, 4000), "wrap": True})
        card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                "version": "1.4", "body": body,
                "actions": [{"type": "Action.OpenUrl", "title": "View the incident", "url": s.url}]}
        return {"type": "message", "attachments": [{"contentType": CARD_TYPE, "contentUrl": None, "content": card}]}


CHANNEL = Teams()
