"""This container's notifier: the pieces of ``notify`` bound to the settings, the site and AWS.

Delivery is bound in ``worker`` (the deliver function), SES feedback and the hourly upkeep in
``upkeep``; this module loads neither, so the API signs subscribers up without loading delivery.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from chalicelib import aws
from chalicelib.config import get_site
from chalicelib.model import utcnow
from chalicelib.notify.channels import CHANNELS
from chalicelib.notify.limits import TokenBucket
from chalicelib.notify.model import Channel
from chalicelib.notify.senders import EmailSender, NotificationQueue, Senders, SmsSender, WebhookSender
from chalicelib.notify.signup import Subscriptions
from chalicelib.settings import get_settings
from chalicelib.store.subscribers import DeliveryStore, SubscriberStore
from chalicelib.store.table import Table

_buckets: dict[Channel, TokenBucket] = {}


def table(clock: Callable[[], datetime] = utcnow) -> Table:
    return Table(aws.get_table(), clock=clock)


def send_buckets() -> dict[Channel, TokenBucket]:
    """One bucket per channel per container: it outlives invocations, as the quota does."""
    if not _buckets:
        settings = get_settings()
        for name, channel in CHANNELS.items():
            _buckets[name] = TokenBucket(channel.rate(settings))
    return _buckets


def senders() -> Senders:
    policy = get_site().subscriptions
    webhooks = WebhookSender(allow_private=policy.webhooks_allow_private_targets,
                             allowed_networks=policy.webhooks_allowed_private_networks)
    return Senders(email=EmailSender(aws.client("ses")), sms=SmsSender(aws.client("sns")), webhook=webhooks,
                   queue=NotificationQueue(aws.client("sqs"), get_settings().notify_queue_url))


def subscriptions(clock: Callable[[], datetime] = utcnow) -> Subscriptions:
    settings = get_settings()
    return Subscriptions(store=SubscriberStore(table(clock)), site=get_site(), email=EmailSender(aws.client("ses")),
                         sms=SmsSender(aws.client("sns")), api_url=settings.api_url,
                         email_source=settings.email_sender, templates_dir=settings.templates_dir, clock=clock)


def notification_stats(notification_id: str) -> dict[str, dict[str, int]]:
    return DeliveryStore(table()).stats(notification_id)


def notification_stats_by_language(notification_id: str) -> dict[str, dict[str, int]]:
    return DeliveryStore(table()).stats_by_language(notification_id)


def reset() -> None:
    """Forget this container's send buckets (tests change the rates)."""
    _buckets.clear()
