"""The notification queue's consumer: fan-out of events, delivery of recipient batches.

Exactly once per recipient, and what that can and cannot mean:

* Before sending, the consumer claims (notification, subscriber) with a conditional write
  (state ``sending``); afterwards it records ``sent``, ``failed`` (permanent) or gives the
  claim back (transient: throttled, timed out), and the message is reported as a batch item
  failure so SQS redelivers it later; after 5 receives it goes to the dead-letter queue.
* A redelivered message, or a second consumer, finds ``sent``/``failed``/``suppressed``
  claims and sends nothing for them.
* SES and SNS take no idempotency key, so a consumer that dies between the provider
  accepting a message and the claim turning ``sent`` leaves a ``sending`` claim that no one
  can tell apart from one whose send never happened. After ``LEASE`` (longer than the
  function's time limit, so its holder is certainly gone) the next delivery re-takes it and
  sends: **at-least-once at that one crash point** (a duplicate at worst), chosen because a
  subscriber missing an outage notice is the worse failure for a status page. The window is
  one API call long per crashed consumer; the consumer stops taking recipients well before
  its time limit, so timeouts do not land inside it.
* When SES refuses the whole account (sending paused, sender not verified, throttled, over
  quota: ``AccountRefused``), the recipient is given back like any transient failure, the
  rest of the batch is left unsent for the redelivery, and ``EmailAccountRefused`` is
  counted (alarmed): an account problem never marks a recipient failed.
"""
from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path

from chalicelib.config import Site
from chalicelib.model import Incident, NotificationEvent
from chalicelib.notify import channels, content
from chalicelib.notify.events import enqueue_batches
from chalicelib.notify.feedback import suppressed
from chalicelib.notify.limits import TokenBucket
from chalicelib.notify.model import (Channel, ClaimState, DeliverMessage, NotificationMessage, Subscriber,
                                     SubscriberStatus)
from chalicelib.notify.planning import FanOutPlanner
from chalicelib.notify.senders import AccountRefused, Permanent, Senders, Transient
from chalicelib.observability import count
from chalicelib.store.incidents import IncidentStore
from chalicelib.store.notifications import NotificationStore
from chalicelib.store.subscribers import DeliveryStore, SubscriberStore
from chalicelib.store.table import Conflict, Item, Table
from chalicelib.translations import event_in, incident_in

log = logging.getLogger("beacon.notify")

LEASE = timedelta(minutes=2)          # > the function's 60 s limit
STOP_BEFORE_MS = 15_000               # leave this much of the time limit unused
SEND_ATTEMPTS = 4


class Outcome(Enum):
    DONE = "done"        # sent, failed for good, or skipped: nothing left to do for this recipient
    LATER = "later"      # try again on redelivery
    HALT = "halt"        # the provider refuses the account: leave this and the rest of the batch for redelivery


@dataclass
class Deliverer:
    table: Table
    site: Site
    senders: Senders
    api_url: str
    email_source: str
    templates_dir: Path
    buckets: dict[Channel, TokenBucket]
    clock: Callable[[], datetime]
    sleep: Callable[[float], None] = time.sleep
    _events: dict[str, NotificationEvent | None] = field(default_factory=dict)
    _incidents: dict[str, Incident | None] = field(default_factory=dict)
    _readings: dict[tuple[str, str], tuple] = field(default_factory=dict)   # (event id, language): ``_read_in``
    _tally: Counter = field(default_factory=Counter)     # EmailSent, SmsRetried, ... emitted per batch

    def __post_init__(self):
        self.subscribers = SubscriberStore(self.table)
        self.deliveries = DeliveryStore(self.table)
        self.notifications = NotificationStore(self.table)
        self.incidents = IncidentStore(self.table)

    # -- the batch -------------------------------------------------------------------------
    def handle(self, records: list[dict], remaining_ms: Callable[[], int] = lambda: 60_000) -> list[str]:
        """Process SQS records; returns the message ids to report as batch item failures."""
        failures = []
        for record in records:
            message_id = record["messageId"]
            if remaining_ms() < STOP_BEFORE_MS:
                failures.append(message_id)
                continue
            try:
                body = json.loads(record["body"])
                kind = body.get("type")
                if kind == "notification":
                    self.fan_out(NotificationMessage.from_data(body).notification_id)
                elif kind == "deliver":
                    if not self.deliver(DeliverMessage.from_data(body), remaining_ms):
                        failures.append(message_id)
                else:
                    log.error("unknown message type %r on the notification queue; it will reach the DLQ", kind)
                    failures.append(message_id)
            except ValueError:  # json's and msgspec's errors both are
                log.exception("malformed notification queue message %s; it will reach the DLQ", message_id)
                failures.append(message_id)
            except Exception:
                log.exception("notification queue message %s failed; it will be redelivered", message_id)
                failures.append(message_id)
        for name, value in self._tally.items():
            count(name, value)
        sent = {name.removesuffix("Sent").lower(): n for name, n in self._tally.items() if name.endswith("Sent")}
        if sent:
            log.info("sent: %s", ", ".join(f"{n:,} {channel}" for channel, n in sent.items()))
        self._tally.clear()
        return failures

    # -- fan-out ---------------------------------------------------------------------------
    def fan_out(self, notification_id: str, page_size: int = 1000) -> dict[str, int]:
        done = self.deliveries.fanned_out(notification_id)
        if done is not None:
            return done["queued"]
        event = self.event(notification_id)
        if event is None:
            raise LookupError(f"notification {notification_id} is not in the table")
        planner = FanOutPlanner(event, self.site.subscriptions)
        for page in self.subscribers.pages(page_size):
            enqueue_batches(self.senders.queue, planner.add(page))
        enqueue_batches(self.senders.queue, planner.finish())
        self.deliveries.mark_fanned_out(notification_id, planner.counts, planner.batches, self.clock())
        log.info("notification queued: %s (%s, %d batches)", ", ".join(f"{n:,} {channel}" for channel, n in
                 planner.counts.items() if n) or "nobody to tell", notification_id, planner.batches)
        return planner.counts

    # -- delivery --------------------------------------------------------------------------
    def deliver(self, message: DeliverMessage, remaining_ms: Callable[[], int] = lambda: 60_000) -> bool:
        """Deliver one batch; False when some recipients are left for a redelivery."""
        event = self.event(message.notification_id)
        if event is None:
            raise LookupError(f"notification {message.notification_id} is not in the table")
        complete = True
        for subscriber_id in message.subscriber_ids:
            if remaining_ms() < STOP_BEFORE_MS:
                return False
            outcome = self.deliver_one(event, message.channel, subscriber_id)
            if outcome is Outcome.HALT:
                return False
            if outcome is Outcome.LATER:
                complete = False
        return complete

    def deliver_one(self, event: NotificationEvent, channel: Channel, subscriber_id: str) -> Outcome:
        now = self.clock()
        claim = self.deliveries.get_claim(event.id, subscriber_id)
        if claim is not None:
            if claim.data["state"] != ClaimState.SENDING.value:
                return Outcome.DONE
            if now - datetime.fromisoformat(claim.data["at"]) < LEASE:
                return Outcome.LATER    # held by a live consumer, or by one that died moments ago
            claim = self.deliveries.take_over(claim, now)
            if claim is None:
                return Outcome.LATER
            log.warning("re-took the stale claim of %s for %s: its consumer died mid-send", subscriber_id, event.id)
        subscriber = self.subscribers.get(subscriber_id)
        reason = self._skip_reason(subscriber, event, channel)
        if reason is not None:
            if claim is not None:
                self.deliveries.finish(claim, ClaimState.SUPPRESSED, reason=reason)
            else:
                self.deliveries.record_skipped(event.id, subscriber_id, channel, reason, now)
            return Outcome.DONE
        if claim is None:
            claim = self.deliveries.claim(event.id, subscriber_id, channel, now,
                                          language=subscriber.reads(self.site.languages))
            if claim is None:
                return Outcome.LATER    # another consumer claimed it a moment ago
        return self._send(event, subscriber, claim)

    def _skip_reason(self, subscriber: Subscriber | None, event: NotificationEvent, channel: Channel) -> str | None:
        if subscriber is None:
            return "erased"
        if not subscriber.receives:
            return subscriber.status.value
        if subscriber.channel is not channel or not subscriber.wants(event.component_ids):
            return "not-selected"
        refusal = channels.get(channel).refusal(subscriber, self.senders)
        if refusal is not None:
            self._change(subscriber, lambda s: suppressed(s, refusal, self.clock()))
        return refusal

    def _send(self, event: NotificationEvent, subscriber: Subscriber, claim: Item) -> Outcome:
        send = self._prepare(event, subscriber)
        bucket = self.buckets[subscriber.channel]

        def paced() -> str:
            bucket.acquire()       # right before the provider call: the quota counts calls
            return send()

        try:
            provider_id = self._with_retries(paced)
        except Permanent as exc:
            log.warning("permanent failure sending %s to %s: %s", event.id, subscriber.id, exc.reason)
            self.deliveries.finish(claim, ClaimState.FAILED, error=exc.reason[:500])
            self._webhook_result(subscriber, exc.reason)
            self._tally[f"{subscriber.channel.value.capitalize()}Failed"] += 1
            return Outcome.DONE
        except AccountRefused as exc:
            log.error("the provider refuses the account; %s to %s and the rest of the batch wait for a "
                      "redelivery: %s", event.id, subscriber.id, exc.reason)
            self.deliveries.release(claim)
            self._tally[f"{subscriber.channel.value.capitalize()}AccountRefused"] += 1
            return Outcome.HALT
        except Transient as exc:
            log.warning("transient failure sending %s to %s, retrying later: %s", event.id, subscriber.id, exc.reason)
            self.deliveries.release(claim)
            self._webhook_result(subscriber, exc.reason)
            self._tally[f"{subscriber.channel.value.capitalize()}Retried"] += 1
            return Outcome.LATER
        self.deliveries.finish(claim, ClaimState.SENT, provider_id=provider_id)
        self._webhook_result(subscriber, None)
        self._tally[f"{subscriber.channel.value.capitalize()}Sent"] += 1
        return Outcome.DONE

    def _with_retries(self, send: Callable[[], str]) -> str:
        for attempt in range(SEND_ATTEMPTS):
            try:
                return send()
            except Transient:
                if attempt == SEND_ATTEMPTS - 1:
                    raise
                self.sleep(0.25 * 2 ** attempt)
        raise AssertionError("unreachable")

    def _prepare(self, event: NotificationEvent, subscriber: Subscriber) -> Callable[[], str]:
        """Render the recipient's message once; the returned call sends it (the bucket paces each call)."""
        channel = channels.get(subscriber.channel)
        language = subscriber.reads(self.site.languages)
        read, incident = self._read_in(event, language)
        context = channels.RenderContext(site=self.site.in_language(language), incident=incident,
                                         links=self.links(event, subscriber), subscriber=subscriber,
                                         templates_dir=self.templates_dir, email_source=self.email_source,
                                         language=language)
        payload = channel.render(read, context)
        return lambda: channel.send(payload, subscriber, self.senders)

    def _read_in(self, event: NotificationEvent, language: str) -> tuple[NotificationEvent, Incident | None]:
        """The event and its incident as readers of ``language`` get them: made once per batch, not per recipient."""
        key = (event.id, language)
        if key not in self._readings:
            default = self.site.default_language
            incident = self.incident(event.incident_id)
            self._readings[key] = (event_in(event, language, default),
                                   incident and incident_in(incident, language, default))
        return self._readings[key]

    def links(self, event: NotificationEvent, subscriber: Subscriber) -> content.Links:
        return subscriber_links(self.api_url, self.site, event, subscriber, subscriber.reads(self.site.languages))

    def _webhook_result(self, subscriber: Subscriber, error: str | None) -> None:
        if not channels.get(subscriber.channel).admin_added or (error is None and subscriber.webhook_failures == 0):
            return
        limit = self.site.subscriptions.webhook_failure_limit
        now = self.clock()

        def change(current: Subscriber) -> Subscriber:
            if error is None:
                return current.replace(webhook_failures=0, last_error=None, updated_at=now)
            failures = current.webhook_failures + 1
            update = {"webhook_failures": failures, "last_error": error[:300], "updated_at": now}
            if failures >= limit and current.status is SubscriberStatus.CONFIRMED:
                update["status"] = SubscriberStatus.DISABLED
                log.warning("%s %s disabled after %d consecutive failures", current.channel.value, current.id, failures)
            return current.replace(**update)

        self._change(subscriber, change)

    def _change(self, subscriber: Subscriber, change: Callable[[Subscriber], Subscriber]) -> None:
        current: Subscriber | None = subscriber
        for _ in range(5):
            if current is None:
                return
            try:
                self.subscribers.save(change(current), previous=current.status)
                return
            except Conflict:
                current = self.subscribers.get(subscriber.id)
        log.error("could not update subscriber %s: it kept changing", subscriber.id)

    # -- reads -----------------------------------------------------------------------------
    def event(self, notification_id: str) -> NotificationEvent | None:
        if notification_id not in self._events:
            self._events[notification_id] = self.notifications.get(notification_id)
        return self._events[notification_id]

    def incident(self, incident_id: str | None) -> Incident | None:
        if incident_id is None:
            return None
        if incident_id not in self._incidents:
            self._incidents[incident_id] = self.incidents.incident(incident_id)
        return self._incidents[incident_id]


def subscriber_links(api_url: str, site: Site, event: NotificationEvent | None, subscriber: Subscriber,
                     language: str | None = None) -> content.Links:
    """A subscriber's links: the page in ``language`` (the one they read), their own manage and unsubscribe links."""
    base = f"{api_url}/subscribers/{subscriber.id}"
    return content.Links(
        page_url=content.page_url(site, language),
        event_url=content.event_url(site, event, language) if event else content.page_url(site, language),
        unsubscribe_url=f"{base}/unsubscribe?token={subscriber.manage_token}",
        manage_url=f"{base}/manage?token={subscriber.manage_token}",
    )
