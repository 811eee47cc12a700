"""Republishing after one write as the history grows: rendering what it changed, beside rendering everything.

The example site (``site.yml``) with 0, 1,000 and 5,000 past incidents (each with four
updates, one every 18 hours back from now, so 5,000 reach back ten years and about 120 are
on the front: changed within the 90 days the page shows) is published once whole to the
emulator (moto, server mode, on 127.0.0.1, in a process of its own, as the table is not in the
function's: the items it holds are not in the heap the republish collects, and the requests it
answers do not wait for the republish's lock). Then one new incident is opened and the page
republished, the way the API does after a write, nine times over: each figure is the median
republish (snapshot read + render + checks + upload of the changed objects + manifest, through
``publish_site``), and its counts are that republish's. Each is measured twice: as every
publish after a write runs, whichever function runs it, starting from the front the last
publish kept in the table (``IncidentStore.keep_front``), and without a kept front (dropped
before each, as a failed publish drops it), reading the front's listing and its ~120
incidents at 1,000 and 5,000 past. The baseline
is the same republish rendering everything (what every write did before), measured after
another new incident in the same run. The first publish of the 5,000-incident site is timed
too (read, render and upload of every object, ``PUBLISH_CONCURRENCY`` uploads at a time), and
at each size ``POST /incidents`` through the local API server (validate, authorize, save,
audit, the republish of what it changed), beside ``GET /health``.

The emulator answers every DynamoDB query by walking the whole table, so on it any read
grows with the history, however few items it returns; DynamoDB reads by key. Beside each
wall time the bench therefore counts what the republish asked of the table (requests,
queries and scans among them, and items returned, which is what DynamoDB's time and bill
follow) and the time spent outside it (render, checks, uploads; requests that run side by
side count once). The seeded table is one this code wrote: listings (``store.incidents``)
and their mark included.

The example site is in English and German, so a republish renders the index, the history and
the feeds in each. The goal (≤ 0.25 s at 5,000 past, ≤ 1.5x the empty site) was set for a page
in one language: the same site read in English only (its German texts and ``languages`` taken
out of a copy) is measured at 0 and 5,000 past beside it, like with like.
"""
from __future__ import annotations

import os
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import requests

from bench.processes import emulator
from bench.table import Row, median_ms
from chalicelib.model import ComponentChange, ComponentStatus, Impact, Incident, IncidentUpdate
from chalicelib.settings import PROJECT_ROOT

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)
SIZES = (0, 1000, 5000)
GOAL_SECONDS = 0.25  # at 5,000 past
REPUBLISHES = 9  # each after one new incident; the median is the figure
HOURS_APART = 18


def run() -> list[Row]:
    server = emulator()
    saved = dict(os.environ)
    rows: list[Row] = []
    figures = {}
    try:
        endpoint = server.endpoint
        english_figures = {}
        with tempfile.TemporaryDirectory(prefix="beacon-bench-") as scratch:
            english = _english_only(PROJECT_ROOT / "site.yml", Path(scratch))
            for size in (0, max(SIZES)):
                english_figures[size] = _measure(endpoint, size, english, whole=False)[1:3]
        for size in SIZES:
            first, incremental, listed, everything, post, health = _measure(endpoint, size, PROJECT_ROOT / "site.yml")
            figures[size] = incremental.seconds, listed.seconds
            label = f"republish after one new incident, {size:,} past (median of {REPUBLISHES})"
            rows += [
                Row(f"{label}: rendering what it changed", incremental.seconds, "s", everything.seconds,
                    "rendering everything"),
                Row(f"{label}: the same without a kept front (it reads the listing)", listed.seconds, "s",
                    incremental.seconds, "from the kept front"),
                Row(f"{label}: items read without a kept front", listed.items, "items"),
                Row(f"{label}: time outside the table", incremental.outside, "s", everything.outside,
                    "rendering everything"),
                Row(f"{label}: items read from the table", incremental.items, "items", everything.items,
                    "rendering everything"),
                Row(f"{label}: table requests", incremental.requests, "requests", everything.requests,
                    "rendering everything"),
                Row(f"{label}: of which queries and scans", incremental.queries, "requests", everything.queries,
                    "rendering everything"),
                Row(f"POST /incidents with {size:,} past incidents (median of 5)", post, "ms", health,
                    "GET /health"),
            ]
            if size == max(SIZES):
                rows.append(Row(f"first publish, {size:,} past incidents (read, render, upload everything)",
                                first, "s"))
    finally:
        server.stop()
        os.environ.clear()
        os.environ.update(saved)
        _forget_caches()
    for n, kind in enumerate(("from the kept front (goal ≤ 1.5x)", "without a kept front")):
        rows.append(Row(f"republish after one new incident, {max(SIZES):,} past vs none, on the emulator, {kind}",
                        figures[max(SIZES)][n], "s", figures[0][n], "no past incidents"))
    for size, (measured, listed) in english_figures.items():
        label = f"republish after one new incident, {size:,} past, the site in English only (median of {REPUBLISHES})"
        rows += [Row(f"{label}: rendering what it changed", measured.seconds, "s", GOAL_SECONDS, "goal at 5,000"),
                 Row(f"{label}: time outside the table", measured.outside, "s"),
                 Row(f"{label}: items read from the table", measured.items, "items"),
                 Row(f"{label}: the same without a kept front (it reads the listing)", listed.seconds, "s",
                     GOAL_SECONDS, "goal at 5,000"),
                 Row(f"{label}: items read without a kept front", listed.items, "items")]
    for n, kind in enumerate(("from the kept front (goal ≤ 1.5x)", "without a kept front")):
        rows.append(Row(f"republish after one new incident, {max(SIZES):,} past vs none, the site in English only, "
                        f"{kind}", english_figures[max(SIZES)][n].seconds, "s",
                        english_figures[0][n].seconds, "no past incidents"))
    return rows


def _english_only(path: Path, folder: Path) -> Path:
    """A copy of the site file in ``folder``, in its default language alone: each translation map
    replaced by its default text, ``languages`` left out."""
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    languages = data.pop("languages", ["en"])

    def read(value):
        if isinstance(value, dict):
            if value and set(value) <= set(languages) and languages[0] in value:
                return value[languages[0]]
            return {key: read(item) for key, item in value.items()}
        if isinstance(value, list):
            return [read(item) for item in value]
        return value

    copy = folder / "site.yml"
    copy.write_text(yaml.safe_dump(read(data), allow_unicode=True, sort_keys=False), encoding="utf-8")
    return copy


@dataclass
class Measured:
    seconds: float = 0.0
    table_seconds: float = 0.0
    requests: int = 0
    items: int = 0
    queries: int = 0

    @property
    def outside(self) -> float:
        return self.seconds - self.table_seconds


class TableMeter:
    """Requests to DynamoDB, the items they returned and the time they took, from botocore's events."""

    def __init__(self, client):
        self.current: Measured | None = None
        self._started: set[int] = set()
        self._lock = threading.Lock()
        self._busy_since = 0.0  # requests run side by side: the table's time is when any is in flight
        client.meta.events.register("before-call.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    def _before(self, context=None, model=None, **_):
        with self._lock:
            if not self._started:
                self._busy_since = time.perf_counter()
            self._started.add(id(context))
            if self.current is not None and model is not None and model.name in ("Query", "Scan"):
                self.current.queries += 1

    def _after(self, parsed=None, context=None, **_):
        with self._lock:
            if id(context) not in self._started:
                return
            self._started.discard(id(context))
            if self.current is None:
                return
            if not self._started:
                self.current.table_seconds += time.perf_counter() - self._busy_since
            self._count(parsed)

    def _count(self, parsed) -> None:
        self.current.requests += 1
        parsed = parsed or {}
        self.current.items += len(parsed.get("Items", [])) + (1 if parsed.get("Item") else 0)
        self.current.items += sum(len(found) for found in parsed.get("Responses", {}).values())

    def measure(self, action) -> Measured:
        self.current = Measured()
        started = time.perf_counter()
        action()
        self.current.seconds = time.perf_counter() - started
        measured, self.current = self.current, None
        return measured


def _measure(endpoint: str, size: int, site_config: Path, whole: bool = True
             ) -> tuple[float, Measured, Measured, Measured | None, float, float]:
    """The republish after one new incident, from the front the last publish kept and without one
    (it reads the front's listing); with ``whole``, also the
    first publish, the republish rendering everything and ``POST /incidents``."""
    from chalicelib import aws
    from chalicelib.config import get_site
    from chalicelib.incidents import IncidentService
    from chalicelib.site.service import Changes, publish_site
    from chalicelib.store.incidents import IncidentStore, take_changes
    from chalicelib.store.table import Table
    from tools.local.provision import provision

    requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
    os.environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1", "BEACON_STAGE": "bench", "API_URL": "https://api.example",
                       "SITE_CONFIG": str(site_config), "EMAIL_SENDER": "status@bench.example"})
    provisioned = provision(boto3.session.Session(), "beacon-bench", email_sender="status@bench.example",
                            parameter_values={"ApiUrl": "https://api.example"})
    os.environ.update(provisioned.environment)
    _forget_caches()
    _seed(aws.get_table(), size)
    meter = TableMeter(aws.get_table().meta.client)
    take_changes()
    first = _seconds(lambda: publish_site(now=NOW))
    clock = [NOW]
    service = IncidentService(Table(aws.get_table(), clock=lambda: clock[0]), get_site(), lambda: clock[0])

    def one_new_incident(name: str) -> None:
        clock[0] += timedelta(minutes=5)
        service.open_incident(name=name, body="Checkout answers slowly.", impact=Impact.MINOR, notify=False,
                              actor="bench", components={"website": ComponentStatus.DEGRADED_PERFORMANCE})

    def republishes(kept: bool) -> Measured:
        runs = []
        for n in range(REPUBLISHES):
            one_new_incident(f"Checkout is slow ({n + 1}, {'kept' if kept else 'listed'})")
            if not kept:
                IncidentStore(Table(aws.get_table())).forget_front()
            runs.append(meter.measure(lambda: publish_site(now=clock[0], changes=Changes.taken())))
        return sorted(runs, key=lambda run: run.seconds)[len(runs) // 2]

    incremental = republishes(kept=True)
    listed = republishes(kept=False)
    if not whole:
        return first, incremental, listed, None, 0.0, 0.0
    one_new_incident("Checkout is slow again")
    take_changes()
    everything = meter.measure(lambda: publish_site(now=clock[0]))
    post, health = _api_write(Table(aws.get_table()))
    return first, incremental, listed, everything, post, health


def _api_write(table) -> tuple[float, float]:
    """Median ``POST /incidents`` and ``GET /health`` through the local API server, in milliseconds."""
    import threading

    import app as beacon_app
    from chalicelib.api.auth import create_key
    from chalicelib.model import utcnow
    from tools.local.stack import _chalice_config, local_api_server

    secret, _ = create_key(table, name="bench", scope="marketer", created_by="bench", now=utcnow())
    server = local_api_server(beacon_app.app, _chalice_config("dev"), "127.0.0.1", 0)
    threading.Thread(target=server.server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server.server_address[1]}"
    body = {"name": "Facebook Messenger is down", "body": "Email or text us instead.", "impact": "major",
            "components": {"facebook": "major_outage"}}
    headers = {"Authorization": f"Bearer {secret}", "Connection": "close"}

    try:
        post = median_ms(lambda: requests.post(base + "/incidents", json=body, headers=headers,
                                               timeout=120).raise_for_status(), runs=5)
        health = median_ms(lambda: requests.get(base + "/health", headers={"Connection": "close"},
                                                 timeout=10).raise_for_status(), runs=5)
    finally:
        server.server.shutdown()
        server.server.server_close()
    return post, health


def _seed(table, size: int) -> None:
    """``size`` resolved incidents written straight to the table, as the store writes them (with their
    listings, and the mark of a table whose listings are complete)."""
    from chalicelib.store.incidents import FRONT, INCIDENT, LISTED, LISTED_MARK, MEMBERS, month_listing, stored_form
    from chalicelib.store.table import Item, _to_raw

    listings: dict[str, set[str]] = {}
    with table.batch_writer() as batch:
        for n in range(size):
            start = NOW - timedelta(hours=HOURS_APART * (n + 1))
            updates = [IncidentUpdate(id=f"u{n}x{k}", status=status, body=f"Update {k}: what we saw and did.",
                                      created_at=start + timedelta(minutes=15 * k),
                                      updated_at=start + timedelta(minutes=15 * k),
                                      display_at=start + timedelta(minutes=15 * k),
                                      affected_components=[ComponentChange(component_id="instagram",
                                                                           new_status=ComponentStatus.PARTIAL_OUTAGE)])
                       for k, status in enumerate(("investigating", "identified", "monitoring", "resolved"))]
            incident = Incident(id=f"0past{n:011d}", name=f"Instagram incident {n}", status="resolved",
                                impact=Impact.MINOR, created_at=start, updated_at=updates[-1].display_at,
                                started_at=start, resolved_at=updates[-1].display_at,
                                components={"instagram": ComponentStatus.PARTIAL_OUTAGE}, updates=updates)
            header, items = stored_form(incident)
            for key, update in items.items():
                batch.put_item(Item=_to_raw(Item(INCIDENT, key, update.as_json(), 1)))
            batch.put_item(Item=_to_raw(Item(INCIDENT, incident.id, header, 1, children=tuple(items))))
            listings.setdefault(month_listing(incident), set()).add(incident.id)
            if incident.updated_at >= NOW - timedelta(days=90):
                listings.setdefault(FRONT, set()).add(incident.id)
        for sk, ids in listings.items():
            batch.put_item(Item={"pk": LISTED, "sk": sk, MEMBERS: ids, "version": 1})
        batch.put_item(Item=_to_raw(Item(*LISTED_MARK, {"added": 0, "at": "2025-01-01T00:00:00Z", "history_before": None}, 1)))


def _seconds(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _forget_caches() -> None:
    from chalicelib import aws, config, settings

    settings.reset_settings()
    config.reset_site()
    aws.reset_clients()
