"""Reading what people write into typed, frozen objects: ``site.yml``, the files beside it, and
the API's request bodies and queries.

The types are msgspec structs (``Strict``); ``read(cls, data)`` builds one from parsed YAML
or JSON, field by field, so a file or body with several mistakes is refused with all of them
at once, each as a ``Problem``: the key path and what to do about it. msgspec checks each
value against its type and constraints (``Annotated[int, Meta(ge=1)]``); what msgspec's
words would leave unclear (a pattern, a choice, a time) is said in Beacon's. Three more
things may stand in a field's ``Annotated``:

- ``Line`` / ``Paragraphs`` (``line(...)``, ``paragraphs(...)`` with constraints, and
  ``strip=True`` to trim): the text is cleaned by ``chalicelib.cleantext`` before it is
  checked, so lengths count what is kept;
- ``Check(function)``: a function of the typed value that returns it or raises ValueError;
- ``Meta(extra={"is_not": ..., "fix": ...})`` on a pattern: how a mismatch is described.

Values convert as people write them: a number or ``true`` given in quotes reads as the
number or the boolean, a whole float as an int (``strict=True`` refuses that, for JSON
bodies). Unknown keys are refused where the struct says ``forbid_unknown_fields``, and
ignored elsewhere. A field whose default is ``msgspec.UNSET`` stays unset when left out, so
an edit can tell a field left out from one given as null. A struct's ``__post_init__``
makes the checks across its fields (raising ValueError), and a classmethod
``refuse(data)`` may refuse the raw mapping before any field is read. A union of structs is
told apart by the one field every member gives as a ``Literal`` (a probe's ``kind``).
Building a struct in code checks nothing but ``__post_init__``. Pure: no I/O.
"""
from __future__ import annotations

import enum
import re
import types
import typing
from datetime import datetime
from typing import Annotated, Any, Literal, NamedTuple, Union

import msgspec
from msgspec import Meta

from chalicelib.cleantext import clean_line, clean_paragraphs


class Strict(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A frozen struct read from a file; subclasses repeat ``kw_only=True`` (msgspec applies it
    to the fields a class declares)."""


class Problem(NamedTuple):
    loc: tuple          # key path: names and list positions, () for the whole object
    message: str        # what is wrong and how to fix it, without the path


class Invalid(ValueError):
    """``data`` does not read as the type; ``problems`` lists every mistake found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(f"{'.'.join(map(str, p.loc)) or '(top)'}: {p.message}" for p in problems))


class Text:
    """Marks a text field and says how it is cleaned before it is checked (and trimmed, with ``strip``)."""

    def __init__(self, clean, strip: bool = False):
        self.clean = (lambda text: clean(text).strip()) if strip else clean


class Check:
    """A check of a field's typed value: ``function(value)`` returns it (or its normal form) or raises ValueError."""

    def __init__(self, function):
        self.function = function


LINE, PARAGRAPHS = Text(clean_line), Text(clean_paragraphs)
Line = Annotated[str, LINE]
Paragraphs = Annotated[str, PARAGRAPHS]


def line(*, strip: bool = False, **constraints) -> Any:
    """``Line`` with msgspec constraints (``line(min_length=1, max_length=200)``); ``strip`` trims it first."""
    return Annotated[str, Text(clean_line, strip) if strip else LINE, Meta(**constraints)]


def paragraphs(*, strip: bool = False, **constraints) -> Any:
    return Annotated[str, Text(clean_paragraphs, strip) if strip else PARAGRAPHS, Meta(**constraints)]


ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
# What names a thing other parts of the file refer to: a component, a group, a contact, a probe.
Id = Annotated[str, Meta(pattern=ID_PATTERN, extra={
    "is_not": "a valid id", "fix": "use lower-case letters, digits and dashes, e.g. 'facebook-page'"})]

UNKNOWN_KEY = "unknown key; remove it or check its spelling"
MISSING_KEY = "required key is missing; add it"

_BAD = object()  # what a value that did not read becomes; its problems are recorded


def read(cls: Any, data: Any, *, strict: bool = False) -> Any:
    """``data`` as ``cls`` (a struct, or any type a field may have); raises ``Invalid`` with every mistake.

    ``strict`` takes each value only as its own JSON type: no number or boolean in quotes.
    """
    reading = _Reading([], strict)
    value = _read(cls, data, (), reading)
    if reading.problems:
        raise Invalid(reading.problems)
    return value


class _Reading(NamedTuple):
    problems: list[Problem]
    strict: bool


class _Parts(NamedTuple):
    base: Any
    metas: tuple
    text: Text | None
    checks: tuple
    shape: str          # struct, union, items, mapping or leaf
    args: tuple


_parts_of: dict[Any, _Parts] = {}
_fields_of: dict[type, dict[str, tuple[str, Any, bool]]] = {}
_tags_of: dict[Any, tuple[str, dict[Any, type]]] = {}


def _parts(tp: Any) -> _Parts:
    parts = _parts_of.get(tp)
    if parts is None:
        base, extras = tp, ()
        if typing.get_origin(tp) is Annotated:
            base, *extras = typing.get_args(tp)
        origin, args = typing.get_origin(base), typing.get_args(base)
        if isinstance(base, type) and issubclass(base, msgspec.Struct):
            shape = "struct"
        elif origin in (Union, types.UnionType):
            shape = "union"
        elif (origin is tuple and args[1:] == (...,)) or origin is list:
            shape = "items"
        elif origin is dict:
            shape = "mapping"
        else:
            shape = "leaf"
        texts = [x for x in extras if isinstance(x, Text)]
        parts = _Parts(base, tuple(x for x in extras if isinstance(x, Meta)), texts[-1] if texts else None,
                       tuple(x.function for x in extras if isinstance(x, Check)), shape, args)
        _parts_of[tp] = parts
    return parts


def takes_items(tp: Any) -> bool:
    """Whether a field of type ``tp`` reads a list of values (a form gives every value such a field has)."""
    parts = _parts(tp)
    if parts.shape == "union":
        return any(takes_items(member) for member in parts.args if member is not type(None))
    return parts.shape == "items"


def _read(tp: Any, value: Any, loc: tuple, reading: _Reading) -> Any:
    base, metas, text, checks, shape, args = _parts(tp)
    if text is not None and isinstance(value, str):
        value = text.clean(value)
    if shape == "leaf":
        try:
            result = msgspec.convert(value, tp, strict=reading.strict)
        except msgspec.ValidationError as exc:
            result = _iso_8601(value) if base is datetime else None
            if result is None or (result.tzinfo is None and any(meta.tz for meta in metas)):
                reading.problems.append(Problem(loc, _explained(str(exc), base, metas, value)))
                return _BAD
    elif shape == "struct":
        result = _read_struct(base, value, loc, reading)
    elif shape == "union":
        result = _read_union(tp, base, args, value, loc, reading)
    elif shape == "items":
        result = _read_items(args[0], metas, value, loc, reading)
        if result is not _BAD and typing.get_origin(base) is list:
            result = list(result)
    else:
        result = _read_mapping(*args, metas, value, loc, reading)
    if result is _BAD:
        return _BAD
    for check in checks:
        try:
            result = check(result)
        except ValueError as exc:
            reading.problems.append(Problem(loc, str(exc)))
            return _BAD
    return result


def _fields(cls: type) -> dict[str, tuple[str, Any, bool]]:
    """A struct's fields by the key that gives them: (attribute, type, required)."""
    fields = _fields_of.get(cls)
    if fields is None:
        fields = {f.encode_name: (f.name, f.type, f.required) for f in msgspec.structs.fields(cls)}
        _fields_of[cls] = fields
    return fields


def _not_a_mapping(value: Any, loc: tuple, reading: _Reading) -> Any:
    reading.problems.append(Problem(loc, f"give a mapping of keys, not {_given(value)}"))
    return _BAD


def _read_struct(cls: type, value: Any, loc: tuple, reading: _Reading) -> Any:
    if not isinstance(value, dict):
        return _not_a_mapping(value, loc, reading)
    refuse = getattr(cls, "refuse", None)
    if refuse is not None:
        try:
            refuse(value)
        except ValueError as exc:
            reading.problems.append(Problem(loc, str(exc)))
            return _BAD
    fields = _fields(cls)
    found = len(reading.problems)
    if cls.__struct_config__.forbid_unknown_fields:
        reading.problems.extend(Problem((*loc, key), UNKNOWN_KEY) for key in value if key not in fields)
    given = {}
    for key, (name, tp, required) in fields.items():
        if key in value:
            field_value = _read(tp, value[key], (*loc, key), reading)
            if field_value is not _BAD:
                given[name] = field_value
        elif required:
            reading.problems.append(Problem((*loc, key), MISSING_KEY))
    if len(reading.problems) > found:
        return _BAD
    try:
        return cls(**given)
    except ValueError as exc:
        reading.problems.append(Problem(loc, str(exc)))
        return _BAD


def _read_union(tp: Any, base: Any, args: tuple, value: Any, loc: tuple, reading: _Reading) -> Any:
    members = [m for m in args if m is not type(None) and m is not msgspec.UnsetType]
    if value is None and type(None) in args:
        return None
    if len(members) == 1:
        return _read(members[0], value, loc, reading)
    if all(isinstance(m, type) and issubclass(m, msgspec.Struct) for m in members):
        tag, classes = _tags(base, members)
        if not isinstance(value, dict):
            return _not_a_mapping(value, loc, reading)
        if tag not in value:
            reading.problems.append(Problem((*loc, tag), MISSING_KEY))
            return _BAD
        if value[tag] not in classes:
            reading.problems.append(Problem((*loc, tag), f"{value[tag]!r} is not a {tag}; use one of {', '.join(classes)}"))
            return _BAD
        return _read_struct(classes[value[tag]], value, loc, reading)
    try:
        return msgspec.convert(value, tp, strict=reading.strict)
    except msgspec.ValidationError as exc:
        reading.problems.append(Problem(loc, _explained(str(exc), base, (), value)))
        return _BAD


def _tags(union: Any, members: list[type]) -> tuple[str, dict[Any, type]]:
    """The field every member of a union of structs gives as a Literal, and the member of each value."""
    found = _tags_of.get(union)
    if found is None:
        names = [{key for key, (_, tp, _) in _fields(m).items() if typing.get_origin(tp) is Literal} for m in members]
        tag = sorted(set.intersection(*names))[0]
        found = tag, {value: m for m in members for value in typing.get_args(_fields(m)[tag][1])}
        _tags_of[union] = found
    return found


def _read_items(item: Any, metas: tuple, value: Any, loc: tuple, reading: _Reading) -> Any:
    if not isinstance(value, (list, tuple)):
        reading.problems.append(Problem(loc, f"give a list, not {_given(value)}"))
        return _BAD
    items = [_read(item, v, (*loc, i), reading) for i, v in enumerate(value)]
    if not _counted(len(value), "item", metas, loc, reading) or _BAD in items:
        return _BAD
    return tuple(items)


def _read_mapping(key_type: Any, value_type: Any, metas: tuple, value: Any, loc: tuple,
                  reading: _Reading) -> Any:
    if not isinstance(value, dict):
        return _not_a_mapping(value, loc, reading)
    read = {_read(key_type, k, (*loc, k), reading): _read(value_type, v, (*loc, k), reading)
            for k, v in value.items()}
    if not _counted(len(value), "key", metas, loc, reading) or _BAD in read or _BAD in read.values():
        return _BAD
    return read


def _counted(count: int, noun: str, metas: tuple, loc: tuple, reading: _Reading) -> bool:
    """Whether a list's items or a mapping's keys are as many as ``metas`` allow; records why not."""
    for meta in metas:
        for limit, too_few in ((meta.min_length, True), (meta.max_length, False)):
            if limit is not None and (count < limit if too_few else count > limit):
                nouns = noun if limit == 1 else f"{noun}s"
                bound = "at least" if too_few else "at most"
                reading.problems.append(Problem(loc, f"give {bound} {limit} {nouns}, not {count}"))
                return False
    return True


_KINDS = {"str": "a text", "int": "a whole number", "float": "a number", "bool": "true or false",
          "array": "a list", "object": "a mapping of keys", "null": "nothing"}
_TYPE = re.compile(r"^Expected `([^`]+)`, got `(\w+)`")
_LENGTH = re.compile(r"^Expected `str` of length (<=|>=) (\d+)")
_BOUND = re.compile(r"^Expected `(?:int|float)` (<=|>=|<|>) (\S+)")
_BOUNDS = {"<=": "at most", ">=": "at least", "<": "less than", ">": "more than"}


def _kind(value: Any) -> str:
    name = {str: "str", bool: "bool", int: "int", float: "float", list: "array", tuple: "array",
            dict: "object", type(None): "null"}.get(type(value))
    return _KINDS.get(name, type(value).__name__)


def _given(value: Any) -> str:
    """A value as a reader of the file would name it: the value itself, or what kind of thing it is."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (str, int, float)):
        return repr(value)
    return _kind(value)


def _explained(message: str, base: Any, metas: tuple, value: Any) -> str:
    """msgspec's account of a value it refused, in Beacon's words where they say more."""
    message = message.split(" - at `", 1)[0]
    if m := _TYPE.match(message):
        wanted = [_KINDS.get(name, name) for name in m.group(1).split(" | ") if name != "null"]
        return f"give {' or '.join(wanted)}, not {_given(value)}"
    if m := _LENGTH.match(message):
        limit = int(m.group(2))
        if m.group(1) == ">=":
            return "must not be empty; write a text" if limit == 1 else f"needs at least {limit} characters"
        return f"has {len(value)} characters, at most {limit} fit; shorten it by {len(value) - limit}"
    if m := _BOUND.match(message):
        bound = m.group(2).removesuffix(".0")
        size = "large" if "<" in m.group(1) else "small"
        return f"{value!r} is too {size}; give a number {_BOUNDS[m.group(1)]} {bound}"
    if "matching regex" in message:
        meta = next(meta for meta in metas if meta.pattern)
        extra = meta.extra or {}
        return (f"{value!r} is not {extra.get('is_not', 'in the form this key takes')}; "
                f"{extra.get('fix', f'write it to match the pattern {meta.pattern}')}")
    if message == "Expected `datetime` with a timezone component":
        return "give a time zone, e.g. 2026-05-01T12:00:00Z"
    if message == "Invalid RFC3339 encoded datetime":
        if _iso_8601(value) is not None:  # a time all but its zone
            return "give a time zone, e.g. 2026-05-01T12:00:00Z"
        return f"{value!r} is not a time; use ISO-8601 with a zone, e.g. 2026-05-01T12:00:00Z"
    if message.startswith("Invalid enum value"):
        return f"{value!r} is not allowed here; use one of {', '.join(map(str, _choices(base)))}"
    return message


def _iso_8601(value: Any) -> datetime | None:
    """A time in an ISO 8601 form msgspec's RFC 3339 reader refuses (no seconds: 2026-05-01T12:00Z)."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _choices(base: Any) -> list[Any]:
    if typing.get_origin(base) is Literal:
        return list(typing.get_args(base))
    if isinstance(base, type) and issubclass(base, enum.Enum):
        return [member.value for member in base]
    if typing.get_origin(base) in (Union, types.UnionType):
        return [c for member in typing.get_args(base) for c in _choices(member)]
    return []
