"""The console's maintenance, notices, subscribers and admin screens, and an incident's timeline and postmortem,
in Chromium against `make run`'s stack on free ports.

A marketer schedules a maintenance in the page's time zone and finds it on the public page, posts and edits a
notice, writes a postmortem; an admin imports a CSV of two subscribers and sees the counts change, downloads
the export, watches a notification's delivery, adds a Slack channel and reads the audit log; a marketer key
sees no Admin screen. axe checks each new screen in both colour schemes; screenshots at 375 and 1280 px go to
test-artifacts/console/.
"""
from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.browser.consoles import (  # noqa: F401 (fixtures)
    DESKTOP, PHONE_SIZE, api, browser_page, no_axe_violations, page_once_it_shows, shots, sign_in_with_link, stack,
    urls,
)

pytestmark = pytest.mark.browser

ZONE = "Europe/Berlin"  # site.yml's brand.time_zone


def open_screen(page, name):
    page.get_by_role("navigation").get_by_role("link", name=name, exact=True).click()
    page.get_by_role("heading", level=1, name=name).wait_for()


def counts_of(page):
    """The counts table as {channel: {status: n}}."""
    return {row.get_attribute("data-channel"): {cell.get_attribute("data-status"): int(cell.inner_text())
                                                for cell in row.locator("td[data-status]").all()}
            for row in page.locator("table.counts tbody tr").all()}


def test_a_maintenance_scheduled_in_the_page_time_zone_is_on_the_public_page(stack, urls, browser_page, shots):
    page = browser_page()
    sign_in_with_link(page, urls)
    open_screen(page, "Maintenance")
    form = page.locator("form", has=page.get_by_role("button", name="Schedule", exact=True))
    form.get_by_label("Title customers read").fill("Help centre upgrade")
    form.get_by_label("What changes for customers").fill("The help centre is read-only for **30 minutes**.")
    # WHEN the text is previewed, THEN it reads as the page will show it
    form.get_by_role("button", name="Preview").click()
    assert "30 minutes" in form.locator(".preview-body strong").inner_text()
    # WHEN it is sent without a component, THEN the API's error is beside the components
    form.get_by_role("button", name="Schedule", exact=True).click()
    problem = form.locator("fieldset.components > .err")
    problem.wait_for()
    assert problem.inner_text() and form.locator("fieldset.components input").first.get_attribute("aria-invalid") == "true"
    page.screenshot(path=str(shots / "maintenance-error-375.png"), full_page=True)

    # WHEN a window is typed in the page's zone and the help centre ticked
    form.get_by_label("Starts", exact=True).fill("2031-03-30T01:30")
    form.get_by_label("Ends", exact=True).fill("2031-03-30T03:30")
    form.get_by_label("Help centre").check()
    form.get_by_role("button", name="Schedule", exact=True).click()
    page.get_by_role("heading", level=1, name="Help centre upgrade").wait_for()
    # THEN the window is stored as that wall-clock time in Europe/Berlin, across the change to summer time
    [record] = api(urls, "GET", "/maintenance").json()["data"]
    assert record["scheduled_for"] == "2031-03-30T00:30:00.000Z"
    assert record["scheduled_until"] == "2031-03-30T01:30:00.000Z"
    assert record["components"] == ["help-centre"]
    assert datetime.fromisoformat(record["scheduled_until"]).astimezone(ZoneInfo(ZONE)).hour == 3
    assert ZONE in page.locator(".meta").first.inner_text()
    no_axe_violations(page)
    page.screenshot(path=str(shots / "maintenance-detail-375.png"), full_page=True)
    # AND the public page lists it as upcoming
    public = browser_page()
    assert "Help centre upgrade" in page_once_it_shows(public, urls["page"] + "/", "Help centre upgrade")

    # WHEN its window is moved by an hour and an update posted, THEN both are kept
    edit = page.locator("form", has=page.get_by_role("button", name="Save the changes"))
    edit.get_by_label("Ends", exact=True).fill("2031-03-30T04:30")
    edit.get_by_label("Update for customers (optional)").fill("We need one more hour.")
    edit.get_by_role("button", name="Save the changes").click()
    page.locator(".timeline").get_by_text("We need one more hour.").wait_for()
    saved = api(urls, "GET", f"/maintenance/{record['id']}").json()
    assert saved["scheduled_until"] == "2031-03-30T02:30:00.000Z" and saved["version"] == 2

    # WHEN it is cancelled with the confirming tap, THEN it is listed under Past
    page.get_by_role("button", name="Cancel the maintenance").click()
    page.get_by_role("button", name="Yes, cancel it").click()
    page.get_by_role("heading", level=1, name="Maintenance").wait_for()
    past = page.locator("section", has=page.get_by_role("heading", name="Past"))
    assert "Cancelled" in past.locator("[data-maintenance]").first.inner_text()
    no_axe_violations(page)
    page.screenshot(path=str(shots / "maintenance-375.png"), full_page=True)


def test_a_notice_is_posted_edited_after_a_change_meanwhile_and_taken_down(stack, urls, browser_page, shots):
    page = browser_page()
    sign_in_with_link(page, urls)
    open_screen(page, "Notices")
    form = page.locator("form", has=page.get_by_role("button", name="Post the notice"))
    # WHEN a notice is posted without a title, THEN the error is beside the title
    form.get_by_role("button", name="Post the notice").click()
    form.locator("input[name=title][aria-invalid=true]").wait_for()
    # WHEN it is posted with a title and an end in the page's zone
    form.get_by_label("Title", exact=True).fill("We answer on SMS and email today")
    form.get_by_label("Shown until").fill("2031-01-01T18:00")
    form.get_by_role("button", name="Post the notice").click()
    card = page.locator("section", has=page.get_by_role("heading", name=re.compile("Shown now"))).locator("[data-notice]")
    card.wait_for()
    # THEN it is shown now, until 18:00 in Europe/Berlin
    [notice] = api(urls, "GET", "/notices").json()["data"]
    assert notice["title"] == "We answer on SMS and email today" and notice["ends_at"] == "2031-01-01T17:00:00.000Z"
    assert ZONE in card.inner_text()
    no_axe_violations(page)

    # GIVEN someone else edits it meanwhile
    api(urls, "PATCH", f"/notices/{notice['id']}", json={"body": "Our Facebook inbox is down."})
    card.get_by_text("Edit “We answer on SMS and email today”").click()
    card.get_by_label("Title", exact=True).fill("We answer on SMS and email all day")
    card.get_by_role("button", name="Save the notice").click()
    # THEN the console offers to read it again and re-apply the title
    card.get_by_text("Someone changed this since you opened it").wait_for()
    card.get_by_role("button", name="Reload and re-apply").click()
    page.locator("[data-notice]", has_text="We answer on SMS and email all day").wait_for()
    saved = api(urls, "GET", f"/notices/{notice['id']}").json()
    assert saved["title"] == "We answer on SMS and email all day" and saved["body"] == "Our Facebook inbox is down."
    page.screenshot(path=str(shots / "notices-375.png"), full_page=True)

    # WHEN it is taken down with the confirming tap, THEN it is gone
    card = page.locator("[data-notice]", has_text="We answer on SMS and email all day")
    card.get_by_role("button", name="Take it down").click()
    card.get_by_role("button", name=re.compile("Yes, take down")).click()
    page.get_by_text("No notice is shown now.").wait_for()
    assert api(urls, "GET", "/notices").json()["data"] == []


def test_a_resolved_incident_shows_its_timeline_and_takes_a_postmortem(stack, urls, browser_page, shots):
    incident = api(urls, "POST", "/incidents", json={
        "name": "Facebook inbox down", "body": "Email us.", "components": {"facebook": "major_outage"}}).json()
    api(urls, "POST", f"/incidents/{incident['id']}/resolve", json={"body": "Back."})
    page = browser_page()
    sign_in_with_link(page, urls)
    page.goto(f"{urls['console']}#incidents/{incident['id']}")
    page.get_by_role("heading", level=1, name="Facebook inbox down").wait_for()
    # THEN the timeline shows each update with what it changed and when after the start
    entries = page.locator(".timeline li.tl")
    assert entries.count() == 2
    assert "Resolved" in entries.nth(0).inner_text() and "after the start" in entries.nth(0).inner_text()
    assert re.search(r"Facebook: (Operational → )?Major outage", entries.nth(1).inner_text())
    assert "Resolved" in page.locator("#inc-timeline + p").inner_text()
    # WHEN a postmortem is written and published
    form = page.locator("form", has=page.get_by_role("button", name="Publish the postmortem"))
    form.get_by_label("What happened, why, and what changes").fill("A token expired. We now renew it daily.")
    form.get_by_role("button", name="Publish the postmortem").click()
    # THEN it is shown and stored
    page.locator("section", has=page.get_by_role("heading", name="Postmortem")).get_by_text(
        "A token expired. We now renew it daily.", exact=True).wait_for()
    assert api(urls, "GET", f"/incidents/{incident['id']}").json()["postmortem"].startswith("A token expired.")
    no_axe_violations(page)
    page.screenshot(path=str(shots / "incident-postmortem-375.png"), full_page=True)


def test_an_admin_imports_two_subscribers_and_sees_the_counts_and_a_delivery_change(stack, urls, browser_page, shots,
                                                                                  tmp_path):
    page = browser_page()
    sign_in_with_link(page, urls)
    open_screen(page, "Subscribers")
    before = counts_of(page)
    # WHEN a CSV of two subscribers and one bad line is imported with consent
    upload = tmp_path / "people.csv"
    upload.write_text("email,phone,components\nlena@example.com,,\n,+4915199990042,facebook\nnot-an-address,,\n",
                      encoding="utf-8")
    form = page.locator("form", has=page.get_by_role("button", name="Import"))
    form.get_by_label("CSV file").set_input_files(str(upload))
    form.get_by_role("button", name="Import").click()
    # THEN consent is asked for beside its box first
    form.locator("input[name=consent][aria-invalid=true]").wait_for()
    form.get_by_label(re.compile("agreed elsewhere")).check()
    form.get_by_role("button", name="Import").click()
    form.get_by_text("2 imported, 0 there already, 1 refused.").first.wait_for()
    # AND the API's problem is shown with its line, the progress full, and the counts one up on each channel
    assert form.locator(".problems li").inner_text().startswith("Line 4: ")
    assert form.locator("progress").evaluate("p => p.value === p.max")
    page.wait_for_function("() => document.querySelector('tr[data-channel=email] td[data-status=confirmed]')"
                           f".textContent === '{before['email']['confirmed'] + 1}'")
    after = counts_of(page)
    assert after["sms"]["confirmed"] == before["sms"]["confirmed"] + 1
    no_axe_violations(page)
    page.screenshot(path=str(shots / "subscribers-375.png"), full_page=True)

    # WHEN a part of the address is searched, THEN the subscriber is found
    finder = page.locator("form[role=search]")
    finder.get_by_label("Address or number").fill("lena@")
    finder.get_by_role("button", name="Find").click()
    finder.get_by_text("1 found among").first.wait_for()
    assert "lena@example.com" in finder.locator("li").inner_text()

    # WHEN the export is downloaded, THEN it holds the imported subscribers
    with page.expect_download() as download:
        page.get_by_role("button", name="Download subscribers.csv").click()
    assert download.value.suggested_filename == "subscribers.csv"
    exported = open(download.value.path(), encoding="utf-8").read()
    assert "lena@example.com" in exported and "4915199990042" in exported

    # WHEN an incident notifies them, THEN its delivery is followed until everything went out
    api(urls, "POST", "/incidents", json={"name": "Facebook DMs delayed", "body": "Email us.", "notify": True,
                                          "components": {"facebook": "degraded_performance"}})
    notification = api(urls, "GET", "/notifications").json()["data"][0]
    page.goto(f"{urls['console']}#subscribers/{notification['id']}")
    page.get_by_role("heading", level=1, name="Facebook DMs delayed").wait_for()
    page.get_by_role("status").filter(has_text="Done:").wait_for(timeout=45_000)
    delivered = page.locator("tr[data-channel=email]").inner_text()
    assert re.search(r"Email\s+(\d+)\s+\1\s+0\s+0", delivered), delivered
    no_axe_violations(page)
    page.screenshot(path=str(shots / "delivery-375.png"), full_page=True)


def test_an_admin_adds_a_slack_channel_and_a_marketer_key_sees_no_admin_screen(stack, urls, browser_page, shots):
    page = browser_page()
    sign_in_with_link(page, urls)
    open_screen(page, "Admin")
    form = page.locator("form", has=page.get_by_role("button", name="Add", exact=True))
    # WHEN a Slack URL that is not one is sent, THEN the API's error is beside the URL
    form.get_by_label("Label").fill("#support-alerts")
    form.get_by_label("Incoming webhook URL").fill("ftp://nowhere")
    form.get_by_role("button", name="Add", exact=True).click()
    form.locator("input[name=url][aria-invalid=true]").wait_for()
    # WHEN the chat receiver's Slack webhook is added
    form.get_by_label("Incoming webhook URL").fill(f"{urls['chat']}/slack/services/T0/B0/console")
    form.get_by_role("button", name="Add", exact=True).click()
    page.get_by_text("Slack “#support-alerts” added.").first.wait_for()
    # THEN it is listed, its URL masked, and the audit log says who added it
    listed = page.locator("[data-channel]", has_text="#support-alerts")
    assert "Slack" in listed.inner_text() and "Confirmed" in listed.inner_text()
    assert "/slack/services" not in listed.inner_text()
    # GIVEN more entries than one page of the audit log holds
    for n in range(26):
        api(urls, "POST", "/keys", json={"name": f"audit-{n}", "scope": "marketer"})
    page.reload()
    page.get_by_role("heading", level=1, name="Admin").wait_for()
    entries = page.locator(".audit > li")
    assert entries.count() == 25 and "key.create" in entries.first.inner_text()
    # WHEN older entries are asked for, THEN the next page follows and the first of them takes the focus
    page.get_by_role("button", name="Show older entries").click()
    page.wait_for_function("() => document.querySelectorAll('.audit > li').length > 25")
    assert page.evaluate("document.activeElement === document.querySelectorAll('.audit > li')[25]")
    assert "slack.create" in page.locator(".audit").inner_text()
    no_axe_violations(page)
    page.screenshot(path=str(shots / "admin-375.png"), full_page=True)

    # GIVEN a marketer key, WHEN it signs in, THEN there is no Admin screen, not even by its address
    secret = api(urls, "POST", "/keys", json={"name": "ana-screens", "scope": "marketer"}).json()["secret"]
    marketer = browser_page()
    sign_in_with_link(marketer, urls, secret)
    nav = marketer.get_by_role("navigation")
    assert nav.get_by_role("link", name="Subscribers").is_visible()
    assert not nav.get_by_role("link", name="Admin").is_visible()
    marketer.goto(urls["console"] + "#admin")
    marketer.wait_for_url(re.compile(r"#now$"))
    # AND the subscribers screen shows deliveries only
    open_screen(marketer, "Subscribers")
    assert "need an admin key" in marketer.locator("main").inner_text()
    assert marketer.locator("table.counts").count() == 0


def test_the_new_screens_read_well_on_a_desktop_in_both_colour_schemes(stack, urls, browser_page, shots):
    for scheme in ("light", "dark"):
        wide = browser_page(DESKTOP, scheme)
        sign_in_with_link(wide, urls)
        for name in ("Maintenance", "Notices", "Subscribers", "Admin"):
            open_screen(wide, name)
            no_axe_violations(wide)
            wide.screenshot(path=str(shots / f"{name.lower()}-1280-{scheme}.png"), full_page=True)
    narrow = browser_page(PHONE_SIZE, "dark")
    sign_in_with_link(narrow, urls)
    for name in ("Maintenance", "Notices", "Subscribers", "Admin"):
        open_screen(narrow, name)
        no_axe_violations(narrow)
