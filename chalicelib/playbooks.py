"""Playbooks: a brand's prepared outage responses, declared in ``site.yml``.

A playbook says, before anything breaks, what to tell customers when one channel goes
down: the incident's name and body for the page, the email and SMS texts, the components
it affects with the status each takes, and the contact channels to put first. Texts may
hold ``{variables}`` (e.g. ``{eta}``); each one has a default under ``variables`` so a
trigger never fails for want of one, and a trigger may override them. Every text and
variable, the trigger's included, is cleaned by ``chalicelib.cleantext``. Pure data: no I/O.
"""
from __future__ import annotations

import re
import string
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from chalicelib.cleantext import clean_line
from chalicelib.model import ComponentStatus, Impact, IncidentStatus
from chalicelib.schema import Check, Id, Line, Paragraphs, Strict, line, paragraphs

_VARIABLE = r"^[a-z_][a-z0-9_]{0,31}$"
SMS_LIMIT = 160

# GSM 03.38: the basic set counts one, the extension set two (escape + char); anything else forces UCS-2.
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = set("^{}\\[~]|€\f")


def gsm7_length(text: str) -> int | None:
    """Septets ``text`` takes in GSM-7, or None when it has a character GSM-7 cannot carry."""
    length = 0
    for char in text:
        if char in _GSM_BASIC:
            length += 1
        elif char in _GSM_EXTENSION:
            length += 2
        else:
            return None
    return length


def sms_problem(text: str) -> str | None:
    """Why ``text`` does not fit one SMS segment (160 GSM-7 characters), or None when it does."""
    length = gsm7_length(text)
    if length is None:
        bad = sorted({c for c in text if c not in _GSM_BASIC and c not in _GSM_EXTENSION})
        return f"has characters outside GSM-7 ({''.join(bad)!r}), which cut a segment to 70; replace them"
    if length > SMS_LIMIT:
        return f"is {length} GSM-7 characters; one SMS holds {SMS_LIMIT}, shorten it by {length - SMS_LIMIT}"
    return None


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


Body = paragraphs(min_length=1, max_length=5000)
Subject = line(max_length=200)
EmailText = paragraphs(max_length=20000)


def _variable_names(value: dict[str, str]) -> dict[str, str]:
    for name in value:
        if not re.match(_VARIABLE, name):
            raise ValueError(f"variable name {name!r}: use lower-case letters, digits and '_', e.g. 'eta'")
    return value


class ResolveTexts(Strict, kw_only=True):
    """What to say when the channel is back."""

    body: Body
    email_subject: Subject | None = None
    email_text: EmailText | None = None
    sms_text: Paragraphs | None = None


class Playbook(Strict, kw_only=True):
    id: Id
    description: line(max_length=300) = ""
    components: Annotated[dict[str, ComponentStatus], Meta(min_length=1)]
    impact: Impact = Impact.MAJOR
    status: IncidentStatus = IncidentStatus.IDENTIFIED
    name: line(min_length=1, max_length=200)
    body: Body
    email_subject: Subject | None = None
    email_text: EmailText | None = None
    sms_text: Paragraphs | None = None
    resolve: ResolveTexts
    contacts_first: tuple[str, ...] = ()
    notify: bool = True
    variables: Annotated[dict[str, Line], Check(_variable_names)] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = []
        for field, text in self.texts().items():
            try:
                used = placeholders(text)
            except ValueError as exc:
                problems.append(f"{field}: {exc}; write a literal brace as '{{{{' or '}}}}'")
                continue
            for name in sorted(used - set(self.variables)):
                problems.append(
                    f"{field}: uses {{{name}}} but 'variables' gives it no default; add 'variables: {{{name}: ...}}'"
                )
        if problems:
            raise ValueError("; ".join(problems))
        for field in ("sms_text", "resolve.sms_text"):
            text = self.texts().get(field)
            if text is not None:
                problem = sms_problem(self.render(text, {}))
                if problem:
                    problems.append(f"{field}: {problem}")
        if problems:
            raise ValueError("; ".join(problems))

    def texts(self) -> dict[str, str]:
        """Every text of the playbook by its key path, the ones left out omitted."""
        texts = {
            "name": self.name, "body": self.body, "email_subject": self.email_subject,
            "email_text": self.email_text, "sms_text": self.sms_text,
            "resolve.body": self.resolve.body, "resolve.email_subject": self.resolve.email_subject,
            "resolve.email_text": self.resolve.email_text, "resolve.sms_text": self.resolve.sms_text,
        }
        return {key: value for key, value in texts.items() if value is not None}

    def unknown_variables(self, variables: dict[str, str]) -> list[str]:
        return sorted(set(variables) - set(self.variables))

    def render(self, text: str | None, variables: dict[str, str]) -> str | None:
        if text is None:
            return None
        return text.format_map({**self.variables, **variables})

    def rendered(self, variables: dict[str, str]) -> "RenderedPlaybook":
        """The texts with ``variables`` (over the defaults) filled in; unknown names raise ValueError."""
        unknown = self.unknown_variables(variables)
        if unknown:
            known = ", ".join(sorted(self.variables)) or "none"
            raise ValueError(f"playbook {self.id!r} has no variable {', '.join(unknown)}; it takes: {known}")
        variables = {name: clean_line(value) for name, value in variables.items()}
        texts = {key: self.render(value, variables) for key, value in self.texts().items()}
        for key in ("sms_text", "resolve.sms_text"):
            if key in texts:
                problem = sms_problem(texts[key])
                if problem:
                    raise ValueError(f"{key} of playbook {self.id!r} with these variables {problem}")
        return RenderedPlaybook(texts)


class RenderedPlaybook:
    def __init__(self, texts: dict[str, Any]):
        self.texts = texts

    def __getitem__(self, key: str) -> str | None:
        return self.texts.get(key)


def playbook_problems(playbooks: tuple[Playbook, ...], component_ids: frozenset[str] | set[str],
                      contact_ids: set[str]) -> list[str]:
    """References from playbooks to components and contacts, in site.yml's error style."""
    problems = []
    seen: set[str] = set()
    for i, playbook in enumerate(playbooks):
        where = f"playbooks[{i}] (id {playbook.id!r})"
        if playbook.id in seen:
            problems.append(f"playbooks[{i}].id: {playbook.id!r} is used twice; ids must be unique, rename one")
        seen.add(playbook.id)
        for ref in playbook.components:
            if ref not in component_ids:
                problems.append(f"{where}.components: no component {ref!r}; use one of {sorted(component_ids)}")
        for ref in playbook.contacts_first:
            if ref not in contact_ids:
                problems.append(
                    f"{where}.contacts_first: no contact {ref!r}; declare it under 'brand.contacts' "
                    f"or use one of {sorted(contact_ids)}"
                )
    return problems
