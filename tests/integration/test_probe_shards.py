"""A site with more probes than one invocation runs: the scheduled function shards it onto
the probe shard queue, and the shard handler runs each part against the demo upstream."""
from __future__ import annotations

import threading

import boto3
import pytest
import requests

from chalicelib import config, settings
from tools.local.demo import DemoServer
from tools.local.runner import QueuePoller
from chalicelib.model import ComponentStatus
from chalicelib.probes.service import scheduled_probe_cycle
from chalicelib.probes.shards import shard_components
from chalicelib.settings import PROJECT_ROOT, get_settings
from chalicelib.store.records import StateStore
from tests.conftest import EXAMPLE_SITE


@pytest.fixture
def site_with_three_probes_per_invocation(aws, tmp_path, monkeypatch):
    demo = DemoServer(0)
    threading.Thread(target=demo.serve_forever, daemon=True).start()
    text = EXAMPLE_SITE.read_text().replace("  cycle_deadline_seconds: 45\n",
                                            "  cycle_deadline_seconds: 45\n  probes_per_invocation: 3\n")
    path = tmp_path / "site.yml"
    path.write_text(text)
    monkeypatch.setenv("SITE_CONFIG", str(path))
    monkeypatch.setenv("PROBE_OVERRIDES", str(PROJECT_ROOT / "tools/local/demo-targets.yml"))
    monkeypatch.setenv("DEMO_PORT", str(demo.server_address[1]))
    monkeypatch.setenv("DEMO_SMTP_PORT", str(demo.mail.port))
    settings.reset_settings()
    config.reset_site()
    yield demo
    demo.shutdown()
    demo.server_close()
    config.reset_site()


def drive_shards() -> int:
    import app

    poller = QueuePoller(app.app, boto3.client("sqs"), {"probe_shard": get_settings().probe_shard_queue_url})
    handled = 0
    while (got := poller.poll_once(wait_seconds=0)):
        handled += got
    return handled


def test_shards_keep_a_components_probes_together_and_cover_every_probe(example_site):
    shards = shard_components(example_site, 3)
    probed = [c.id for c in example_site.components if c.probes]
    assert [c.id for shard in shards for c in shard] == probed
    for shard in shards:
        assert sum(len(c.probes) for c in shard) <= 3 or len(shard) == 1


def test_a_sharded_cycle_detects_an_outage_like_a_single_one(site_with_three_probes_per_invocation, table):
    demo = site_with_three_probes_per_invocation
    site = config.get_site()
    expected = len(shard_components(site, 3))
    # GIVEN Facebook is down at the demo upstream
    requests.post(f"http://127.0.0.1:{demo.server_address[1]}/_demo/outage/facebook", timeout=5).raise_for_status()
    # WHEN two scheduled cycles run (the failure threshold is two in a row), each sharded
    for _ in range(2):
        summary = scheduled_probe_cycle()
        assert summary["shards"] == expected > 1
        assert drive_shards() == expected
    # THEN every probed component has a state, and Facebook is down with the platform's cause
    states = StateStore(table).component_states()
    assert {c.id for c in site.components if c.probes} <= set(states)
    assert states["facebook"].probe_status is ComponentStatus.MAJOR_OUTAGE
    assert states["website"].probe_status is ComponentStatus.OPERATIONAL
    assert any(i.is_open and "facebook" in i.components for i in StateStore(table).incidents())
