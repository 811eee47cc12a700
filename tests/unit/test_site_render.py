"""The page as a pure function: records in, files out; what customers read, and what never gets through."""
import gzip
import json
import random
import re
import xml.etree.ElementTree as ElementTree
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest

from chalicelib.model import ComponentState, ComponentStatus, DayHistory, Impact, IncidentKind, MaintenanceStatus
from chalicelib.site.render import HTML, Only, SiteObject, incident_key, month_keys, render_site
from chalicelib.site.snapshot import build_snapshot, on_the_front
from chalicelib.site.validate import SiteInvalid, check_site
from chalicelib.text import markdown_html, status_class, text_colour_on
from tests.conftest import ROOT
from tests.site_scenarios import HOSTILE_BODY, HOSTILE_TITLE, facebook_outage, history, incident, past_incidents

TEMPLATES = ROOT / "templates"
INDEX_BUDGET_GZIPPED = 15 * 1024


def rendered(snapshot) -> dict[str, SiteObject]:
    """The whole render, which passes every check: nothing withheld, nothing refused."""
    objects = render_site(snapshot, TEMPLATES)
    assert check_site(objects).withheld == []
    return {o.key: o for o in objects}


def text_of(objects, key) -> str:
    return objects[key].body.decode("utf-8")


class Elements(HTMLParser):
    """Every start tag with its attributes, and the page's visible text."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag, **attrs):
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]


@pytest.fixture
def site_with_facebook_down(example_site, noon):
    states, incidents, notices = facebook_outage(example_site, noon, playbook_id="facebook-outage")
    days, latency = history(example_site, noon)
    return build_snapshot(example_site, states, incidents + past_incidents(120, noon, ["website", "x"]), notices,
                          noon, days=days, latency=latency, api_url="https://api.beacon.test",
                          probe_interval_seconds=60)


@pytest.fixture
def quiet_site(example_site, noon):
    return build_snapshot(example_site, {}, [], [], noon, api_url="https://api.beacon.test")


def test_quiet_page_says_all_systems_operational_and_lists_every_visible_component(quiet_site):
    page = text_of(rendered(quiet_site), "index.html")
    assert "All Systems Operational" in page
    for name in ("Online shop", "Help centre", "Facebook", "Instagram", "WhatsApp", "HubSpot", "Hootsuite"):
        assert f"<strong>{name}</strong>" in page
    # LinkedIn is declared only_show_if_degraded
    assert "<strong>LinkedIn</strong>" not in page


def test_outage_page_shows_status_words_icons_incidents_maintenance_and_notices(site_with_facebook_down):
    page = text_of(rendered(site_with_facebook_down), "index.html")
    # Only platforms are affected: the banner names them and says the brand's own services work
    assert '<p class="banner b-critical" id="overall" role="status">' in page
    assert ("Facebook is down, Instagram is slow, HubSpot is under maintenance · Online shop, Help centre and "
            "Email &amp; SMS support work</p>") in page
    # never colour alone: each status has a word and an icon
    assert re.search(r'<span class="st s-m"><svg class="i s-m" aria-hidden="true"><use href="#i-m"/></svg> Major Outage',
                     page)
    assert "Degraded Performance" in page and "Under Maintenance" in page
    assert "Facebook Messenger is down" in page and "<strong>Facebook</strong> page" in page
    assert page.index("Identified") < page.index("Investigating"), "timeline newest first"
    assert "HubSpot inbox migration" in page  # in progress
    assert "Shop software upgrade" in page  # upcoming
    assert "Holiday opening hours" in page and "<em>9:00–15:00</em>" in page


def test_each_bar_is_90_days_coloured_by_status_and_links_to_its_days_in_words(site_with_facebook_down):
    objects = rendered(site_with_facebook_down)
    page = text_of(objects, "index.html")
    snapshot = site_with_facebook_down
    visible = [v for g in snapshot.groups for v in g.components]
    # THEN each visible component has a bar of 90 cells, oldest first, each day's colour its status
    # (operational needs no class: it is the cell's own colour), hidden from screen readers
    bars = re.findall(r'<span class="bars" aria-hidden="true">(.*?)</span>', page)
    assert len(bars) == len(visible) == 9
    for view, bar in zip(visible, bars):
        cells = re.findall(r'<i(?: class="(\w)")?></i>', bar)
        assert len(cells) == bar.count("<i") == 90
        expected = ["" if d.status is ComponentStatus.OPERATIONAL else status_class(d.status) for d in view.days]
        assert cells == expected
    facebook = re.findall(r'<span class="bars" aria-hidden="true">(.*?)</span>', page)[
        [v.component.id for v in visible].index("facebook")]
    assert facebook.endswith('<i class="m"></i>')  # down today
    # AND the bar and its caption are one link to that component's days in words, named for it
    links = Elements(page).find("a", **{"class": "days"})
    assert [a["href"] for a in links] == [f"uptime.html#u-{v.component.id}" for v in visible]
    assert "uptime<span class=\"vh\"> of Online shop in 90 days, day by day</span>" in page


def test_uptime_page_says_each_day_that_was_not_quiet_with_date_status_uptime_and_incidents(
        site_with_facebook_down, noon):
    objects = rendered(site_with_facebook_down)
    page = Elements(text_of(objects, "uptime.html"))
    snapshot = site_with_facebook_down
    visible = [v for g in snapshot.groups for v in g.components]
    # THEN every component the index links to has its section there
    assert [a["id"] for t, a in page.tags if t == "section"] == [f"u-{v.component.id}" for v in visible]
    two_days_ago = f"{(noon - timedelta(days=2)).day} {(noon - timedelta(days=2)):%b %Y}: "
    labels = [t.strip() for t in page.text if re.match(r"\s?\d{1,2}(–\d{1,2})?( \w{3})?(–\d{1,2} \w{3})? 2026: ", t)]
    slow_checkout = [t for t in labels if t.startswith(two_days_ago) and "Checkout was slow" in t]
    assert slow_checkout and "% uptime" in slow_checkout[0]
    # AND the status of each run is said in words beside its colour
    html = text_of(objects, "uptime.html")
    assert "Major Outage</span> " + f"{noon.day} {noon:%b %Y}: " in html
    # AND every day the labels leave out was quiet, which one line per component says
    for view in snapshot.components:
        told = sum(r.length for r in view.notable_runs)
        assert told + view.quiet_days == 90
        assert all(not r.quiet and r.length == (r.last - r.first).days + 1 for r in view.notable_runs)
    assert page.text.count(" Every other day: 100% uptime, no incidents") == sum(
        1 for v in visible if v.quiet_days and v.notable_runs)


def test_equal_neighbouring_days_are_one_run_that_never_crosses_into_the_last_30_days(example_site, noon):
    # GIVEN a component with no history and no incident: 90 days of no data
    view = build_snapshot(example_site, {}, [], [], noon).view("website")
    # THEN its bar is two runs, the older 60 days and the 30 a phone shows, each labelled with its range
    assert [(r.start, r.length, r.recent) for r in view.runs] == [(0, 60, False), (60, 30, True)]
    assert view.notable_runs == view.runs and view.quiet_days == 0
    page = text_of(rendered(build_snapshot(example_site, {}, [], [], noon)), "uptime.html")
    assert "No data</span> 1 Feb–1 Apr 2026: no data" in page and "2 Apr–1 May 2026: no data" in page


def test_the_index_stays_light_when_every_day_of_every_component_is_eventful(example_site, noon):
    # GIVEN every day of every component notable, each with an uptime of its own
    ids = [c.id for c in example_site.components]
    days = {i: [DayHistory(component_id=i, day=(noon - timedelta(days=k)).date(), operational=1440 - 8 - k - shift,
                           major=8 + k + shift) for k in range(90)] for shift, i in enumerate(ids)}
    snapshot = build_snapshot(example_site, {}, [], [], noon, days=days)
    objects = rendered(snapshot)
    # THEN the index carries colours only, the words go to uptime.html, one line a day
    index, uptime = text_of(objects, "index.html"), text_of(objects, "uptime.html")
    assert "uptime; " not in index and index.count("% uptime") <= len(ids) + 1
    assert uptime.count("% uptime</li>") == 90 * sum(1 for g in snapshot.groups for _ in g.components)
    assert len(gzip.compress(index.encode(), 9)) <= INDEX_BUDGET_GZIPPED
    # AND so does the page in every other language, its words often longer than English ones
    for language in example_site.languages[1:]:
        assert len(gzip.compress(objects[f"{language}/index.html"].body, 9)) <= INDEX_BUDGET_GZIPPED


def test_probed_components_get_a_response_time_sparkline(site_with_facebook_down, quiet_site):
    page = Elements(text_of(rendered(site_with_facebook_down), "index.html"))
    sparks = page.find("svg", **{"class": "spark"})
    # The line is drawn for the eye; its caption says it in words, for everyone
    assert len(sparks) == 9 and sparks[0]["aria-hidden"] == "true"
    assert re.search(r"Response time, 24 h</span><span>median \d+ ms<span class=\"vh\">, highest \d+ ms</span>",
                     text_of(rendered(site_with_facebook_down), "index.html"))
    quiet = text_of(rendered(quiet_site), "index.html")
    assert not Elements(quiet).find("svg", **{"class": "spark"})
    # Until a probed component has response times, its box says so instead of drawing nothing
    assert "Response time, 24 h</span><span>collecting data</span>" in quiet


def test_contacts_that_still_work_come_first_and_the_playbook_choice_leads(site_with_facebook_down, quiet_site):
    # GIVEN Facebook is down and the open incident came from the facebook-outage playbook (contacts_first: email, sms, phone)
    labels = [c.contact.id for c in site_with_facebook_down.contacts]
    # THEN the playbook's choice comes first, Messenger (needs Facebook) last
    assert labels[:3] == ["email", "sms", "phone"] and labels[-1] == "messenger"
    page = text_of(rendered(site_with_facebook_down), "index.html")
    assert "Affected: Facebook" in page and "Recommended now" in page
    # AND during an outage the block comes before the components
    assert page.index("How to reach us") < page.index('id="comp-h"')
    # WHEN all is well the order is the one of site.yml, after the components
    assert [c.contact.id for c in quiet_site.contacts] == ["help-centre", "email", "sms", "phone", "whatsapp",
                                                           "messenger"]
    quiet = text_of(rendered(quiet_site), "index.html")
    assert quiet.index("How to reach us") > quiet.index('id="comp-h"')


def test_a_contact_whose_component_is_down_goes_last_even_if_a_playbook_names_it(example_site, noon):
    states = {"support-inbox": ComponentState(component_id="support-inbox", probe_status=ComponentStatus.MAJOR_OUTAGE,
                                              updated_at=noon)}
    _, incidents, _ = facebook_outage(example_site, noon, playbook_id="facebook-outage")
    snapshot = build_snapshot(example_site, states, incidents[:1], [], noon)
    order = [c.contact.id for c in snapshot.contacts]
    assert order[0] == "phone" and set(order[-3:]) == {"email", "sms", "messenger"}


def test_subscribe_form_posts_to_the_api_with_email_or_phone_and_optional_components(quiet_site):
    page = Elements(text_of(rendered(quiet_site), "index.html"))
    (form,) = page.find("form")
    assert form["action"] == "https://api.beacon.test/subscribers" and form["method"] == "post"
    assert page.find("input", name="email", type="email") and page.find("input", name="phone", type="tel")
    assert len(page.find("input", name="components", type="checkbox")) == 10


def test_the_data_timestamp_is_shown_in_utc_and_the_brand_zone_with_the_staleness_threshold(quiet_site):
    page = text_of(rendered(quiet_site), "index.html")
    assert 'data-generated="2026-05-01T12:00:00.000Z" data-stale-after="180"' in page
    assert "1 May 2026, 12:00 UTC" in page and "14:00 CEST" in page
    assert '<p class="warn" id="stale" role="alert" hidden>' in page


def test_findable_title_description_open_graph_canonical_sitemap_robots_and_faq(quiet_site):
    objects = rendered(quiet_site)
    page = Elements(text_of(objects, "index.html"))
    assert "<title>Lumen Coffee Roasters Status</title>" in text_of(objects, "index.html")
    assert page.find("meta", name="description")[0]["content"].startswith("Live status of Lumen")
    assert page.find("meta", property="og:title") and page.find("meta", property="og:url")
    assert page.find("link", rel="canonical")[0]["href"] == "https://status.lumencoffee.com/"
    assert page.find("html")[0]["lang"] == "en"
    assert page.find("main") and page.find("header") and page.find("footer") and page.find("nav")
    assert "Where do I get support while Facebook or Instagram is down?" in page.text
    assert "<loc>https://status.lumencoffee.com/</loc>" in text_of(objects, "sitemap-pages.xml")
    assert "Sitemap: https://status.lumencoffee.com/sitemap.xml" in text_of(objects, "robots.txt")


def test_every_incident_has_its_page(site_with_facebook_down):
    objects = rendered(site_with_facebook_down)
    assert all(f"incidents/{i.id}.html" in objects for i in site_with_facebook_down.incidents)
    maintenance = text_of(objects, "incidents/01maintnow000001.html")
    assert "HubSpot inbox migration" in maintenance and "Affected components" in maintenance
    assert "Under Maintenance" in maintenance and 'href="../index.html"' in maintenance


SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
PAGE_URL = "https://status.lumencoffee.com/"
EIGHT_MONTHS = ("2026-05", "2026-04", "2026-03", "2026-02", "2026-01", "2025-12", "2025-11", "2025-10")


@pytest.fixture
def site_over_eight_months(example_site, noon):
    """Closed incidents from October to May, one still open since November, one closed 100 days ago, and
    maintenance planned for later in May."""
    closed = [incident(f"01m{month}d{day:02d}0000"[:16], f"Closed {month}-{day:02d}",
                       datetime(int(month[:4]), int(month[5:]), day, 9, tzinfo=timezone.utc),
                       statuses=("investigating", "resolved"), components={"website": ComponentStatus.DEGRADED_PERFORMANCE},
                       impact=Impact.MINOR)
              for month in EIGHT_MONTHS for day in (1, 12, 25)
              if datetime(int(month[:4]), int(month[5:]), day, 9, tzinfo=timezone.utc) < noon]
    still_open = incident("01stillopen00001", "Instagram replies are slow", datetime(2025, 11, 20, 8, tzinfo=timezone.utc),
                          statuses=("investigating", "identified"), components={"instagram": ComponentStatus.DEGRADED_PERFORMANCE})
    long_ago = incident("01longago0000001", "Checkout failed for an hour", noon - timedelta(days=100, hours=1),
                        statuses=("investigating", "resolved"), components={"website": ComponentStatus.MAJOR_OUTAGE})
    planned = incident("01planned0000001", "Phone system upgrade", noon - timedelta(days=2), kind=IncidentKind.MAINTENANCE,
                       statuses=(MaintenanceStatus.SCHEDULED.value,), impact=Impact.MAINTENANCE,
                       components={"phone": ComponentStatus.UNDER_MAINTENANCE},
                       scheduled=(noon + timedelta(days=9), noon + timedelta(days=9, hours=2)))
    return build_snapshot(example_site, {}, closed + [still_open, long_ago, planned], [], noon)


def urls(objects, key) -> list[str]:
    return [loc.text for loc in ElementTree.fromstring(objects[key].body).iter(f"{SITEMAP}loc")]


def test_each_month_has_its_page_newest_first_with_open_incidents_and_links_to_its_neighbours(site_over_eight_months):
    # WHEN the site is rendered
    objects = rendered(site_over_eight_months)
    # THEN there is one history page per month, and the old numbered pages are gone
    assert site_over_eight_months.months == EIGHT_MONTHS
    assert sorted(k for k in objects if k.startswith("history") and k.endswith(".html")) == sorted(
        ["history.html"] + [f"history/{m}.html" for m in EIGHT_MONTHS])
    november = Elements(text_of(objects, "history/2025-11.html"))
    listed = [a["href"] for a in november.find("a") if a.get("href", "").startswith("../incidents/")]
    assert listed == ["../incidents/01m2025-11d25000.html", "../incidents/01stillopen00001.html",
                      "../incidents/01m2025-11d12000.html", "../incidents/01m2025-11d01000.html"]
    # AND an incident still open is there, told as ongoing with its status
    text = "".join(november.text)
    assert "Ongoing · Identified, updated 20 Nov 2025" in text and "November 2025" in text
    # AND the page links to the newer and older month and back to the history
    assert november.find("a", href="2025-12.html", rel="prev") and november.find("a", href="2025-10.html", rel="next")
    assert november.find("a", href="../history.html")
    newest, oldest = Elements(text_of(objects, "history/2026-05.html")), Elements(text_of(objects, "history/2025-10.html"))
    assert not newest.find("a", rel="prev") and newest.find("a", href="2026-04.html", rel="next")
    assert oldest.find("a", href="2025-11.html", rel="prev") and not oldest.find("a", rel="next")
    # AND planned maintenance is on the page of the month it is planned for
    assert "Planned</strong> for 10 May 2026" in text_of(objects, "history/2026-05.html")


def test_history_shows_the_last_90_days_by_month_then_links_every_month(site_over_eight_months, noon):
    objects = rendered(site_over_eight_months)
    history = Elements(text_of(objects, "history.html"))
    incident_links = [a["href"] for a in history.find("a") if a.get("href", "").startswith("incidents/")]
    since = noon - timedelta(days=90)
    expected = [i for i in site_over_eight_months.sorted_incidents
                if (i.scheduled_for or i.started_at) >= since]
    assert incident_links == [f"incidents/{i.id}.html" for i in expected]
    assert "incidents/01planned0000001.html" in incident_links  # open ones are included
    assert "incidents/01stillopen00001.html" not in incident_links  # open, but started before the 90 days
    assert "incidents/01longago0000001.html" not in incident_links  # left the front
    recent, earlier = text_of(objects, "history.html").split("Earlier months", 1)
    assert re.findall(r'<h2 id="mo-[^"]+"><a href="([^"]+)">', recent) == [
        "history/2026-05.html", "history/2026-04.html", "history/2026-03.html", "history/2026-02.html"]
    assert re.findall(r'href="(history/[^"]+)"', earlier) == [f"history/{m}.html" for m in EIGHT_MONTHS]


def test_the_sitemap_is_an_index_of_the_pages_and_of_one_sitemap_per_month(site_over_eight_months, quiet_site):
    objects = rendered(site_over_eight_months)
    index = ElementTree.fromstring(objects["sitemap.xml"].body)
    assert index.tag == f"{SITEMAP}sitemapindex"
    assert urls(objects, "sitemap.xml") == [PAGE_URL + "sitemap-pages.xml"] + [
        f"{PAGE_URL}sitemap-{m}.xml" for m in EIGHT_MONTHS]
    assert urls(objects, "sitemap-pages.xml") == [PAGE_URL, PAGE_URL + "history.html"] + [
        f"{PAGE_URL}history/{m}.html" for m in EIGHT_MONTHS]
    for month in EIGHT_MONTHS:
        assert ElementTree.fromstring(objects[f"sitemap-{month}.xml"].body).tag == f"{SITEMAP}urlset"
        in_month = site_over_eight_months.in_month(month)
        assert urls(objects, f"sitemap-{month}.xml") == [f"{PAGE_URL}incidents/{i.id}.html" for i in in_month]
    january = ElementTree.fromstring(objects["sitemap-2026-01.xml"].body)
    lastmod = {u.find(f"{SITEMAP}loc").text: u.find(f"{SITEMAP}lastmod").text for u in january}
    assert lastmod[PAGE_URL + "incidents/01longago0000001.html"] == "2026-01-21T11:20:00.000Z"
    # AND a site without incidents has the index and its pages only
    quiet = rendered(quiet_site)
    assert urls(quiet, "sitemap.xml") == [PAGE_URL + "sitemap-pages.xml"]
    assert urls(quiet, "sitemap-pages.xml") == [PAGE_URL, PAGE_URL + "history.html"]


def test_feeds_and_json_take_the_front_only(site_over_eight_months):
    # GIVEN an incident closed 100 days ago and not changed since
    objects = rendered(site_over_eight_months)
    # THEN its month page lists it, but neither the feeds nor the JSON do
    assert "incidents/01longago0000001.html" in text_of(objects, "history/2026-01.html")
    for key in ("history.atom", "history.rss", "api/v2/incidents.json", "api/v2/summary.json"):
        assert "01longago0000001" not in text_of(objects, key), key
    entries = [e.text for e in ElementTree.fromstring(objects["history.atom"].body).iter(
        "{http://www.w3.org/2005/Atom}id")][1:]
    front = sorted(site_over_eight_months.front, key=lambda i: (i.updated_at, i.id), reverse=True)
    assert entries == [f"{PAGE_URL}incidents/{i.id}.html" for i in front]
    assert "01stillopen00001" in text_of(objects, "api/v2/incidents/unresolved.json")


def test_a_partial_render_gives_the_objects_of_a_full_render_and_leaves_out_only_what_it_was_not_asked(
        site_over_eight_months, example_site, noon):
    # GIVEN the full render of incidents spread over eight months
    snapshot = site_over_eight_months
    full = {o.key: o for o in render_site(snapshot, TEMPLATES)}
    every_id = [i.id for i in snapshot.incidents]
    chance = random.Random(8)
    for _ in range(12):
        # WHEN some incidents and months are asked for (one of each the site does not have), and the snapshot
        # holds only the front, those months' incidents and those incidents, as a partial read gives it
        only = Only(incidents=frozenset(chance.sample(every_id, chance.randint(0, 5)) + ["01gone0000000001"]),
                    months=frozenset(chance.sample(EIGHT_MONTHS, chance.randint(0, 3)) + ["2024-01"]))
        read = {i.id: i for i in snapshot.incidents
                if on_the_front(i, noon) or i.id in only.incidents or snapshot.month_of(i) in only.months}
        partial_snapshot = build_snapshot(example_site, {}, list(read.values()), [], noon, known_months=snapshot.months)
        for source in (snapshot, partial_snapshot):
            partial = render_site(source, TEMPLATES, only=only)
            # THEN each object is the full render's, byte for byte and header for header
            keys = [o.key for o in partial]
            assert len(keys) == len(set(keys))
            for obj in partial:
                assert obj == full[obj.key], (only, obj.key)
            # AND what it leaves out is exactly the pages of other incidents and the objects of other months
            others = [f"{language}/" for language in example_site.languages[1:]]
            left_out = {prefix + incident_key(i) for i in every_id if i not in only.incidents
                        for prefix in ["", *others]}
            left_out |= {key for month in EIGHT_MONTHS if month not in only.months for key in month_keys(month)}
            # Each other language has its own month pages (the sitemaps are the site's, in one language).
            left_out |= {prefix + month_keys(month)[0] for month in EIGHT_MONTHS if month not in only.months
                         for prefix in others}
            assert set(full) - set(keys) == left_out, only
            # AND with what is already live, every link it makes resolves
            assert check_site(partial, published=full.keys()).withheld == []


def test_hostile_titles_and_bodies_come_out_as_inert_text(example_site, noon):
    # GIVEN an incident and a notice whose title and body try to run script
    states, incidents, notices = facebook_outage(example_site, noon, title=HOSTILE_TITLE, body=HOSTILE_BODY)
    notices = [notices[0].replace(title=HOSTILE_TITLE, body=HOSTILE_BODY)]
    objects = rendered(build_snapshot(example_site, states, incidents, notices, noon, api_url="https://a.test"))
    for key in ("index.html", "incidents/01facebook000001.html", "history.html"):
        page = Elements(text_of(objects, key))
        # THEN no script but the page's own, no event handler, no javascript: link
        assert all(a.get("src", "").startswith(("assets/", "../assets/")) or a.get("type") == "application/ld+json"
                   for a in page.find("script")), key
        assert not [a for _, attrs in page.tags for a in attrs if a.startswith("on")], key
        assert not [a for _, a in page.tags if "javascript:" in (a.get("href") or "")], key
        assert not page.find("img"), key
    index = text_of(objects, "index.html")
    # AND the text itself is shown, escaped, and the safe link survives
    assert "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt;" in index
    assert '<a href="https://help.example.com" rel="noopener noreferrer nofollow">help</a>' in index


def xml_documents(objects) -> dict[str, ElementTree.Element]:
    return {key: ElementTree.fromstring(obj.body) for key, obj in objects.items()
            if key.endswith((".atom", ".rss", ".xml", ".svg"))}


def test_a_record_stored_with_controls_before_they_were_cleaned_still_publishes_whole(example_site, noon):
    # GIVEN an incident stored as it was typed, before names and bodies were cleaned at the API:
    # a soft line break, a page break and a NUL in its name and in its update
    pasted = "Checkout\u000bis\u000cslow\u0000"
    states, incidents, notices = facebook_outage(example_site, noon, title=pasted,
                                                 body="Card\u000bpayments\u0000 fail.")
    notices = [notices[0].replace(title=f"Notice {pasted}", body="Closed\u000c early.")]
    # WHEN the site is rendered and checked
    objects = render_site(build_snapshot(example_site, states, incidents, notices, noon), TEMPLATES)
    checked = check_site(objects)
    # THEN nothing is withheld and every feed, badge and sitemap is XML a reader can parse
    assert checked.withheld == [] and len(checked.objects) == len(objects)
    documents = xml_documents({o.key: o for o in objects})
    atom_titles = [e.text for e in documents["history.atom"].iter("{http://www.w3.org/2005/Atom}title")]
    assert "Checkoutisslow" in atom_titles
    assert "Checkoutisslow" in [e.text for e in documents["history.rss"].iter("title")]


def test_a_body_that_types_a_link_or_links_relatively_does_not_block_the_page(example_site, noon):
    # GIVEN an update that types an HTML link as text and links to a page by a relative path
    body = 'See <a href="help.html">help</a>, or our [returns page](help/returns.html) and [FAQ](/faq).'
    states, incidents, notices = facebook_outage(example_site, noon, body=body)
    # WHEN the site is rendered and checked  THEN nothing is withheld
    objects = rendered(build_snapshot(example_site, states, incidents, notices, noon))
    page = Elements(text_of(objects, "incidents/01facebook000001.html"))
    # AND the typed link stays text, the relative ones lead to the brand's website, as its marketer meant
    assert 'See <a href="help.html">help</a>' in "".join(page.text)
    links = {a["href"] for a in page.find("a") if "nofollow" in a.get("rel", "")}
    assert links == {"https://www.lumencoffee.com/help/returns.html", "https://www.lumencoffee.com/faq"}


def test_a_problem_in_one_incident_page_withholds_that_page_only():
    # GIVEN a render in which one incident's page links to a file the render lacks
    objects = [SiteObject("index.html", b'<a href="incidents/a.html">a</a><a href="incidents/b.html">b</a>', HTML),
               SiteObject("incidents/a.html", b'<a href="../index.html">back</a>', HTML),
               SiteObject("incidents/b.html", b'<a href="../gone.html">gone</a>', HTML),
               SiteObject("history.atom", b"<feed/>", "application/atom+xml")]
    # WHEN it is checked
    checked = check_site(objects)
    # THEN that page is withheld with its problem and everything else, links to it included, may go out
    (withheld,) = checked.withheld
    assert (withheld.key, withheld.incident_id) == ("incidents/b.html", "b")
    assert withheld.problems == ("links to '../gone.html', which this render does not contain",)
    assert [o.key for o in checked.objects] == ["index.html", "incidents/a.html", "history.atom"]


def test_text_that_looks_like_a_link_is_not_checked_but_a_real_tag_is():
    # GIVEN a page whose text shows escaped markup, and a real tag with an entity in its link
    page = SiteObject("index.html", b'<p>&lt;a href="help.html"&gt;</p><a href="history.html?a=1&amp;b=2">h</a>', HTML)
    # WHEN it is checked  THEN only the real link counts, read as a browser decodes it
    with pytest.raises(SiteInvalid) as refused:
        check_site([page])
    assert refused.value.problems == ["index.html: links to 'history.html?a=1&b=2', which this render does not contain"]


def test_faq_is_also_published_as_structured_data_that_cannot_break_out_of_its_block(example_site, noon):
    from chalicelib.config import FaqEntry

    site = example_site.replace(faq=(
        FaqEntry(question="Where is support? </script><script>alert(1)</script>", answer="Email **us**."),))
    page = text_of(rendered(build_snapshot(site, {}, [], [], noon)), "index.html")
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', page).group(1)
    document = json.loads(block)
    assert document["@type"] == "FAQPage"
    assert document["mainEntity"][0]["name"] == "Where is support? </script><script>alert(1)</script>"
    assert document["mainEntity"][0]["acceptedAnswer"]["text"] == "Email us."
    assert "<" not in block


def test_markdown_subset_keeps_emphasis_links_lists_and_drops_the_rest():
    html = markdown_html("**bold** *em* [ok](https://a.example) [mail](mailto:a@b.example) [rel](/x) "
                         "[bad](javascript:alert(1)) [tel](tel:123)\n\n- one\n- two\n\n# heading\n\n![img](https://i.example/x.png)")
    assert "<strong>bold</strong>" in html and "<em>em</em>" in html and "<li>one</li>" in html
    assert 'href="https://a.example"' in html and 'href="mailto:a@b.example"' in html
    assert "javascript:" not in html.replace("[bad](javascript:alert(1))", "")
    assert 'href="/x"' not in html and 'href="tel:' not in html
    assert "<h1>" not in html and "<img" not in html


def test_index_of_the_example_site_stays_within_15_kb_gzipped(site_with_facebook_down, quiet_site):
    # Size is what a phone on a bad connection waits for; measured in bytes, not time.
    for snapshot in (quiet_site, site_with_facebook_down):
        for key in ["index.html"] + [f"{language}/index.html" for language in snapshot.site.languages[1:]]:
            body = rendered(snapshot)[key].body
            assert len(gzip.compress(body, 9)) <= INDEX_BUDGET_GZIPPED, key


def test_badges_name_the_status_in_words(site_with_facebook_down):
    objects = rendered(site_with_facebook_down)
    assert 'aria-label="status: Major System Outage"' in text_of(objects, "badge.svg")
    assert 'aria-label="Facebook: Major Outage"' in text_of(objects, "badges/facebook.svg")
    assert objects["badge.svg"].content_type == "image/svg+xml"


def test_only_the_hashed_script_is_cached_long(quiet_site):
    objects = render_site(quiet_site, TEMPLATES)
    long = [o.key for o in objects if "immutable" in o.cache_control and not o.key.startswith("admin/")]
    assert len(long) == 1 and re.fullmatch(r"assets/beacon\.[0-9a-f]{12}\.js", long[0])
    assert all("max-age=30" in o.cache_control and "stale-if-error" in o.cache_control
               for o in objects if o.key not in long and not o.key.startswith("admin/"))


def test_a_render_with_a_broken_link_is_refused_before_upload():
    objects = [SiteObject("index.html", b'<a href="incidents/missing.html">x</a>', "text/html"),
               SiteObject("api/v2/status.json", b"{not json", "application/json")]
    with pytest.raises(SiteInvalid) as refused:
        check_site(objects)
    assert "incidents/missing.html" in str(refused.value) and "api/v2/status.json" in str(refused.value)


def test_button_text_stays_readable_on_any_accent_colour():
    assert text_colour_on("#8a4b1f") == "#fff" and text_colour_on("#ffdd00") == "#000"


def test_staleness_threshold_is_three_probe_intervals_but_covers_the_scheduled_republish():
    from chalicelib.site.snapshot import stale_after

    assert stale_after(60) == 180
    assert stale_after(60, publish_interval_seconds=300) == 360  # a quiet page is republished every 5 minutes
    assert stale_after(300, publish_interval_seconds=300) == 900


def test_an_incident_naming_a_component_removed_from_site_yml_still_renders(example_site, noon):
    # GIVEN an incident about a component that site.yml no longer declares
    orphan = incident("01orphan00000001", "Old pager outage", noon - timedelta(hours=1),
                      components={"pager": ComponentStatus.MAJOR_OUTAGE, "x": ComponentStatus.PARTIAL_OUTAGE})
    objects = rendered(build_snapshot(example_site, {}, [orphan], [], noon))
    # THEN its page names the old id, and the JSON lists only components that exist
    assert "pager" in text_of(objects, "incidents/01orphan00000001.html")
    summary = json.loads(objects["api/v2/summary.json"].body)
    assert [c["id"] for c in summary["incidents"][0]["components"]] == ["x"]


def test_a_day_with_an_incident_is_coloured_by_it_even_without_probe_data(example_site, noon):
    _, incidents, _ = facebook_outage(example_site, noon)
    snapshot = build_snapshot(example_site, {}, incidents, [], noon)
    today = snapshot.view("facebook").days[-1]
    assert today.status is ComponentStatus.MAJOR_OUTAGE and today.incidents == ("Facebook Messenger is down",)
    assert snapshot.view("hubspot").days[-1].status is ComponentStatus.UNDER_MAINTENANCE
    assert snapshot.view("facebook").days[-2].status is None  # no data, no incident: grey
    page = text_of(rendered(snapshot), "uptime.html")
    assert "1 May 2026: no data; Facebook Messenger is down" in page


def test_the_banner_says_major_system_outage_when_the_brands_own_service_is_down(example_site, noon):
    # GIVEN the shop itself down, as well as Facebook
    from chalicelib.site.snapshot import build_snapshot

    states = {c: ComponentState(component_id=c, probe_status=ComponentStatus.MAJOR_OUTAGE, updated_at=noon)
              for c in ("website", "facebook")}
    snapshot = build_snapshot(example_site, states, [], [], noon)
    # THEN the banner keeps Statuspage's words, as the v2 JSON does in every case
    assert snapshot.headline == "Major System Outage"
    # AND with several platforms in trouble it names each with its own words
    states = {"facebook": ComponentState(component_id="facebook", probe_status=ComponentStatus.MAJOR_OUTAGE,
                                         updated_at=noon),
              "instagram": ComponentState(component_id="instagram",
                                          probe_status=ComponentStatus.DEGRADED_PERFORMANCE, updated_at=noon)}
    assert build_snapshot(example_site, states, [], [], noon).headline.startswith(
        "Facebook is down, Instagram is slow · ")
