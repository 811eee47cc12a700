"""Render the page: a snapshot in, the site's files out. No I/O beyond reading templates.

One call renders, from ``templates/`` with autoescape on, the page (``index.html``: each
component's 90 days as a bar of coloured days, linked to ``uptime.html``, which says each day in
words), one page per incident and maintenance, the history (``history.html``: the last 90 days, and one page per
month, ``history/<YYYY-MM>.html``), Statuspage's eight JSON files, the Atom and RSS feeds, the
badges, the sitemaps (``sitemap.xml``, an index of ``sitemap-pages.xml`` and one
``sitemap-<YYYY-MM>.xml`` per month), ``robots.txt``, ``404.html`` and the one script (a hashed
asset, cached for a year).

Every object depends on one of three things, so a publish after one write can render only
what that write changed (``Only``):

- the front (``snapshot.front``: open incidents and what changed in the last 90 days) and the
  list of months: the index, ``uptime.html``, ``history.html``, the JSON, the feeds, the badges, the favicon,
  ``sitemap.xml``, ``sitemap-pages.xml``, ``robots.txt``, ``404.html`` and the script;
- one incident: its page (``incident_key``);
- one month's incidents (and its neighbours in ``snapshot.months``): its history page and its
  sitemap (``month_keys``).

It renders through the one Jinja environment (``chalicelib.text.environment``): every value a
template prints passes ``cleantext.xml_safe`` before it is escaped, so no record, however old,
puts a character XML forbids into a feed, a sitemap or a badge; relative links in bodies lead
to the brand's website (``text.markdown_html``).
The result is checked before anyone uploads it (``validate.check_site``, called by
``service.publish_site``). ``SiteRender`` gives the same objects as a stream: the few that
depend on the front or a month first, rendered at once, then the incident pages one at a time,
so a publish uploads them while it renders (``publish.checked_stream``) and never holds the
whole site in memory.
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from collections.abc import Iterator
from itertools import groupby
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup

from chalicelib.model import ComponentStatus, Incident
from chalicelib.site import statuspage
from chalicelib.site.snapshot import HISTORY_DAYS, ComponentView, Snapshot
from chalicelib.text import environment, status_class

SHORT_CACHE = "public, max-age=30, stale-while-revalidate=60, stale-if-error=86400"
LONG_CACHE = "public, max-age=31536000, immutable"
HTML, JSON, XML = "text/html; charset=utf-8", "application/json; charset=utf-8", "application/xml; charset=utf-8"
FEED_ENTRIES = 50
SCRIPT_SOURCE = "page/beacon.js"
UPTIME_PAGE = "uptime.html"  # each component's 90 days in words, day by day


@dataclass(frozen=True)
class SiteObject:
    key: str
    body: bytes
    content_type: str
    cache_control: str = SHORT_CACHE


@dataclass(frozen=True)
class Only:
    """A partial render: the front's objects, plus these incidents' pages and these months' objects."""

    incidents: frozenset[str] = frozenset()
    months: frozenset[str] = frozenset()  # ``YYYY-MM``, as in ``Snapshot.months``


def render_site(snapshot: Snapshot, templates_dir: Path, only: Only | None = None) -> list[SiteObject]:
    """Every object of the site, or with ``only`` the front's objects and the incidents and months it names.

    An incident or month ``only`` names that the snapshot no longer has is not rendered; each
    object is byte-identical to the one a full render of the same snapshot gives it.
    """
    rendered = SiteRender(snapshot, templates_dir, only)
    return [*rendered.first, *rendered.pages()]


class SiteRender:
    """One render of the site, streamed: what ``render_site`` returns, without holding it all at once.

    Made, it has rendered ``first``: the script, the console, the months' objects and every object
    that depends on the front (the index, ``uptime.html``, the history, the JSON, the feeds, the
    site's badge, the sitemaps): a few dozen objects, so a template or data error in any of them
    is raised before anything is uploaded. ``pages()`` then renders the incident pages, the bulk
    of the site, and the components' badges, one at a time as they are asked for. ``keys`` names every object of the render
    before its pages exist, so each page's links can be checked as it comes.
    """

    def __init__(self, snapshot: Snapshot, templates_dir: Path, only: Only | None = None):
        env = _page_environment(Path(templates_dir))
        script = _script(templates_dir)
        zone = snapshot.site.brand.zone
        common = {"snap": snapshot, "site": snapshot.site, "script": script.key, "page_url": _base(snapshot),
                  "local": functools.partial(when_local, zone=zone), "month_name": month_name,
                  "day_cells": day_cells}

        def page(template: str, key: str, root: str | None = None, **context) -> SiteObject:
            root = "../" * key.count("/") if root is None else root
            html = env.get_template(template).render(**common, root=root, key=key, **context)
            return SiteObject(key, html.encode("utf-8"), HTML)

        incidents = {i.id: i for i in snapshot.incidents}
        months = snapshot.months
        if only is not None:
            incidents = {id_: i for id_, i in incidents.items() if id_ in only.incidents}
            months = tuple(m for m in months if m in only.months)
        self._page, self._incidents = page, list(incidents.values())
        self._badge = functools.partial(_text, env, "badges/badge.svg", content_type="image/svg+xml", common=common)
        self._components = snapshot.components

        objects = [script, *console_objects(templates_dir, snapshot.api_url)]
        for month in months:
            page_key, sitemap_key = month_keys(month)
            newer, older = _neighbours(snapshot.months, month)
            in_month = snapshot.in_month(month)
            objects.append(page("page/month.html", page_key, month=month, incidents=in_month, newer=newer,
                                older=older))
            objects.append(_text(env, "page/sitemap-month.xml", sitemap_key, XML, common, incidents=in_month))
        objects.append(page("page/history.html", "history.html", months=_recent_by_month(snapshot)))
        objects.append(page("page/uptime.html", UPTIME_PAGE))
        for key, document in statuspage.statuspage_documents(snapshot).items():
            objects.append(SiteObject(key, statuspage.dumps(document), JSON))
        feed = _feed_entries(snapshot)
        objects.append(_text(env, "feeds/history.atom", "history.atom", "application/atom+xml; charset=utf-8",
                             common, entries=feed))
        objects.append(_text(env, "feeds/history.rss", "history.rss", "application/rss+xml; charset=utf-8",
                             common, entries=feed))
        objects.append(_text(env, "badges/badge.svg", "badge.svg", "image/svg+xml", common,
                             label="status", message=snapshot.indicator.description, kind=snapshot.indicator.value))
        objects.append(_text(env, "badges/favicon.svg", "favicon.svg", "image/svg+xml", common))
        objects.append(_text(env, "page/sitemap-pages.xml", "sitemap-pages.xml", XML, common,
                             month_pages=[month_keys(m)[0] for m in snapshot.months]))
        objects.append(_text(env, "page/sitemap.xml", "sitemap.xml", XML, common,
                             sitemaps=["sitemap-pages.xml"] + [month_keys(m)[1] for m in snapshot.months]))
        objects.append(_text(env, "page/robots.txt", "robots.txt", "text/plain; charset=utf-8", common))
        # Served for any missing path, so its links start from the site root.
        objects.append(page("page/404.html", "404.html", root="/"))
        objects.append(page("page/index.html", "index.html"))
        self.first: tuple[SiteObject, ...] = tuple(objects)
        self.keys: frozenset[str] = frozenset(
            [obj.key for obj in objects] + [incident_key(incident.id) for incident in self._incidents]
            + [_badge_key(view) for view in self._components])

    def pages(self) -> Iterator[SiteObject]:
        """Each incident's page, then each component's badge, rendered when asked for."""
        for incident in self._incidents:
            yield self._page("page/incident.html", incident_key(incident.id), incident=incident)
        for view in self._components:
            yield self._badge(key=_badge_key(view), label=view.component.name, message=view.status.label,
                              kind=view.status.value)


def _badge_key(view: ComponentView) -> str:
    return f"badges/{view.component.id}.svg"


def incident_key(incident_id: str) -> str:
    return f"incidents/{incident_id}.html"


def month_keys(month: str) -> tuple[str, ...]:
    """The objects of one month (``YYYY-MM``): its history page and its sitemap."""
    return f"history/{month}.html", f"sitemap-{month}.xml"


def day_cells(view: ComponentView) -> Markup:
    """A component's 90-day bar: one ``<i>`` a day, oldest first, classed by its status as the page's
    colours are (``text.status_class``); an operational day, the most common, needs no class."""
    return Markup("".join(_CELLS.get(day.status) or f'<i class="{status_class(day.status)}"></i>'
                          for day in view.days))


_CELLS = {ComponentStatus.OPERATIONAL: "<i></i>"}


def month_name(month: str) -> str:
    """``2026-04`` as a reader says it: ``April 2026``."""
    return datetime.strptime(month, "%Y-%m").strftime("%B %Y")


_PAGE_TEMPLATES = ("page", "feeds", "badges")


def _page_environment(templates_dir: Path):
    """The one environment (``text.environment``), with the page's templates checked for changes once a
    render instead of at every use: the page of each of a thousand incidents would stat its template,
    the base it extends and the macros it imports, every time."""
    stamp = tuple((path.name, path.stat().st_mtime_ns) for folder in _PAGE_TEMPLATES
                  for path in sorted((templates_dir / folder).iterdir()))
    return _environment_as_of(templates_dir, stamp)


@functools.lru_cache(maxsize=4)
def _environment_as_of(templates_dir: Path, stamp: tuple) -> jinja2.Environment:
    return environment(templates_dir).overlay(auto_reload=False, cache_size=400)


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


def console_objects(templates_dir: Path, api_url: str) -> list[SiteObject]:
    """The marketer console (``templates/console``): its modules and style under ``admin/<hash>/``, a folder
    named for their contents and cached for a year, and ``admin/index.html``, which names that folder and the API."""
    source = Path(templates_dir) / "console"
    files = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix in (".js", ".css"))
    contents = hashlib.sha256(b"".join(p.relative_to(source).as_posix().encode() + b"\0" + p.read_bytes()
                                       for p in files)).hexdigest()[:12]
    kinds = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
    objects = [SiteObject(f"admin/{contents}/{p.relative_to(source).as_posix()}", p.read_bytes(), kinds[p.suffix],
                          LONG_CACHE) for p in files]
    entry = environment(templates_dir).get_template("console/index.html").render(assets=contents, api_url=api_url)
    return objects + [SiteObject("admin/index.html", entry.encode("utf-8"), HTML)]


def _base(snapshot: Snapshot) -> str:
    return snapshot.site.brand.page_url.rstrip("/") + "/"


def _neighbours(months: tuple[str, ...], month: str) -> tuple[str | None, str | None]:
    """The months before and after ``month`` in ``months`` (newest first): (newer, older)."""
    at = months.index(month)
    return (months[at - 1] if at > 0 else None), (months[at + 1] if at + 1 < len(months) else None)


def _recent_by_month(snapshot: Snapshot) -> list[tuple[str, list[Incident]]]:
    """The front's incidents that started in the last 90 days (open ones too), by month, newest first."""
    since = snapshot.generated_at - timedelta(days=HISTORY_DAYS)
    recent = [i for i in snapshot.sorted_incidents if i.start >= since]
    return [(month, list(items)) for month, items in groupby(recent, key=snapshot.month_of)]


def _feed_entries(snapshot: Snapshot) -> list[Incident]:
    return sorted(snapshot.front, key=lambda i: (i.updated_at, i.id), reverse=True)[:FEED_ENTRIES]


def when_local(moment: datetime | None, zone: ZoneInfo) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(zone)
    if local.date() == moment.astimezone(timezone.utc).date():
        return f"{local:%H:%M %Z}"  # the UTC form beside it already says which day
    return f"{local.day} {local:%b %Y, %H:%M %Z}"
