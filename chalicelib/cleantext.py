"""What Beacon keeps of the text people type: one rule for every name, title and body.

Every text field that reaches the store or the page, through the API, ``site.yml`` or a
playbook's variables, passes through here before it is validated:

- characters XML 1.0 forbids (C0 controls other than tab, newline and carriage return,
  unpaired surrogates, U+FFFE and U+FFFF) are removed: one of them makes the feeds, the
  sitemap and the badges unreadable;
- bidi overrides and isolates (U+202A–U+202E, U+2066–U+2069) are removed: they make a
  name read otherwise than it is written;
- the line and page breaks word processors paste (U+000B, U+000C, U+2028, U+2029) and
  carriage returns become a newline in bodies (``clean_paragraphs``); in one-line texts
  (``clean_line``: names, titles, labels) every line break and tab becomes a space.

``site.yml``'s texts are cleaned by ``chalicelib.schema`` (``Line``, ``Paragraphs``), the
API's by its models (``chalicelib.api.models``: ``line``, ``paragraphs``), both before their
lengths are checked.

The characters are invisible, so they are removed rather than refused: a marketer in the
middle of an outage is not stopped by what they cannot see. What is left is validated as
before (a title that was nothing but controls is empty, and refused).

``xml_safe`` is the page's half of the rule: rendering passes every value through it, so
records stored before this rule existed cannot break an XML file either. Pure: no I/O.
"""
from __future__ import annotations

import re

_XML_FORBIDDEN = "\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff"
_BIDI = "\u202a-\u202e\u2066-\u2069"
_PASTED_BREAKS = re.compile("\r\n|[\r\x0b\x0c\u2028\u2029]")
_DROPPED = re.compile(f"[{_XML_FORBIDDEN}{_BIDI}]")
_NOT_XML = re.compile(f"[{_XML_FORBIDDEN}]")
_LINE_BREAKS = re.compile("[\t\n]")


def clean_paragraphs(text: str) -> str:
    """A body: XML-forbidden characters and bidi overrides removed, pasted breaks made newlines."""
    return _DROPPED.sub("", _PASTED_BREAKS.sub("\n", text))


def clean_line(text: str) -> str:
    """A one-line text (a name, a title): as a body, with every line break and tab made a space."""
    return _LINE_BREAKS.sub(" ", clean_paragraphs(text))


def xml_safe(text: str) -> str:
    """``text`` without the characters XML 1.0 forbids; everything else left as it is."""
    return _NOT_XML.sub("", text) if _NOT_XML.search(text) else text

