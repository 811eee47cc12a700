"""Slack incoming webhooks: a fallback ``text`` and Block Kit blocks in an attachment of the status colour.

Slack's documented limits: 3000 characters per section text, 150 per header.
"""
from __future__ import annotations

from chalicelib.notify.channels.base import ChatChannel, clip, summary
from chalicelib.notify.model import Channel as ChannelName

SECTION_LIMIT, HEADER_LIMIT = 3000, 150


class Slack(ChatChannel):
    name = ChannelName.SLACK
    hosts = ("hooks.slack.com",)
    send_rate = 10.0

    def render(self, event, context) -> dict:
        s = summary(event, context)
        fields = [{"type": "mrkdwn", "text": clip(f"*Status*\n{s.status}", 2000)},
                  {"type": "mrkdwn", "text": clip(f"*Components*\n{s.components_text}", 2000)}]
        blocks = [
            {"type": "header", "text": {"type": "plain_text", "text": clip(f"{s.brand}: {s.title}", HEADER_LIMIT)}},
            {"type": "section", "fields": fields},
        ]
        if s.body:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": clip(s.body, SECTION_LIMIT)}})
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"<{s.url}|View the incident>"}})
        return {"text": clip(f"{s.brand}: {s.title} ({s.status})", SECTION_LIMIT),
                "attachments": [{"color": f"#{s.colour:06x}", "blocks": blocks}]}


CHANNEL = Slack()
