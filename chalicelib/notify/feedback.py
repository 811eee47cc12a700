"""What the providers tell us back: SES bounces and complaints, carrier opt-outs (STOP).

SES publishes feedback to the SES feedback topic (identity notifications carry
``notificationType``, configuration-set event publishing ``eventType``; both are read).
Sign-ups left unconfirmed past their confirmation window are erased (``purge_unconfirmed``).
A permanent bounce or a complaint suppresses the address for good: it gets nothing more,
not even a confirmation if someone signs it up again. A transient bounce (mailbox full,
auto-reply) is only counted. Numbers that replied STOP are synced from SNS's opted-out
list and suppressed; the consumer also checks each number before sending.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr

from chalicelib.notify.destinations import InvalidDestination, normalise_email
from chalicelib.notify.model import Channel, Subscriber, SubscriberStatus
from chalicelib.store.subscribers import SubscriberStore
from chalicelib.store.table import Conflict

log = logging.getLogger("beacon.notify")


@dataclass(frozen=True)
class FeedbackResult:
    suppressed: int = 0
    transient: int = 0
    ignored: int = 0


def parse_feedback(message: str) -> tuple[str, str, list[str]]:
    """(kind: bounce|complaint|other, bounce type, addresses) of one SES feedback message."""
    data = json.loads(message)
    kind = (data.get("notificationType") or data.get("eventType") or "").lower()
    if kind == "bounce":
        bounce = data.get("bounce", {})
        return "bounce", bounce.get("bounceType", ""), [r["emailAddress"] for r in bounce.get("bouncedRecipients", [])]
    if kind == "complaint":
        complaint = data.get("complaint", {})
        return "complaint", "", [r["emailAddress"] for r in complaint.get("complainedRecipients", [])]
    return kind or "other", "", []


def apply_feedback(store: SubscriberStore, message: str, now: datetime) -> FeedbackResult:
    kind, bounce_type, addresses = parse_feedback(message)
    suppressed = transient = ignored = 0
    for address in addresses:
        address = _bare(address)
        if kind == "complaint" or (kind == "bounce" and bounce_type == "Permanent"):
            reason = "complaint" if kind == "complaint" else "bounce"
            if suppress(store, Channel.EMAIL, address, reason, now):
                suppressed += 1
            else:
                ignored += 1
        elif kind == "bounce":
            count = store.count_transient_bounce(address, now)
            log.info("transient bounce (%s) for a subscriber address, %d today", bounce_type, count)
            transient += 1
        else:
            ignored += 1
    return FeedbackResult(suppressed, transient, ignored)


def purge_unconfirmed(store: SubscriberStore, older_than: datetime) -> int:
    """Erase sign-ups never confirmed before ``older_than``: an unconfirmed address is not ours to keep."""
    purged = 0
    for page in store.pages():
        for subscriber in page:
            if subscriber.status is SubscriberStatus.PENDING and subscriber.created_at < older_than:
                store.erase(subscriber)
                purged += 1
    return purged


def sync_opt_outs(store: SubscriberStore, numbers: Iterable[str], now: datetime) -> int:
    return sum(1 for number in numbers if suppress(store, Channel.SMS, number, "sms-opt-out", now))


def suppress(store: SubscriberStore, channel: Channel, destination: str, reason: str, now: datetime) -> bool:
    for _ in range(5):
        subscriber = store.find(channel, destination)
        if subscriber is None or subscriber.status is SubscriberStatus.SUPPRESSED:
            return False
        try:
            store.save(suppressed(subscriber, reason, now), previous=subscriber.status)
            log.info("subscriber %s suppressed: %s", subscriber.id, reason)
            return True
        except Conflict:
            continue
    log.error("could not suppress a %s subscriber: it kept changing", channel.value)
    return False


def suppressed(subscriber: Subscriber, reason: str, now: datetime) -> Subscriber:
    return subscriber.replace(status=SubscriberStatus.SUPPRESSED, suppressed_reason=reason, updated_at=now)


def _bare(address: str) -> str:
    """SES reports 'Name <a@b>' sometimes; the index holds the normalised address."""
    bare = parseaddr(address)[1] or address
    try:
        return normalise_email(bare)
    except InvalidDestination:
        return bare

