"""Subscribers, their pending opt-ins, sign-up counters, delivery claims and notification stats.

A subscriber is found by id (links carry it) or by destination (``SUBSCRIBER_DESTINATION``
holds one index item per channel and address, created conditionally, so one address is
one subscriber; ``enlist`` does a sign-up's part in the same requests whether the address is
known or not). An opt-in's code tries are a counter taken with one conditional update each.
Status counts are counters moved on every status change. Rate-limit and bounce keys hold
a hash of the address, never the address, so erasing a subscriber leaves no copy of it
behind.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from chalicelib.model import epoch_seconds
from chalicelib.notify.model import Channel, ClaimState, OptIn, Subscriber, SubscriberStatus
from chalicelib.store.table import AlreadyExists, Conflict, Item, Table
from chalicelib.store.windows import WindowCounters, fingerprint

SUBSCRIBER, DESTINATION, OPTIN = "SUBSCRIBER", "SUBSCRIBER_DESTINATION", "OPTIN"
COUNTS_PK, COUNTS_SK = "SUBSCRIBER_COUNTS", "all"
BOUNCE_PK = "BOUNCE#{}"
DELIVERY_PK, STATS_PK, FANOUT_PK = "DELIVERY#{}", "NOTIFICATION_STATS", "FANOUT"
# Claims outlive every redelivery (SQS keeps messages 4 days) with room to spare.
CLAIM_DAYS = 14


def destination_key(channel: Channel, destination: str) -> str:
    return f"{channel.value}:{destination}"


class SubscriberStore:
    def __init__(self, table: Table):
        self.table = table

    # -- subscribers -----------------------------------------------------------------------
    def get(self, subscriber_id: str) -> Subscriber | None:
        item = self.table.get(SUBSCRIBER, subscriber_id)
        return _subscriber(item) if item else None

    def find(self, channel: Channel, destination: str) -> Subscriber | None:
        index = self.table.get(DESTINATION, destination_key(channel, destination))
        return self.get(index.data["subscriber_id"]) if index else None

    def create(self, subscriber: Subscriber) -> Subscriber:
        """Store a new subscriber; ``AlreadyExists`` when its destination has one already."""
        key = destination_key(subscriber.channel, subscriber.destination)
        try:
            self.table.create(DESTINATION, key, {"subscriber_id": subscriber.id})
        except AlreadyExists:
            index = self.table.get(DESTINATION, key)
            if index is not None and self.get(index.data["subscriber_id"]) is not None:
                raise
            # An index left behind by a writer that died before storing its subscriber.
            self.table.put(DESTINATION, key, {"subscriber_id": subscriber.id})
        item = self.table.create(SUBSCRIBER, subscriber.id, _data(subscriber))
        self._count(subscriber.channel, None, subscriber.status)
        return subscriber.replace(version=item.version)

    def enlist(self, candidate: Subscriber) -> Subscriber:
        """The subscriber of ``candidate``'s destination, stored from ``candidate`` when there is none.

        A sign-up's answer must not tell whether an address was known, so neither may its
        time: a known and a new address cost the same four requests (the index kept or
        written, the subscriber's conditional create, the counters moved (``signups`` always,
        ``<channel>_pending`` for a new one), the subscriber read back).
        """
        key = destination_key(candidate.channel, candidate.destination)
        owner = self.table.keep_first(DESTINATION, key, {"subscriber_id": candidate.id}).data["subscriber_id"]
        # An index whose subscriber is missing (its writer died in between) gets one now, under its id.
        try:
            self.table.create(SUBSCRIBER, owner, _data(candidate.replace(id=owner)))
            counts = {f"{candidate.channel.value}_{candidate.status.value}": 1, "signups": 1}
        except AlreadyExists:
            counts = {"signups": 1}
        self.table.add(COUNTS_PK, COUNTS_SK, counts)
        found = self.get(owner)
        if found is None:
            raise Conflict(f"subscriber {owner} was erased during the sign-up; try again")
        return found

    def save(self, subscriber: Subscriber, previous: SubscriberStatus) -> Subscriber:
        """Write a changed subscriber read at ``subscriber.version``; ``Conflict`` if it changed since."""
        item = self.table.replace(Item(SUBSCRIBER, subscriber.id, {}, subscriber.version), _data(subscriber))
        self._count(subscriber.channel, previous, subscriber.status)
        return subscriber.replace(version=item.version)

    def erase(self, subscriber: Subscriber) -> None:
        self.table.delete(SUBSCRIBER, subscriber.id)
        self.table.delete(DESTINATION, destination_key(subscriber.channel, subscriber.destination))
        self._count(subscriber.channel, subscriber.status, None)

    def page(self, limit: int, cursor: str | None = None) -> tuple[list[Subscriber], str | None]:
        page = self.table.query(SUBSCRIBER, limit=limit, cursor=cursor)
        return [_subscriber(item) for item in page.items], page.cursor

    def pages(self, size: int = 1000) -> Iterator[list[Subscriber]]:
        cursor = None
        while True:
            subscribers, cursor = self.page(size, cursor)
            if subscribers:
                yield subscribers
            if cursor is None:
                return

    def counts(self) -> dict[str, dict[str, int]]:
        item = self.table.get(COUNTS_PK, COUNTS_SK)
        data = item.data if item else {}
        return {channel.value: {status.value: max(0, int(data.get(f"{channel.value}_{status.value}", 0)))
                                for status in SubscriberStatus} for channel in Channel}

    def _count(self, channel: Channel, old: SubscriberStatus | None, new: SubscriberStatus | None) -> None:
        if old == new:
            return
        amounts = {}
        if old is not None:
            amounts[f"{channel.value}_{old.value}"] = -1
        if new is not None:
            amounts[f"{channel.value}_{new.value}"] = 1
        self.table.add(COUNTS_PK, COUNTS_SK, amounts)

    # -- opt-ins ---------------------------------------------------------------------------
    def add_optin(self, optin: OptIn) -> OptIn:
        item = self.table.create(OPTIN, optin.id, optin.as_json(exclude={"version"}),
                                 expires_at=epoch_seconds(optin.expires_at))
        return optin.replace(version=item.version)

    def get_optin(self, optin_id: str) -> OptIn | None:
        item = self.table.get(OPTIN, optin_id)
        return _optin(item) if item else None

    def take_code_try(self, optin_id: str, allowed: int) -> OptIn | None:
        """Count one try of an SMS code before it is compared: the opt-in with its tries, or None
        once ``allowed`` tries were taken (or it expired or was spent). One conditional update, so
        parallel tries cannot take more than ``allowed`` between them."""
        item = self.table.add_below(OPTIN, optin_id, "attempts", allowed)
        return _optin(item) if item else None

    def use_optin(self, optin: OptIn) -> None:
        """Spend an opt-in: a second use of the same link or code finds nothing (``Conflict`` on a race).

        A try counted meanwhile raises the version, which is no use of it: re-read and spend.
        Tries are capped, so this ends.
        """
        current: OptIn | None = optin
        while current is not None:
            try:
                self.table.delete(OPTIN, current.id, version=current.version)
                return
            except Conflict:
                latest = self.get_optin(current.id)
                if latest is not None and latest.version == current.version:
                    raise
                current = latest
        raise Conflict(f"opt-in {optin.id} was used already")

    # -- counters --------------------------------------------------------------------------
    def count_in_window(self, key: str, now: datetime, window_seconds: int) -> tuple[int, int]:
        """Add one to ``key``'s counter for the fixed window holding ``now``: (count, seconds until it resets)."""
        return WindowCounters(self.table).count_in_window(key, now, window_seconds)

    def count_transient_bounce(self, address: str, now: datetime) -> int:
        day = now.date().isoformat()
        return self.table.add(BOUNCE_PK.format(fingerprint(address)), day, {"transient": 1},
                              expires_at=epoch_seconds(now + timedelta(days=30)))["transient"]


class DeliveryStore:
    """Claims per (notification, subscriber), so no redelivery sends twice, and per-notification stats."""

    def __init__(self, table: Table):
        self.table = table

    def claim(self, notification_id: str, subscriber_id: str, channel: Channel, now: datetime,
              language: str | None = None) -> Item | None:
        """Take the recipient for sending; None when someone holds or finished it already."""
        data = {"state": ClaimState.SENDING.value, "channel": channel.value, "at": now.isoformat()}
        if language:
            data["language"] = language
        try:
            return self.table.create(DELIVERY_PK.format(notification_id), subscriber_id, data,
                                     expires_at=epoch_seconds(now + timedelta(days=CLAIM_DAYS)))
        except AlreadyExists:
            return None

    def get_claim(self, notification_id: str, subscriber_id: str) -> Item | None:
        return self.table.get(DELIVERY_PK.format(notification_id), subscriber_id)

    def take_over(self, stale: Item, now: datetime) -> Item | None:
        """Re-take a claim whose holder died mid-send; None when another consumer did first."""
        try:
            return self.table.replace(stale, {**stale.data, "at": now.isoformat(), "retaken": True})
        except Conflict:
            return None

    def finish(self, claim: Item, state: ClaimState, **detail: str) -> bool:
        try:
            self.table.replace(claim, {**claim.data, "state": state.value, **detail})
        except Conflict:
            return False
        self._count(claim.pk.split("#", 1)[1], claim.data["channel"], state, claim.data.get("language"))
        return True

    def release(self, claim: Item) -> None:
        """Give a recipient back after a transient failure, so a redelivery tries again."""
        try:
            self.table.delete(claim.pk, claim.sk, version=claim.version)
        except Conflict:
            pass

    def record_skipped(self, notification_id: str, subscriber_id: str, channel: Channel, reason: str,
                       now: datetime) -> bool:
        data = {"state": ClaimState.SUPPRESSED.value, "channel": channel.value, "at": now.isoformat(),
                "reason": reason}
        try:
            self.table.create(DELIVERY_PK.format(notification_id), subscriber_id, data,
                              expires_at=epoch_seconds(now + timedelta(days=CLAIM_DAYS)))
        except AlreadyExists:
            return False
        self._count(notification_id, channel.value, ClaimState.SUPPRESSED)
        return True

    def _count(self, notification_id: str, channel: str, state: ClaimState, language: str | None = None) -> None:
        counters = {f"{channel}_{state.value}": 1}
        if language:
            counters[f"language_{language}_{state.value}"] = 1
        self.table.add(STATS_PK, notification_id, counters)

    def fanned_out(self, notification_id: str) -> dict | None:
        item = self.table.get(FANOUT_PK, notification_id)
        return item.data if item else None

    def mark_fanned_out(self, notification_id: str, queued: dict[str, int], batches: int, now: datetime) -> None:
        self.table.put(FANOUT_PK, notification_id, {"queued": queued, "batches": batches, "at": now.isoformat()})

    def stats(self, notification_id: str) -> dict[str, dict[str, int]]:
        """Counts per channel (queued, sent, failed, suppressed)."""
        fanout = self.fanned_out(notification_id) or {}
        item = self.table.get(STATS_PK, notification_id)
        counters = item.data if item else {}
        result = {}
        for channel in Channel:
            result[channel.value] = {
                "queued": int(fanout.get("queued", {}).get(channel.value, 0)),
                **{state.value: int(counters.get(f"{channel.value}_{state.value}", 0))
                   for state in (ClaimState.SENT, ClaimState.FAILED, ClaimState.SUPPRESSED)},
            }
        return result

    def stats_by_language(self, notification_id: str) -> dict[str, dict[str, int]]:
        """Sent, failed and suppressed per language the recipients read (those whose sending was tried)."""
        item = self.table.get(STATS_PK, notification_id)
        found: dict[str, dict[str, int]] = {}
        for name, value in (item.data if item else {}).items():
            if name.startswith("language_"):
                language, state = name.removeprefix("language_").rsplit("_", 1)
                found.setdefault(language, {s.value: 0 for s in (ClaimState.SENT, ClaimState.FAILED,
                                                                  ClaimState.SUPPRESSED)})[state] = int(value)
        return dict(sorted(found.items()))


def _data(subscriber: Subscriber) -> dict:
    return subscriber.as_json(exclude={"version"})


def _subscriber(item: Item) -> Subscriber:
    return Subscriber.from_data({**item.data, "version": item.version})


def _optin(item: Item) -> OptIn:
    # ``attempts`` is a counter attribute beside the JSON (``take_code_try``); Item.data shows it.
    return OptIn.from_data({**item.data, "version": item.version})
