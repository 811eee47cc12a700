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

The pages are rendered in each language of the site (``_Reader``): the default language's at the
root, each other's under ``<language>/`` from the snapshot read in that language
(``Snapshot.in_language``), each page linking its own language's pages and the site's shared
objects (the JSON, the badges, the sitemaps, the script and the console, in one language).

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
from datetime import timedelta
from collections.abc import Iterator
from itertools import groupby
from pathlib import Path

import jinja2
from markupsafe import Markup

from chalicelib.model import ComponentStatus, Incident
from chalicelib.site import statuspage
from chalicelib.site.snapshot import HISTORY_DAYS, ComponentView, Snapshot
from chalicelib.i18n import format_local, language_name
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
        script = _script(templates_dir)
        languages = snapshot.site.languages
        months = tuple(m for m in snapshot.months if only is None or m in only.months)
        self._readers = [_Reader(snapshot.in_language(language), templates_dir, script.key, languages)
                         for language in languages]
        home = self._readers[0]
        self._incidents = [i.id for i in snapshot.incidents if only is None or i.id in only.incidents]
        self._components = snapshot.components
        self._badge = functools.partial(_text, home.env, "badges/badge.svg", content_type="image/svg+xml",
                                        common=home.common)

        objects = [script, *console_objects(templates_dir, snapshot.api_url)]
        for reader in self._readers:
            objects += reader.month_pages(months)
        for month in months:
            objects.append(_text(home.env, "page/sitemap-month.xml", month_keys(month)[1], XML, home.common,
                                 incidents=snapshot.in_month(month)))
        for key, document in statuspage.statuspage_documents(snapshot).items():
            objects.append(SiteObject(key, statuspage.dumps(document), JSON))
        for reader in self._readers:
            objects += reader.front_pages()
        common = home.common
        objects.append(_text(home.env, "badges/badge.svg", "badge.svg", "image/svg+xml", common,
                             label="status", message=snapshot.indicator.description, kind=snapshot.indicator.value))
        objects.append(_text(home.env, "badges/favicon.svg", "favicon.svg", "image/svg+xml", common))
        objects.append(_text(home.env, "page/sitemap-pages.xml", "sitemap-pages.xml", XML, common,
                             month_pages=[month_keys(m)[0] for m in snapshot.months]))
        objects.append(_text(home.env, "page/sitemap.xml", "sitemap.xml", XML, common,
                             sitemaps=["sitemap-pages.xml"] + [month_keys(m)[1] for m in snapshot.months]))
        objects.append(_text(home.env, "page/robots.txt", "robots.txt", "text/plain; charset=utf-8", common))
        # Served for any missing path, so its links start from the site root.
        objects.append(home.page("page/404.html", "404.html", root="/", shared="/"))
        for reader in self._readers:
            objects.append(reader.page("page/index.html", reader.key("index.html")))
        self.first: tuple[SiteObject, ...] = tuple(objects)
        self.keys: frozenset[str] = frozenset(
            [obj.key for obj in objects]
            + [reader.key(incident_key(incident_id)) for reader in self._readers for incident_id in self._incidents]
            + [_badge_key(view) for view in self._components])

    def pages(self) -> Iterator[SiteObject]:
        """Each incident's page, then each component's badge, rendered when asked for."""
        for incident_id in self._incidents:
            for reader in self._readers:
                yield reader.page("page/incident.html", reader.key(incident_key(incident_id)),
                                  incident=reader.incidents[incident_id])
        for view in self._components:
            yield self._badge(key=_badge_key(view), label=view.component.name, message=view.status.label,
                              kind=view.status.value)


class _Reader:
    """The pages of one language: the default's at the site's root, each other's under ``<language>/``.

    The JSON, the badges, the sitemaps, the script and the console are the site's, in one language;
    every page links to its own language's pages (``root``) and to those (``shared``).
    """

    def __init__(self, snapshot: Snapshot, templates_dir: Path, script: str, languages: tuple[str, ...]):
        self.snapshot = snapshot
        self.language = snapshot.reads
        self.prefix = "" if self.language == languages[0] else f"{self.language}/"
        self.env = _page_environment(Path(templates_dir), self.language)
        self.incidents = {i.id: i for i in snapshot.incidents}
        zone = snapshot.site.brand.zone
        self.common = {"snap": snapshot, "site": snapshot.site, "script": script, "page_url": _base(snapshot),
                       "local": functools.partial(format_local, zone=zone, language=self.language),
                       "day_cells": day_cells, "languages": languages, "prefix": self.prefix,
                       "language_names": {code: language_name(code) for code in languages}}

    def key(self, key: str) -> str:
        return self.prefix + key

    def page(self, template: str, key: str, root: str | None = None, shared: str | None = None,
             **context) -> SiteObject:
        shared = "../" * key.count("/") if shared is None else shared
        root = "../" * (key.count("/") - self.prefix.count("/")) if root is None else root
        html = self.env.get_template(template).render(**self.common, root=root, shared=shared, key=key,
                                                      page_key=key.removeprefix(self.prefix), **context)
        return SiteObject(key, html.encode("utf-8"), HTML)

    def month_pages(self, months: tuple[str, ...]) -> list[SiteObject]:
        snapshot = self.snapshot
        pages = []
        for month in months:
            newer, older = _neighbours(snapshot.months, month)
            pages.append(self.page("page/month.html", self.key(month_keys(month)[0]), month=month,
                                   incidents=snapshot.in_month(month), newer=newer, older=older))
        return pages

    def front_pages(self) -> list[SiteObject]:
        """What depends on the front, but the index: the history, the uptime page and the feeds."""
        snapshot = self.snapshot
        feed = _feed_entries(snapshot)
        # Each entry's timeline as HTML, made once for both feeds.
        entry = self.env.get_template("feeds/entry.html").make_module(self.common).entry
        timelines = {i.id: str(entry(i)) for i in feed}
        feeds = "application/atom+xml; charset=utf-8", "application/rss+xml; charset=utf-8"
        return [
            self.page("page/history.html", self.key("history.html"), months=_recent_by_month(snapshot)),
            self.page("page/uptime.html", self.key(UPTIME_PAGE)),
            _text(self.env, "feeds/history.atom", self.key("history.atom"), feeds[0], self.common, entries=feed,
                  timelines=timelines),
            _text(self.env, "feeds/history.rss", self.key("history.rss"), feeds[1], self.common, entries=feed,
                  timelines=timelines),
        ]


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


_PAGE_TEMPLATES = ("page", "feeds", "badges")


def _page_environment(templates_dir: Path, language: str = "en"):
    """The one environment (``text.environment``) of ``language``, with the page's templates checked for
    changes once a render instead of at every use: the page of each of a thousand incidents would stat
    its template, the base it extends and the macros it imports, every time."""
    stamp = tuple((path.name, path.stat().st_mtime_ns) for folder in _PAGE_TEMPLATES
                  for path in sorted((templates_dir / folder).iterdir()))
    return _environment_as_of(templates_dir, language, stamp)


@functools.lru_cache(maxsize=8)
def _environment_as_of(templates_dir: Path, language: str, stamp: tuple) -> jinja2.Environment:
    return environment(templates_dir, language).overlay(auto_reload=False, cache_size=400)


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
