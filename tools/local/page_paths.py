"""Which object a page URL asks for: the one rule the CloudFront distribution and the local page server share.

The rule has two implementations, this module (the local page server) and the code of the
``PageIndexRewrite`` function in ``infra/resources.json`` (CloudFront), and one table of
cases, ``tests/page_path_cases.json``, that tests both (``tests/unit/test_page_paths.py``
runs the function's JavaScript with Node.js). Change them together.

- The path (without query) is percent-decoded once. Bad escapes (``%zz``, bytes that are not
  UTF-8), control characters (CR, LF, NUL, …, raw or encoded) and ``.``/``..`` segments are
  refused with 400.
- ``/`` and ``\\`` both separate segments, as browsers treat them, and empty segments are
  dropped, so ``//host``, ``/\\host`` and ``/%2Fhost`` are paths on this host, never a host.
- A path whose last segment has no dot is a directory: without its trailing slash it is
  redirected to it. A path spelled otherwise than its canonical form (repeated slashes,
  backslashes) is redirected to that form, in one hop.
- A redirect's ``Location`` is a path on the same host: ``/`` and a first segment, each
  segment percent-encoded as JavaScript's ``encodeURIComponent`` encodes it.
- Otherwise the object's key is the path without its leading slash, ``index.html`` added
  for a directory.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SEPARATOR = re.compile(r"[/\\]")
# What encodeURIComponent leaves as it is, beyond what quote() always leaves.
_UNESCAPED = "!'()*"


@dataclass(frozen=True)
class PageRequest:
    """200: serve ``key``; 302: redirect to ``location``; 400: refuse."""

    status: int
    key: str | None = None
    location: str | None = None


REFUSED = PageRequest(400)


def page_request(path: str) -> PageRequest:
    if _BAD_ESCAPE.search(path):
        return REFUSED
    try:
        decoded = unquote(path, errors="strict")
    except UnicodeDecodeError:
        return REFUSED
    if not decoded.startswith("/") or _CONTROL.search(decoded):
        return REFUSED
    segments = [segment for segment in _SEPARATOR.split(decoded) if segment]
    if any(segment in (".", "..") for segment in segments):
        return REFUSED
    directory = not segments or decoded[-1] in "/\\"
    trailing = "/" if directory and segments else ""
    canonical = "/" + "/".join(segments) + trailing
    encoded = "/" + "/".join(quote(segment, safe=_UNESCAPED) for segment in segments) + trailing
    if not directory and "." not in segments[-1]:
        return PageRequest(302, location=encoded + "/")
    if canonical != decoded:
        return PageRequest(302, location=encoded)
    return PageRequest(200, key=canonical[1:] + ("index.html" if directory else ""))
