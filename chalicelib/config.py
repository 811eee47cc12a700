"""The site configuration, ``site.yml``: load, validate, and hand out typed objects.

Operators edit ``site.yml``; a mistake in it must never reach the page. Loading is all
or nothing: YAML syntax, duplicate keys, unknown keys, wrong types, duplicate ids and
references to missing components all raise ``SiteConfigError`` with the file, the key
path and how to fix it, and the caller keeps the configuration it had. Every text
(names, labels, descriptions, FAQ) is cleaned by ``chalicelib.cleantext`` first.

A site is written in ``languages`` (default ``[en]``; the first is the default language).
Each customer-facing text (the positions in ``_TEXTS``) is a plain string, the same in
every language, or a translation map ``{en: ..., de: ...}`` that must give the default
language and may give any other of the site's languages. The file is parsed once, then
read once per language: a map becomes its text in that language, or the default
language's where it gives none, and each reading is validated by the same models, so a
German text too long for its field is refused like an English one. The models stay
str-typed: ``Site`` is the site in its default language, ``Site.in_language`` the site as
read in another, and ``missing_translations`` lists the texts another language lacks.
"""
from __future__ import annotations

import copy
import hashlib
import re
from functools import cache, cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from msgspec import Meta

from chalicelib.i18n import CATALOGUES
from chalicelib.playbooks import Playbook, playbook_problems
from chalicelib.notify.policy import SubscriptionPolicy
from chalicelib.probes.spec import ProbeSettings, ProbeSpec, probe_problems
from chalicelib.schema import Check, Id, Invalid, Problem, Strict, line, paragraphs, read

# Two letters: a language's pages live under ``<code>/``, beside the site's own folders (``api/``, ``assets/``).
_LANGUAGE = r"^[a-z]{2}$"
DEFAULT_LANGUAGES = ("en",)

# Where site.yml may give a text per language ('[]': each item of a list, '*': each value of
# a mapping). A NAME given as a plain string is the same in every language on purpose (a
# brand or product name); PROSE given as a plain string on a site of several languages is
# untranslated. Ids, URLs, kinds, probes, the time zone and colours are never translated.
NAME, PROSE = "name", "prose"
_TEXTS = {
    "brand.name": NAME,
    "brand.logo_text": NAME,
    "brand.description": PROSE,
    "brand.contacts[].label": NAME,
    "brand.contacts[].note": PROSE,
    "groups[].name": NAME,
    "groups[].description": PROSE,
    "components[].name": NAME,
    "components[].description": PROSE,
    "faq[].question": PROSE,
    "faq[].answer": PROSE,
    "playbooks[].description": PROSE,
    "playbooks[].name": PROSE,
    "playbooks[].body": PROSE,
    "playbooks[].email_subject": PROSE,
    "playbooks[].email_text": PROSE,
    "playbooks[].sms_text": PROSE,
    "playbooks[].resolve.body": PROSE,
    "playbooks[].resolve.email_subject": PROSE,
    "playbooks[].resolve.email_text": PROSE,
    "playbooks[].resolve.sms_text": PROSE,
    "playbooks[].variables.*": PROSE,
}


class SiteConfigError(ValueError):
    """A site.yml that cannot be applied; ``problems`` lists each one as 'path: message'."""

    def __init__(self, path: Path | str, problems: list[str]):
        self.path = str(path)
        self.problems = problems
        super().__init__(f"{self.path} is not valid, nothing was applied:\n" + "\n".join(f"  - {p}" for p in problems))


Name = line(min_length=1, max_length=80)
Description = line(max_length=300)
WebAddress = Annotated[str, Meta(pattern=r"^https?://", extra={
    "is_not": "a web address", "fix": "start it with https:// or http://"})]


def _url_scheme(value: str) -> str:
    if not re.match(r"^(https?://[^\s/]+|mailto:[^\s@]+@[^\s@]+|tel:\+?[0-9 ()-]+|sms:\+?[0-9 ()-]+)", value):
        raise ValueError("must start with https://, http://, mailto:, tel: or sms:")
    return value


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}; use an IANA name such as 'Europe/Berlin' or 'UTC'")
    return value


class Contact(Strict, kw_only=True):
    """A way for customers to reach the brand when social channels are down."""

    id: Id
    kind: Literal["website", "email", "sms", "phone", "chat", "social"]
    label: Name
    url: Annotated[str, Check(_url_scheme)]
    note: line(max_length=200) = ""
    # Components this contact needs: while one of them is down the contact is listed last.
    depends_on: tuple[str, ...] = ()


class Brand(Strict, kw_only=True):
    name: Name
    website: WebAddress
    # The public URL of the status page itself.
    page_url: WebAddress
    time_zone: Annotated[str, Check(_known_zone)] = "UTC"
    accent_color: Annotated[str, Meta(pattern=r"^#[0-9a-fA-F]{6}$", extra={
        "is_not": "a colour", "fix": "write '#' and six hex digits, e.g. '#2563eb'"})] = "#2563eb"
    logo_text: line(max_length=40) = ""
    description: Description = ""
    contacts: tuple[Contact, ...] = ()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


class Group(Strict, kw_only=True):
    id: Id
    name: Name
    description: Description = ""
    position: int = 0


class Component(Strict, kw_only=True):
    id: Id
    name: Name
    description: Description = ""
    group: str | None = None
    position: int = 0
    only_show_if_degraded: bool = False
    showcase: bool = True
    probes: tuple[ProbeSpec, ...] = ()
    # How the probes add up: 'worst' (the worst probe decides) or 'share' (some of the brand's probes
    # failing is a partial outage, all of them the probes' own status).
    probe_rule: Literal["worst", "share"] = "worst"


class FaqEntry(Strict, kw_only=True):
    question: line(min_length=1, max_length=200)
    answer: paragraphs(min_length=1, max_length=2000)


class _Readings:
    """What a site read from site.yml knows of its languages.

    ``texts``: per other language, each text that differs, by key path, as (the default
    language's text, the text in that language); ``missing``: what ``missing_translations``
    reports. ``origin`` is, for a site read in another language, the site it was read from.
    Kept beside a site's fields (``Site`` has a ``__dict__``), not among them: sites compare
    by their fields.
    """

    def __init__(self, texts: dict[str, dict[tuple, tuple[str, str]]], missing: dict[str, list[str]],
                 origin: "Site | None" = None):
        self.texts = texts
        self.missing = missing
        self.origin = origin
        self.sites: dict[str, Site] = {}


class Site(Strict, kw_only=True, dict=True):
    languages: Annotated[tuple[str, ...], Check(_checked_languages)] = DEFAULT_LANGUAGES
    brand: Brand
    groups: tuple[Group, ...] = ()
    components: Annotated[tuple[Component, ...], Meta(min_length=1)]
    faq: tuple[FaqEntry, ...] = ()
    playbooks: tuple[Playbook, ...] = ()
    subscriptions: SubscriptionPolicy = SubscriptionPolicy()
    probe_settings: ProbeSettings = ProbeSettings()

    def __post_init__(self) -> None:
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

    @property
    def _readings(self) -> _Readings | None:
        return self.__dict__.get("_readings")

    def replace(self, **changes: Any) -> "Site":
        """A copy with ``changes``; it reads its other texts in every language as this site does."""
        changed = msgspec.structs.replace(self, **changes)
        readings = self._readings
        if readings is not None:
            changed.__dict__["_readings"] = _Readings(readings.texts, readings.missing)
        return changed

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

    @property
    def default_language(self) -> str:
        return self.languages[0]

    def in_language(self, code: str) -> "Site":
        """The site as read in ``code``: its texts in that language, the default language's where
        site.yml gives none. Made once per site object; the default language is the site itself."""
        if code not in self.languages:
            raise ValueError(f"this site has no language {code!r}; use one of {', '.join(self.languages)}")
        readings = self._readings
        if readings is None:
            return self  # made in code, not read from site.yml: every text reads the same in every language
        if readings.origin is not None:
            return readings.origin.in_language(code)
        if code == self.default_language:
            return self
        if code not in readings.sites:
            site = _with_texts(self, readings.texts.get(code, {}))
            site.__dict__["_readings"] = _Readings(readings.texts, readings.missing, origin=self)
            readings.sites[code] = site
        return readings.sites[code]


def missing_translations(site: Site) -> dict[str, list[str]]:
    """Per language but the default, the key paths of the texts site.yml gives no translation for:
    a translation map without that language, or prose given as one plain string on a site of
    several languages (names given so are the same in every language on purpose)."""
    readings = site._readings
    if readings is None:
        return {language: [] for language in site.languages[1:]}
    return {language: list(paths) for language, paths in readings.missing.items()}


def _checked_languages(value: Any) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError("give a list of language codes, the default language first, e.g. [en, de]")
    for code in value:
        if isinstance(code, bool):
            raise ValueError(f"{code!r} is not a language code; YAML reads no, yes, on and off as true or false, "
                             f"so write the code in quotes, e.g. 'no'")
        if not isinstance(code, str) or not re.match(_LANGUAGE, code):
            raise ValueError(f"{code!r} is not a language code; use lower-case two-letter ISO 639-1 codes "
                             f"such as 'en' or 'de'")
        if code not in CATALOGUES:
            raise ValueError(f"Beacon has no words in {code!r} yet (it has {', '.join(CATALOGUES)}); add its "
                             f"catalogue first (README: Adding a language) or leave it out")
    twice = sorted({code for code in value if value.count(code) > 1})
    if twice:
        raise ValueError(f"{', '.join(twice)} is listed twice; list each language once")
    return tuple(value)


def _duplicates(where: str, ids: list[str]) -> list[str]:
    seen: set[str] = set()
    problems = []
    for i, value in enumerate(ids):
        if value in seen:
            problems.append(f"{where}[{i}].id: {value!r} is used twice; ids must be unique, rename one")
        seen.add(value)
    return problems


@cache
def _yaml_loaders():
    """PyYAML, with libyaml's loader and its own, both refusing a key given twice; built on first
    use, so that a function reading the copy ``make package`` parsed never imports PyYAML."""
    import yaml

    class UniqueKeys:
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

    class Fast(UniqueKeys, yaml.CSafeLoader):
        """libyaml's parser: the example site reads in 2 ms instead of 20."""

    class Explaining(UniqueKeys, yaml.SafeLoader):
        """PyYAML's own parser, whose errors also quote the line with a caret under the column."""

    return yaml, Fast, Explaining


def read_yaml(text: str, path: Path | str = "site.yml") -> Any:
    """What a YAML text holds; a text that does not parse raises ``SiteConfigError`` naming its line."""
    yaml, fast, explaining = _yaml_loaders()
    try:
        try:
            return yaml.load(text, Loader=fast)
        except yaml.YAMLError:
            # A file that does not parse is read again, only to be described better.
            return yaml.load(text, Loader=explaining)
    except yaml.YAMLError as exc:
        raise SiteConfigError(path, [f"YAML: {exc}"]) from None


class ParsedCopy(msgspec.Struct, forbid_unknown_fields=True):
    """What a YAML file holds, parsed by ``make package`` and shipped beside it as JSON
    (``site.yml.json``), with the SHA-256 of the bytes it was parsed from."""

    source_sha256: str
    data: Any


def parsed_copy_path(path: Path | str) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".json")


def parsed_copy(source: bytes) -> bytes | None:
    """The parsed copy of a YAML file's bytes, or None when JSON does not give back exactly what the
    file holds (a date, a set, a key that is not a string, NaN): such a file ships without a copy
    and is parsed where it is read."""
    data = read_yaml(source.decode("utf-8"))
    encoded = msgspec.json.encode(ParsedCopy(hashlib.sha256(source).hexdigest(), data))
    return encoded if msgspec.json.decode(encoded, type=ParsedCopy).data == data else None


def _shipped_copy(path: Path, source: bytes) -> ParsedCopy | None:
    """The copy ``make package`` parsed beside ``path`` when it was parsed from these very bytes;
    None when there is none (a working tree) or it is of another text."""
    try:
        shipped = msgspec.json.decode(parsed_copy_path(path).read_bytes(), type=ParsedCopy)
    except (OSError, msgspec.DecodeError):
        return None
    return shipped if shipped.source_sha256 == hashlib.sha256(source).hexdigest() else None


def parse_site(text: str, path: Path | str = "site.yml") -> Site:
    """The site a site.yml's text describes; ``path`` names the file in every problem."""
    return site_from(read_yaml(text, path), path)


def site_from(data: Any, path: Path | str = "site.yml") -> Site:
    """The site a parsed site.yml describes, validated in each of its languages."""
    if not isinstance(data, dict):
        raise SiteConfigError(path, ["the file must be a mapping with at least 'brand' and 'components'"])
    try:
        languages = _checked_languages(data.get("languages", DEFAULT_LANGUAGES))
    except ValueError as exc:
        raise SiteConfigError(path, [f"languages: {exc}"]) from None
    positions = _text_positions(data)
    problems = _translation_map_problems(data, positions, languages)
    if problems:
        raise SiteConfigError(path, problems)
    default = _read_in(data, positions, languages[0], languages[0])
    try:
        site = read(Site, default)
    except Invalid as exc:
        raise SiteConfigError(path, [_describe(problem, default) for problem in exc.problems]) from None
    differing: dict[str, dict[tuple, tuple[str, str]]] = {}
    for language in languages[1:]:
        tree = _read_in(data, positions, language, languages[0])
        try:
            site_in = read(Site, tree)
        except Invalid as exc:
            problems += [_describe(problem, tree, language) for problem in exc.problems]
            continue
        differing[language] = {
            loc: (_at(site, loc), _at(site_in, loc)) for loc, _ in positions if _at(site, loc) != _at(site_in, loc)
        }
    if problems:
        raise SiteConfigError(path, problems)
    site.__dict__["_readings"] = _Readings(differing, _missing(data, positions, languages))
    return site


def load_site(path: Path | str) -> Site:
    """The site ``path`` describes. In the deployment zip, read from the copy ``make package``
    parsed beside it, which spares each function's init PyYAML's import and parse."""
    path = Path(path)
    try:
        source = path.read_bytes()
    except OSError as exc:
        raise SiteConfigError(path, [f"cannot read the file: {exc.strerror}; set SITE_CONFIG to its path"]) from None
    shipped = _shipped_copy(path, source)
    if shipped is not None:
        return site_from(shipped.data, path)
    try:
        text = source.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SiteConfigError(path, [f"byte {exc.start} is not UTF-8; save the file as UTF-8"]) from None
    return parse_site(text, path)


def _text_positions(data: dict[str, Any]) -> list[tuple[tuple, str]]:
    """The key paths of ``data`` where ``_TEXTS`` allows a text per language, each with its kind."""
    found = []
    for pattern, kind in _TEXTS.items():
        locations: list[tuple] = [()]
        for part in pattern.split("."):
            key = part.removesuffix("[]")
            deeper = []
            for loc in locations:
                node = _at(data, loc)
                if not isinstance(node, dict):
                    continue
                if key == "*":
                    deeper += [(*loc, name) for name in node]
                elif key in node:
                    deeper.append((*loc, key))
            if part.endswith("[]"):
                deeper = [(*loc, i) for loc in deeper if isinstance(_at(data, loc), list)
                          for i in range(len(_at(data, loc)))]
            locations = deeper
        found += [(loc, kind) for loc in locations]
    return found


def _key_order(loc: tuple) -> list[tuple]:
    """Sorts key paths as a reader looks them up: list items by number, mapping keys by name."""
    return [(0, key, "") if isinstance(key, int) else (1, 0, str(key)) for key in loc]


def _at(node: Any, loc: tuple) -> Any:
    """The value at key path ``loc`` in a parsed file or a model, None where there is none."""
    for key in loc:
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, (list, tuple)):
            node = node[key] if isinstance(key, int) and key < len(node) else None
        elif isinstance(node, msgspec.Struct):
            node = getattr(node, key, None)
        else:
            return None
    return node


def _translation_map_problems(data: dict[str, Any], positions: list[tuple[tuple, str]],
                              languages: tuple[str, ...]) -> list[str]:
    problems = []
    for loc, _ in positions:
        given = _at(data, loc)
        if not isinstance(given, dict):
            continue
        path = _key_path(loc, data)
        unknown = [code for code in given if code not in languages]
        if unknown:
            problems.append(f"{path}: {', '.join(repr(code) for code in unknown)} is not one of the site's languages; "
                            f"use one of {', '.join(languages)}, or add the language to 'languages'")
        if languages[0] not in given:
            problems.append(f"{path}: gives no text in {languages[0]!r}, the default language; add '{languages[0]}: ...', "
                            f"the text shown where a language has none")
        for code, text in given.items():
            if code in languages and not isinstance(text, str):
                problems.append(f"{_key_path((*loc, code), data)}: give the text in {code!r} as a string")
    return problems


def _read_in(data: dict[str, Any], positions: list[tuple[tuple, str]], language: str, default: str) -> dict[str, Any]:
    """``data`` with each translation map replaced by its text in ``language`` (or ``default``'s)."""
    tree = copy.deepcopy(data)
    for loc, _ in positions:
        given = _at(data, loc)
        if isinstance(given, dict):
            _at(tree, loc[:-1])[loc[-1]] = given.get(language, given[default])
    return tree


def _missing(data: dict[str, Any], positions: list[tuple[tuple, str]], languages: tuple[str, ...]) -> dict[str, list[str]]:
    missing: dict[str, list[str]] = {language: [] for language in languages[1:]}
    for loc, kind in sorted(positions, key=lambda position: _key_order(position[0])):
        given = _at(data, loc)
        for language in missing:
            if (isinstance(given, dict) and language not in given) or (kind == PROSE and isinstance(given, str) and given):
                missing[language].append(_key_path(loc, data))
    return missing


def _with_texts(node: Any, texts: dict[tuple, tuple[str, str]]) -> Any:
    """``node`` (a model, or a tuple or mapping of them) with each text at a key path of ``texts``
    replaced by its translation, where it still is the text that was translated."""
    if () in texts:
        original, translated = texts[()]
        return translated if node == original else node
    if not texts:
        return node
    below: dict[Any, dict[tuple, tuple[str, str]]] = {}
    for loc, pair in texts.items():
        below.setdefault(loc[0], {})[loc[1:]] = pair
    if isinstance(node, msgspec.Struct):
        return msgspec.structs.replace(node, **{key: _with_texts(getattr(node, key), inner)
                                                for key, inner in below.items()})
    if isinstance(node, tuple):
        return tuple(_with_texts(item, below.get(i, {})) for i, item in enumerate(node))
    if isinstance(node, dict):
        return {key: _with_texts(value, below.get(key, {})) for key, value in node.items()}
    return node


def _describe(problem: Problem, data: dict[str, Any], language: str | None = None) -> str:
    """One problem as 'key path: message and fix'; ``language`` names the reading it is in."""
    if not problem.loc:
        return problem.message if language is None else f"language {language!r}: {problem.message}"
    path = _key_path(problem.loc, data)
    if language is not None:
        path += f" (language {language!r})"
    return f"{path}: {problem.message}"


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
