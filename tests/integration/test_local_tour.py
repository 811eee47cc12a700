"""`make demo`: the guided tour plays its whole story on a local stack started on free ports."""
from __future__ import annotations

import io
import socket

import pytest
import requests

from tools.local import tour
from tools.local.outbox import read_outbox
from tests.local_stacks import local_stack_on_free_ports
from tools.local.stack import DEFAULT_ADMIN_KEY


@pytest.fixture(scope="module")
def running_stack(moto_endpoint):
    with local_stack_on_free_ports(moto_endpoint, DEMO_PORT="0") as stack:
        yield stack


def stack_variables(stack) -> dict[str, str]:
    """What a person's shell holds when they run `make demo` beside `make run` with these ports."""
    return {"API_PORT": str(stack.ports.api), "PAGE_PORT": str(stack.ports.page), "CHAT_PORT": str(stack.ports.chat),
            "AWS_PORT": str(stack.ports.aws), "DEMO_PORT": str(stack.demo.server_address[1])}


def test_the_tour_plays_sign_up_outage_recovery_and_the_variants(running_stack):
    api = f"http://127.0.0.1:{running_stack.ports.api}"
    admin = {"Authorization": f"Bearer {DEFAULT_ADMIN_KEY}"}
    # GIVEN make run is up WHEN make demo runs with no pauses
    out = io.StringIO()
    status = tour.main(["--fast"], env=stack_variables(running_stack), out=out)
    told = out.getvalue()
    # THEN it ends without a problem
    assert status == 0, told
    # AND both customers are confirmed subscribers
    people = [s for s in requests.get(api + "/subscribers", headers=admin, timeout=10).json()["data"]
              if s["channel"] in ("email", "sms")]
    assert sorted((s["channel"], s["status"]) for s in people) == [("email", "confirmed"), ("sms", "confirmed")]
    # AND the Facebook playbook's incident was opened and resolved
    closed = requests.get(api + "/incidents?status=closed", headers=admin, timeout=10).json()["data"]
    facebook = [i for i in closed if i["components"].get("facebook")]
    assert facebook and facebook[0]["status"] == "resolved"
    assert "Incident opened" in told and "Incident resolved" in told
    # AND the post scheduler paused Facebook, then queued its posts again
    assert "Paused platforms: facebook" in told and "queued the Facebook posts again" in told
    queue = requests.get(f"http://127.0.0.1:{running_stack.demo.server_address[1]}/_demo/scheduler", timeout=5).json()
    assert queue["paused_platforms"] == []
    # AND the outbox holds the outage and the "back" messages by email and SMS
    outbox = read_outbox(f"http://127.0.0.1:{running_stack.ports.aws}")
    subjects = {m.subject for m in outbox.emails}
    assert {"Facebook is down: email or text us instead", "Facebook and Messenger are back"} <= subjects
    # (the playbook's own SMS texts, as the marketer prepared them)
    assert any("Facebook & Messenger are down" in m.message for m in outbox.sms)
    assert any("Facebook & Messenger work again" in m.message for m in outbox.sms)
    # AND the variants: our own Instagram profile, then HubSpot's status API, shown and over
    assert "Instagram is up, but our profile cannot be reached" in told
    assert "HubSpot reports a major outage of its own" in told
    assert told.count('banner now reads: "All Systems Operational"') >= 2


def test_without_a_running_stack_it_says_to_start_make_run(capsys):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    assert tour.main(["--fast"], env={"API_PORT": str(port)}) == 2
    assert "make run" in capsys.readouterr().err
