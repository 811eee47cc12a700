"""Beacon's own words in the reader's language: gettext catalogues, language names, dates and numbers.

Beacon writes in English (the source, ``SOURCE``); every other language it has words for
(``CATALOGUES``) has a gettext catalogue, ``locales/<language>/LC_MESSAGES/messages.po``,
read and compiled in memory the first time a reader of that language needs it: there is no
compiled ``.mo`` to build or to go stale. ``make catalogue`` extracts the messages from the
Python and the templates (``babel.cfg``) into ``locales/messages.pot`` and merges them into
each ``.po``; a unit test fails while a message has no translation.

What a marketer writes (incidents, notices, site.yml) is never looked up here: that is
``chalicelib.translations``. Labels defined where no catalogue may be imported (the
statuses of ``model``) are listed below with ``N_``, so extraction finds them, and are
translated where they are shown.

Dates and numbers follow the reader's conventions (CLDR, through Babel): English keeps
Beacon's own forms ("5 Mar 2026, 14:00 UTC", "3–20 Mar 2026", "99.95%"), German reads
"5. März 2026, 14:00 UTC", "3.–20. März 2026", "99,95 %". Babel is imported on first use:
a function that never formats in another language never loads it.
"""
from __future__ import annotations

import functools
import gettext as _gettext
import io
import math
from collections.abc import Sequence
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

CATALOGUES: tuple[str, ...] = ("en", "de")
SOURCE = "en"
LOCALES = Path(__file__).parent / "locales"
DOMAIN = "messages"


def N_(message: str) -> str:
    """Marks a message for the catalogue where it is defined; it is translated where it is shown."""
    return message


# Words the model defines in English and the templates and messages translate when they show them.
MARKED = (
    # ComponentStatus.label
    N_("Operational"), N_("Under Maintenance"), N_("Degraded Performance"), N_("Partial Outage"),
    N_("Major Outage"),
    # Indicator.description
    N_("All Systems Operational"), N_("Partially Degraded Service"), N_("Partial System Outage"),
    N_("Major System Outage"), N_("Service Under Maintenance"),
    # an incident's or a maintenance's status, as a word ("in_progress": "In progress")
    N_("Investigating"), N_("Identified"), N_("Monitoring"), N_("Resolved"), N_("Postmortem"),
    N_("Scheduled"), N_("In progress"), N_("Verifying"), N_("Completed"), N_("Cancelled"),
    # an impact, as a word and as a phrase
    N_("None"), N_("Minor"), N_("Major"), N_("Critical"), N_("Maintenance"),
    N_("None impact"), N_("Minor impact"), N_("Major impact"), N_("Critical impact"), N_("Maintenance impact"),
    # a subscriber's status, as the manage page says it ("currently pending")
    N_("pending"), N_("confirmed"), N_("unsubscribed"), N_("suppressed"), N_("disabled"),
)


@functools.cache
def translations(language: str) -> _gettext.NullTranslations:
    """The catalogue of ``language``, compiled from its ``.po`` at first use; English is the identity."""
    if language not in CATALOGUES:
        raise ValueError(f"Beacon has no words in {language!r}: its catalogues are {', '.join(CATALOGUES)} "
                         f"(add one under {LOCALES.name}/ with `make catalogue`)")
    if language == SOURCE:
        return _gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    with (LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as po:
        catalogue = read_po(po, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)  # fuzzy entries are left out: a doubtful translation reads as English
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def gettext(language: str, message: str) -> str:
    return translations(language).gettext(message)


def ngettext(language: str, singular: str, plural: str, n: int) -> str:
    return translations(language).ngettext(singular, plural, n)


@functools.cache
def language_name(code: str) -> str:
    """The language's name in itself: "English", "Deutsch"."""
    from babel import Locale

    name = Locale.parse(code, sep="-" if "-" in code else "_").get_display_name(code.replace("-", "_"))
    return name[:1].upper() + name[1:]


def negotiate(accept_language: str | None, available: Sequence[str], default: str) -> str:
    """The first of ``available`` the reader's ``Accept-Language`` prefers (by q-value, "de-AT" matching
    "de"), else ``default``."""
    wanted = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower().replace("_", "-")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            wanted.append((-quality, position, tag))
    offered = {code.lower(): code for code in available}
    for _, _, tag in sorted(wanted):
        if tag == "*":
            return default
        for candidate in (tag, tag.split("-")[0]):
            if candidate in offered:
                return offered[candidate]
        # "de" accepts "de-CH" when that is what the site offers
        for code in available:
            if code.lower().split("-")[0] == tag:
                return code
    return default


# -- dates and numbers -----------------------------------------------------------------
def format_day(day: date | datetime | None, language: str = SOURCE) -> str:
    """A day as a reader writes it: "5 Mar 2026", "5. März 2026"."""
    if day is None:
        return ""
    if isinstance(day, datetime):
        day = day.astimezone(timezone.utc).date()
    if language == SOURCE:
        return f"{day.day} {day:%b %Y}"
    return _cldr_day(day, language)


def format_utc(moment: datetime | date | None, language: str = SOURCE) -> str:
    """A moment in UTC, with its day: "5 Mar 2026, 14:00 UTC", "5. März 2026, 14:00 UTC"; a date alone is its day."""
    if moment is None:
        return ""
    if not isinstance(moment, datetime):
        return format_day(moment, language)
    moment = moment.astimezone(timezone.utc)
    if language == SOURCE:
        return f"{moment.day} {moment:%b %Y, %H:%M} UTC"
    return _cldr_moment(moment.replace(tzinfo=None), language, "UTC")


def format_local(moment: datetime | None, zone: ZoneInfo, language: str = SOURCE) -> str:
    """A moment in the brand's zone, beside its UTC form: only the time when the day is the same
    ("15:00 CET"), else with its day ("6 Mar 2026, 00:30 CET"; in German "MEZ")."""
    if moment is None:
        return ""
    local = moment.astimezone(zone)
    same_day = local.date() == moment.astimezone(timezone.utc).date()
    if language == SOURCE:
        return f"{local:%H:%M %Z}" if same_day else f"{local.day} {local:%b %Y, %H:%M %Z}"
    from babel.dates import format_datetime

    time = format_datetime(local, "HH:mm z", tzinfo=zone, locale=language)
    return time if same_day else _glue(language).format(time, _cldr_day(local.date(), language))


def format_day_range(first: date, last: date, language: str = SOURCE) -> str:
    """A run of days as a reader says it: "3–20 Mar 2026", "28 Feb–3 Mar 2026"; "3.–20. März 2026"."""
    if first == last:
        return format_day(first, language)
    if language != SOURCE:
        return _cldr_range(first, last, language)
    if first.year != last.year:
        return f"{format_day(first)}–{format_day(last)}"
    start = f"{first.day}" if first.month == last.month else f"{first.day} {first:%b}"
    return f"{start}–{format_day(last)}"


def format_month(month: str, language: str = SOURCE) -> str:
    """A month (``YYYY-MM``) as CLDR's ``LLLL y`` says it: "March 2026", "März 2026" (from the
    language's month names, read once: the history pages name every month that has an incident)."""
    year, number = int(month[:4]), int(month[5:7])
    if language == SOURCE:
        return f"{date(year, number, 1):%B} {year}"
    return f"{_month_names(language)[number]} {year}"


@functools.cache
def _month_names(language: str):
    from babel.dates import get_month_names

    return get_month_names("wide", "stand-alone", locale=language)


def format_percent(value: float | None, language: str = SOURCE) -> str:
    """An uptime: floored to two decimals (never round 99.996 % up to a perfect 100 %), whole ones without
    decimals: "99.95%", "100%"; "99,95 %"; "no data" when there is none."""
    if value is None:
        return gettext(language, "no data")
    floored = math.floor(value * 10000) / 100
    decimal, form = _percent_form(language)
    number = f"{floored:.2f}".removesuffix(".00").replace(".", decimal)
    return form.format(number)


@functools.cache
def _percent_form(language: str) -> tuple[str, str]:
    """(decimal sign, "{}%" as the language writes a percentage)."""
    if language == SOURCE:
        return ".", "{}%"
    from babel import Locale

    locale = Locale.parse(language)
    symbols = locale.number_symbols["latn"]
    pattern = locale.percent_formats[None].pattern.split(";")[0]
    return symbols["decimal"], pattern.replace("#,##0", "{}").replace("%", symbols["percentSign"])


@functools.lru_cache(maxsize=4096)
def _cldr_day(day: date, language: str) -> str:
    from babel.dates import format_skeleton

    return format_skeleton("yMMMd", day, locale=language)


@functools.lru_cache(maxsize=4096)
def _cldr_moment(moment: datetime, language: str, zone_name: str) -> str:
    from babel.dates import format_time

    return _glue(language).format(f"{format_time(moment, 'HH:mm', locale=language)} {zone_name}",
                                  _cldr_day(moment.date(), language))


@functools.lru_cache(maxsize=4096)
def _cldr_range(first: date, last: date, language: str) -> str:
    from babel.dates import format_interval

    return format_interval(first, last, "yMMMd", locale=language)


@functools.cache
def _glue(language: str) -> str:
    """How the language joins a time ({0}) to its day ({1}): "{1}, {0}"."""
    from babel import Locale

    return str(Locale.parse(language).datetime_formats["medium"]).replace("'", "")
