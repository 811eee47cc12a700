"""The published page in real Chromium, served from the emulator's bucket by the local page server."""
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import boto3
import pytest

from chalicelib import aws as aws_clients
from chalicelib import settings
from tools.local.static import PageServer
from chalicelib.model import ComponentStatus, utcnow
from chalicelib.site.service import publish_site
from chalicelib.store.history import HistoryStore
from chalicelib.store.records import StateStore
from tests.conftest import ROOT
from tests.site_scenarios import HOSTILE_BODY, HOSTILE_TITLE, save_facebook_outage

pytestmark = pytest.mark.browser


class SubscriberApi(BaseHTTPRequestHandler):
    """A stand-in for the API's public sign-up: records what the page sent, answers as JSON or HTML.

    It answers as the real one does: SMS sign-ups get a ``verify_url`` where the code is
    entered; ``cross_origin`` False answers without CORS headers, as an API would that does
    not list the page's origin.
    """

    received: list = []
    cross_origin = True

    def do_OPTIONS(self):
        self.send_response(204)
        self._cors()
        self.send_header("Access-Control-Allow-Methods", "POST")
        self.send_header("Access-Control-Allow-Headers", "Content-Type, Accept")
        self.end_headers()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        kind = self.headers["Content-Type"]
        sent = json.loads(body) if "json" in kind else parse_qs(body)
        self.received.append((self.path, kind, sent))
        if "json" not in kind:
            answer, content_type = b"<!doctype html><title>Confirm</title><p>Check your inbox.</p>", "text/html"
        elif self.path.startswith("/subscribers/verify/"):
            answer, content_type = json.dumps({"message": "You are subscribed."}).encode(), "application/json"
        else:
            host = f"http://{self.headers['Host']}"
            reply = {"message": "Check your inbox to confirm."}
            if "phone" in sent:
                reply = {"message": "We texted you a code.", "verify_url": f"{host}/subscribers/verify/v1"}
            answer, content_type = json.dumps(reply).encode(), "application/json"
        self.send_response(202 if self.path == "/subscribers" else 200)
        self._cors()
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def _cors(self):
        if self.cross_origin:
            self.send_header("Access-Control-Allow-Origin", "*")

    def log_message(self, *args):
        pass


def serve(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def subscriber_api():
    SubscriberApi.received = []
    SubscriberApi.cross_origin = True
    server = serve(ThreadingHTTPServer(("127.0.0.1", 0), SubscriberApi))
    yield f"http://127.0.0.1:{server.server_address[1]}", SubscriberApi.received
    server.shutdown()
    server.server_close()


@pytest.fixture
def page_server(aws, subscriber_api, monkeypatch):
    monkeypatch.setenv("API_URL", subscriber_api[0])
    settings.reset_settings()
    server = serve(PageServer(("127.0.0.1", 0), boto3.client("s3"), aws.environment["BUCKET_NAME"],
                              aws_clients.client("s3").meta.endpoint_url, ROOT / "templates"))
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def publish(table, example_site, now, **outage):
    save_facebook_outage(StateStore(table), example_site, now, **outage)
    history = HistoryStore(table)
    for hours in range(0, 24, 2):
        history.record("website", now - timedelta(hours=hours), ComponentStatus.OPERATIONAL, 100.0 + 10 * hours)
    publish_site(now=now)


@pytest.fixture
def fresh_outage(table, example_site, page_server):
    publish(table, example_site, utcnow())
    return page_server


@pytest.fixture
def old_outage(table, example_site, page_server, noon):
    publish(table, example_site, noon)
    return page_server


def open_page(chromium, url, *, width=1280, scheme="light", javascript=True):
    context = chromium.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme,
                                   java_script_enabled=javascript)
    page = context.new_page()
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(url + "/", wait_until="load")
    return context, page, requests


def test_the_page_shows_the_right_statuses_and_screenshots_are_saved(chromium, fresh_outage, artifacts):
    for width, scheme in ((320, "light"), (375, "light"), (375, "dark"), (1280, "light"), (1280, "dark")):
        context, page, _ = open_page(chromium, fresh_outage, width=width, scheme=scheme)
        # THEN the banner and each component say their status in words
        assert page.locator("#overall").inner_text().strip().startswith("Facebook is down")
        row = page.locator(".comp", has_text="Our Facebook page and Messenger inbox")
        assert "Major Outage" in row.locator(".st").inner_text()
        assert "Degraded Performance" in page.locator(".comp", has_text="@lumencoffee posts").locator(".st").inner_text()
        assert page.locator(".comp", has_text="lumencoffee.com, checkout").locator("svg.spark").count() == 1
        # AND nothing runs off the side of a phone
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width
        page.screenshot(path=str(artifacts / f"page-{width}-{scheme}.png"), full_page=True)
        context.close()
    assert (artifacts / "page-375-light.png").stat().st_size > 0
    assert (artifacts / "page-1280-dark.png").stat().st_size > 0


def test_the_page_is_complete_with_javascript_disabled(chromium, old_outage, subscriber_api):
    context, page, _ = open_page(chromium, old_outage, javascript=False)
    # THEN statuses, incidents, contacts, the form and the data's timestamp are all there
    assert page.locator("#overall").inner_text().strip().startswith("Facebook is down")
    assert page.locator("text=Facebook Messenger is down").count() >= 1
    assert page.locator("#reach-h").is_visible() and page.locator("#subscribe").is_visible()
    assert "1 May 2026, 12:00 UTC" in page.locator("#asof").inner_text()
    assert not page.locator("#stale").is_visible()  # the notice needs script; the timestamp speaks without it
    # AND the subscribe form works as a plain form POST
    page.fill("#sub-email", "ana@example.com")
    page.locator("summary", has_text="Only for some components").click()
    page.check("input[name=components][value=facebook]")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "Check your inbox." in page.content()
    url, received = subscriber_api
    assert received == [("/subscribers", "application/x-www-form-urlencoded",
                         {"email": ["ana@example.com"], "components": ["facebook"], "language": ["en"]})]
    context.close()


def test_old_data_shows_a_staleness_notice_and_fresh_data_does_not(chromium, old_outage, artifacts):
    context, page, _ = open_page(chromium, old_outage)
    notice = page.locator("#stale")
    assert notice.is_visible() and "has not been updated for" in notice.inner_text()
    context.close()


def test_fresh_data_has_no_staleness_notice_and_an_sms_sign_up_is_confirmed_in_place(chromium, fresh_outage,
                                                                                      subscriber_api):
    context, page, _ = open_page(chromium, fresh_outage)
    assert not page.locator("#stale").is_visible()
    # WHEN a reader signs up by SMS with script on
    page.fill("#sub-phone", "+49 151 23456789")
    page.click("button[type=submit]")
    # THEN the form was sent as JSON, and the code from the SMS is asked for on the page itself
    page.locator("#sub-result", has_text="We texted you a code.").wait_for()
    page.fill("#sub-code", "123456")
    page.click("text=Confirm")
    page.locator("#sub-result", has_text="You are subscribed.").wait_for()
    url, received = subscriber_api
    assert received == [("/subscribers", "application/json",
                         {"components": [], "phone": "+49 151 23456789", "language": "en"}),
                        ("/subscribers/verify/v1", "application/json", {"code": "123456"})]
    assert page.url.startswith(fresh_outage)  # stayed on the page
    context.close()


def test_when_the_api_refuses_the_page_origin_the_form_falls_back_to_a_plain_post(chromium, fresh_outage,
                                                                                 subscriber_api):
    SubscriberApi.cross_origin = False
    context, page, _ = open_page(chromium, fresh_outage)
    page.fill("#sub-email", "ana@example.com")
    page.click("button[type=submit]")
    page.wait_for_url(subscriber_api[0] + "/subscribers")
    assert "Check your inbox." in page.content()
    assert [r[1] for r in subscriber_api[1]][-1] == "application/x-www-form-urlencoded"
    context.close()


def test_the_page_makes_no_third_party_requests(chromium, fresh_outage):
    context, page, requests = open_page(chromium, fresh_outage)
    page.wait_for_load_state("networkidle")
    assert requests and all(url.startswith(fresh_outage) for url in requests), requests
    context.close()


CONTRAST = """
(selectors) => {
  const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
                               return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const background = (el) => { while (el) { const c = getComputedStyle(el).backgroundColor;
                                if (!c.startsWith('rgba(0, 0, 0, 0)') && c !== 'transparent') return c; el = el.parentElement; }
                                return 'rgb(255, 255, 255)'; };
  return selectors.map((s) => { const el = document.querySelector(s); const a = lum(rgb(getComputedStyle(el).color));
                                 const b = lum(rgb(background(el)));
                                 return [s, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)]; });
}
"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_meets_wcag_aa_contrast_and_focus_is_visible(chromium, fresh_outage, scheme):
    context, page, _ = open_page(chromium, fresh_outage, scheme=scheme)
    selectors = ["#overall", ".st.s-m", ".st.s-d", ".st.s-u", ".st.s-o", "#asof", ".comp p.mu", "footer a",
                 "button[type=submit]", ".tag.s-m"]
    for selector, ratio in page.evaluate(CONTRAST, selectors):
        assert ratio >= 4.5, f"{selector} in {scheme}: {ratio:.2f}:1"
    # landmarks and one h1, and a visible focus ring on keyboard focus
    assert page.locator("main").count() == 1 and page.locator("h1").count() == 1
    assert page.locator("header").count() >= 1 and page.locator("footer").count() == 1
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", ""), outline
    context.close()


def test_hostile_text_never_runs_in_the_browser(chromium, table, example_site, page_server):
    publish(table, example_site, utcnow(), title=HOSTILE_TITLE, body=HOSTILE_BODY)
    dialogs = []
    for path in ("/", "/incidents/01facebook000001.html", "/history.rss"):
        context = chromium.new_context()
        page = context.new_page()
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(page_server + path)
        page.wait_for_load_state("networkidle")
        if path != "/history.rss":
            # THEN the title is there as the text it is, and the body's links are only the safe one
            assert page.locator("h3 a, h1", has_text='<script>alert("title")</script>').count() == 1
            hrefs = page.eval_on_selector_all(".tl a", "links => links.map(a => a.getAttribute('href'))")
            assert hrefs and set(hrefs) == {"https://help.example.com"}
        context.close()
    # AND no script of theirs ran anywhere
    assert dialogs == []


def test_an_open_page_offers_a_reload_when_newer_data_is_published(chromium, fresh_outage, table, noon):
    from datetime import datetime, timezone

    # GIVEN a reader has the page open (the page's clock is under the test's control)
    context = chromium.new_context()
    page = context.new_page()
    page.clock.install(time=datetime.now(timezone.utc))
    page.goto(fresh_outage + "/")
    assert not page.locator("#newer").is_visible()
    # WHEN Facebook recovers and the page is published again
    store = StateStore(table)
    state = store.component_states()["facebook"]
    store.save_component_state(state.replace(probe_status=ComponentStatus.OPERATIONAL, updated_at=utcnow()))
    publish_site()
    # THEN within a minute the open page says there is newer information, and does not reload by itself
    page.clock.run_for(61_000)
    page.locator("#newer").wait_for(state="visible")
    assert page.locator("#newer a").get_attribute("href") == "index.html"
    context.close()


def test_each_day_is_in_words_one_step_from_its_bar_without_javascript(chromium, old_outage):
    for width, shown in ((320, 30), (1280, 90)):
        context, page, _ = open_page(chromium, old_outage, width=width, javascript=False)
        row = page.locator(".comp", has_text="Our Facebook page and Messenger inbox")
        bar = row.locator(".bars")
        # THEN the bar shows 90 days on a wide screen, the last 30 on a phone, today's in the outage's colour
        cells = bar.locator("i")
        assert cells.count() == 90
        assert sum(cells.nth(n).is_visible() for n in range(90)) == shown
        today = cells.last.evaluate("cell => getComputedStyle(cell).backgroundColor")
        assert today == row.locator(".st.s-m").evaluate("status => getComputedStyle(status).color")
        # WHEN the reader follows the bar, script off
        bar.click()
        page.wait_for_load_state()
        # THEN the component's days are there in words: status, date, uptime (none recorded), incidents
        assert page.url.endswith("/uptime.html#u-facebook")
        section = page.locator("#u-facebook")
        assert section.is_visible()
        assert "Major Outage 1 May 2026: no data; Facebook Messenger is down" in section.inner_text()
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width
        context.close()


def test_axe_finds_no_violation_on_the_page_or_the_days_in_words(chromium, fresh_outage):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    found = {}
    for width in (320, 375, 1280):
        for javascript in (True, False):
            for path in ("/", "/uptime.html"):
                # axe itself is a script: the page without script is the page whose own script never loads
                context = chromium.new_context(viewport={"width": width, "height": 900})
                if not javascript:
                    context.route("**/assets/*.js", lambda route: route.abort())
                page = context.new_page()
                page.goto(fresh_outage + path, wait_until="load")
                violations = axe.run(page).response["violations"]
                if violations:
                    found[(width, javascript, path)] = [(v["id"], [n["target"] for n in v["nodes"]][:3])
                                                        for v in violations]
                context.close()
    assert found == {}
