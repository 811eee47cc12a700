"""Render the page: a snapshot in, the site's files out. No I/O beyond reading templates.

One call renders everything a reader can reach, from ``templates/`` with autoescape on:
the page (``index.html``), one page per incident and maintenance, the paged history,
Statuspage's eight JSON files, the Atom and RSS feeds, the badges, ``sitemap.xml``,
``robots.txt``, ``404.html`` and the one script (a hashed asset, cached for a year).
Every value a template prints passes ``cleantext.xml_safe`` before it is escaped, so no
record, however old, puts a character XML forbids into a feed, the sitemap or a badge.
Relative links in bodies lead to the brand's website (``text.markdown_html``).
The result is checked before anyone uploads it (``validate.check_site``, called by
``service.publish_site``).
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
from dataclasses import dataclass
from datetime import date, datetime, timezone
from email.utils import format_datetime
from itertools import groupby
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup

from chalicelib.cleantext import xml_safe
from chalicelib.model import ComponentStatus, Incident, IncidentKind, isoformat
from chalicelib.site import statuspage
from chalicelib.site.snapshot import Snapshot
from chalicelib.site.text import markdown_html, plain_text

SHORT_CACHE = "public, max-age=30, stale-while-revalidate=60, stale-if-error=86400"
LONG_CACHE = "public, max-age=31536000, immutable"
HTML, JSON, XML = "text/html; charset=utf-8", "application/json; charset=utf-8", "application/xml; charset=utf-8"
HISTORY_PAGE_SIZE = 50
FEED_ENTRIES = 50
SCRIPT_SOURCE = "page/beacon.js"


@dataclass(frozen=True)
class SiteObject:
    key: str
    body: bytes
    content_type: str
    cache_control: str = SHORT_CACHE


@functools.cache
def environment(templates_dir: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        autoescape=jinja2.select_autoescape(["html", "xml", "svg", "atom", "rss"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=printable,
    )
    env.filters.update(
        iso=isoformat, md=body_html, plain=plain_text, text=str, pct=percent, rfc822=format_datetime,
        utc=when_utc, status_class=status_class, on_color=text_colour_on,
    )
    env.globals.update(sparkline=sparkline, badge_width=badge_width, faq_ld=faq_structured_data, Kind=IncidentKind,
                       Status=ComponentStatus)
    return env


def render_site(snapshot: Snapshot, templates_dir: Path) -> list[SiteObject]:
    env = environment(templates_dir)
    script = _script(templates_dir)
    zone = snapshot.site.brand.zone
    common = {"snap": snapshot, "site": snapshot.site, "script": script.key, "page_url": _base(snapshot),
              "local": functools.partial(when_local, zone=zone)}

    def page(template: str, key: str, root: str | None = None, **context) -> SiteObject:
        root = "../" * key.count("/") if root is None else root
        html = env.get_template(template).render(**common, root=root, key=key, **context)
        return SiteObject(key, html.encode("utf-8"), HTML)

    objects = [script]
    for incident in snapshot.incidents:
        objects.append(page("page/incident.html", f"incidents/{incident.id}.html", incident=incident))
    history_pages = _history_pages(snapshot)
    for number, incidents in enumerate(history_pages, start=1):
        objects.append(page("page/history.html", history_key(number), months=_by_month(incidents, zone),
                            number=number, pages=len(history_pages)))
    for key, document in statuspage.statuspage_documents(snapshot).items():
        objects.append(SiteObject(key, statuspage.dumps(document), JSON))
    feed = _feed_entries(snapshot)
    objects.append(_text(env, "feeds/history.atom", "history.atom", "application/atom+xml; charset=utf-8",
                         common, entries=feed))
    objects.append(_text(env, "feeds/history.rss", "history.rss", "application/rss+xml; charset=utf-8",
                         common, entries=feed))
    objects.append(_text(env, "badges/badge.svg", "badge.svg", "image/svg+xml", common,
                         label="status", message=snapshot.indicator.description, kind=snapshot.indicator.value))
    for view in snapshot.components:
        objects.append(_text(env, "badges/badge.svg", f"badges/{view.component.id}.svg", "image/svg+xml", common,
                             label=view.component.name, message=view.status.label, kind=view.status.value))
    objects.append(_text(env, "badges/favicon.svg", "favicon.svg", "image/svg+xml", common))
    objects.append(_text(env, "page/sitemap.xml", "sitemap.xml", XML, common, history_pages=len(history_pages)))
    objects.append(_text(env, "page/robots.txt", "robots.txt", "text/plain; charset=utf-8", common))
    # Served for any missing path, so its links start from the site root.
    objects.append(page("page/404.html", "404.html", root="/"))
    objects.append(page("page/index.html", "index.html"))
    return objects


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


def history_key(number: int) -> str:
    return "history.html" if number == 1 else f"history-{number}.html"


def _text(env, template: str, key: str, content_type: str, common: dict, **context) -> SiteObject:
    body = env.get_template(template).render(**common, root="", key=key, **context)
    return SiteObject(key, body.encode("utf-8"), content_type)


@functools.cache
def _script_for(path: Path) -> SiteObject:
    body = path.read_bytes()
    return SiteObject(f"assets/beacon.{hashlib.sha256(body).hexdigest()[:12]}.js", body,
                      "text/javascript; charset=utf-8", LONG_CACHE)


def _script(templates_dir: Path) -> SiteObject:
    return _script_for(Path(templates_dir) / SCRIPT_SOURCE)


def _base(snapshot: Snapshot) -> str:
    return snapshot.site.brand.page_url.rstrip("/") + "/"


def _history_pages(snapshot: Snapshot) -> list[list[Incident]]:
    past = snapshot.past
    pages = [past[i:i + HISTORY_PAGE_SIZE] for i in range(0, len(past), HISTORY_PAGE_SIZE)]
    return pages or [[]]


def _by_month(incidents: list[Incident], zone: ZoneInfo) -> list[tuple[str, list[Incident]]]:
    def month(incident: Incident) -> str:
        start = incident.scheduled_for if incident.kind is IncidentKind.MAINTENANCE and incident.scheduled_for \
            else incident.started_at or incident.created_at
        return start.astimezone(zone).strftime("%B %Y")

    return [(name, list(items)) for name, items in groupby(incidents, key=month)]


def _feed_entries(snapshot: Snapshot) -> list[Incident]:
    return sorted(snapshot.incidents, key=lambda i: (i.updated_at, i.id), reverse=True)[:FEED_ENTRIES]


def percent(value: float | None) -> str:
    if value is None:
        return "no data"
    floored = math.floor(value * 10000) / 100  # never round 99.996 % up to a perfect 100 %
    return f"{floored:.2f}%".replace(".00%", "%")


def when_utc(moment: datetime | date | None) -> str:
    if moment is None:
        return ""
    if not isinstance(moment, datetime):
        return f"{moment.day} {moment:%b %Y}"
    moment = moment.astimezone(timezone.utc)
    return f"{moment.day} {moment:%b %Y, %H:%M} UTC"


def when_local(moment: datetime | None, zone: ZoneInfo) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(zone)
    if local.date() == moment.astimezone(timezone.utc).date():
        return f"{local:%H:%M %Z}"  # the UTC form beside it already says which day
    return f"{local.day} {local:%b %Y, %H:%M %Z}"


def status_class(status: ComponentStatus | None) -> str:
    """One short CSS class per status: the page's colours and icons hang on it."""
    return {
        None: "n",
        ComponentStatus.OPERATIONAL: "o",
        ComponentStatus.DEGRADED_PERFORMANCE: "d",
        ComponentStatus.PARTIAL_OUTAGE: "p",
        ComponentStatus.MAJOR_OUTAGE: "m",
        ComponentStatus.UNDER_MAINTENANCE: "u",
    }[status]


def sparkline(latency: tuple[float | None, ...], width: int = 96, height: int = 24) -> tuple[str, str, str]:
    """An SVG path of the last 24 hours of response times (averaged to ``width`` points), its label, its median."""
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
    path, pen_down = [], False
    for x, value in enumerate(points):
        if value is None:
            pen_down = False
            continue
        y = round(height - 1 - (height - 2) * value / top, 1)
        # 'h0' after a move draws a dot (round caps), so a lone reading between gaps still shows
        path.append(f"L{x} {y:g}" if pen_down else f"M{x} {y:g}h0")
        pen_down = True
    ordered = sorted(known)
    median = ordered[len(ordered) // 2]
    label = f"Response time, last 24 hours: median {median:.0f} ms, highest {top:.0f} ms, latest {known[-1]:.0f} ms"
    return "".join(path), label, f"{median:.0f} ms"


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
