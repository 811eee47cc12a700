"""Telegram: a bot posts to a chat or channel (``sendMessage`` with HTML text, 4096 characters at most).

The destination is the chat id (``-100…`` or ``@channelname``); the bot token is the secret,
kept on the subscriber record and never shown again. The Bot API's base URL is
``subscriptions.telegram_api_url`` (a local server in tests); the target guard checks it.
"""
from __future__ import annotations

import re
from html import escape

from chalicelib.notify.channels.base import ChatChannel, clip, summary
from chalicelib.notify.model import Channel as ChannelName

TEXT_LIMIT = 4096
_TOKEN = re.compile(r"^[0-9]{3,20}:[A-Za-z0-9_-]{20,100}$")
_CHAT = re.compile(r"^(-?[0-9]{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31})$")


class Telegram(ChatChannel):
    name = ChannelName.TELEGRAM
    destination_is_secret = False   # the chat id; the bot token is the secret
    send_rate = 25.0

    def destination(self, fields: dict, policy) -> tuple[str, str | None]:
        from chalicelib.notify.destinations import InvalidDestination

        chat_id, token = str(fields.get("chat_id") or "").strip(), (fields.get("bot_token") or "").strip()
        if not _CHAT.match(chat_id):
            raise InvalidDestination("chat_id", "give the chat's numeric id (e.g. -1001234567890) or @channelname")
        if not _TOKEN.match(token):
            raise InvalidDestination("bot_token", "give the token @BotFather gave the bot, e.g. 123456:ABC-DEF…")
        return chat_id, token

    def mask(self, destination: str) -> str:
        return destination

    def target_url(self, destination: str, policy) -> str | None:
        from chalicelib.notify.destinations import check_webhook_url

        return check_webhook_url(policy.telegram_api_url)

    def render(self, event, context) -> tuple[str, dict]:
        s = summary(event, context)
        head = (f"<b>{escape(s.brand)}: {escape(s.title)}</b>\nStatus: {escape(s.status)}\n"
                f"Components: {escape(s.components_text)}\n")
        link = f'\n<a href="{escape(s.url)}">View the incident</a>'
        room = TEXT_LIMIT - len(head) - len(link) - 1
        body = "\n" + escape(clip(s.body, max(0, room))) if s.body and room > 20 else ""
        # Escaping can lengthen the body past the room: cut the raw text further until it fits.
        while body and len(head + body + link) > TEXT_LIMIT:
            room -= 100
            body = "\n" + escape(clip(s.body, max(1, room)))
        text = clip(head + body + link, TEXT_LIMIT) if not body else head + body + link
        base = context.site.subscriptions.telegram_api_url.rstrip("/")
        return base, {"chat_id": context.subscriber.destination, "text": text, "parse_mode": "HTML",
                      "disable_web_page_preview": True}

    def send(self, payload: tuple[str, dict], subscriber, senders) -> str:
        base, body = payload
        return senders.webhook.post(f"{base}/bot{subscriber.webhook_secret}/sendMessage", body)


CHANNEL = Telegram()
