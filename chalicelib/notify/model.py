"""Subscribers, opt-in challenges, delivery claims and queue messages."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from msgspec import field

from chalicelib.model import Record


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WEBHOOK = "webhook"
    SLACK = "slack"
    TEAMS = "teams"
    DISCORD = "discord"
    TELEGRAM = "telegram"


class SubscriberStatus(StrEnum):
    PENDING = "pending"            # signed up, not confirmed: gets nothing but the confirmation
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"
    SUPPRESSED = "suppressed"      # bounced, complained, or opted out at the carrier (STOP)
    DISABLED = "disabled"          # a webhook or chat channel that kept failing


class Consent(StrEnum):
    DOUBLE_OPT_IN = "double-opt-in"
    IMPORTED = "imported"          # consent given elsewhere, asserted by the admin who imported it
    ADMIN = "admin"                # webhooks and chat channels, added by an admin


class Subscriber(Record, kw_only=True):
    id: str
    channel: Channel
    destination: str               # email address, E.164 phone number, webhook URL, or Telegram chat id
    components: list[str] = field(default_factory=list)  # empty: every component
    status: SubscriberStatus = SubscriberStatus.PENDING
    consent: Consent | None = None
    created_at: datetime
    updated_at: datetime
    confirmed_at: datetime | None = None
    unsubscribed_at: datetime | None = None
    suppressed_reason: str | None = None
    manage_token: str              # capability in unsubscribe and manage links
    label: str | None = None       # webhooks: what the admin called it
    webhook_secret: str | None = None  # a webhook's signing secret, a Telegram bot token: needed to send
    webhook_failures: int = 0      # consecutive failed deliveries (admin-added channels)
    last_error: str | None = None
    language: str | None = None    # what they read (a code of site.yml's languages); None: the site's default
    version: int = 0

    @property
    def receives(self) -> bool:
        return self.status is SubscriberStatus.CONFIRMED

    def reads(self, languages: tuple[str, ...]) -> str:
        """The language to write to this subscriber in: theirs while the site offers it, else the default."""
        return self.language if self.language in languages else languages[0]

    def wants(self, component_ids: list[str]) -> bool:
        """True when the event concerns this subscriber (no components on either side: everything)."""
        return not component_ids or not self.components or bool(set(component_ids) & set(self.components))


class OptIn(Record, kw_only=True):
    """One pending confirmation of a sign-up: a link token for email, a code for SMS.

    It holds hashes and the subscriber's id, never the address, so erasing a subscriber
    leaves no copy of the address in a pending opt-in.
    """

    id: str
    subscriber_id: str
    channel: Channel
    components: list[str] = field(default_factory=list)
    token_hash: str
    code_hash: str | None = None
    language: str | None = None    # the sign-up's language, the subscriber's from confirmation on
    attempts: int = 0
    created_at: datetime
    expires_at: datetime
    version: int = 0


class ClaimState(StrEnum):
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


class NotificationMessage(Record, kw_only=True):
    type: Literal["notification"]
    notification_id: str


class DeliverMessage(Record, kw_only=True):
    type: Literal["deliver"]
    notification_id: str
    channel: Channel
    subscriber_ids: list[str]
