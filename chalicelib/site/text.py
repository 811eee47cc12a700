"""Bodies of incidents, notices and FAQ answers: a Markdown subset, rendered and sanitised.

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

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

ALLOWED_TAGS = frozenset({"p", "em", "strong", "a", "ul", "ol", "li", "br"})
ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})


@functools.cache
def _markdown() -> MarkdownIt:
    # 'zero' starts with every rule off: headings, images, code, tables and raw HTML stay text.
    return MarkdownIt("zero", {"breaks": True}).enable(["emphasis", "link", "list", "newline"])


@functools.lru_cache(maxsize=8192)
def _safe_html(text: str, links_from: str | None) -> str:
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
    flat = html.unescape(" ".join(nh3.clean(_markdown().render(text), tags=set()).split()))
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
