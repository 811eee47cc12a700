"""Atom and RSS: valid feeds, one entry per incident or maintenance with its whole timeline."""
from datetime import timedelta

import feedparser
import pytest

from chalicelib.model import ComponentStatus
from chalicelib.site.render import FEED_ENTRIES, render_site
from chalicelib.site.snapshot import build_snapshot
from tests.conftest import ROOT
from tests.unit.test_site_render import Elements
from tests.site_scenarios import HOSTILE_BODY, HOSTILE_TITLE, facebook_outage, incident, past_incidents

TEMPLATES = ROOT / "templates"


def feeds(snapshot):
    objects = {o.key: o for o in render_site(snapshot, TEMPLATES)}
    return feedparser.parse(objects["history.atom"].body), feedparser.parse(objects["history.rss"].body), objects


@pytest.fixture
def site_with_history(example_site, noon):
    states, incidents, notices = facebook_outage(example_site, noon)
    return build_snapshot(example_site, states, incidents, notices, noon)


def test_both_feeds_parse_cleanly_with_one_entry_per_incident_and_maintenance(site_with_history):
    atom, rss, objects = feeds(site_with_history)
    for feed in (atom, rss):
        assert not feed.bozo, feed.get("bozo_exception")
        assert {e.title for e in feed.entries} == {
            "Facebook Messenger is down", "Checkout was slow", "HubSpot inbox migration", "Shop software upgrade"}
        assert feed.feed.title == "Lumen Coffee Roasters status history"
    assert atom.version == "atom10" and rss.version == "rss20"
    assert objects["history.atom"].content_type.startswith("application/atom+xml")


def test_each_entry_links_to_its_page_and_carries_its_timeline(site_with_history):
    atom, rss, _ = feeds(site_with_history)
    entry = next(e for e in atom.entries if e.title == "Checkout was slow")
    assert entry.link == "https://status.lumencoffee.com/incidents/01resolved000001.html"
    content = entry.content[0].value
    assert "Resolved" in content and "Monitoring" in content and "Investigating" in content
    assert content.index("Resolved") < content.index("Investigating"), "newest update first"
    item = next(e for e in rss.entries if e.title == "Checkout was slow")
    assert item.id == entry.link and "Monitoring" in item.summary
    assert atom.entries[0].updated_parsed >= atom.entries[-1].updated_parsed


def test_feeds_are_capped_to_the_most_recently_updated(example_site, noon):
    snapshot = build_snapshot(example_site, {}, past_incidents(FEED_ENTRIES + 20, noon, ["x"]), [], noon)
    atom, rss, _ = feeds(snapshot)
    assert len(atom.entries) == len(rss.entries) == FEED_ENTRIES
    assert atom.entries[0].title == "Past incident 0"


def test_hostile_text_stays_text_in_both_feeds(example_site, noon):
    hostile = incident("01hostile0000001", HOSTILE_TITLE, noon - timedelta(minutes=5), body=HOSTILE_BODY,
                       components={"x": ComponentStatus.MAJOR_OUTAGE})
    atom, rss, objects = feeds(build_snapshot(example_site, {}, [hostile], [], noon))
    for feed in (atom, rss):
        assert not feed.bozo
        assert feed.entries[0].title == HOSTILE_TITLE  # the title is text, shown as written
    # the entry's HTML, as a reader unescapes it, holds no script, image, handler or javascript: link
    for html in (atom.entries[0].content[0].value, rss.entries[0].summary):
        tags = Elements(html).tags
        assert {tag for tag, _ in tags} <= {"p", "strong", "small", "br", "a", "em", "ul", "ol", "li"}
        assert not [name for _, attrs in tags for name in attrs if name.startswith("on")]
        assert [attrs["href"] for tag, attrs in tags if tag == "a"] == ["https://help.example.com"]
        assert "&lt;script&gt;" in html  # shown as text
