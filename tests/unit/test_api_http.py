"""Request parsing and error shapes of the API: no network."""
import pytest
from pydantic import ValidationError

from chalicelib.api.auth import digest, new_secret
from chalicelib.api.http import BadRequest, field_errors, if_match_version
from chalicelib.api.models import CreateIncident, ScheduleMaintenance


class Request:
    def __init__(self, headers=None):
        self.headers = headers or {}


@pytest.mark.parametrize("header, version", [('"3"', 3), ("3", 3), ('W/"12"', 12)])
def test_if_match_carries_the_version_read(header, version):
    assert if_match_version(Request({"if-match": header})) == version


def test_a_malformed_if_match_says_what_to_send():
    with pytest.raises(BadRequest, match='send the ETag, e.g. If-Match: "3"'):
        if_match_version(Request({"if-match": "yesterday"}))
    assert if_match_version(Request()) is None


def test_each_bad_field_is_named_with_its_reason():
    with pytest.raises(ValidationError) as caught:
        ScheduleMaintenance.model_validate_json(
            '{"name": "Upgrade", "scheduled_for": "2026-05-01T22:00:00", "scheduled_until": "tomorrow",'
            ' "components": [], "notify": "yes"}')
    problems = {f["field"]: f["problem"] for f in field_errors(caught.value)}
    assert problems["scheduled_for"] == "give a time zone, e.g. 2026-05-01T12:00:00Z"
    assert problems["scheduled_until"].endswith("use ISO-8601 with a zone, e.g. 2026-05-01T12:00:00Z")
    assert "at least 1 item" in problems["components"]
    assert problems["notify"] == "Input should be a valid boolean"


def test_titles_are_trimmed_and_may_not_be_blank():
    with pytest.raises(ValidationError):
        CreateIncident.model_validate_json('{"name": "   ", "body": "b"}')
    assert CreateIncident.model_validate_json('{"name": " X down ", "body": "b"}').name == "X down"


def test_keys_are_long_random_and_stored_as_sha256():
    first, second = new_secret(), new_secret()
    assert first != second and len(first) == 3 + 43
    assert len(digest(first)) == 64 and digest(first) != first
