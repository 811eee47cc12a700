"""The marketer console (/admin/ on the page) in Chromium against `make run`'s stack on free ports.

A marketer signs in with a one-time link, triggers the Facebook playbook from its preview, finds the
incident on the public page and the messages in the outbox, and resolves it; a marketer key sees no
admin screen; an incident changed meanwhile is read again and the change re-applied; an unreachable API
keeps what was typed. axe checks every screen in both colour schemes; screenshots at 375 and 1280 px go
to test-artifacts/console/.
"""
from __future__ import annotations

import re
import time
from datetime import datetime, timezone

import pytest
import requests

from tests.browser.consoles import (  # noqa: F401 (fixtures)
    DESKTOP, api, browser_page, no_axe_violations, page_once_it_shows, shots, sign_in_with_link, stack,
    urls,
)

pytestmark = pytest.mark.browser

EMAIL, PHONE = "rosa@example.com", "+4915199990001"


def subscribe_for_facebook(stack):
    """One confirmed email and one confirmed SMS subscriber, as an import would add them."""
    from chalicelib import aws
    from chalicelib.notify.model import Channel, Consent, Subscriber, SubscriberStatus
    from chalicelib.store import Table
    from chalicelib.store.subscribers import SubscriberStore

    store = SubscriberStore(Table(aws.get_table()))
    now = datetime.now(timezone.utc)
    for n, (channel, destination) in enumerate([(Channel.EMAIL, EMAIL), (Channel.SMS, PHONE)]):
        store.create(Subscriber(id=f"console{n}", channel=channel, destination=destination, components=[],
                                status=SubscriberStatus.CONFIRMED, consent=Consent.IMPORTED, created_at=now,
                                updated_at=now, manage_token=f"console-token-{n}"))


def outbox_holds(urls, *needles):
    """The outbox, once it shows every needle (the queue poller delivers in the background)."""
    deadline = time.monotonic() + 30
    while True:
        text = requests.get(urls["page"] + "/_outbox.txt", timeout=10).text
        if all(needle in text for needle in needles) or time.monotonic() > deadline:
            return text
        time.sleep(0.3)


def test_a_marketer_triggers_the_facebook_playbook_from_its_preview_and_resolves_it(stack, urls, browser_page,
                                                                                      shots):
    subscribe_for_facebook(stack)
    page = browser_page()
    # WHEN the marketer opens the one-time sign-in link
    sign_in_with_link(page, urls)
    # THEN the key leaves the address at once and stays in this tab only
    assert "key=" not in page.url and page.url.endswith("/admin/#now")
    assert page.evaluate("sessionStorage.getItem('beacon.key')") == urls["admin_key"]
    assert page.evaluate("localStorage.length") == 0
    # AND the Now screen shows each component with its status and where it comes from, and the last publish
    facebook = page.locator(".components-now li", has_text="Facebook").first
    assert "Operational" in facebook.inner_text() and "from its probes" in facebook.inner_text()
    assert "Page published" in page.locator(".meta").first.inner_text()
    page.screenshot(path=str(shots / "now-375.png"), full_page=True)

    # WHEN they preview the Facebook playbook with its next-update time
    page.get_by_role("link", name="Playbooks").click()
    card = page.locator("article[data-playbook=facebook-outage]")
    card.get_by_label("eta").fill("15:00")
    card.get_by_role("button", name="Preview trigger").click()
    preview = card.locator(".preview")
    preview.get_by_role("heading", name="What goes out").wait_for()
    # THEN it shows what goes out on every channel, and to how many, before anything is sent
    shown = preview.inner_text()
    assert "This opens a new incident on the page." in shown
    assert "Facebook is down: email or text us instead" in shown and "Update 15:00." in shown
    assert re.search(r"\d+ characters · 1 segment \(GSM-7\)", shown)
    assert re.search(r"1 email · 1 SMS", shown)
    # AND what German readers get, with its own size, one tap away
    german = preview.locator("details", has_text="In de:")
    german.locator("summary").click()
    assert "sind gestört" in german.inner_text() and "Update 15:00." in german.inner_text()
    assert re.search(r"\d+ characters · 1 segment \(GSM-7\)", german.inner_text())
    assert api(urls, "GET", "/incidents", params={"status": "open"}).json()["data"] == []
    no_axe_violations(page)
    page.screenshot(path=str(shots / "playbook-preview-375.png"), full_page=True)

    # WHEN they confirm with one tap
    preview.get_by_role("button", name="Trigger now").click()
    page.locator("article[data-playbook=facebook-outage] .note", has_text="Open now").wait_for()
    # THEN the public page says so, and the email and the SMS are in the outbox as previewed
    public = browser_page()
    assert "Facebook and Messenger are down" in page_once_it_shows(public, urls["page"] + "/",
                                                                   "Facebook and Messenger are down")
    outbox = outbox_holds(urls, EMAIL, PHONE, "Update 15:00.")
    assert "Facebook is down: email or text us instead" in outbox and PHONE in outbox
    public.goto(urls["page"] + "/_outbox")
    assert "Facebook is down: email or text us instead" in public.locator("body").inner_text()

    # WHEN they preview the resolve and confirm it
    card = page.locator("article[data-playbook=facebook-outage]")
    card.get_by_role("button", name="Preview resolve").click()
    card.locator(".preview").get_by_text("This resolves the open incident.").wait_for()
    card.locator(".preview").get_by_role("button", name="Resolve now").click()
    page.locator("article[data-playbook=facebook-outage]").get_by_role("button", name="Preview trigger").wait_for()
    # THEN nothing is open and the "we are back" SMS went out
    assert api(urls, "GET", "/incidents", params={"status": "open"}).json()["data"] == []
    assert "Facebook & Messenger work again" in outbox_holds(urls, "Facebook & Messenger work again")

    # AND every screen reads well on a desktop too, in both colour schemes, with no axe violations
    for scheme in ("light", "dark"):
        wide = browser_page(DESKTOP, scheme)
        sign_in_with_link(wide, urls)
        no_axe_violations(wide)
        wide.screenshot(path=str(shots / f"now-1280-{scheme}.png"), full_page=True)
        for name, screen in (("Playbooks", "playbooks"), ("Incidents", "incidents"), ("API keys", "keys")):
            wide.get_by_role("navigation").get_by_role("link", name=name).click()
            wide.get_by_role("heading", level=1, name=name).wait_for()
            no_axe_violations(wide)
            wide.screenshot(path=str(shots / f"{screen}-1280-{scheme}.png"), full_page=True)
    page.get_by_role("link", name="Incidents").click()
    page.get_by_role("heading", level=1, name="Incidents").wait_for()
    page.screenshot(path=str(shots / "incidents-375.png"), full_page=True)


def test_a_marketer_key_sees_no_admin_screen_and_signs_out(stack, urls, browser_page):
    secret = api(urls, "POST", "/keys", json={"name": "ana-phone", "scope": "marketer"}).json()["secret"]
    page = browser_page()
    page.goto(urls["console"])
    # WHEN a wrong key is pasted, THEN the error is beside the field
    page.get_by_label("API key").fill("bk_not-a-key")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("unknown or revoked API key").wait_for()
    assert page.get_by_label("API key").get_attribute("aria-invalid") == "true"
    # WHEN the marketer's own key is pasted
    page.get_by_label("API key").fill(secret)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", level=1, name="Now").wait_for()
    # THEN there is no admin screen, not even by its address
    nav = page.get_by_role("navigation")
    assert nav.get_by_role("link", name="Playbooks").is_visible()
    assert not nav.get_by_role("link", name="API keys").is_visible()
    page.goto(urls["console"] + "#keys")
    page.wait_for_url(re.compile(r"#now$"))
    assert page.get_by_role("heading", level=1).inner_text() == "Now"
    # WHEN they sign out, THEN the key is gone from the tab
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in").wait_for()
    assert page.evaluate("sessionStorage.getItem('beacon.key')") is None


def test_an_incident_changed_meanwhile_is_read_again_and_the_edit_reapplied(stack, urls, browser_page, shots):
    incident = api(urls, "POST", "/incidents", json={"name": "Instagram DMs delayed", "body": "Email us."}).json()
    page = browser_page()
    sign_in_with_link(page, urls)
    page.goto(f"{urls['console']}#incidents/{incident['id']}")
    page.get_by_role("heading", level=1, name="Instagram DMs delayed").wait_for()
    # WHEN an update without text is posted, THEN the API's error is shown beside the text field
    update = page.locator("form", has=page.get_by_role("button", name="Post the update"))
    update.get_by_role("button", name="Post the update").click()
    body = update.get_by_label("Update")
    update.locator("textarea[aria-invalid=true]").wait_for()
    assert body.get_attribute("aria-invalid") == "true"
    assert update.locator(".body-field .err").inner_text()

    # GIVEN someone else posts an update while the marketer corrects the title
    api(urls, "POST", f"/incidents/{incident['id']}/updates", json={"status": "identified", "body": "Meta confirmed."})
    rename = page.locator("form", has=page.get_by_role("button", name="Save the title"))
    rename.get_by_label("Title").fill("Instagram DMs are delayed")
    rename.get_by_role("button", name="Save the title").click()
    # THEN the console says the incident changed and offers to read it again and re-apply
    rename.get_by_text("Someone changed this since you opened it").wait_for()
    page.screenshot(path=str(shots / "incident-conflict-375.png"), full_page=True)
    rename.get_by_role("button", name="Reload and re-apply").click()
    page.get_by_role("heading", level=1, name="Instagram DMs are delayed").wait_for()
    saved = api(urls, "GET", f"/incidents/{incident['id']}").json()
    assert saved["name"] == "Instagram DMs are delayed" and saved["version"] == 3
    assert [u["body"] for u in saved["incident_updates"]] == ["Meta confirmed.", "Email us."]

    # WHEN the API cannot be reached, THEN a banner says so and what was typed stays, to send again
    page.route(re.compile(r"^" + re.escape(urls["api"]) + r"/incidents/.*"), lambda route: route.abort())
    body.fill("We expect DMs back by noon.")
    update.get_by_role("button", name="Post the update").click()
    page.get_by_role("alert").filter(has_text="API cannot be reached").first.wait_for()
    assert page.locator("#banner").is_visible() and body.input_value() == "We expect DMs back by noon."
    page.unroute(re.compile(r"^" + re.escape(urls["api"]) + r"/incidents/.*"))
    update.get_by_role("button", name="Send again").click()
    page.locator(".timeline").get_by_text("We expect DMs back by noon.").wait_for()
    assert not page.locator("#banner").is_visible()
    api(urls, "POST", f"/incidents/{incident['id']}/resolve", json={})


def test_the_console_is_served_under_its_own_strict_policy(stack, urls):
    answer = requests.get(urls["console"], timeout=10)
    assert answer.status_code == 200 and f'<meta name="beacon-api" content="{urls["api"]}">' in answer.text
    csp = answer.headers["Content-Security-Policy"]
    assert f"connect-src {urls['api']};" in csp and "'unsafe-inline'" not in csp
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert urls["admin_key"] not in answer.text
    assert "connect-src 'self'" in requests.get(urls["page"] + "/", timeout=10).headers["Content-Security-Policy"]
