"""The demo post scheduler: Beacon's signed webhook pauses a platform's queued posts while it is down.

The signature check and the pause rules are tested on their own first; then the whole local
stack runs on free ports and a playbook triggered through the API reaches the scheduler
through the queue poller, as it does under ``make run``.
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest
import requests

from chalicelib.notify.senders import sign
from tools.local.scheduler import PostScheduler, SignatureRefused, seed_posts, verify_signature
from tests.local_stacks import local_stack_on_free_ports
from tools.local.stack import DEFAULT_ADMIN_KEY

NOW = 1_780_000_000
SECRET = "whsec_demo"


def payload(event: str, component: str, status: str | None, incident_status: str = "investigating",
            incident_id: str = "inc1") -> bytes:
    """The shape of ``chalicelib.notify.content.webhook_payload``, serialised as ``WebhookSender.send`` does."""
    body = {"event": event, "notification_id": f"n-{event}", "created_at": "2026-05-01T12:00:00.000Z",
            "title": "t", "body": "b", "url": "https://status.example/", "page": {"name": "Lumen", "url": "x"},
            "incident": {"id": incident_id, "name": "n", "status": incident_status, "impact": "major", "url": "x",
                         "started_at": "2026-05-01T12:00:00.000Z", "resolved_at": None},
            "components": [{"id": component, "name": component.title(), "status": status}]}
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def scheduler_with_secret() -> PostScheduler:
    scheduler = PostScheduler(seed_posts(datetime(2026, 5, 1, 12, tzinfo=timezone.utc)), clock=lambda: NOW)
    scheduler.use_secret(SECRET)
    return scheduler


def states(queue: dict) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for post in queue["posts"]:
        found.setdefault(post["platform"], set()).add(post["state"])
    return found


def test_a_signature_made_as_beacon_makes_it_is_accepted():
    body = payload("incident.opened", "facebook", "major_outage")
    verify_signature(SECRET, sign(SECRET, NOW - 10, body), body, now=NOW)


@pytest.mark.parametrize("header, why", [
    (sign("whsec_someone_else", NOW, b"{}"), "does not match"),
    (sign(SECRET, NOW - 301, b"{}"), "more than 300 s"),
    (sign(SECRET, NOW + 301, b"{}"), "more than 300 s"),
    ("v1=abc", "must read"),
    (None, "must read"),
])
def test_a_wrong_secret_a_stale_timestamp_or_no_signature_is_refused(header, why):
    with pytest.raises(SignatureRefused, match=why):
        verify_signature(SECRET, header, b"{}", now=NOW)


def test_a_refused_delivery_changes_nothing():
    scheduler = scheduler_with_secret()
    body = payload("incident.opened", "facebook", "major_outage")
    with pytest.raises(SignatureRefused):
        scheduler.receive(sign("whsec_someone_else", NOW, body), body)
    assert scheduler.queue()["paused_platforms"] == []


def test_a_platform_stays_paused_until_every_incident_holding_it_ends():
    scheduler = scheduler_with_secret()

    def deliver(body: bytes) -> dict:
        return scheduler.receive(sign(SECRET, NOW, body), body)

    # GIVEN two incidents take Facebook down, a degraded Instagram and a non-platform component
    assert deliver(payload("incident.opened", "facebook", "major_outage", incident_id="a"))["paused"] == ["facebook"]
    deliver(payload("incident.opened", "facebook", "partial_outage", incident_id="b"))
    deliver(payload("incident.opened", "instagram", "degraded_performance", incident_id="c"))
    deliver(payload("incident.opened", "website", "major_outage", incident_id="d"))
    assert states(scheduler.queue()) == {"facebook": {"paused"}, "instagram": {"queued"}, "linkedin": {"queued"},
                                         "x": {"queued"}, "whatsapp": {"queued"}}
    # WHEN the first is resolved (its payload still names the component's outage status)
    deliver(payload("incident.resolved", "facebook", "major_outage", incident_status="resolved", incident_id="a"))
    assert scheduler.queue()["paused_platforms"] == ["facebook"]
    # THEN only the second's end resumes the posts
    resumed = deliver(payload("incident.updated", "facebook", "operational", incident_id="b"))
    assert resumed["resumed"] == ["facebook"] and scheduler.queue()["paused_platforms"] == []


def test_a_maintenance_pauses_from_its_start_to_its_completion():
    scheduler = scheduler_with_secret()
    for event, status, paused in (("maintenance.scheduled", "under_maintenance", []),
                                  ("maintenance.started", "under_maintenance", ["linkedin"]),
                                  ("maintenance.completed", "under_maintenance", [])):
        body = payload(event, "linkedin", status, incident_status="in_progress", incident_id="m1")
        scheduler.receive(sign(SECRET, NOW, body), body)
        assert scheduler.queue()["paused_platforms"] == paused, event


@pytest.fixture(scope="module")
def local_stack(moto_endpoint):
    with local_stack_on_free_ports(moto_endpoint, DEMO_PORT="0") as stack:
        yield stack


def scheduler_queue(stack) -> dict:
    return requests.get(f"http://127.0.0.1:{stack.demo.server_address[1]}/_demo/scheduler", timeout=5).json()


def wait_for(stack, done, seconds: float = 30) -> dict:
    deadline = time.monotonic() + seconds
    queue = scheduler_queue(stack)
    while not done(queue) and time.monotonic() < deadline:
        time.sleep(0.3)
        queue = scheduler_queue(stack)
    return queue


def playbook(stack, action: str, body: dict) -> None:
    answer = requests.post(f"http://127.0.0.1:{stack.ports.api}/playbooks/facebook-outage/{action}", json=body,
                           headers={"Authorization": f"Bearer {DEFAULT_ADMIN_KEY}"}, timeout=10)
    assert answer.status_code == 200, answer.text


def test_a_facebook_outage_pauses_the_facebook_posts_until_it_is_resolved(local_stack):
    demo = f"http://127.0.0.1:{local_stack.demo.server_address[1]}"
    # GIVEN the stack seeded the scheduler's webhook and handed it the secret; nothing is paused
    queue = scheduler_queue(local_stack)
    assert queue["webhook_secret_set"] and queue["paused_platforms"] == []
    assert requests.get(demo + "/_demo", timeout=5).json()["scheduler"]["posts"] == queue["posts"]
    # AND a delivery not signed with that secret is refused
    body = payload("incident.opened", "facebook", "major_outage")
    forged = requests.post(demo + "/_demo/scheduler/webhook", data=body, timeout=5,
                           headers={"X-Beacon-Signature": sign("whsec_guess", int(time.time()), body)})
    assert forged.status_code == 401 and scheduler_queue(local_stack)["paused_platforms"] == []

    # WHEN a marketer triggers the Facebook playbook
    playbook(local_stack, "trigger", {"variables": {"eta": "15:00"}})
    # THEN the notification reaches the scheduler, which pauses Facebook's posts and no others
    queue = wait_for(local_stack, lambda q: q["paused_platforms"])
    assert states(queue) == {"facebook": {"paused"}, "instagram": {"queued"}, "linkedin": {"queued"},
                             "x": {"queued"}, "whatsapp": {"queued"}}

    # WHEN the playbook is resolved
    playbook(local_stack, "resolve", {})
    # THEN the Facebook posts are queued again
    queue = wait_for(local_stack, lambda q: not q["paused_platforms"])
    assert {post["state"] for post in queue["posts"]} == {"queued"}
