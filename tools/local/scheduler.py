"""The brand's post scheduler, as the demo upstream imitates it: posts queued per platform that
Beacon's webhook pauses while their platform is down and resumes when it is back.

This is the "reorganize the schedule" part of an outage, done by the tool that owns the
schedule: the local stack adds a webhook subscriber for the platforms' components pointing at
``POST /_demo/scheduler/webhook`` and hands the scheduler its signing secret
(``startup.scheduler_webhook_secret``). A delivery is read in this order:

1. the ``X-Beacon-Signature`` header (``t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``)
   is checked against the raw body, the timestamp within five minutes of the scheduler's
   clock; anything else is refused with 401 and changes nothing;
2. each of the payload's ``components`` that is a platform of the queue (``PLATFORM_OF``) is
   held by the event's incident while that incident says it is down (partial or major outage,
   under maintenance) and released when it is resolved, completed or cancelled, or says the
   component is operational again;
3. a platform's posts are ``paused`` while any incident holds it, ``queued`` otherwise.

``GET /_demo`` shows the queue and ``GET /_demo/scheduler`` returns it alone.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

# Beacon's component id → the queue's platform (the example site uses the same words for both).
PLATFORM_OF = {"facebook": "facebook", "instagram": "instagram", "x": "x", "linkedin": "linkedin",
               "whatsapp": "whatsapp"}
SIGNATURE_TOLERANCE = 300  # seconds, either side: a replayed or long-delayed delivery is refused
_DOWN = {"partial_outage", "major_outage", "under_maintenance"}
_ENDS = {"incident.resolved", "maintenance.completed", "maintenance.cancelled"}
_OVER = {"resolved", "postmortem", "completed", "cancelled"}
_STARTS = {"incident.opened", "incident.updated", "maintenance.started"}


class SignatureRefused(Exception):
    """The delivery is not Beacon's with this secret, or too old or too new to trust."""


def verify_signature(secret: str | None, header: str | None, body: bytes, now: float,
                     tolerance: int = SIGNATURE_TOLERANCE) -> None:
    """Raise ``SignatureRefused`` unless ``header`` signs ``body`` with ``secret`` at a time near ``now``."""
    if not secret:
        raise SignatureRefused("the scheduler has no webhook secret yet")
    fields = dict(part.strip().split("=", 1) for part in (header or "").split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
        given = fields["v1"]
    except (KeyError, ValueError):
        raise SignatureRefused("X-Beacon-Signature must read t=<unix seconds>,v1=<hex>") from None
    if abs(now - timestamp) > tolerance:
        raise SignatureRefused(f"the signature's timestamp is more than {tolerance} s away from now")
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given, expected):
        raise SignatureRefused("the signature does not match the body")


@dataclass(frozen=True)
class ScheduledPost:
    id: str
    platform: str
    scheduled_for: datetime
    text: str


def seed_posts(now: datetime) -> list[ScheduledPost]:
    """A few posts of Lumen Coffee's week, due from a little after ``now``."""
    plan = [
        ("facebook", 20, "New single origin: Ethiopia Guji, on the shelf today."),
        ("facebook", 180, "Behind the roaster: how we profile a light roast."),
        ("instagram", 45, "Latte art Friday: tag us in yours."),
        ("instagram", 240, "Reel: from green bean to your cup in 60 seconds."),
        ("linkedin", 90, "We are hiring a head roaster in Berlin."),
        ("x", 30, "Free shipping on all orders until Sunday."),
        ("whatsapp", 120, "Broadcast: your weekly brewing tip, the AeroPress inverted."),
    ]
    start = now.replace(second=0, microsecond=0)
    return [ScheduledPost(f"post-{n}", platform, start + timedelta(minutes=minutes), text)
            for n, (platform, minutes, text) in enumerate(plan, 1)]


def changes_of(payload: dict) -> tuple[str, set[str], set[str]]:
    """Pure: the hold a webhook payload is about (its incident), the platforms it holds and those it releases."""
    event = payload.get("event")
    incident = payload.get("incident") or {}
    hold = incident.get("id") or payload.get("notification_id") or "unknown"
    ended = event in _ENDS or incident.get("status") in _OVER
    held, released = set(), set()
    for component in payload.get("components") or []:
        platform = PLATFORM_OF.get(component.get("id"))
        if platform is None:
            continue
        if ended or component.get("status") == "operational":
            released.add(platform)
        elif event in _STARTS and component.get("status") in _DOWN:
            held.add(platform)
    return hold, held, released


class PostScheduler:
    """The queue, the incidents that hold each platform, and the webhook secret; safe across threads."""

    def __init__(self, posts: list[ScheduledPost], clock: Callable[[], float] = time.time):
        self.lock = threading.Lock()
        self.posts = list(posts)
        self.clock = clock
        self.secret: str | None = None
        self.holds: dict[str, set[str]] = {}

    def use_secret(self, secret: str | None) -> None:
        with self.lock:
            self.secret = secret

    def receive(self, signature: str | None, body: bytes) -> dict:
        """Apply one webhook delivery; ``SignatureRefused`` or ``ValueError`` (nothing changed) when it cannot be."""
        with self.lock:
            secret = self.secret
        verify_signature(secret, signature, body, self.clock())
        payload = json.loads(body)  # a ValueError for a body that is not JSON
        if not isinstance(payload, dict):
            raise ValueError("the body is not a JSON object")
        hold, held, released = changes_of(payload)
        with self.lock:
            before = self._paused()
            for platform in released:
                self.holds.get(platform, set()).discard(hold)
            for platform in held:
                self.holds.setdefault(platform, set()).add(hold)
            after = self._paused()
        return {"event": payload.get("event"), "paused": sorted(after - before), "resumed": sorted(before - after)}

    def queue(self) -> dict:
        with self.lock:
            paused = self._paused()
            posts = [{"id": p.id, "platform": p.platform, "scheduled_for": p.scheduled_for.isoformat(timespec="minutes"),
                      "text": p.text, "state": "paused" if p.platform in paused else "queued"}
                     for p in sorted(self.posts, key=lambda p: p.scheduled_for)]
            return {"posts": posts, "paused_platforms": sorted(paused),
                    "held_by": {platform: sorted(h) for platform, h in self.holds.items() if h},
                    "webhook_secret_set": self.secret is not None}

    def _paused(self) -> set[str]:
        return {platform for platform, holds in self.holds.items() if holds}


def new_scheduler() -> PostScheduler:
    return PostScheduler(seed_posts(datetime.now(timezone.utc)))
