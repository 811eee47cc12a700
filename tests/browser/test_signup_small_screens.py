"""The whole sign-up, by email and by SMS, on 320 and 375 px phones, with script on and off.

Against the published page and the real API on the emulator: subscribe, confirm (the email's
link, or the texted code on the page with script, on the API's code page without), manage
the components, unsubscribe. After each step nothing runs off the side of the screen, the
step's words are on it, no bare web address is printed to the reader, and a full-page
screenshot is saved as ``test-artifacts/signup/<width>-<js|nojs>-<channel>-<nn>-<step>.png``.
One page server and one API serve every case.
"""
from __future__ import annotations

import re
import threading

import boto3
import pytest

from chalicelib import aws as aws_clients
from chalicelib import settings
from chalicelib.notify import service
from chalicelib.notify.model import Channel, SubscriberStatus
from chalicelib.site.service import publish_site
from chalicelib.store import Table
from chalicelib.store.subscribers import SubscriberStore
from tests.conftest import ROOT, _forget_caches, provision_test_stack
from tests.integration import api_server as api_fixtures
from tools.local.outbox import read_outbox
from tools.local.static import PageServer

api_server = api_fixtures.api_server  # the API, one for the whole run

pytestmark = pytest.mark.browser

WIDTHS = (320, 375)
# One number per case: the emulator keeps every text of the module, each case reads its own.
PHONES = {(320, True): "+49 151 11110001", (320, False): "+49 151 11110002",
          (375, True): "+49 151 11110003", (375, False): "+49 151 11110004"}
BARE_URL = re.compile(r"https?://|www\.", re.IGNORECASE)


@pytest.fixture(scope="module")
def signup_site(moto_endpoint, api_server):
    """GIVEN the page published with the API's URL in its form, served on its own origin, for the whole module."""
    with pytest.MonkeyPatch.context() as patch:
        aws = provision_test_stack(moto_endpoint, patch)
        server = PageServer(("127.0.0.1", 0), boto3.client("s3"), aws.environment["BUCKET_NAME"],
                            aws_clients.client("s3").meta.endpoint_url, ROOT / "templates")
        threading.Thread(target=server.serve_forever, daemon=True).start()
        page_url = f"http://127.0.0.1:{server.server_address[1]}"
        patch.setenv("API_URL", api_server)
        patch.setenv("PAGE_URL", page_url)
        patch.setenv("EMAIL_SEND_RATE", "1000")
        settings.reset_settings()
        service.reset()
        publish_site()
        yield page_url, SubscriberStore(Table(aws_clients.get_table()))
        server.shutdown()
        server.server_close()
        service.reset()
    _forget_caches()


class Steps:
    """Checks and photographs each step of one case."""

    def __init__(self, page, folder, width: int, javascript: bool, channel: str):
        self.page, self.width = page, width
        self.prefix = folder / f"{width}-{'js' if javascript else 'nojs'}-{channel}"
        self.count = 0

    def check(self, name: str, *texts: str, within: str = "main") -> None:
        page = self.page
        page.wait_for_load_state()
        for text in texts:
            page.locator(within, has_text=text).first.wait_for(state="visible")
            assert page.get_by_text(text, exact=False).first.is_visible(), f"{name}: {text!r} is not visible"
        self.count += 1
        page.screenshot(path=f"{self.prefix}-{self.count:02d}-{name}.png", full_page=True)
        # THEN nothing runs off the side of the phone
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner == self.width, f"{name}: {scroll} px wide on a {inner} px screen"
        # AND the reader is not shown a bare web address
        shown = page.locator(within).inner_text()
        assert not BARE_URL.search(shown), f"{name}: a web address is printed: {shown!r}"


def assert_code_field(page, selector: str) -> None:
    field = page.locator(selector)
    assert field.get_attribute("inputmode") == "numeric"
    assert field.get_attribute("autocomplete") == "one-time-code"
    box = field.bounding_box()
    assert box["height"] >= 40, f"{selector} is {box['height']} px tall"


def texted_code(moto_endpoint: str, number: str) -> str:
    texts = [m.message for m in read_outbox(moto_endpoint).sms if m.phone_number == number]
    return re.search(r"code: (\d{6})", texts[-1]).group(1)


def emailed_link(moto_endpoint: str, address: str) -> str:
    mail = [m for m in read_outbox(moto_endpoint).emails if address in m.to][-1]
    return re.search(r"http://\S+/subscribers/confirm/\S+", mail.text).group(0)


@pytest.mark.parametrize("channel", ["email", "sms"])
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
@pytest.mark.parametrize("width", WIDTHS)
def test_the_sign_up_reads_well_on_a_small_phone(chromium, signup_site, artifacts, moto_endpoint, api_server,
                                                 width, javascript, channel):
    page_url, store = signup_site
    folder = artifacts / "signup"
    folder.mkdir(exist_ok=True)
    context = chromium.new_context(viewport={"width": width, "height": 640}, java_script_enabled=javascript)
    page = context.new_page()
    steps = Steps(page, folder, width, javascript, channel)
    email = f"reader-{width}-{'js' if javascript else 'nojs'}@example.com"
    phone = PHONES[width, javascript]
    number = "+" + re.sub(r"\D", "", phone)

    # WHEN a reader fills in the page's form
    page.goto(page_url + "/", wait_until="load")
    page.locator("#subscribe").scroll_into_view_if_needed()
    if channel == "email":
        page.fill("#sub-email", email)
    else:
        page.fill("#sub-phone", phone)
    steps.check("form", "Get updates", "Subscribe")
    page.click("#subscribe button[type=submit]")

    # THEN the answer says plainly what to do next
    if channel == "email":
        if javascript:
            page.locator("#sub-result", has_text="Almost done").wait_for()
            steps.check("answer", "Almost done: follow the link we emailed to")
        else:
            steps.check("answer", "Check your inbox", "Almost done: follow the link we emailed to")
        # AND the email's link opens a page with a button
        page.goto(emailed_link(moto_endpoint, email))
        steps.check("confirm", "Confirm your subscription", "Confirm subscription")
        page.click("text=Confirm subscription")
    else:
        code_field = "#sub-code" if javascript else "#code"
        if javascript:
            page.locator("#sub-result", has_text="Almost done").wait_for()
            steps.check("answer", "Almost done: enter the 6-digit code we texted to", "6-digit code from the SMS")
        else:
            steps.check("answer", "Check your phone", "Almost done: enter the 6-digit code we texted to")
        assert_code_field(page, code_field)
        # AND a mistyped code is answered in words, the code field still there
        page.fill(code_field, "000000" if texted_code(moto_endpoint, number) != "000000" else "111111")
        page.locator(code_field).press("Enter")
        if javascript:
            page.locator("#sub-result", has_text="not right").wait_for()
            steps.check("wrong-code", "that code is not right; 4 tries left")
        else:
            steps.check("wrong-code", "Enter your code", "that code is not right; 4 tries left")
        # (the API's message starts in lower case; the reader sees a sentence)
        shown = "#sub-result" if javascript else ".error"
        assert page.evaluate("(s) => getComputedStyle(document.querySelector(s), '::first-letter').textTransform",
                             shown) == "uppercase"
        assert_code_field(page, code_field)
        page.fill(code_field, texted_code(moto_endpoint, number))
        page.locator(code_field).press("Enter")

    if javascript and channel == "sms":
        page.locator("#sub-result", has_text="You are subscribed").wait_for()
    steps.check("subscribed", "You are subscribed to")
    found = store.find(Channel.EMAIL if channel == "email" else Channel.SMS, email if channel == "email" else number)
    assert found.status is SubscriberStatus.CONFIRMED

    # WHEN the reader opens the manage link of a message and hears about fewer components
    manage = f"{api_server}/subscribers/{found.id}/manage?token={found.manage_token}"
    page.goto(manage)
    steps.check("manage", "Your status updates", "Choose what you hear about")
    boxes = page.locator("input[name=components]")
    for index in range(1, boxes.count()):
        boxes.nth(index).uncheck()
    page.click("text=Save")
    steps.check("saved", "Saved.")
    assert len(store.get(found.id).components) == 1

    # AND the unsubscribe link of a message, then its button
    page.goto(manage.replace("/manage?", "/unsubscribe?"))
    steps.check("unsubscribe", "Unsubscribe", "Or choose which components you hear about")
    page.click("main button[type=submit]")
    steps.check("unsubscribed", "You will get no more")
    assert store.get(found.id).status is SubscriberStatus.UNSUBSCRIBED
    context.close()
