"""What the probes recorded and what jobs report: the last cycle's report, heartbeats and their secrets.

None of it runs a cycle, so none of it loads one: the API answers heartbeats and shows the
last run without the probe engine (``probes.service`` runs cycles). A heartbeat's secret is
looked up by its hash (``heartbeats``); wrong secrets are counted per source address, and
past ``WRONG_SECRETS_PER_ADDRESS`` in ``WRONG_SECRET_WINDOW_SECONDS`` that address gets
``TooMany`` (429) instead of 404. A right secret is always accepted, so guesses from an
address a job shares (a NAT) never silence the job.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from chalicelib import aws
from chalicelib.config import get_site
from chalicelib.model import isoformat, utcnow
from chalicelib.settings import get_settings
from chalicelib.store.probes import ProbeStore
from chalicelib.store.table import Table

log = logging.getLogger("beacon.probes")

WRONG_SECRETS_PER_ADDRESS, WRONG_SECRET_WINDOW_SECONDS = 10, 600


class UnknownHeartbeat(KeyError):
    def __str__(self) -> str:
        return ("no heartbeat has this secret; check the job's URL, or make a new secret with "
                "`beacon heartbeats rotate <component>/<probe>`")


def receive_heartbeat(secret: str, *, failed: bool = False, source_ip: str = "unknown",
                      clock: Callable[[], datetime] = utcnow) -> dict[str, Any]:
    """Record a job's call; ``UnknownHeartbeat`` for a wrong secret, ``TooMany`` past the wrong-secret limit."""
    from chalicelib.probes.heartbeats import find_heartbeat
    from chalicelib.store.windows import WindowCounters

    now = clock()
    table = Table(aws.get_table(), clock)
    store = ProbeStore(table)
    found = find_heartbeat(get_site(), store.heartbeat_secrets(), secret, now)
    if found is None:
        WindowCounters(table).spend(f"heartbeat-secret:ip:{source_ip}", limit=WRONG_SECRETS_PER_ADDRESS,
                                    window_seconds=WRONG_SECRET_WINDOW_SECONDS, now=now,
                                    what="wrong heartbeat URLs from your address")
        log.warning("heartbeat with an unknown secret from %s", source_ip)
        raise UnknownHeartbeat()
    key, probe = found
    calls = store.beat(key, now, failed=failed)
    return {"probe": key, "received_at": isoformat(now), "failed": failed,
            "runs_in_a_row": calls.failed_runs if failed else calls.ok_runs,
            "next_expected_by": isoformat(now + timedelta(seconds=probe.period_seconds + probe.grace_seconds))}


def heartbeat_overview(clock: Callable[[], datetime] = utcnow) -> list[dict[str, Any]]:
    """Every heartbeat probe of the site: whether it has a secret (never the secret), its last call."""
    from chalicelib.probes.heartbeats import heartbeat_probes, secrets_by_probe

    store = ProbeStore(Table(aws.get_table(), clock))
    stored, calls = secrets_by_probe(store), store.heartbeats()
    rows = []
    for key in heartbeat_probes(get_site()):
        secret, call = stored.get(key), calls.get(key)
        rows.append({"probe": key, "has_secret": secret is not None,
                     "secret_created_at": isoformat(secret.created_at) if secret else None,
                     "previous_secret_until": isoformat(secret.previous_until) if secret else None,
                     "last_seen": isoformat(call.last_seen) if call else None,
                     "failed_runs": call.failed_runs if call else 0})
    return rows


def make_heartbeat_secret(probe_key: str, *, created_by: str, rotate: bool = False,
                          overlap: timedelta | None = None, clock: Callable[[], datetime] = utcnow) -> dict[str, Any]:
    """Create (or rotate) a probe's secret; the answer holds the secret and the job's URL, shown once."""
    from chalicelib.probes.heartbeats import DEFAULT_OVERLAP, create_secret

    store = ProbeStore(Table(aws.get_table(), clock))
    secret, record = create_secret(store, get_site(), probe_key, now=clock(), created_by=created_by, rotate=rotate,
                                   overlap=DEFAULT_OVERLAP if overlap is None else overlap)
    return {"probe": probe_key, "secret": secret, "url": f"{get_settings().api_url}/heartbeat/{secret}",
            "created_at": isoformat(record.created_at), "previous_secret_until": isoformat(record.previous_until)}


def latest_run(transitions: int = 20) -> dict[str, Any] | None:
    """The last cycle's results, with the most recent component transitions (newest first)."""
    store = ProbeStore(Table(aws.get_table()))
    report = store.latest_run()
    if report is None:
        return None
    return {**report, "recent_transitions": store.transitions(limit=transitions)}
