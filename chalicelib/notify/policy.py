"""The ``subscriptions:`` section of site.yml: who may sign up, what goes by SMS, abuse limits.

Every key has a default, so a site.yml without the section gets double opt-in by email and
SMS for the listed countries, SMS for openings, resolutions and maintenance starts, and the
sign-up limits below: per source address, per destination (its variants counted as one)
and, for confirmation texts, per hour for the whole page and per country calling code.
"""
from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from chalicelib.model import NotificationKind
from chalicelib.probes.spec import PrivateNetworks
from chalicelib.schema import Check, Strict


def _known_regions(value: tuple[str, ...]) -> tuple[str, ...]:
    import phonenumbers

    unknown = [code for code in value if code not in phonenumbers.SUPPORTED_REGIONS]
    if unknown:
        raise ValueError(f"unknown country code(s) {unknown}; use ISO 3166 alpha-2 codes such as 'DE' or 'US'")
    if not value:
        raise ValueError("list at least one country, or set 'sms: false' to turn SMS sign-ups off")
    return value


class Limit(Strict, kw_only=True):
    """At most ``count`` events per ``hours`` (a fixed window per key)."""

    count: Annotated[int, Meta(ge=1)]
    hours: Annotated[float, Meta(gt=0, le=24 * 31)]

    @property
    def window_seconds(self) -> int:
        return int(self.hours * 3600)


class SubscriptionLimits(Strict, kw_only=True):
    # Statuspage allows 10 SMS sign-ups per source address per 4 hours.
    sms_signups_per_ip: Limit = Limit(count=10, hours=4)
    email_signups_per_ip: Limit = Limit(count=30, hours=4)
    confirmations_per_destination: Limit = Limit(count=3, hours=24)
    # Ceilings on confirmation texts for the whole page, whoever asks from wherever: what
    # sign-ups from many addresses (SMS pumping) can cost at most.
    sms_confirmations: Limit = Limit(count=200, hours=1)
    sms_confirmations_per_country: Limit = Limit(count=100, hours=1)
    code_attempts: Annotated[int, Meta(ge=1, le=20)] = 5


class SubscriptionPolicy(Strict, kw_only=True):
    email: bool = True
    sms: bool = True
    # ISO 3166 alpha-2 codes of the countries whose phone numbers may subscribe; the first is
    # assumed for numbers typed without a country code.
    sms_countries: Annotated[tuple[str, ...], Check(_known_regions)] = (
        "DE", "AT", "CH", "NL", "BE", "FR", "GB", "IE", "US", "CA")
    # Events that go out by SMS too; every other channel gets every event.
    sms_events: tuple[NotificationKind, ...] = (
        NotificationKind.INCIDENT_OPENED,
        NotificationKind.INCIDENT_RESOLVED,
        NotificationKind.MAINTENANCE_STARTED,
    )
    # Also check that an email domain accepts mail (DNS MX lookup) before sending a confirmation.
    check_email_domain: bool = False
    confirm_email_days: Annotated[int, Meta(ge=1, le=30)] = 7
    confirm_sms_hours: Annotated[int, Meta(ge=1, le=24 * 7)] = 24
    limits: SubscriptionLimits = SubscriptionLimits()
    # Consecutive failed deliveries after which a webhook is disabled.
    webhook_failure_limit: Annotated[int, Meta(ge=1, le=100)] = 5
    # Webhooks reach public addresses only (the probes' target guard), unless this is set.
    webhooks_allow_private_targets: bool = False
    # Or only these private networks (the local stack's receivers: 127.0.0.1/32); plain http is
    # accepted for chat channels there too.
    webhooks_allowed_private_networks: PrivateNetworks = ()
    # Where Telegram's Bot API answers (tests point it at a local server).
    telegram_api_url: str = "https://api.telegram.org"

