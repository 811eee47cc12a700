"""The status page at scale: render time, page weight, and what a republish uploads.

A large site (100 components in 10 groups, 90 days of history for each, 1,000 past
incidents with 4 updates each, one open incident) is rendered whole and published to a
bucket on the emulator (moto, server mode, on 127.0.0.1), side by side with the example
site of ``site.yml``. Upload counts are exact: a republish with nothing new should upload
nothing, one after a single component changed only the files that show that component.
"""
from __future__ import annotations

import gzip
import os
import random
import time
from datetime import datetime, timedelta, timezone

import boto3
import msgspec
import requests
from botocore.config import Config

from bench.table import Row, median_ms
from chalicelib.config import Site, load_site
from chalicelib.schema import read
from chalicelib.model import (
    ComponentChange, ComponentState, ComponentStatus, DayHistory, Impact, Incident, IncidentUpdate,
)
from chalicelib.settings import PROJECT_ROOT, PUBLISH_CONCURRENCY
from chalicelib.site.publish import Publisher
from chalicelib.site.render import render_site
from chalicelib.site.snapshot import build_snapshot

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)
TEMPLATES = PROJECT_ROOT / "templates"
INDEX_BUDGET = 15 * 1024


def large_site(count: int = 100) -> Site:
    """``count`` components (a multiple of 10) in groups of 10."""
    example = load_site(PROJECT_ROOT / "site.yml")
    groups = [{"id": f"group-{g}", "name": f"Region {g}", "position": g} for g in range(count // 10)]
    components = [{"id": f"c-{g}-{n}", "name": f"Service {g}.{n}", "description": f"Service {n} of region {g}.",
                   "group": f"group-{g}", "position": n} for g in range(count // 10) for n in range(10)]
    brand = {key: value for key, value in msgspec.to_builtins(example.brand).items() if key != "contacts"}
    return read(Site, {"brand": brand, "groups": groups, "components": components,
                       "faq": msgspec.to_builtins(example.faq)})


def history_for(ids: list[str], rng: random.Random):
    days, latency = {}, {}
    for component_id in ids:
        days[component_id] = []
        for offset in range(89, -1, -1):
            major = rng.choice([0] * 30 + [5, 60])
            days[component_id].append(DayHistory(component_id=component_id, day=(NOW - timedelta(days=offset)).date(),
                                                 operational=1440 - major, major=major))
        latency[component_id] = [80 + rng.random() * 100 for _ in range(288)]
    return days, latency


# What a day can be on a bar: (operational, degraded, partial, major, maintenance) minutes, or no record.
_DAY_KINDS = ((1435, 0, 0, 5, 0), (1380, 60, 0, 0, 0), (1380, 0, 60, 0, 0), (1380, 0, 0, 60, 0), (0, 0, 0, 0, 1440),
              None)


def eventful_history_for(ids: list[str], rng: random.Random):
    """The worst 90 days a reader can see: every day of every component notable, each picked at random
    (so neighbours rarely merge) among some loss, degraded, partial, major, maintenance and no data,
    with its own uptime."""
    days, latency = {}, {}
    for component_id in ids:
        days[component_id] = []
        for offset in range(89, -1, -1):
            kind = rng.choice(_DAY_KINDS)
            if kind is None:
                continue
            operational, degraded, partial, major, maintenance = kind
            lost = rng.randrange(1, 30) if operational else 0
            days[component_id].append(DayHistory(
                component_id=component_id, day=(NOW - timedelta(days=offset)).date(), operational=operational - lost,
                degraded=degraded, partial=partial, major=major + lost, maintenance=maintenance))
        latency[component_id] = [80 + rng.random() * 100 for _ in range(288)]
    return days, latency


def large_records(site: Site, rng: random.Random, hours_apart: int = 2, count: int = 1000, eventful: bool = False):
    """90 days of history per component and ``count`` past incidents, one every ``hours_apart`` hours;
    ``eventful``: every day of every component notable (``eventful_history_for``), and each day also
    named by an incident of its own on every component."""
    ids = [c.id for c in site.components]
    days, latency = (eventful_history_for if eventful else history_for)(ids, rng)
    incidents = []
    for n in range(count):
        start = NOW - timedelta(hours=hours_apart * (n + 1))
        updates = [IncidentUpdate(id=f"i{n}u{k}", status=status, body=f"Update {k}: what we saw and what we did.",
                                  created_at=start + timedelta(minutes=15 * k),
                                  updated_at=start + timedelta(minutes=15 * k),
                                  display_at=start + timedelta(minutes=15 * k),
                                  affected_components=[ComponentChange(component_id=ids[n % len(ids)],
                                                                       new_status=ComponentStatus.PARTIAL_OUTAGE)])
                   for k, status in enumerate(("investigating", "identified", "monitoring", "resolved"))]
        # An eventful day's incident names its day on every component without changing its colour.
        touched = ({i: ComponentStatus.OPERATIONAL for i in ids} if eventful
                   else {ids[n % len(ids)]: ComponentStatus.PARTIAL_OUTAGE})
        incidents.append(Incident(id=f"past{n:012d}", name=f"Incident {n}", status="resolved", impact=Impact.MINOR,
                                  created_at=start, updated_at=updates[-1].display_at, started_at=start,
                                  resolved_at=updates[-1].display_at, components=touched, updates=updates))
    incidents.append(Incident(id="open00000000001", name="Region 3 is slow", status="investigating",
                              impact=Impact.MINOR, created_at=NOW, updated_at=NOW, started_at=NOW,
                              components={"c-3-1": ComponentStatus.DEGRADED_PERFORMANCE},
                              updates=[IncidentUpdate(id="openu0", status="investigating", body="Looking into it.",
                                                      created_at=NOW, updated_at=NOW, display_at=NOW)]))
    return days, latency, incidents


def run() -> list[Row]:
    rng = random.Random(3)
    example = load_site(PROJECT_ROOT / "site.yml")
    site = large_site()
    days, latency, incidents = large_records(site, rng)

    def large_snapshot(states=None):
        return build_snapshot(site, states or {}, incidents, [], NOW, days=days, latency=latency,
                              since=NOW - timedelta(days=400), api_url="https://api.example")

    example_snapshot = build_snapshot(example, {}, [], [], NOW, api_url="https://api.example")
    example_ms = median_ms(lambda: render_site(example_snapshot, TEMPLATES), runs=5)
    snapshot_ms = median_ms(large_snapshot)
    snapshot = large_snapshot()
    render_ms = median_ms(lambda: render_site(snapshot, TEMPLATES))
    objects = render_site(snapshot, TEMPLATES)
    example_index = next(o.body for o in render_site(example_snapshot, TEMPLATES) if o.key == "index.html")
    # The example site on a bad day: 90 days of history, response times, an open incident on Facebook.
    busy_days, busy_latency = history_for([c.id for c in example.components], rng)
    outage = incidents[-1].replace(components={"facebook": ComponentStatus.MAJOR_OUTAGE})
    busy = build_snapshot(example, {}, [outage], [], NOW, days=busy_days, latency=busy_latency,
                          api_url="https://api.example")
    busy_index = next(o.body for o in render_site(busy, TEMPLATES) if o.key == "index.html")
    large_index = next(o.body for o in objects if o.key == "index.html")

    rows = [
        Row("site: build snapshot, large site", snapshot_ms, "ms"),
        Row("site: full render, large site", render_ms, "ms", example_ms, "example site"),
        Row("site: objects rendered, large site", len(objects), "objects"),
        Row("site: index.html raw, example site", len(example_index) / 1024, "KB"),
        Row("site: index.html gzipped, example site", len(gzip.compress(example_index, 9)) / 1024, "KB",
            INDEX_BUDGET / 1024, "budget"),
        Row("site: index.html gzipped, example site, outage + 90 days", len(gzip.compress(busy_index, 9)) / 1024,
            "KB", INDEX_BUDGET / 1024, "budget"),
        Row("site: index.html raw, large site", len(large_index) / 1024, "KB"),
        Row("site: index.html gzipped, large site", len(gzip.compress(large_index, 9)) / 1024, "KB"),
    ]
    rows += _index_rows()
    rows += _publish_rows(objects, large_snapshot, snapshot)
    return rows


def index_of(count: int, seed: int = 3, hours_apart: int = 2, eventful: bool = False) -> bytes:
    """index.html of the large site with ``count`` components (same records, scaled); ``eventful``: every
    day of every component notable, with one incident a day on all of them (``large_records``)."""
    site = large_site(count)
    days, latency, incidents = large_records(site, random.Random(seed), 24 if eventful else hours_apart,
                                             90 if eventful else 1000, eventful)
    snapshot = build_snapshot(site, {}, incidents, [], NOW, days=days, latency=latency,
                              since=NOW - timedelta(days=400), api_url="https://api.example")
    return next(o.body for o in render_site(snapshot, TEMPLATES) if o.key == "index.html")


def _index_rows() -> list[Row]:
    # The budget is for 100 components; the other rows show how the page grows per component. The
    # large site's 1,000 incidents come every 2 hours (12 a day, one component each: ~10 a component
    # in 90 days); a busy brand's one a day. The worst a reader can see: every day of every component
    # notable, each at random among six kinds of day, and named by an incident of its own.
    rows = [Row(f"site: index.html gzipped, {count} components, 90 days, every day of every component notable",
                len(gzip.compress(index_of(count, eventful=True), 9)) / 1024, "KB", INDEX_BUDGET / 1024,
                "budget at 100") for count in (10, 50, 100, 200)]
    rows += [Row(f"site: index.html gzipped, {count} components, 90 days, 12 incidents a day",
                 len(gzip.compress(index_of(count), 9)) / 1024, "KB", INDEX_BUDGET / 1024, "budget at 100")
             for count in (10, 50, 100, 200)]
    busy = index_of(100, hours_apart=24)
    rows.append(Row("site: index.html gzipped, 100 components, 90 days, one incident a day",
                    len(gzip.compress(busy, 9)) / 1024, "KB", INDEX_BUDGET / 1024, "budget"))
    site = large_site(100)
    days, latency, incidents = large_records(site, random.Random(3), 24, 90, eventful=True)
    worst = build_snapshot(site, {}, incidents, [], NOW, days=days, latency=latency, since=NOW - timedelta(days=400),
                           api_url="https://api.example")
    uptime = next(o.body for o in render_site(worst, TEMPLATES) if o.key == "uptime.html")
    rows.append(Row("site: uptime.html gzipped (each day in words), 100 components, every day notable",
                    len(gzip.compress(uptime, 9)) / 1024, "KB"))
    return rows


def _publish_rows(objects, large_snapshot, snapshot) -> list[Row]:
    import logging

    from moto.server import ThreadedMotoServer

    from tools.local.provision import provision
    from chalicelib.store.table import Table

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request would bury the table
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        session = boto3.session.Session(aws_access_key_id="bench", aws_secret_access_key="bench",
                                        region_name="us-east-1")
        endpoint = f"http://{host}:{port}"
        # moto keeps its state per process, and other benches may have run in this one.
        requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
        saved = os.environ.get("AWS_ENDPOINT_URL")
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        try:
            names = provision(session, "beacon-bench", email_sender="status@bench.example",
                              parameter_values={"ApiUrl": "https://api.example"}).environment
        finally:
            if saved is None:
                os.environ.pop("AWS_ENDPOINT_URL", None)
            else:
                os.environ["AWS_ENDPOINT_URL"] = saved
        # As the publish function makes it: as many connections as uploads in flight.
        s3 = session.client("s3", endpoint_url=endpoint, config=Config(max_pool_connections=PUBLISH_CONCURRENCY))
        table = Table(session.resource("dynamodb", endpoint_url=endpoint).Table(names["TABLE_NAME"]))
        publisher = Publisher(s3, names["BUCKET_NAME"], table)

        started = time.perf_counter()
        first = publisher.publish(objects, now=NOW)
        first_s = time.perf_counter() - started
        started = time.perf_counter()
        again = publisher.publish(objects, now=NOW)
        again_ms = (time.perf_counter() - started) * 1000
        changed_state = {"c-5-5": ComponentState(component_id="c-5-5", probe_status=ComponentStatus.MAJOR_OUTAGE,
                                                 updated_at=NOW)}
        after_change = publisher.publish(render_site(large_snapshot(changed_state), TEMPLATES), now=NOW)
        expected = _changed_keys(objects, render_site(large_snapshot(changed_state), TEMPLATES))
    finally:
        server.stop()
    return [
        Row("site: first publish to the emulator, large site", first_s, "s"),
        Row("site: objects uploaded, first publish", len(first.uploaded), "objects", len(objects), "objects rendered"),
        Row("site: objects uploaded, republish with no change", len(again.uploaded), "objects", 0, "target"),
        Row("site: republish with no change (manifest check only)", again_ms, "ms"),
        Row("site: objects uploaded after one component changed", len(after_change.uploaded), "objects",
            len(expected), "objects whose bytes changed"),
    ]


def _changed_keys(before, after) -> set[str]:
    old = {o.key: o.body for o in before}
    return {o.key for o in after if old.get(o.key) != o.body}
