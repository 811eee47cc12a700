"""Plain form posts in real Chromium: the page's form without script signs up, another
site's form does not (the browser's Origin header is what the API checks)."""
from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tools.local.outbox import read_outbox
from chalicelib.notify.model import Channel, SubscriberStatus
from chalicelib.store.subscribers import SubscriberStore
from tests.browser.test_notify_browser import live_page  # noqa: F401 (fixture)
from tests.integration.api_server import api_server  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


@pytest.fixture
def another_site(api_server):  # noqa: F811 (the imported fixture)
    """A page on another origin whose form posts a phone number to the sign-up route by itself."""
    html = (f'<form id="trap" method="post" action="{api_server}/subscribers">'
            '<input name="phone" value="+4915112345678"></form>'
            '<script>document.getElementById("trap").submit()</script>').encode()

    class Trap(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Trap)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_the_pages_form_signs_up_without_script_and_the_code_form_confirms(chromium, live_page, table,  # noqa: F811
                                                                            moto_endpoint):
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    # WHEN a reader with script off posts the page's form, then the code form of the answer page
    page.goto(live_page + "/", wait_until="load")
    page.fill("#sub-phone", "+49 151 12345678")
    page.click("#subscribe button[type=submit]")
    page.locator("text=Check your phone").wait_for()
    text = [m.message for m in read_outbox(moto_endpoint).sms if m.phone_number == "+4915112345678"][0]
    page.fill("#code", re.search(r"code: (\d{6})", text).group(1))
    page.click("button[type=submit]")
    page.locator("text=You are subscribed").wait_for()
    context.close()
    # THEN the number is a confirmed subscriber
    assert SubscriberStore(table).find(Channel.SMS, "+4915112345678").status is SubscriberStatus.CONFIRMED


def test_another_sites_form_cannot_sign_a_visitor_up(chromium, live_page, another_site, moto_endpoint):  # noqa: F811
    context = chromium.new_context()
    page = context.new_page()
    # WHEN a visitor opens a page elsewhere that posts the sign-up form by itself
    page.goto(another_site)
    page.locator("text=this form can only be sent from the status page").wait_for()
    context.close()
    # THEN the API refused it and no text went out
    assert read_outbox(moto_endpoint).sms == []
