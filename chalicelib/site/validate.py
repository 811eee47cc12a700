"""Check a rendered site before any of it is uploaded, object by object.

Every JSON file must parse and have Statuspage's envelope, every feed, sitemap (the index
and its month sitemaps) and badge must be well-formed XML, and every link and script a page
(the index, an incident's, ``history.html`` or a month's ``history/<YYYY-MM>.html``) makes to
another file of the site must point at a file of this render or, for a partial render, at
one already live (``published``). Links are read as a browser reads them: from the
attributes of real tags (text that merely looks like a link is text), resolved against the
page's own key; a link to another host, ``mailto:`` or ``tel:`` is not the site's to check.

A problem is attributed to the object it is found in. One confined to an incident's page
(``incidents/<id>.html``, or ``<language>/incidents/<id>.html``) withholds that page alone: its last good copy stays live, the
rest of the site goes out, and the caller reports it. A problem anywhere else (the index,
the history, the JSON, the feeds) stops the whole publish with ``SiteInvalid`` and the
last good site stays; rendering escapes every value, so content cannot cause one.
"""
from __future__ import annotations

import json
import posixpath
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from html import unescape
from urllib.parse import urlsplit

_INCIDENT_PAGE = re.compile(r"^(?:[a-z]{2}/)?incidents/([^/]+)\.html$")  # in the default language, or another


class SiteInvalid(ValueError):
    """The rendered site is not fit to publish; ``problems`` lists each file and what is wrong."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("the rendered site was not published:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Withheld:
    """An object held back from this publish, and why; its last good copy stays live."""

    key: str
    incident_id: str | None
    problems: tuple[str, ...]


@dataclass(frozen=True)
class CheckedSite:
    objects: list  # what may be uploaded: the render without what is withheld
    withheld: list[Withheld]


def check_site(objects: Sequence, published: Collection[str] = ()) -> CheckedSite:
    """The objects fit to publish; raises ``SiteInvalid`` when a problem is not confined to an incident's page."""
    found = object_problems(objects, published)
    site_wide = [f"{key}: {problem}" for key, problems in found.items() if not withholdable(key)
                 for problem in problems]
    if site_wide:
        raise SiteInvalid(site_wide)
    withheld = [Withheld(key, _incident_of(key), tuple(problems)) for key, problems in found.items()]
    return CheckedSite([obj for obj in objects if obj.key not in found], withheld)


def withholdable(key: str) -> bool:
    """An incident's own page: what it holds is that incident's alone, so the rest can go out without it."""
    return _incident_of(key) is not None


def object_problems(objects: Sequence, published: Collection[str] = ()) -> dict[str, list[str]]:
    """Each object's problems by its key; an object without problems is not listed."""
    # Links are checked against the whole render and what is already live: a page that links
    # to a withheld page still links to a live copy of it.
    keys = {obj.key for obj in objects} | set(published)
    found: dict[str, list[str]] = {}
    for obj in objects:
        problems = _problems(obj, keys)
        if problems:
            found[obj.key] = problems
    return found


def _problems(obj, keys: set[str]) -> list[str]:
    kind = obj.key.rsplit(".", 1)[-1]
    try:
        if kind == "json":
            document = json.loads(obj.body)
            if not isinstance(document, dict) or "page" not in document:
                return ["no 'page' envelope"]
        elif kind in ("xml", "atom", "rss", "svg"):
            ElementTree.fromstring(obj.body)
        elif kind == "html":
            return [f"links to {target!r}, which this render does not contain"
                    for target in _broken_links(obj.key, obj.body.decode("utf-8"), keys)]
    except (ValueError, ElementTree.ParseError) as exc:
        return [str(exc)]
    return []


# Autoescape turns every '<' of text and of attribute values into '&lt;', so in a rendered
# page a '<' opens a tag, and a link typed in a body is text a browser never follows. The
# templates double-quote every attribute. Two patterns thus read the links as surely as a
# parser, in a tenth of the time.
_TAG = re.compile(r"<[a-zA-Z][^<>]*>")
_LINK = re.compile(r'\s(?:href|src|action)\s*=\s*"([^"]*)"', re.IGNORECASE)


def _links(html: str) -> list[str]:
    """The value of every link attribute of every tag, entities decoded, as a browser reads them."""
    return [unescape(value) for tag in _TAG.findall(html) for value in _LINK.findall(tag) if value]


def _broken_links(key: str, html: str, keys: set[str]) -> list[str]:
    broken = []
    for target in _links(html):
        parts = urlsplit(target.strip())
        if parts.scheme or parts.netloc or not parts.path:
            continue  # another site, mailto:, tel:, or a fragment of this page
        if parts.path.startswith("/"):
            path = parts.path.lstrip("/")  # from the site root (the 404 page's links)
        else:
            path = posixpath.join(posixpath.dirname(key), parts.path)
        if path == "":
            path = "index.html"
        if path.endswith("/"):
            path += "index.html"
        if posixpath.normpath(path) not in keys:
            broken.append(target)
    return broken


def _incident_of(key: str) -> str | None:
    match = _INCIDENT_PAGE.match(key)
    return match.group(1) if match else None
