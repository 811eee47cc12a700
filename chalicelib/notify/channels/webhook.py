"""Webhooks: the event as JSON, signed with the subscriber's secret (``X-Beacon-Signature``)."""
from __future__ import annotations

import secrets

from chalicelib.notify.channels.base import BaseChannel
from chalicelib.notify.model import Channel as ChannelName


class Webhook(BaseChannel):
    name = ChannelName.WEBHOOK
    batch_size = 5
    admin_added = True
    send_rate = 50.0

    def destination(self, fields: dict, policy) -> tuple[str, str | None]:
        from chalicelib.notify.destinations import check_webhook_url

        return check_webhook_url(fields.get("url") or ""), "whsec_" + secrets.token_urlsafe(32)

    def target_url(self, destination: str, policy) -> str | None:
        return destination

    def render(self, event, context) -> dict:
        from chalicelib.notify import content

        return content.webhook_payload(event, context.site, context.incident)

    def send(self, payload: dict, subscriber, senders) -> str:
        return senders.webhook.send(subscriber.destination, subscriber.webhook_secret or "", payload,
                                    f"{payload['notification_id']}-{subscriber.id}")


CHANNEL = Webhook()
