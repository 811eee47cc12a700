"""Records for the page's tests: situations a brand's status page meets, built from the model alone."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

import boto3
import pytest

from chalicelib.config import Site
from chalicelib.model import (
    ComponentChange, ComponentState, ComponentStatus, DayHistory, Impact, Incident, IncidentKind, IncidentUpdate,
    MaintenanceStatus, Notice,
)

HOSTILE_TITLE = '<script>alert("title")</script><img src=x onerror=alert(1)>'
HOSTILE_BODY = ('We are on it. <script>alert("body")</script> <img src=x onerror="alert(2)"> '
                '[click me](javascript:alert(3)) [help](https://help.example.com) <a href="javascript:alert(4)">x</a>')


def update(incident_id: str, n: int, status: str, body: str, at: datetime, changes=()) -> IncidentUpdate:
    return IncidentUpdate(id=f"{incident_id}u{n}", status=status, body=body, created_at=at, updated_at=at,
                          display_at=at, affected_components=list(changes))


def incident(id_: str, name: str, at: datetime, *, statuses=("investigating",), components=None,
             impact=Impact.MAJOR, kind=IncidentKind.INCIDENT, scheduled=None, body="Update {n}.",
             playbook_id=None) -> Incident:
    components = components or {}
    updates = [update(id_, n, status, body.format(n=n), at + timedelta(minutes=20 * n),
                      [ComponentChange(component_id=c, new_status=s) for c, s in components.items()] if n == 0 else ())
               for n, status in enumerate(statuses)]
    last = updates[-1].display_at
    closed = statuses[-1] in ("resolved", "postmortem", "completed", "cancelled")
    return Incident(
        id=id_, kind=kind, name=name, status=statuses[-1], impact=impact, created_at=at, updated_at=last,
        started_at=at, resolved_at=last if closed else None,
        monitoring_at=next((u.display_at for u in updates if u.status == "monitoring"), None),
        scheduled_for=scheduled[0] if scheduled else None, scheduled_until=scheduled[1] if scheduled else None,
        components=components, updates=updates, playbook_id=playbook_id,
    )


def facebook_outage(site: Site, now: datetime, *, title="Facebook Messenger is down", body=None,
                    playbook_id=None):
    """Facebook down (by probe and by an open incident), maintenance running and planned, a notice, history."""
    states = {
        "facebook": ComponentState(component_id="facebook", probe_status=ComponentStatus.MAJOR_OUTAGE,
                                   cause="HTTP 503", updated_at=now - timedelta(minutes=30)),
        "instagram": ComponentState(component_id="instagram", probe_status=ComponentStatus.DEGRADED_PERFORMANCE,
                                    updated_at=now - timedelta(minutes=10)),
    }
    incidents = [
        incident("01facebook000001", title, now - timedelta(minutes=40),
                 statuses=("investigating", "identified"), components={"facebook": ComponentStatus.MAJOR_OUTAGE},
                 impact=Impact.CRITICAL, playbook_id=playbook_id,
                 body=body or "Messages to our **Facebook** page are not arriving. Email "
                              "[hello@lumencoffee.com](mailto:hello@lumencoffee.com) instead."),
        incident("01resolved000001", "Checkout was slow", now - timedelta(days=2),
                 statuses=("investigating", "monitoring", "resolved"),
                 components={"website": ComponentStatus.DEGRADED_PERFORMANCE}, impact=Impact.MINOR),
        incident("01maintnow000001", "HubSpot inbox migration", now - timedelta(minutes=30), kind=IncidentKind.MAINTENANCE,
                 statuses=(MaintenanceStatus.SCHEDULED.value, MaintenanceStatus.IN_PROGRESS.value),
                 components={"hubspot": ComponentStatus.UNDER_MAINTENANCE}, impact=Impact.MAINTENANCE,
                 scheduled=(now - timedelta(minutes=30), now + timedelta(hours=1))),
        incident("01maintnext00001", "Shop software upgrade", now - timedelta(days=1), kind=IncidentKind.MAINTENANCE,
                 statuses=(MaintenanceStatus.SCHEDULED.value,), components={"website": ComponentStatus.UNDER_MAINTENANCE},
                 impact=Impact.MAINTENANCE, scheduled=(now + timedelta(days=3), now + timedelta(days=3, hours=2))),
    ]
    notices = [Notice(id="01notice00000001", title="Holiday opening hours",
                      body="Support answers *9:00–15:00* on 24 December.", created_at=now - timedelta(days=1),
                      updated_at=now - timedelta(days=1))]
    return states, incidents, notices


def save_facebook_outage(store, site: Site, now: datetime, **outage) -> None:
    """Write ``facebook_outage``'s records through ``store`` (a ``StateStore``), as the API would have."""
    states, incidents, notices = facebook_outage(site, now, playbook_id="facebook-outage", **outage)
    for state in states.values():
        store.save_component_state(state)
    for record in incidents:
        store.save_incident(record)
    for notice in notices:
        store.save_notice(notice)


def history(site: Site, now: datetime, seed: int = 7) -> tuple[dict, dict]:
    """90 days of checks per component (a bad day here and there) and 24 hours of response times."""
    rng = random.Random(seed)
    days, latency = {}, {}
    for component in site.components:
        records = []
        for offset in range(89, -1, -1):
            day = (now - timedelta(days=offset)).date()
            major = rng.choice([0] * 20 + [3, 40, 300])
            partial = rng.choice([0] * 20 + [5, 60])
            records.append(DayHistory(component_id=component.id, day=day, operational=1440 - major - partial,
                                      major=major, partial=partial, latency_p50_ms=120.0))
        days[component.id] = records
        latency[component.id] = [None if rng.random() < 0.02 else 80 + rng.random() * 120 for _ in range(288)]
    return days, latency


def past_incidents(count: int, now: datetime, component_ids: list[str], updates: int = 4) -> list[Incident]:
    statuses = ("investigating", "identified", "monitoring", "resolved")[-updates:]
    return [incident(f"0past{n:011d}", f"Past incident {n}", now - timedelta(hours=7 * (n + 1)),
                     statuses=statuses, components={component_ids[n % len(component_ids)]: ComponentStatus.PARTIAL_OUTAGE},
                     impact=Impact.MINOR, body="Update {n}: what we saw, what we did, what comes next.")
            for n in range(count)]


def bucket_objects(bucket) -> dict[str, bytes]:
    """Every object in the page bucket, key to bytes, as a reader would get them."""
    s3 = boto3.client("s3")
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for o in page.get("Contents", [])]
    return {key: s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


@pytest.fixture
def bucket(aws):
    return aws.environment["BUCKET_NAME"]
