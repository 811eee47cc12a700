"""A reader subscribes from the published page in real Chromium, against the real API and emulator.

The page is served from the emulator's bucket by the local page server; the API is the app
served as ``chalice local`` serves it; the confirmation email and SMS are read back from
the emulator's outbox.
"""
from __future__ import annotations

import re
import threading

import boto3
import pytest

from chalicelib import aws as aws_clients
from chalicelib import settings
from tools.local.outbox import read_outbox
from tools.local.static import PageServer
from chalicelib.notify import service
from chalicelib.notify.model import Channel, SubscriberStatus
from chalicelib.site.service import publish_site
from chalicelib.store.subscribers import SubscriberStore
from tests.conftest import ROOT
from tests.integration.api_server import api_server  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


@pytest.fixture
def live_page(aws, api_server, monkeypatch):  # noqa: F811 (the imported fixture)
    """GIVEN the page published with the API's URL in its form, served on its own origin."""
    server = PageServer(("127.0.0.1", 0), boto3.client("s3"), aws.environment["BUCKET_NAME"],
                        aws_clients.client("s3").meta.endpoint_url, ROOT / "templates")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    page_url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("API_URL", api_server)
    monkeypatch.setenv("PAGE_URL", page_url)
    monkeypatch.setenv("EMAIL_SEND_RATE", "1000")
    settings.reset_settings()
    service.reset()
    publish_site()
    yield page_url
    server.shutdown()
    server.server_close()
    service.reset()


def test_a_reader_subscribes_by_email_and_by_phone_from_the_page(chromium, live_page, table,
                                                                 moto_endpoint):
    context = chromium.new_context()
    page = context.new_page()
    # WHEN a reader subscribes by email on the page (script on: JSON with CORS)
    page.goto(live_page + "/", wait_until="load")
    page.fill("#sub-email", "ana@example.com")
    page.click("#subscribe button[type=submit]")
    page.locator("#sub-result", has_text="follow the link we emailed").wait_for()
    # AND follows the link in the email, then presses the button
    mail = [m for m in read_outbox(moto_endpoint).emails if "ana@example.com" in m.to][0]
    page.goto(re.search(r"http://\S+/subscribers/confirm/\S+", mail.text).group(0))
    page.click("text=Confirm subscription")
    page.locator("text=You are subscribed").wait_for()
    # AND subscribes a phone on a 375 px phone, entering the texted code on the page itself
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(live_page + "/", wait_until="load")
    page.fill("#sub-phone", "+49 151 12345678")
    page.click("#subscribe button[type=submit]")
    page.locator("#sub-result", has_text="6-digit code").wait_for()
    # (the answer and the code field fit the screen; the field is sized for six digits)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    box = page.locator("#sub-code").bounding_box()
    assert box["x"] + box["width"] <= 375 and box["height"] >= 40
    assert "verify" not in page.locator("#sub-result").inner_text()
    text = [m.message for m in read_outbox(moto_endpoint).sms if m.phone_number == "+4915112345678"][0]
    page.fill("#sub-code", re.search(r"code: (\d{6})", text).group(1))
    page.click("#sub-code + button")
    page.locator("#sub-result", has_text="You are subscribed").wait_for()
    context.close()
    # THEN both are confirmed subscribers
    store = SubscriberStore(table)
    assert store.find(Channel.EMAIL, "ana@example.com").status is SubscriberStatus.CONFIRMED
    assert store.find(Channel.SMS, "+4915112345678").status is SubscriberStatus.CONFIRMED
