"""One interface for every way a subscriber hears from the page, and the registry of channels.

A channel is one module in this folder and one line in ``_register_builtin`` below; the code
that plans and delivers notifications never names a channel. Each channel says:

* ``name`` (the ``model.Channel`` value stored on subscribers and claims), ``batch_size``
  (recipients per queue message) and ``rate`` (sends per second for one consumer);
* for channels people sign up to (``signup_field``, the form field, is set): ``offered``,
  ``normalise``, ``signups_per_ip``, ``confirm_hours``, ``confirmation`` (the opt-in
  message in the sign-up's language, sent with ``send``), ``confirms_by_code`` (a code typed on the page, or a link),
  ``confirmation_place`` (where it arrives) and ``paid_confirmations`` (page and country
  ceilings apply);
* ``hears(event, policy)``: whether the event goes out on this channel at all;
* ``admin_added``: created by an admin through the API (webhooks, chat channels), counted
  and disabled after repeated failures, rather than signed up with an opt-in;
* ``destination(fields, policy)``: check what the admin typed, return the destination and
  the secret to store (``InvalidDestination`` names the field and the fix);
* ``mask(destination)``: what an answer may show of it (listings too when
  ``destination_is_secret``: a Slack/Teams/Discord URL is its own secret); ``target_url(destination, policy)``:
  the URL the target guard checks before the subscriber is saved (``None``: no URL);
* ``render(event, context)``: the payload, pure, in ``context.language`` (the subscriber's;
  chat channels are the brand's own and read the default); ``send(payload, subscriber, senders)``:
  the provider's id for it, or ``Permanent`` / ``Transient`` (``senders``) when it fails;
* ``refusal(subscriber, senders)``: a reason the provider will refuse this recipient now
  (an SMS opt-out), checked before the claim, or ``None``.

Secrets a channel needs to send (a webhook's signing secret, a Telegram bot token, the
Slack/Teams/Discord webhook URL itself) cannot be hashed: they are kept on the subscriber
record like the webhook secret and never shown again after creation.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from chalicelib.notify.model import Channel as ChannelName

if TYPE_CHECKING:
    from chalicelib.config import Site
    from chalicelib.model import Incident, NotificationEvent
    from chalicelib.notify.content import Links
    from chalicelib.notify.model import Subscriber
    from chalicelib.notify.policy import SubscriptionPolicy


class RenderContext(msgspec.Struct, frozen=True):
    """What a message is built from, besides the event itself: all of it read in ``language``."""

    site: Site
    incident: Incident | None
    links: Links
    subscriber: Subscriber
    templates_dir: Path
    email_source: str = ""
    language: str = "en"


class Channel(Protocol):
    name: ChannelName
    batch_size: int
    admin_added: bool
    destination_is_secret: bool
    confirms_by_code: bool
    confirmation_place: str
    paid_confirmations: bool
    signup_field: str

    def rate(self, settings: Any) -> float: ...

    def hears(self, event: NotificationEvent, policy: SubscriptionPolicy) -> bool: ...

    def destination(self, fields: dict, policy: SubscriptionPolicy) -> tuple[str, str | None]: ...

    def mask(self, destination: str) -> str: ...

    def render(self, event: NotificationEvent, context: RenderContext) -> Any: ...

    def send(self, payload: Any, subscriber: Subscriber, senders: Any) -> str: ...

    def refusal(self, subscriber: Subscriber, senders: Any) -> str | None: ...

    def target_url(self, destination: str, policy: SubscriptionPolicy) -> str | None: ...


CHANNELS: dict[ChannelName, Channel] = {}


def register(channel: Channel) -> Channel:
    CHANNELS[channel.name] = channel
    return channel


def get(name: ChannelName | str) -> Channel:
    return CHANNELS[ChannelName(name)]


def admin_added() -> list[Channel]:
    return [channel for channel in CHANNELS.values() if channel.admin_added]


def signup() -> list[Channel]:
    """The channels people sign up to on the page, in registration order."""
    return [channel for channel in CHANNELS.values() if channel.signup_field]


def _register_builtin() -> None:
    from chalicelib.notify.channels import discord, email, slack, sms, teams, telegram, webhook

    register(email.CHANNEL)
    register(sms.CHANNEL)
    register(webhook.CHANNEL)
    register(slack.CHANNEL)
    register(teams.CHANNEL)
    register(discord.CHANNEL)
    register(telegram.CHANNEL)


_register_builtin()
