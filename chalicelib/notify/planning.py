"""Fan-out planning: which subscribers hear about an event, by which channel, in which batches.

Pure: an event, the policy and subscribers in (page by page, so 100,000 never sit in memory
at once), ``DeliverMessage`` batches out. Each registered channel says whether it hears the
event (SMS only the kinds the policy lists; the others every event) and its batch size.
"""
from __future__ import annotations

from collections.abc import Iterable

from chalicelib.model import NotificationEvent
from chalicelib.notify.channels import CHANNELS
from chalicelib.notify.model import Channel, DeliverMessage, Subscriber
from chalicelib.notify.policy import SubscriptionPolicy

# Recipients per queue message: a consumer sends one message's batch within its time limit
# at its share of the send rate, and a redelivery repeats at most this many claim checks.
BATCH_SIZE = {name: channel.batch_size for name, channel in CHANNELS.items()}


def channels_for(event: NotificationEvent, policy: SubscriptionPolicy) -> set[Channel]:
    return {name for name, channel in CHANNELS.items() if channel.hears(event, policy)}


def selected(subscriber: Subscriber, event: NotificationEvent, channels: set[Channel]) -> bool:
    return subscriber.receives and subscriber.channel in channels and subscriber.wants(event.component_ids)


class FanOutPlanner:
    def __init__(self, event: NotificationEvent, policy: SubscriptionPolicy,
                 batch_size: dict[Channel, int] | None = None):
        self.event = event
        self.channels = channels_for(event, policy)
        self.batch_size = batch_size or BATCH_SIZE
        self.counts = {channel.value: 0 for channel in Channel}
        self.batches = 0
        self._pending: dict[Channel, list[str]] = {channel: [] for channel in Channel}

    def add(self, subscribers: Iterable[Subscriber]) -> list[DeliverMessage]:
        """Take a page of subscribers; returns the batches that filled up."""
        full = []
        for subscriber in subscribers:
            if not selected(subscriber, self.event, self.channels):
                continue
            pending = self._pending[subscriber.channel]
            pending.append(subscriber.id)
            self.counts[subscriber.channel.value] += 1
            if len(pending) >= self.batch_size[subscriber.channel]:
                full.append(self._message(subscriber.channel, pending))
                self._pending[subscriber.channel] = []
        return full

    def finish(self) -> list[DeliverMessage]:
        rest = [self._message(channel, ids) for channel, ids in self._pending.items() if ids]
        self._pending = {channel: [] for channel in Channel}
        return rest

    def _message(self, channel: Channel, ids: list[str]) -> DeliverMessage:
        self.batches += 1
        return DeliverMessage(type="deliver", notification_id=self.event.id, channel=channel,
                              subscriber_ids=list(ids))
