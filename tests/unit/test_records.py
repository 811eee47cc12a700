"""Stored records: the JSON form they are kept in, and loading it back checked."""
from datetime import datetime, timezone

import msgspec
import pytest

from chalicelib.model import (ComponentChange, ComponentStatus, Impact, Incident, IncidentKind, IncidentUpdate,
                              Translation)
from chalicelib.notify.model import Channel, Subscriber
from chalicelib.translations import incident_in

NOON = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


def outage() -> Incident:
    update = IncidentUpdate(id="u1", status="investigating", body="Looking into it.", created_at=NOON,
                            updated_at=NOON, display_at=NOON, deliver_notifications=True,
                            affected_components=[ComponentChange(component_id="facebook",
                                                                 new_status=ComponentStatus.MAJOR_OUTAGE)])
    return Incident(id="i1", name="Facebook is down", status="investigating", impact=Impact.MAJOR, created_at=NOON,
                    updated_at=NOON, started_at=NOON, components={"facebook": ComponentStatus.MAJOR_OUTAGE},
                    updates=[update], translations={"de": Translation(title="Facebook ist gestört")}, version=3)


def test_a_record_is_kept_in_the_json_form_earlier_releases_wrote_and_read():
    # GIVEN an incident with an update, statuses, times and a translation  WHEN it is put in its JSON form
    kept = outage().as_json(exclude={"version"})
    # THEN enums are their values, times ISO 8601 in UTC with a Z, nested records the same, every field named
    assert kept["impact"] == "major" and kept["kind"] == "incident" and kept["created_at"] == "2026-05-01T12:00:00Z"
    assert kept["components"] == {"facebook": "major_outage"} and kept["resolved_at"] is None
    assert kept["updates"][0]["affected_components"] == [
        {"component_id": "facebook", "old_status": None, "new_status": "major_outage"}]
    assert kept["translations"] == {"de": {"title": "Facebook ist gestört", "body": None, "email_subject": None,
                                           "email_text": None, "sms_text": None}}
    assert "version" not in kept and type(kept["impact"]) is str
    # AND it reads back as the same record, typed
    back = Incident.from_data({**kept, "version": 3})
    assert back == outage() and back.kind is IncidentKind.INCIDENT
    assert back.updates[0].affected_components[0].new_status is ComponentStatus.MAJOR_OUTAGE


def test_a_mark_made_while_reading_is_never_in_the_json_form_at_any_depth():
    # GIVEN the incident read in a language nobody wrote its update in
    german = incident_in(outage(), "de", "en")
    assert german.updates[0].untranslated
    # WHEN it is put in its JSON form  THEN neither it nor its update carries the mark
    kept = german.as_json()
    assert "untranslated" not in kept and "untranslated" not in kept["updates"][0]
    assert kept["name"] == "Facebook ist gestört"


@pytest.mark.parametrize("change, named", [
    ({"colour": "red"}, "unknown field `colour`"),
    ({"impact": "huge"}, "`$.impact`"),
    ({"created_at": "yesterday"}, "`$.created_at`"),
    ({"updates": [{"id": "u1"}]}, "`$.updates[0]`"),
])
def test_a_stored_record_that_does_not_fit_is_refused_naming_the_field(change, named):
    # GIVEN an incident's JSON form with one field wrong  WHEN it is loaded  THEN it is refused, naming the field
    with pytest.raises(msgspec.ValidationError, match=named.replace("[", r"\[").replace("$", r"\$")):
        Incident.from_data({**outage().as_json(), **change})


def test_a_changed_copy_leaves_the_original_as_it_was():
    subscriber = Subscriber(id="s1", channel=Channel.EMAIL, destination="ana@example.com", created_at=NOON,
                            updated_at=NOON, manage_token="t", components=["facebook"])
    changed = subscriber.replace(components=[], label="Ana")
    assert (changed.components, changed.label) == ([], "Ana")
    assert (subscriber.components, subscriber.label) == (["facebook"], None)
