"""Reading parsed files into structs: every mistake at once, in Beacon's words, texts cleaned first."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal, Union

import msgspec
import pytest
from msgspec import Meta

from chalicelib.model import ComponentStatus
from chalicelib.schema import Check, Id, Invalid, Problem, Strict, line, paragraphs, read


def _even(value: int) -> int:
    if value % 2:
        raise ValueError(f"{value} is odd; give an even number")
    return value


class Cat(Strict, kw_only=True):
    kind: Literal["cat"]
    lives: Annotated[int, Meta(ge=1, le=9)] = 9


class Dog(Strict, kw_only=True):
    kind: Literal["dog"]
    tricks: tuple[str, ...] = ()

    @classmethod
    def refuse(cls, data: dict[str, Any]) -> None:
        if "password" in data:
            raise ValueError("password: a dog keeps no secrets here; remove it")


class Range(Strict, kw_only=True):
    low: int = 0
    high: int = 10

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError(f"low {self.low} is above high {self.high}; swap them")


class Shelter(Strict, kw_only=True):
    id: Id
    name: line(min_length=1, max_length=5)
    notes: paragraphs(max_length=20) = ""
    pens: Annotated[int, Check(_even)] = 2
    status: ComponentStatus = ComponentStatus.OPERATIONAL
    pets: Annotated[tuple[Union[Cat, Dog], ...], Meta(max_length=3)] = ()
    hours: Range = Range()
    holidays: Range | None = None
    web: Annotated[str, Meta(pattern=r"^https://")] | None = None
    feed: dict[str, float] = msgspec.field(default_factory=dict)
    json_doc: str | None = msgspec.field(default=None, name="json")


def problems(data: dict[str, Any]) -> list[Problem]:
    with pytest.raises(Invalid) as caught:
        read(Shelter, data)
    return caught.value.problems


def test_a_good_mapping_reads_typed_with_its_defaults():
    # GIVEN a mapping as YAML gives it  WHEN it is read  THEN every value is typed and the rest defaulted
    shelter = read(Shelter, {"id": "north", "name": "North", "status": "major_outage", "json": "{}", "pens": "4",
                             "pets": [{"kind": "cat", "lives": 3}, {"kind": "dog", "tricks": ["sit"]}],
                             "feed": {"cat": 1}, "web": None, "holidays": {"low": 1}})
    # (a number given in quotes reads as the number, as YAML writers expect)
    assert shelter == Shelter(id="north", name="North", status=ComponentStatus.MAJOR_OUTAGE, json_doc="{}", pens=4,
                              pets=(Cat(kind="cat", lives=3), Dog(kind="dog", tricks=("sit",))), feed={"cat": 1.0},
                              holidays=Range(low=1))


def test_every_mistake_is_reported_at_once_each_at_its_key_path():
    # GIVEN seven mistakes at four depths  WHEN the mapping is read  THEN each is named, in the file's order
    assert problems({"id": "North Pen", "name": "", "pens": "two", "colour": "red",
                     "pets": [{"kind": "cat", "lives": 12}, {"kind": "dog", "tricks": "sit"}],
                     "hours": {"low": 1.5}}) == [
        Problem(("colour",), "unknown key; remove it or check its spelling"),
        Problem(("id",), "'North Pen' is not a valid id; use lower-case letters, digits and dashes, "
                         "e.g. 'facebook-page'"),
        Problem(("name",), "must not be empty; write a text"),
        Problem(("pens",), "give a whole number, not 'two'"),
        Problem(("pets", 0, "lives"), "12 is too large; give a number at most 9"),
        Problem(("pets", 1, "tricks"), "give a list, not 'sit'"),
        Problem(("hours", "low"), "give a whole number, not 1.5"),
    ]


def test_a_missing_key_and_a_wrong_choice_are_named():
    assert problems({"status": "broken"}) == [
        Problem(("id",), "required key is missing; add it"),
        Problem(("name",), "required key is missing; add it"),
        Problem(("status",), "'broken' is not allowed here; use one of operational, degraded_performance, "
                             "partial_outage, major_outage, under_maintenance"),
    ]


def test_texts_are_cleaned_before_their_length_is_counted():
    # GIVEN a name with a bidi override and a NUL, and notes pasted with a line separator
    shelter = read(Shelter, {"id": "n", "name": "No\u202erth\u0000", "notes": "a\u2028b"})
    # THEN what is invisible is dropped before the five characters are counted
    assert (shelter.name, shelter.notes) == ("North", "a\nb")
    assert problems({"id": "n", "name": "Northern"}) == [
        Problem(("name",), "has 8 characters, at most 5 fit; shorten it by 3")]


def test_a_check_speaks_for_its_field():
    # GIVEN a value its type takes but its check refuses  THEN the check's words stand at the field
    assert problems({"id": "n", "name": "N", "pens": 3}) == [Problem(("pens",), "3 is odd; give an even number")]


def test_members_of_a_union_are_told_apart_by_their_literal_field():
    # GIVEN pets of an unknown kind, of no kind and not a mapping  THEN each says what the union takes
    assert problems({"id": "n", "name": "N", "pets": [{"kind": "cow"}, {"lives": 1}, "cat"]}) == [
        Problem(("pets", 0, "kind"), "'cow' is not a kind; use one of cat, dog"),
        Problem(("pets", 1, "kind"), "required key is missing; add it"),
        Problem(("pets", 2), "give a mapping of keys, not 'cat'"),
    ]


def test_a_struct_may_refuse_the_raw_mapping_before_its_fields_are_read():
    # GIVEN a key the struct refuses outright  THEN that is the one problem, not its wrong fields too
    assert problems({"id": "n", "name": "N", "pets": [{"kind": "dog", "password": 1, "tricks": 5}]}) == [
        Problem(("pets", 0), "password: a dog keeps no secrets here; remove it")]


def test_checks_across_fields_run_once_the_fields_read_and_name_the_struct():
    # GIVEN ranges whose fields read but do not agree, one of them optional  THEN each struct is named
    assert problems({"id": "n", "name": "N", "hours": {"low": 12, "high": 8}, "holidays": {"low": 11}}) == [
        Problem(("hours",), "low 12 is above high 8; swap them"),
        Problem(("holidays",), "low 11 is above high 10; swap them")]
    # a struct whose fields are wrong is not checked across them
    assert problems({"id": "n", "name": "N", "hours": {"low": 12, "high": "eight"}}) == [
        Problem(("hours", "high"), "give a whole number, not 'eight'")]


def test_list_lengths_patterns_without_words_and_mapping_values_are_explained():
    assert problems({"id": "n", "name": "N", "pets": [{"kind": "cat"}] * 4, "web": "http://x",
                     "feed": {"cat": "lots"}}) == [
        Problem(("pets",), "give at most 3 items, not 4"),
        Problem(("web",), "'http://x' is not in the form this key takes; write it to match the pattern ^https://"),
        Problem(("feed", "cat"), "give a number, not 'lots'"),
    ]


def test_invalid_says_every_problem_with_its_path():
    with pytest.raises(Invalid, match=r"^id: required key is missing; add it; name: required key"):
        read(Shelter, {})
    with pytest.raises(Invalid, match=r"^\(top\): give a mapping of keys, not a list"):
        read(Shelter, [])


class Notice(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A body a client sends over the API: JSON types only, some fields only when given."""

    title: line(strip=True, min_length=1, max_length=20)
    pages: Annotated[list[int], Meta(min_length=1)] = msgspec.field(default_factory=lambda: [1])
    ends_at: Annotated[datetime, Meta(tz=True)] | None | msgspec.UnsetType = msgspec.UNSET
    subtitle: line(strip=True, max_length=5) | msgspec.UnsetType = msgspec.UNSET
    urgent: bool = False


class Link(msgspec.Struct, kw_only=True):
    """Query parameters a link carries: any others are ignored, as a link gains some on its way."""

    token: str = ""


def test_strict_takes_values_only_as_their_own_json_type():
    given = {"title": "Closed", "pages": ["2"], "urgent": "true"}
    # GIVEN numbers and booleans in quotes  WHEN read strictly (a JSON body)  THEN each is refused by name
    with pytest.raises(Invalid) as caught:
        read(Notice, given, strict=True)
    assert caught.value.problems == [Problem(("pages", 0), "give a whole number, not '2'"),
                                     Problem(("urgent",), "give true or false, not 'true'")]
    # WHEN read as people type (a form)  THEN they convert, and a list field reads as a list
    assert read(Notice, given) == Notice(title="Closed", pages=[2], urgent=True)


def test_a_field_left_out_stays_unset_and_null_is_a_value():
    # GIVEN a body without ends_at, and one with ends_at null and a subtitle
    left_out = read(Notice, {"title": " Closed "}, strict=True)
    cleared = read(Notice, {"title": "Closed", "ends_at": None, "subtitle": " Sun\u0000 "}, strict=True)
    # THEN the first leaves them unset, the second gives None; given texts are trimmed and cleaned
    assert left_out.ends_at is msgspec.UNSET and left_out.subtitle is msgspec.UNSET and left_out.title == "Closed"
    assert cleared.ends_at is None and cleared.subtitle == "Sun"


def test_times_need_a_zone_and_iso_8601():
    with pytest.raises(Invalid) as caught:
        read(Notice, {"title": "   ", "ends_at": "2026-12-24T09:00:00"}, strict=True)
    assert caught.value.problems == [Problem(("title",), "must not be empty; write a text"),
                                     Problem(("ends_at",), "give a time zone, e.g. 2026-05-01T12:00:00Z")]
    with pytest.raises(Invalid, match="'Christmas' is not a time; use ISO-8601 with a zone"):
        read(Notice, {"title": "Closed", "ends_at": "Christmas"}, strict=True)
    # a time without seconds is ISO 8601 too, though not RFC 3339: it reads, and needs its zone as well
    assert read(Notice, {"title": "Closed", "ends_at": "2026-12-24T09:00Z"}, strict=True).ends_at == datetime(
        2026, 12, 24, 9, 0, tzinfo=timezone.utc)
    with pytest.raises(Invalid, match="ends_at: give a time zone"):
        read(Notice, {"title": "Closed", "ends_at": "2026-12-24T09:00"}, strict=True)


def test_unknown_keys_are_refused_only_where_the_struct_forbids_them():
    assert read(Link, {"token": "abc", "utm_source": "mail"}) == Link(token="abc")
    with pytest.raises(Invalid, match="colour: unknown key"):
        read(Notice, {"title": "Closed", "colour": "red"})
