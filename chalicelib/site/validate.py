"""Check a rendered site before any of it is uploaded.

A publish that would break the live site stops here, and the last good site stays: every
JSON file parses and has Statuspage's envelope, every feed, sitemap and badge is
well-formed XML, and every link and script a page makes to another file of the site
points at a file of this render (so no reader follows a link to a missing object).
"""
from __future__ import annotations

import json
import posixpath
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from html import unescape
from urllib.parse import urlsplit


class SiteInvalid(ValueError):
    """The rendered site is not fit to publish; ``problems`` lists each file and what is wrong."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("the rendered site was not published:\n" + "\n".join(f"  - {p}" for p in problems))


# The templates quote every attribute with double quotes (autoescape escapes any inside a
# value), so a pattern finds every link as surely as a parser, in a fraction of the time.
_LINK = re.compile(r'\s(?:href|src|action)="([^"]+)"')


def check_site(objects: Sequence) -> None:
    keys = {obj.key for obj in objects}
    problems: list[str] = []
    for obj in objects:
        kind = obj.key.rsplit(".", 1)[-1]
        try:
            if kind == "json":
                document = json.loads(obj.body)
                if not isinstance(document, dict) or "page" not in document:
                    problems.append(f"{obj.key}: no 'page' envelope")
            elif kind in ("xml", "atom", "rss", "svg"):
                ElementTree.fromstring(obj.body)
            elif kind == "html":
                problems += [f"{obj.key}: links to {target!r}, which this render does not contain"
                             for target in _broken_links(obj.key, obj.body.decode("utf-8"), keys)]
        except (ValueError, ElementTree.ParseError) as exc:
            problems.append(f"{obj.key}: {exc}")
    if problems:
        raise SiteInvalid(problems)


def _broken_links(key: str, html: str, keys: set[str]) -> list[str]:
    broken = []
    for target in (unescape(m) for m in _LINK.findall(html)):
        parts = urlsplit(target)
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
