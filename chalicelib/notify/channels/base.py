"""What most channels share: defaults of the ``Channel`` interface and the chat message summary.

``Summary`` is the one reading of an event that every chat platform formats its own way:
title, status (with its colour), affected components, the link to the incident, the body.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import msgspec

from chalicelib.model import NotificationEvent, NotificationKind


class BaseChannel:
    batch_size = 25
    admin_added = False
    destination_is_secret = False
    send_rate = 10.0
    confirms_by_code = False        # sign-ups: a code typed on the page, rather than a link
    confirmation_place = ""         # sign-ups: where the confirmation arrives ("inbox", "phone")
    paid_confirmations = False      # sign-ups: each confirmation costs money (page and country ceilings)
    signup_field = ""               # sign-ups: the form field people type the destination in; "" for none

    def rate(self, settings: Any) -> float:
        return self.send_rate

    def hears(self, event, policy) -> bool:
        return True

    def destination(self, fields: dict, policy) -> tuple[str, str | None]:
        from chalicelib.notify.destinations import InvalidDestination

        raise InvalidDestination("channel", f"{self.name} subscribers sign up on the page; admins cannot add them")

    def mask(self, destination: str) -> str:
        return destination

    def refusal(self, subscriber, senders) -> str | None:
        return None

    def target_url(self, destination: str, policy) -> str | None:
        """The URL the target guard checks before an admin's subscriber is saved (``None``: no URL)."""
        return None


class ChatChannel(BaseChannel):
    """An incoming webhook of a chat platform: the URL is the secret, so answers show its host only."""

    batch_size = 5
    admin_added = True
    destination_is_secret = True    # listings mask it too
    hosts: tuple[str, ...] = ()     # the platform's hosts, named in the error for a wrong URL

    def destination(self, fields: dict, policy) -> tuple[str, str | None]:
        from chalicelib.notify.destinations import InvalidDestination, check_webhook_url
        from chalicelib.probes.guard import in_networks

        url = check_webhook_url(fields.get("url") or "")
        parts = urlsplit(url)
        allowed = policy.webhooks_allow_private_targets or in_networks(parts.hostname or "",
                                                                         policy.webhooks_allowed_private_networks)
        if parts.scheme != "https" and not allowed:
            raise InvalidDestination("url", f"must be an https URL, as {self.hosts[0]} gives it")
        return url, None

    def mask(self, destination: str) -> str:
        parts = urlsplit(destination)
        return f"{parts.scheme}://{parts.netloc}/***"

    def target_url(self, destination: str, policy) -> str | None:
        return destination

    def send(self, payload: Any, subscriber, senders) -> str:
        return senders.webhook.post(subscriber.destination, payload)


# Colours by the incident's status, or by the kind of event when there is no incident.
RED, ORANGE, YELLOW, GREEN, BLUE, GREY = 0xD93F0B, 0xE67E22, 0xF1C40F, 0x2ECC71, 0x3498DB, 0x95A5A6
_KIND_COLOURS = {
    NotificationKind.INCIDENT_OPENED: RED, NotificationKind.INCIDENT_UPDATED: ORANGE,
    NotificationKind.INCIDENT_RESOLVED: GREEN, NotificationKind.MAINTENANCE_SCHEDULED: BLUE,
    NotificationKind.MAINTENANCE_STARTED: BLUE, NotificationKind.MAINTENANCE_COMPLETED: GREEN,
    NotificationKind.MAINTENANCE_CANCELLED: GREY, NotificationKind.NOTICE_POSTED: BLUE,
}
_STATUS_COLOURS = {"investigating": RED, "identified": ORANGE, "monitoring": YELLOW, "resolved": GREEN}


class Summary(msgspec.Struct, frozen=True):
    brand: str
    title: str
    status: str
    colour: int
    components: list[tuple[str, str]]     # (name, status label)
    url: str
    body: str

    @property
    def components_text(self) -> str:
        return ", ".join(f"{name} ({status})" if status else name for name, status in self.components) or "—"


def summary(event: NotificationEvent, context) -> Summary:
    from chalicelib.notify import content

    incident = context.incident
    colour = _KIND_COLOURS[event.kind]
    if incident is not None and event.kind is not NotificationKind.NOTICE_POSTED:
        colour = _STATUS_COLOURS.get(str(incident.status), colour)
    return Summary(
        brand=context.site.brand.name, title=event.title, status=content.status_label(event, incident),
        colour=colour, components=[(c.name, c.status) for c in content.affected(context.site, event, incident)],
        url=context.links.event_url, body=content.plain_text(event.body, limit=2000),
    )


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"
