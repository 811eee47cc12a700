"""Render the page: a snapshot in, the site's files out. No I/O beyond reading templates.

One call renders everything a reader can reach, from ``templates/`` with autoescape on:
the page (``index.html``), one page per incident and maintenance, the paged history,
Statuspage's eight JSON files, the Atom and RSS feeds, the badges, ``sitemap.xml``,
``robots.txt``, ``404.html`` and the one script (a hashed asset, cached for a year).
It renders through the one Jinja environment (``chalicelib.text.environment``): every value a
template prints passes ``cleantext.xml_safe`` before it is escaped, so no record, however old,
puts a character XML forbids into a feed, the sitemap or a badge; relative links in bodies lead
to the brand's website (``text.markdown_html``).
The result is checked before anyone uploads it (``validate.check_site``, called by
``service.publish_site``).
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import groupby
from pathlib import Path
from zoneinfo import ZoneInfo

from chalicelib.model import Incident, IncidentKind
from chalicelib.site import statuspage
from chalicelib.site.snapshot import Snapshot
from chalicelib.text import environment

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


def when_local(moment: datetime | None, zone: ZoneInfo) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(zone)
    if local.date() == moment.astimezone(timezone.utc).date():
        return f"{local:%H:%M %Z}"  # the UTC form beside it already says which day
    return f"{local.day} {local:%b %Y, %H:%M %Z}"
