"""Discord webhooks: a short ``content`` line and one embed (title, link, status colour, fields).

Discord's documented limits: content 2000 characters, embed title 256, description 4096,
field name 256, field value 1024.
"""
from __future__ import annotations

from chalicelib.notify.channels.base import ChatChannel, clip, summary
from chalicelib.notify.model import Channel as ChannelName


class Discord(ChatChannel):
    name = ChannelName.DISCORD
    hosts = ("discord.com",)
    send_rate = 5.0

    def render(self, event, context) -> dict:
        s = summary(event, context)
        embed = {
            "title": clip(s.title, 256), "url": s.url, "color": s.colour,
            "description": clip(s.body or s.status, 4096),
            "fields": [{"name": "Status", "value": clip(s.status, 1024), "inline": True},
                       {"name": "Components", "value": clip(s.components_text, 1024), "inline": True}],
            "footer": {"text": clip(s.brand, 2048)},
        }
        return {"content": clip(f"{s.brand}: {s.title} ({s.status})", 2000), "embeds": [embed],
                "allowed_mentions": {"parse": []}}


CHANNEL = Discord()
