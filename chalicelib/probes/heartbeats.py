"""Heartbeat secrets: made random, shown once, kept as a hash, rotated with an overlap.

``site.yml`` names a heartbeat probe; its secret never sits in the repository. ``beacon
heartbeats create <component>/<probe>`` makes one (``hb_`` and 43 URL-safe characters,
256 random bits), the table keeps only its SHA-256 (``store.probes``), and the job's URL
``{API_URL}/heartbeat/<secret>`` is shown once. ``rotate`` makes a new one; the old one keeps
working for the overlap asked for (default 60 minutes, 0 ends it at once), so a job can be
given its new URL without missing a beat. A caller's secret is compared with every stored
hash in constant time, so the answer's timing says nothing about any of them.
"""
from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta

from chalicelib.api.auth import digest
from chalicelib.config import Site
from chalicelib.model import Record
from chalicelib.probes.spec import HeartbeatProbe
from chalicelib.store.probes import ProbeStore
from chalicelib.store.table import AlreadyExists, Item

DEFAULT_OVERLAP = timedelta(minutes=60)


class HeartbeatSecret(Record, kw_only=True):
    """A heartbeat's secret as stored: hashes only."""

    probe: str
    digest: str
    created_at: datetime
    created_by: str
    previous_digest: str | None = None
    previous_until: datetime | None = None

    def accepts(self, wanted: str, now: datetime) -> bool:
        current = hmac.compare_digest(self.digest, wanted)
        # Compared even when expired, so an old secret takes as long to refuse as a wrong one.
        previous = hmac.compare_digest(self.previous_digest or "", wanted)
        return current or (previous and self.previous_digest is not None and now < self.previous_until)

    def public(self) -> dict:
        return {"probe": self.probe, "created_at": self.created_at, "created_by": self.created_by,
                "previous_until": self.previous_until}


class UnknownHeartbeatProbe(KeyError):
    def __init__(self, probe_key: str, site: Site):
        super().__init__(probe_key)
        self.probe_key, self.known = probe_key, heartbeat_probes(site)

    def __str__(self) -> str:
        known = ", ".join(self.known) or "none: declare one under a component's probes with kind: heartbeat"
        return f"no heartbeat probe {self.probe_key!r} in site.yml; use <component>/<probe>, one of {known}"


def new_secret() -> str:
    return "hb_" + secrets.token_urlsafe(32)


def heartbeat_probes(site: Site) -> dict[str, HeartbeatProbe]:
    """Every heartbeat probe of the site by its key, ``<component>/<probe>``."""
    return {f"{component.id}/{probe.key_id}": probe for component in site.components for probe in component.probes
            if isinstance(probe, HeartbeatProbe)}


def create_secret(store: ProbeStore, site: Site, probe_key: str, *, now: datetime, created_by: str,
                  rotate: bool = False, overlap: timedelta = DEFAULT_OVERLAP) -> tuple[str, HeartbeatSecret]:
    """A new secret for the probe: returns it (to show once) and what is stored.

    Without ``rotate`` a probe that has one already is refused, so a running job is never cut
    off by mistake; with it, the previous secret keeps working for ``overlap``.
    """
    if probe_key not in heartbeat_probes(site):
        raise UnknownHeartbeatProbe(probe_key, site)
    secret = new_secret()
    record = HeartbeatSecret(probe=probe_key, digest=digest(secret), created_at=now, created_by=created_by)
    current = store.heartbeat_secret(probe_key)
    if current is None:
        try:
            store.add_heartbeat_secret(probe_key, record.as_json())
        except AlreadyExists:
            current = store.heartbeat_secret(probe_key)
    if current is not None:
        if not rotate:
            raise ValueError(f"{probe_key} has a secret already; `beacon heartbeats rotate {probe_key}` replaces it "
                             f"(the old one keeps working for --overlap-minutes, default "
                             f"{int(DEFAULT_OVERLAP.total_seconds() // 60)})")
        if overlap > timedelta(0):
            record = record.replace(previous_digest=_stored(current).digest, previous_until=now + overlap)
        store.replace_heartbeat_secret(current, record.as_json())
    return secret, record


def find_heartbeat(site: Site, stored: list[Item], secret: str, now: datetime) -> tuple[str, HeartbeatProbe] | None:
    """The probe whose current (or still overlapping previous) secret is ``secret``, or None."""
    wanted = digest(secret)
    probes = heartbeat_probes(site)
    found = None
    for item in stored:
        record = _stored(item)
        # Every stored hash is compared: no early return.
        if record.accepts(wanted, now) and record.probe in probes:
            found = (record.probe, probes[record.probe])
    return found


def secrets_by_probe(store: ProbeStore) -> dict[str, HeartbeatSecret]:
    return {item.sk: _stored(item) for item in store.heartbeat_secrets()}


def _stored(item: Item) -> HeartbeatSecret:
    return HeartbeatSecret.from_data(item.data)
