"""The loop `make run` shows, end to end: a demo outage → detected → page and incident → resolved.

The whole local stack runs on free ports; the demo upstream's outage switch is the only
thing the test touches besides the API and the page, as a person trying it would.
"""
from __future__ import annotations

import os
import time

import pytest
import requests

from tests.local_stacks import local_stack_on_free_ports
from tools.local.stack import DEFAULT_ADMIN_KEY, Ports


@pytest.fixture(scope="module")
def stack_with_demo(moto_endpoint):
    with local_stack_on_free_ports(moto_endpoint, Ports(aws=0, api=0, page=0), DEMO_PORT="0",
                                   PROBE_OVERRIDES=None) as stack:
        yield stack


def run_cycle(stack) -> dict:
    """The second probe location's cycle (as its schedule runs it), then POST /probes/run, as a
    marketer would; the scheduler may hold the cycle for a moment."""
    demo = f"http://127.0.0.1:{stack.demo.server_address[1]}"
    for location in requests.get(f"{demo}/_demo", timeout=5).json()["locations"]:
        requests.post(f"{demo}/_demo/locations/{location}/run", timeout=30).raise_for_status()
    for _ in range(50):
        answer = requests.post(f"http://127.0.0.1:{stack.ports.api}/probes/run",
                               headers={"Authorization": f"Bearer {os.environ.get('BEACON_ADMIN_KEY', DEFAULT_ADMIN_KEY)}"},
                               timeout=30)
        if answer.status_code != 409:
            assert answer.status_code == 200, answer.text
            return answer.json()
        time.sleep(0.2)
    raise AssertionError("the probe cycle stayed busy")


def page_json(stack, path: str) -> dict:
    return requests.get(f"http://127.0.0.1:{stack.ports.page}/{path}", timeout=5).json()


def test_a_facebook_outage_reaches_the_page_with_its_cause_and_ends_resolved(stack_with_demo):
    stack = stack_with_demo
    demo = f"http://127.0.0.1:{stack.demo.server_address[1]}/_demo/outage/facebook"
    first = run_cycle(stack)
    assert first["summary"]["down"] == 0, first["results"]
    # GIVEN Facebook goes down at the demo upstream
    requests.post(demo, timeout=5).raise_for_status()
    # WHEN two probe cycles see it
    run_cycle(stack)
    report = run_cycle(stack)
    # THEN the page shows Facebook down, and the open incident says it is Facebook's own outage
    assert report["components"]["facebook"]["cause"] == "Facebook reports a major outage of its own"
    facebook = next(c for c in page_json(stack, "api/v2/summary.json")["components"] if c["id"] == "facebook")
    assert facebook["status"] == "major_outage"
    [incident] = page_json(stack, "api/v2/incidents/unresolved.json")["incidents"]
    assert any(u["body"] == "Facebook reports a major outage of its own." for u in incident["incident_updates"])
    # WHEN the outage ends and two cycles see Facebook back
    requests.delete(demo, timeout=5).raise_for_status()
    run_cycle(stack)
    run_cycle(stack)
    # THEN the incident is resolved and Facebook is operational again
    assert page_json(stack, "api/v2/incidents/unresolved.json")["incidents"] == []
    facebook = next(c for c in page_json(stack, "api/v2/summary.json")["components"] if c["id"] == "facebook")
    assert facebook["status"] == "operational"


def test_the_demo_job_beats_with_the_secret_the_stack_made_at_start(stack_with_demo):
    stack = stack_with_demo
    admin = {"Authorization": f"Bearer {os.environ.get('BEACON_ADMIN_KEY', DEFAULT_ADMIN_KEY)}"}
    # GIVEN the stack started: site.yml names the scheduler's heartbeat but holds no secret
    # THEN the stack made one and the demo job's calls reach the API with it
    for _ in range(50):
        [scheduler] = requests.get(f"http://127.0.0.1:{stack.ports.api}/heartbeats", headers=admin,
                                   timeout=10).json()["data"]
        if scheduler["last_seen"]:
            break
        time.sleep(0.2)
    assert scheduler["probe"] == "hootsuite/heartbeat" and scheduler["has_secret"] is True
    assert scheduler["last_seen"] is not None and scheduler["failed_runs"] == 0
