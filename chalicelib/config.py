"""The site configuration, ``site.yml``: load, validate, and hand out typed objects.

Operators edit ``site.yml``; a mistake in it must never reach the page. Loading is all
or nothing: YAML syntax, duplicate keys, unknown keys, wrong types, duplicate ids and
references to missing components all raise ``SiteConfigError`` with the file, the key
path and how to fix it, and the caller keeps the configuration it had. Every text
(names, labels, descriptions, FAQ) is cleaned by ``chalicelib.cleantext`` first.
"""
from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from chalicelib.cleantext import Line, Paragraphs
from chalicelib.playbooks import Playbook, playbook_problems
from chalicelib.notify.policy import SubscriptionPolicy
from chalicelib.probes.spec import ProbeSettings, ProbeSpec, probe_problems

_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"
_ID_HELP = "use lower-case letters, digits and dashes, e.g. 'facebook-page'"


class SiteConfigError(ValueError):
    """A site.yml that cannot be applied; ``problems`` lists each one as 'path: message'."""

    def __init__(self, path: Path | str, problems: list[str]):
        self.path = str(path)
        self.problems = problems
        super().__init__(f"{self.path} is not valid, nothing was applied:\n" + "\n".join(f"  - {p}" for p in problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Contact(_Strict):
    """A way for customers to reach the brand when social channels are down."""

    id: str = Field(pattern=_ID)
    kind: Literal["website", "email", "sms", "phone", "chat", "social"]
    label: Line = Field(min_length=1, max_length=80)
    url: str
    note: Line = Field(default="", max_length=200)
    # Components this contact needs: while one of them is down the contact is listed last.
    depends_on: tuple[str, ...] = ()

    @field_validator("url")
    @classmethod
    def _url_scheme(cls, value: str) -> str:
        if not re.match(r"^(https?://[^\s/]+|mailto:[^\s@]+@[^\s@]+|tel:\+?[0-9 ()-]+|sms:\+?[0-9 ()-]+)", value):
            raise ValueError("must start with https://, http://, mailto:, tel: or sms:")
        return value


class Brand(_Strict):
    name: Line = Field(min_length=1, max_length=80)
    website: str = Field(pattern=r"^https?://")
    page_url: str = Field(pattern=r"^https?://", description="Public URL of the status page itself")
    time_zone: str = "UTC"
    accent_color: str = Field(default="#2563eb", pattern=r"^#[0-9a-fA-F]{6}$")
    logo_text: Line = Field(default="", max_length=40)
    description: Line = Field(default="", max_length=300)
    contacts: tuple[Contact, ...] = ()

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as 'Europe/Berlin' or 'UTC'")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


class Group(_Strict):
    id: str = Field(pattern=_ID)
    name: Line = Field(min_length=1, max_length=80)
    description: Line = Field(default="", max_length=300)
    position: int = 0


class Component(_Strict):
    id: str = Field(pattern=_ID)
    name: Line = Field(min_length=1, max_length=80)
    description: Line = Field(default="", max_length=300)
    group: str | None = None
    position: int = 0
    only_show_if_degraded: bool = False
    showcase: bool = True
    probes: tuple[ProbeSpec, ...] = ()
    # How the probes add up: 'worst' (the worst probe decides) or 'share' (some of the brand's probes
    # failing is a partial outage, all of them the probes' own status).
    probe_rule: Literal["worst", "share"] = "worst"


class FaqEntry(_Strict):
    question: Line = Field(min_length=1, max_length=200)
    answer: Paragraphs = Field(min_length=1, max_length=2000)


class Site(_Strict):
    brand: Brand
    groups: tuple[Group, ...] = ()
    components: tuple[Component, ...] = Field(min_length=1)
    faq: tuple[FaqEntry, ...] = ()
    playbooks: tuple[Playbook, ...] = ()
    subscriptions: SubscriptionPolicy = SubscriptionPolicy()
    probe_settings: ProbeSettings = ProbeSettings()

    @model_validator(mode="after")
    def _references(self) -> "Site":
        problems: list[str] = []
        problems += _duplicates("groups", [g.id for g in self.groups])
        problems += _duplicates("components", [c.id for c in self.components])
        problems += _duplicates("brand.contacts", [c.id for c in self.brand.contacts])
        group_ids = {g.id for g in self.groups}
        component_ids = {c.id for c in self.components}
        for i, component in enumerate(self.components):
            if component.group is not None and component.group not in group_ids:
                problems.append(
                    f"components[{i}] (id {component.id!r}).group: no group {component.group!r}; "
                    f"declare it under 'groups' or use one of {sorted(group_ids)}"
                )
        for i, contact in enumerate(self.brand.contacts):
            for ref in contact.depends_on:
                if ref not in component_ids:
                    problems.append(
                        f"brand.contacts[{i}] (id {contact.id!r}).depends_on: no component {ref!r}; "
                        f"use one of {sorted(component_ids)}"
                    )
        problems += playbook_problems(self.playbooks, component_ids, {c.id for c in self.brand.contacts})
        problems += probe_problems(self.components, self.probe_settings)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @cached_property
    def component_ids(self) -> frozenset[str]:
        return frozenset(c.id for c in self.components)

    def component(self, component_id: str) -> Component:
        for component in self.components:
            if component.id == component_id:
                return component
        raise KeyError(component_id)

    def playbook(self, playbook_id: str) -> Playbook:
        for playbook in self.playbooks:
            if playbook.id == playbook_id:
                return playbook
        raise KeyError(playbook_id)

    def playbook_for(self, component_id: str) -> Playbook | None:
        """The playbook prepared for an outage of this component (the first that names it), if any."""
        return next((p for p in self.playbooks if component_id in p.components), None)

    def components_in(self, group_id: str | None) -> list[Component]:
        return sorted((c for c in self.components if c.group == group_id), key=lambda c: (c.position, c.name))


def _duplicates(where: str, ids: list[str]) -> list[str]:
    seen: set[str] = set()
    problems = []
    for i, value in enumerate(ids):
        if value in seen:
            problems.append(f"{where}[{i}].id: {value!r} is used twice; ids must be unique, rename one")
        seen.add(value)
    return problems


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys silently; an operator's typo deserves an error."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.MarkedYAMLError(
                    problem=f"duplicate key {key!r}; keep only one", problem_mark=key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def parse_site(text: str, path: Path | str = "site.yml") -> Site:
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise SiteConfigError(path, [f"YAML: {exc}"]) from None
    if not isinstance(data, dict):
        raise SiteConfigError(path, ["the file must be a mapping with at least 'brand' and 'components'"])
    try:
        return Site.model_validate(data)
    except ValidationError as exc:
        raise SiteConfigError(path, [_describe(error, data) for error in exc.errors()]) from None


def load_site(path: Path | str) -> Site:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SiteConfigError(path, [f"cannot read the file: {exc.strerror}; set SITE_CONFIG to its path"]) from None
    return parse_site(text, path)


def _describe(error: dict[str, Any], data: dict[str, Any]) -> str:
    loc = error["loc"]
    message = error["msg"]
    if error["type"] == "value_error" and not loc:
        return message.removeprefix("Value error, ")
    path = _key_path(loc, data)
    if error["type"] == "extra_forbidden":
        return f"{path}: unknown key; remove it or check its spelling"
    if error["type"] == "missing":
        return f"{path}: required key is missing; add it"
    if error["type"] == "union_tag_invalid":
        expected = error["ctx"]["expected_tags"].replace("'", "")
        return f"{path}.kind: {error['ctx']['tag']!r} is not a kind; use one of {expected}"
    if error["type"] == "string_pattern_mismatch" and loc[-1] == "id":
        return f"{path}: {error['input']!r} is not a valid id; {_ID_HELP}"
    return f"{path}: {message.removeprefix('Value error, ')}"


def _key_path(loc: tuple, data: Any) -> str:
    """('components', 2, 'grup') -> "components[2] (id 'facebook').grup"."""
    parts: list[str] = []
    node = data
    for key in loc:
        if isinstance(key, int):
            parts[-1] += f"[{key}]"
            node = node[key] if isinstance(node, list) and key < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("id"), str):
                parts[-1] += f" (id {node['id']!r})"
        elif isinstance(node, dict) and key not in node and node.get("kind") == key:
            continue  # a tagged union's tag (a probe's kind) is no key of the file
        else:
            parts.append(str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return ".".join(parts)


_loaded: Site | None = None


def get_site() -> Site:
    """The site of this container, loaded and validated once (from SITE_CONFIG)."""
    global _loaded
    if _loaded is None:
        from chalicelib.settings import get_settings

        _loaded = load_site(get_settings().site_config)
    return _loaded


def reset_site() -> None:
    global _loaded
    _loaded = None
