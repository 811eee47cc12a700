"""Beacon's own words in German: the catalogue is complete, and the page, an email and an SMS read German.

English output is held byte for byte by the render tests (site, feeds, notify content)."""
import re
import shlex
from datetime import date, datetime, timezone

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.pofile import read_po

from chalicelib import i18n
from chalicelib.model import ComponentStatus, NotificationEvent, NotificationKind
from chalicelib.notify import content
from chalicelib.text import environment
from tests.conftest import ROOT

TEMPLATES = ROOT / "templates"
PO = ROOT / "chalicelib" / "locales" / "de" / "LC_MESSAGES" / "messages.po"


def catalogue_keywords() -> dict:
    """The keywords `make catalogue` extracts with, read from its recipe."""
    recipe = re.search(r"^catalogue:.*?(?=^\S|\Z)", (ROOT / "Makefile").read_text(), re.M | re.S).group(0)
    words = shlex.split(recipe.replace("\\\n", " "))
    given = [words[n + 1] for n, word in enumerate(words) if word == "--keywords"]
    assert given, "the catalogue target names its keywords"
    from babel.messages.extract import DEFAULT_KEYWORDS

    return {**DEFAULT_KEYWORDS, **parse_keywords(given)}


@pytest.fixture(scope="module")
def extracted() -> Catalog:
    with (ROOT / "babel.cfg").open() as mapping:
        method_map, options_map = parse_mapping_cfg(mapping)
    catalogue = Catalog()
    for filename, lineno, message, comments, context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=catalogue_keywords()):
        catalogue.add(message, None, [(filename, lineno)], context=context)
    return catalogue


def test_every_message_of_the_sources_has_a_german_translation(extracted):
    # GIVEN the messages the sources use and the German catalogue
    german = read_po(PO.open("rb"), locale="de")
    assert len(extracted) > 150
    # THEN each is translated, not fuzzy, and every plural form is given
    missing = []
    for message in extracted:
        if not message.id:
            continue  # the header
        entry = german.get(message.id)
        strings = entry.string if entry is not None and isinstance(entry.string, tuple) else (
            (entry.string,) if entry is not None else ())
        if entry is None or entry.fuzzy or not all(strings) or (message.pluralizable and len(strings) != 2):
            missing.append(message.id)
    assert missing == [], "run `make catalogue` and translate these in de.po"


def test_the_german_catalogue_holds_nothing_the_sources_no_longer_say(extracted):
    german = read_po(PO.open("rb"), locale="de")
    used = {message.id if isinstance(message.id, str) else message.id[0] for message in extracted if message.id}
    stale = [entry.id for entry in german if entry.id and (entry.id if isinstance(entry.id, str) else entry.id[0])
             not in used]
    assert stale == [] and not german.obsolete


def test_german_placeholders_match_their_english_ones():
    german = read_po(PO.open("rb"), locale="de")
    for entry in german:
        if not entry.id:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        wanted = set(re.findall(r"%\(\w+\)s|\{\w+\}|%%", ids[-1]))
        for string in strings:
            assert set(re.findall(r"%\(\w+\)s|\{\w+\}|%%", string)) == wanted, entry.id


def test_an_unknown_language_is_refused_by_name():
    with pytest.raises(ValueError, match="'fr'.*en, de"):
        i18n.translations("fr")


def test_german_words_dates_and_numbers():
    assert i18n.gettext("de", "Major Outage") == "Schwere Störung"
    assert i18n.ngettext("de", "{names} is down", "{names} are down", 2) == "{names} sind gestört"
    assert i18n.gettext("en", "Major Outage") == "Major Outage"
    assert i18n.language_name("de") == "Deutsch" and i18n.language_name("en") == "English"
    moment = datetime(2026, 3, 5, 14, 0, tzinfo=timezone.utc)
    assert i18n.format_utc(moment, "de") == "5. März 2026, 14:00 UTC"
    assert i18n.format_utc(moment) == "5 Mar 2026, 14:00 UTC"
    assert i18n.format_day_range(date(2026, 3, 3), date(2026, 3, 20), "de") == "3.–20. März 2026"
    assert i18n.format_day_range(date(2026, 2, 28), date(2026, 3, 3)) == "28 Feb–3 Mar 2026"
    assert i18n.format_percent(0.99951, "de") == "99,95\u00a0%"
    assert i18n.format_percent(None, "de") == "keine Daten"


@pytest.mark.parametrize("header, expected", [
    ("de-AT,de;q=0.9,en;q=0.8", "de"), ("fr-CH, en;q=0.5, de;q=0.7", "de"), ("en-GB", "en"),
    ("fr", "en"), (None, "en"), ("de;q=0, en;q=0.1", "en"), ("*", "en"),
])
def test_the_browser_language_is_negotiated(header, expected):
    assert i18n.negotiate(header, ["en", "de"], "en") == expected


def test_the_german_page_chrome_reads_german_and_escapes_its_css_words():
    # GIVEN the German environment  WHEN the page's base renders
    env = environment(TEMPLATES, "de")
    html = env.from_string('{% import "page/macros.html" as m with context %}{{ m.status(s) }} {{ m.word("in_progress") }}'
                           ).render(s=ComponentStatus.MAJOR_OUTAGE, site=None)
    # THEN statuses read German, in the language's own words
    assert "Schwere Störung" in html and "Läuft" in html
    assert env.globals["language"] == "de"
    assert env.filters["utc"](datetime(2026, 3, 5, 14, 0, tzinfo=timezone.utc)) == "5. März 2026, 14:00 UTC"
    assert str(env.filters["css_string"]('a"b</style>')) == '"a\\22 b\\3c /style\\3e "'


def test_a_german_email_and_sms(example_site):
    # GIVEN an outage of a channel, told without an incident record
    event = NotificationEvent(id="n1", kind=NotificationKind.INCIDENT_OPENED, title="Facebook",
                              created_at=datetime(2026, 3, 5, 14, 0, tzinfo=timezone.utc),
                              component_ids=[example_site.components[0].id])
    links = content.Links(page_url="https://status.example.com", event_url="https://status.example.com/de/",
                          unsubscribe_url="https://api.example.com/u", manage_url="https://api.example.com/m")
    # WHEN the notification is written in German
    mail = content.notification_email(event, example_site, None, links, TEMPLATES, language="de")
    sms = content.notification_sms(event, example_site, None, links, TEMPLATES, language="de")
    # THEN Beacon's own words are German, with their umlauts, and the SMS is still GSM-7
    assert "] Störung: Facebook" in mail.subject
    assert 'lang="de"' in mail.html and "Details und Updates" in mail.html
    assert "Details und Updates: https://status.example.com/de/" in mail.text
    assert "Status: Störung" in mail.text
    assert sms.startswith(f"{example_site.brand.name}: Störung: Facebook") and content.is_gsm7(sms)
    confirm = content.confirmation_sms(example_site, "123456", "https://example.com/v", TEMPLATES, language="de")
    assert "Oder bestätigen" in confirm and "Antwort STOP" in confirm
    assert content.sms_length(confirm)[1] == content.GSM_SEGMENT


@pytest.mark.parametrize("language", ["en", "de"])
def test_a_month_is_named_as_cldr_says_it_in_each_language(language):
    from babel.dates import format_date

    # GIVEN every month of three years far apart; THEN each name is CLDR's "LLLL y" for the language
    for year in (1999, 2026, 2200):
        for number in range(1, 13):
            assert i18n.format_month(f"{year}-{number:02d}", language) == format_date(
                date(year, number, 1), "LLLL y", locale=language)
    assert i18n.format_month("2026-03", "de") == "März 2026"
