"""Rate limits: sign-up counters shared by every container, and a send-rate token bucket per consumer.

Sign-up limits are fixed windows counted in DynamoDB (``store.windows``, an atomic ADD with
a TTL, shared with the heartbeat routes), so they hold however many Lambda containers
answer. The send rate is paced locally: each consumer of the notification queue runs at its
share of the account's SES or SMS quota (quota / reserved concurrency of
``deliver_notifications``).
"""
from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """Never more than ``rate`` acquisitions per second, evenly spaced (a bucket of one token).

    A burst capacity would let a consumer run above its share for a moment; several consumers
    bursting together is how a quota gets exceeded, so the spacing is strict.
    """

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self.clock = clock
        self.sleep = sleep
        self._next: float | None = None

    def acquire(self) -> None:
        now = self.clock()
        if self._next is not None and now < self._next:
            self.sleep(self._next - now)
            now = self.clock()
        # Keep to the schedule when a sleep overran a little (the average stays at the rate);
        # after an idle spell start afresh rather than bank the idle time as a burst.
        on_schedule = self._next is not None and now - self._next < self.interval
        self._next = (self._next if on_schedule else now) + self.interval
