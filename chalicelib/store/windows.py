"""Fixed-window rate limits counted in DynamoDB, so they hold however many containers answer.

One counter per key and window (pk ``RATE#<hash of key>``, sk the window's start in epoch
seconds), raised by an atomic ADD and expired by TTL at the window's end. Keys hold a hash,
never the address or destination counted. Sign-ups (``notify.signup``) and wrong heartbeat
tokens (``probes.heartbeats``) are limited here.
"""
from __future__ import annotations

import hashlib
from datetime import datetime

from chalicelib.model import epoch_seconds
from chalicelib.store.table import Table

RATE_PK = "RATE#{}"


def fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class TooMany(Exception):
    """Over a limit: ``what`` names it, ``retry_after`` is the seconds until its window resets."""

    def __init__(self, what: str, retry_after: int):
        super().__init__(what, retry_after)
        self.what, self.retry_after = what, retry_after

    def __str__(self) -> str:
        return f"too many {self.what}; try again in {_duration(self.retry_after)}"


def _duration(seconds: int) -> str:
    if seconds >= 3600:
        return f"{-(-seconds // 3600)} hour(s)"
    if seconds >= 60:
        return f"{-(-seconds // 60)} minute(s)"
    return f"{seconds} second(s)"


class WindowCounters:
    def __init__(self, table: Table):
        self.table = table

    def count_in_window(self, key: str, now: datetime, window_seconds: int) -> tuple[int, int]:
        """Add one to ``key``'s counter for the fixed window holding ``now``: (count, seconds until it resets)."""
        epoch = epoch_seconds(now)
        start = epoch - epoch % window_seconds
        end = start + window_seconds
        counted = self.table.add(RATE_PK.format(fingerprint(key)), str(start), {"n": 1}, expires_at=end)
        return counted["n"], end - epoch

    def spend(self, key: str, *, limit: int, window_seconds: int, now: datetime, what: str) -> None:
        """Count one more event of ``key``; ``TooMany`` (with the seconds until the window resets) over ``limit``."""
        counted, resets_in = self.count_in_window(key, now, window_seconds)
        if counted > limit:
            raise TooMany(what, resets_in)
