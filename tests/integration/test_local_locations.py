"""`make run`'s two probe locations: one location's failure tells no one, both tell everyone once.

The stack probes from home and ``second`` on 5-second slots (PROBE_INTERVAL_SECONDS=5), the
demo upstream fails Facebook for one location (``?location=second``) and then for both. The
subscribers are an email and an SMS subscriber imported through the API, and the webhook,
Slack, Teams, Discord and Telegram subscribers the stack seeds.
"""
from __future__ import annotations

import os
import time

import requests

from tests.local_stacks import local_stack_on_free_ports
from tools.local.outbox import read_outbox

SLOT_SECONDS = 5


def _until(condition, seconds: float, what: str):
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {seconds:g} s")


def test_one_locations_failure_notifies_no_one_and_an_outage_both_see_notifies_everyone_once(moto_endpoint):
    with local_stack_on_free_ports(moto_endpoint, PROBE_INTERVAL_SECONDS=str(SLOT_SECONDS)) as stack:
        api = f"http://127.0.0.1:{stack.ports.api}"
        demo = f"http://127.0.0.1:{os.environ['DEMO_PORT']}/_demo/outage/facebook"
        admin = {"Authorization": f"Bearer {os.environ['BEACON_ADMIN_KEY']}"}
        chat_url = f"http://127.0.0.1:{stack.ports.chat}"

        def outbox():
            return read_outbox(os.environ["AWS_ENDPOINT_URL"], chat_url)

        # GIVEN an email and an SMS subscriber besides the stack's five chat subscribers
        imported = requests.post(f"{api}/subscribers/import", headers=admin, timeout=10, json={"rows": [
            {"email": "ana@example.com"}, {"phone": "+4915112345678"}]})
        assert imported.json()["imported"] == 2, imported.text
        # WHEN Facebook fails for the second location only
        requests.post(demo, params={"location": "second"}, timeout=5).raise_for_status()

        def unconfirmed():
            latest = requests.get(f"{api}/probes/latest", headers=admin, timeout=5).json()
            return [u for u in latest.get("unconfirmed", []) if u["component"] == "facebook"]

        seen = _until(unconfirmed, 60, "an unconfirmed Facebook failure in GET /probes/latest")
        assert {tuple(u["failing_from"]) for u in seen} == {("second",)}
        # AND four more slots pass, past the failure threshold
        time.sleep(4 * SLOT_SECONDS)
        # THEN no one was told, and nothing is open
        quiet = outbox()
        assert quiet.emails == [] and quiet.sms == [] and quiet.chat == []
        assert requests.get(f"{api}/incidents", headers=admin, timeout=5).json()["data"] == []
        # WHEN Facebook goes down for both locations
        requests.post(demo, timeout=5).raise_for_status()
        _until(lambda: outbox().sms, 90, "the outage SMS")
        _until(lambda: len(outbox().chat) >= 5 and outbox().emails, 30, "the outage email and chat messages")
        time.sleep(3 * SLOT_SECONDS)  # later slots must not tell anyone again
        # THEN every subscriber got the outage once
        told = outbox()
        assert [s.phone_number for s in told.sms] == ["+4915112345678"]
        assert [e.to for e in told.emails] == [["ana@example.com"]]
        assert sorted(c.platform for c in told.chat) == ["discord", "slack", "teams", "telegram", "webhook"]
        assert "Facebook" in told.sms[0].message
