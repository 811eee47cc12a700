"""Subscribers an admin adds (webhooks, Slack, Teams, Discord, Telegram): checked, guarded, saved confirmed.

The channel checks what was typed (``destination``), the target guard checks the URL the
messages will go to (public addresses only unless the site allows private ones), and the
subscriber is saved confirmed with ``Consent.ADMIN``. A secret the channel needs to send (a
webhook's signing secret, a Telegram bot token) is kept on the record: it cannot be hashed,
since every send uses it, and no answer shows it after this one.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime

from chalicelib.config import Site
from chalicelib.model import new_id
from chalicelib.notify import channels
from chalicelib.notify.destinations import InvalidDestination
from chalicelib.notify.model import Channel, Consent, Subscriber, SubscriberStatus
from chalicelib.store.subscribers import SubscriberStore


def admin_channel(kind: str) -> channels.Channel:
    """The channel named ``kind`` if admins add its subscribers; ``InvalidDestination`` otherwise."""
    known = [c.name.value for c in channels.admin_added()]
    if kind not in known:
        raise InvalidDestination("kind", f"unknown channel {kind!r}; admins add {', '.join(known)}")
    return channels.get(kind)


def add_subscriber(store: SubscriberStore, site: Site, kind: str, fields: dict, label: str, components: list[str],
                   check_target: Callable[[str], None], now: datetime) -> tuple[Subscriber, str | None]:
    """Save a confirmed subscriber of an admin-added channel; returns it and its secret (``None`` if none).

    ``check_target`` is the target guard's check (``WebhookSender.check``); it raises
    ``Permanent`` for a URL that resolves where messages may not go. ``AlreadyExists`` when the
    destination has a subscriber already.
    """
    channel = admin_channel(kind)
    destination, secret = channel.destination(fields, site.subscriptions)
    target = channel.target_url(destination, site.subscriptions)
    if target is not None:
        check_target(target)
    subscriber = Subscriber(id=new_id(now), channel=Channel(kind), destination=destination, components=components,
                            status=SubscriberStatus.CONFIRMED, consent=Consent.ADMIN, created_at=now,
                            updated_at=now, confirmed_at=now, manage_token=secrets.token_urlsafe(24), label=label,
                            webhook_secret=secret)
    return store.create(subscriber), secret
