"""Text for people: the one Jinja environment, and the Markdown sanitiser of bodies.

``environment(templates_dir, language)`` is the Jinja environment every template renders
through, the page (``site.render``), emails and SMS (``notify.content``) and the sign-up pages
(``api.signup``): autoescape on, undefined names an error, every printed value passed
through ``cleantext.xml_safe``, and the page's filters and helpers. One environment per
language: Beacon's own words come from that language's catalogue (``_``, ``gettext``,
``ngettext``; ``chalicelib.i18n``), its code is ``language`` and the date and number filters
(``utc``, ``day_range``, ``pct``) write as its readers do. No I/O beyond reading templates.

Bodies of incidents, notices and FAQ answers are a Markdown subset, rendered and sanitised.
Marketers write paragraphs, emphasis, links and lists. markdown-it-py (its 'zero' preset
with only those rules on) turns that into HTML and escapes any HTML typed in; nh3 then
keeps only the tags of that subset and only http(s) and mailto links, whatever the
Markdown step let through. Titles and names never go through here: templates escape them.

A relative link (``[help](help.html)``, ``/returns``) means a page of the brand's own
site: the status page has no pages of the marketer's. Given ``links_from`` (the page
passes the brand's website), such a link is resolved against it as a browser resolves a
link against its page; without it (emails), relative links are dropped and their text stays.
"""
from __future__ import annotations

import functools
import html
import json
from email.utils import format_datetime
from pathlib import Path

import jinja2
from markupsafe import Markup

from chalicelib.cleantext import xml_safe
from chalicelib.i18n import SOURCE, format_day_range, format_month, format_percent, format_utc, translations
from chalicelib.model import ComponentStatus, IncidentKind, isoformat

ALLOWED_TAGS = frozenset({"p", "em", "strong", "a", "ul", "ol", "li", "br"})
ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})


@functools.cache
def _markdown():
    from markdown_it import MarkdownIt

    # 'zero' starts with every rule off: headings, images, code, tables and raw HTML stay text.
    return MarkdownIt("zero", {"breaks": True}).enable(["emphasis", "link", "list", "newline"])


@functools.lru_cache(maxsize=8192)
def _safe_html(text: str, links_from: str | None) -> str:
    import nh3

    rendered = _markdown().render(text)
    cleaned = nh3.clean(
        rendered,
        tags=set(ALLOWED_TAGS),
        attributes={"a": {"href"}},
        url_schemes=set(ALLOWED_SCHEMES),
        url_relative=("rewrite_with_base", links_from) if links_from else "deny",
        link_rel="noopener noreferrer nofollow",
    )
    return cleaned.strip()


def markdown_html(text: str | None, links_from: str | None = None) -> Markup:
    """Safe HTML for a body: the only way a body reaches a page or a feed.

    ``links_from`` is the URL relative links are resolved against; without it they are dropped.
    """
    # The same body shows on the index, its incident page and both feeds: render it once.
    return Markup(_safe_html(text, links_from)) if text else Markup("")


def plain_text(text: str | None, limit: int = 300) -> str:
    """A body as one line of plain text (meta descriptions, badges, summaries), cut at ``limit``."""
    if not text:
        return ""
    import nh3

    flat = html.unescape(" ".join(nh3.clean(_markdown().render(text), tags=set()).split()))
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def environment(templates_dir: Path, language: str = SOURCE) -> jinja2.Environment:
    """The environment templates of ``language`` render through: its catalogue behind ``_``, ``gettext``
    and ``ngettext``, its code as ``language``, and dates and numbers as its readers write them."""
    return _environment(Path(templates_dir), language)


@functools.cache
def _environment(templates_dir: Path, language: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        autoescape=jinja2.select_autoescape(["html", "xml", "svg", "atom", "rss"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=printable,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(translations(language), newstyle=True)
    env.filters.update(
        iso=isoformat, md=body_html, plain=plain_text, text=str, rfc822=format_datetime,
        status_class=status_class, on_color=text_colour_on, css_string=css_string,
        pct=functools.partial(format_percent, language=language),
        utc=functools.partial(format_utc, language=language),
        day_range=functools.partial(format_day_range, language=language),
        month_title=functools.partial(format_month, language=language),
    )
    env.globals.update(sparkline=sparkline, badge_width=badge_width, faq_ld=faq_structured_data, Kind=IncidentKind,
                       Status=ComponentStatus, language=language, memo=Memo)
    return env


class Memo(dict):
    """``memo(make)[key]`` is ``make(key)``, made at its first use: a template's words for a status or an
    impact (a macro's output) made once a page or a list, not once for each of the hundreds of items that
    repeat them. ``make`` must depend on ``key`` alone."""

    def __init__(self, make):
        super().__init__()
        self._make = make

    def __missing__(self, key):
        value = self[key] = self._make(key)
        return value


def printable(value):
    """What a template prints: strings without the characters XML forbids, whatever the store holds."""
    if isinstance(value, Markup):
        return Markup(xml_safe(str(value)))
    if isinstance(value, str):
        return xml_safe(value)
    return value


@jinja2.pass_context
def body_html(context, text: str | None) -> Markup:
    """A body's safe HTML; on the page its relative links lead to the brand's website."""
    site = context.get("site")  # templates rendered outside the page (emails) have none: relative links drop
    return markdown_html(text, links_from=site.brand.website if site else None)


_STATUS_CLASSES = {
    None: "n",
    ComponentStatus.OPERATIONAL: "o",
    ComponentStatus.DEGRADED_PERFORMANCE: "d",
    ComponentStatus.PARTIAL_OUTAGE: "p",
    ComponentStatus.MAJOR_OUTAGE: "m",
    ComponentStatus.UNDER_MAINTENANCE: "u",
}


def status_class(status: ComponentStatus | None) -> str:
    """One short CSS class per status: the page's colours and icons hang on it (every day of every bar)."""
    return _STATUS_CLASSES[status]


def sparkline(latency: tuple[float | None, ...], width: int = 24, height: int = 12) -> tuple[str, str, str]:
    """An SVG path of the last 24 hours of response times (averaged to ``width`` points), their highest and median.

    One point an hour, whole units and relative steps keep the path short (a line 24 units high
    is drawn at one unit per pixel): an index of a hundred components carries a hundred of them.
    """
    if not latency:
        return "", "", ""
    step = max(1, len(latency) // width)
    points: list[float | None] = []
    for start in range(0, len(latency), step):
        chunk = [v for v in latency[start:start + step] if v is not None]
        points.append(sum(chunk) / len(chunk) if chunk else None)
    known = [v for v in points if v is not None]
    if not known:
        return "", "", ""
    top = max(known) or 1.0
    strokes: list[list[str]] = []  # each: a move to its first point, then one relative step a point
    last_y = None
    for x, value in enumerate(points):
        if value is None:
            last_y = None
            continue
        y = round(height - 1 - (height - 2) * value / top)
        if last_y is None:
            # 'h0' after a move draws a dot (round caps), so a lone reading between gaps still shows
            strokes.append([f"M{x} {y}h0"])
        else:
            strokes[-1].append(f"1{'-' if y < last_y else ' '}{abs(y - last_y)}")
        last_y = y
    path = "".join(stroke[0] + ("l" + " ".join(stroke[1:]) if len(stroke) > 1 else "") for stroke in strokes)
    ordered = sorted(known)
    median = ordered[len(ordered) // 2]
    return path, f"{top:.0f} ms", f"{median:.0f} ms"


def css_string(text: str) -> Markup:
    """``text`` as a quoted CSS string (a ``content:`` value): quotes, backslashes, line breaks and
    anything that could close the ``<style>`` element written as CSS escapes."""
    escaped = "".join(f"\\{ord(ch):x} " if ch in '"\\<>&\'' or ord(ch) < 0x20 else ch for ch in str(text))
    return Markup(f'"{escaped}"')


def badge_width(text: str) -> int:
    """Approximate width in pixels of ``text`` at 11 px Verdana, as shields-style badges size it."""
    narrow, wide = set("fijlrtI.,:;!'| "), set("mwMWOQGD@%")
    return round(sum(3.5 if c in narrow else 9.5 if c in wide else 7 for c in text)) + 10


def text_colour_on(background: str) -> str:
    """Black or white, whichever reads better on ``background`` (#rrggbb), by WCAG relative luminance."""
    channels = [int(background[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "#000" if (luminance + 0.05) / 0.05 > 1.05 / (luminance + 0.05) else "#fff"


def faq_structured_data(faq) -> Markup:
    """schema.org FAQPage (JSON-LD), so search engines can answer "where do I get support" from the page."""
    document = {"@context": "https://schema.org", "@type": "FAQPage", "mainEntity": [
        {"@type": "Question", "name": q.question,
         "acceptedAnswer": {"@type": "Answer", "text": plain_text(q.answer, limit=2000)}} for q in faq]}
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    # Inside <script>, only '<' could end the block early; JSON lets it be written as \u003c.
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))
