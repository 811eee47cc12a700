"""`make run`'s stack, started on free ports: the API, the page server, the outbox and the chat receiver answer."""
import socket

import boto3
import pytest
import requests

from tests.local_stacks import local_stack_on_free_ports
from tools.local.stack import PortInUse, check_port_free


@pytest.fixture(scope="module")
def local_stack(moto_endpoint):
    with local_stack_on_free_ports(moto_endpoint) as stack:
        yield stack


def test_api_health_answers(local_stack):
    response = requests.get(f"http://127.0.0.1:{local_stack.ports.api}/health", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "stage": "local", "site": "Lumen Coffee Roasters"}


def test_page_server_serves_the_published_page_like_s3_website_hosting(local_stack):
    base = f"http://127.0.0.1:{local_stack.ports.page}"
    page = requests.get(base + "/", timeout=5)
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["Cache-Control"].startswith("public, max-age=30")
    assert "Lumen Coffee Roasters" in page.text
    again = requests.get(base + "/", headers={"If-None-Match": page.headers["ETag"]}, timeout=5)
    assert again.status_code == 304
    assert requests.get(base + "/no/such/page.html", timeout=5).status_code == 404


def test_outbox_shows_what_the_emulator_accepted(local_stack):
    # GIVEN an email and an SMS sent through the emulator, as the notifier sends them
    raw = (b"From: status@beacon.local\r\nTo: ana@example.com\r\nSubject: Facebook is down\r\n"
           b"List-Unsubscribe: <https://api.example/unsubscribe/t>\r\nContent-Type: text/plain\r\n\r\nWrite to us by email.")
    boto3.client("ses").send_raw_email(Source="status@beacon.local", Destinations=["ana@example.com"],
                                       RawMessage={"Data": raw})
    boto3.client("sns").publish(PhoneNumber="+4915112345678", Message="Lumen: Facebook is down.")
    # THEN the outbox page lists both, with the headers a person needs to check
    page = requests.get(f"http://127.0.0.1:{local_stack.ports.page}/_outbox", timeout=5).text
    assert "Facebook is down" in page and "ana@example.com" in page and "List-Unsubscribe" in page
    assert "+4915112345678" in page and "Lumen: Facebook is down." in page
    text = requests.get(f"http://127.0.0.1:{local_stack.ports.page}/_outbox.txt", timeout=5).text
    assert text.startswith("1 email(s), 1 SMS")


def test_scheduled_and_queue_handlers_are_wired(local_stack):
    from tools.local.runner import Scheduler

    names = [name for name, _, _ in Scheduler(local_stack.app).jobs]
    assert "publish_site" in names


def test_a_port_in_use_names_the_port_and_the_variable():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(PortInUse) as caught:
            check_port_free(port, "PAGE_PORT")
    assert f"port {port}" in str(caught.value) and f"PAGE_PORT={port + 1} make run" in str(caught.value)


def test_a_publish_request_reaches_the_page_through_the_queue(local_stack):
    import time

    from chalicelib import aws
    from chalicelib.model import ComponentState, ComponentStatus, utcnow
    from chalicelib.site.trigger import request_publish
    from chalicelib.store import Table
    from chalicelib.store.records import StateStore

    # GIVEN probes saw Facebook go down
    StateStore(Table(aws.get_table())).save_component_state(
        ComponentState(component_id="facebook", probe_status=ComponentStatus.MAJOR_OUTAGE, updated_at=utcnow()))
    # WHEN a writer without bucket access asks for a republish
    request_publish("test")
    # THEN the queue handler publishes and the page shows the outage (polled, bounded)
    deadline = time.monotonic() + 15
    page = ""
    while time.monotonic() < deadline and "Facebook is down" not in page:
        time.sleep(0.2)
        page = requests.get(f"http://127.0.0.1:{local_stack.ports.page}/", timeout=5).text
    assert "Facebook is down" in page


def test_a_playbook_trigger_reaches_the_seeded_chat_subscribers_in_the_outbox(local_stack):
    import time

    from tools.local.stack import DEFAULT_ADMIN_KEY

    # WHEN a marketer triggers the Facebook playbook through the local API
    triggered = requests.post(f"http://127.0.0.1:{local_stack.ports.api}/playbooks/facebook-outage/trigger",
                              json={"variables": {"eta": "15:00"}}, timeout=10,
                              headers={"Authorization": f"Bearer {DEFAULT_ADMIN_KEY}"})
    assert triggered.status_code in (200, 201), triggered.text
    # THEN the queue poller fans it out and each seeded chat and webhook subscriber's message reaches the outbox
    deadline, text = time.monotonic() + 20, ""
    while time.monotonic() < deadline and text.count("Facebook and Messenger are down") < 5:
        time.sleep(0.3)
        text = requests.get(f"http://127.0.0.1:{local_stack.ports.page}/_outbox.txt", timeout=5).text
    for platform in ("WEBHOOK", "SLACK", "TEAMS", "DISCORD", "TELEGRAM"):
        assert f"{platform} to " in text, text
    assert text.count("Facebook and Messenger are down") == 5
