"""Render the page: a snapshot in, the site's files out. No I/O beyond reading templates."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import jinja2

from chalicelib.model import isoformat
from chalicelib.site.snapshot import Snapshot

SHORT_CACHE = "public, max-age=30, stale-while-revalidate=60, stale-if-error=86400"
LONG_CACHE = "public, max-age=31536000, immutable"


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
    )
    env.filters["iso"] = isoformat
    return env


def render_site(snapshot: Snapshot, templates_dir: Path) -> list[SiteObject]:
    env = environment(templates_dir)
    index = env.get_template("page/index.html").render(snap=snapshot, site=snapshot.site)
    return [SiteObject("index.html", index.encode("utf-8"), "text/html; charset=utf-8")]
