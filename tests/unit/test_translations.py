"""Records read in another language: what was translated shows, what was not is the original, marked."""
from datetime import datetime, timezone

from chalicelib.model import (Incident, IncidentUpdate, Notice, NotificationEvent, NotificationKind, Translation)
from chalicelib.translations import event_in, given, incident_in, notice_in

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


def _update(update_id: str, body: str, **translations: str) -> IncidentUpdate:
    return IncidentUpdate(id=update_id, status="investigating", body=body, created_at=NOW, updated_at=NOW,
                          display_at=NOW, translations={k: Translation(body=v) for k, v in translations.items()})


def _incident(*updates: IncidentUpdate, **titles: str) -> Incident:
    return Incident(id="i1", name="Facebook is down", status="investigating", created_at=NOW, updated_at=NOW,
                    updates=list(updates), translations={k: Translation(title=v) for k, v in titles.items()})


def test_an_incident_reads_in_each_language_with_the_original_where_nothing_was_given():
    incident = _incident(_update("u1", "We are looking into it.", de="Wir sehen uns das an."),
                         _update("u2", "Messages wait in a queue."), de="Facebook ist gestört")

    german = incident_in(incident, "de", "en")

    assert german.name == "Facebook ist gestört" and not german.untranslated
    assert [(u.body, u.untranslated) for u in german.updates] == [
        ("Wir sehen uns das an.", False), ("Messages wait in a queue.", True)]
    assert incident_in(incident, "en", "en") is incident
    # A language nobody wrote in reads the original throughout, each text marked.
    french = incident_in(incident, "fr", "en")
    assert french.name == "Facebook is down" and french.untranslated
    assert all(u.untranslated for u in french.updates)


def test_the_mark_is_never_stored():
    german = incident_in(_incident(_update("u1", "Looking into it.")), "de", "en")

    dumped = german.as_json()
    assert "untranslated" not in dumped and "untranslated" not in dumped["updates"][0]
    assert german.updates[0].untranslated


def test_a_notification_reads_its_prepared_texts_in_the_language_given():
    event = NotificationEvent(
        id="n1", kind=NotificationKind.INCIDENT_OPENED, created_at=NOW, title="Facebook is down",
        body="Write to us by email.", sms_text="Lumen: Facebook is down.",
        translations=given({"de": {"title": "Facebook ist gestört", "body": "Schreiben Sie uns eine E-Mail.",
                                   "sms_text": "Lumen: Facebook ist gestört.", "email_text": ""}}))

    german = event_in(event, "de", "en")

    assert (german.title, german.body, german.sms_text, german.untranslated) == (
        "Facebook ist gestört", "Schreiben Sie uns eine E-Mail.", "Lumen: Facebook ist gestört.", False)
    assert event.translations["de"].email_text is None  # an empty text is no translation
    assert event_in(event, "fr", "en").untranslated
    assert event_in(event, "fr", "en").sms_text == "Lumen: Facebook is down."


def test_a_translated_title_alone_leaves_the_message_untranslated():
    event = NotificationEvent(id="n1", kind=NotificationKind.INCIDENT_UPDATED, created_at=NOW, title="Facebook is down",
                              body="Still down.", translations={"de": Translation(title="Facebook ist gestört")})

    german = event_in(event, "de", "en")

    assert german.title == "Facebook ist gestört" and german.body == "Still down." and german.untranslated


def test_a_notice_with_nothing_in_a_language_is_marked():
    notice = Notice(id="x", title="New opening hours", body="From Monday we open at 8.", created_at=NOW,
                    updated_at=NOW, translations={"de": Translation(title="Neue Öffnungszeiten")})

    german = notice_in(notice, "de", "en")
    assert (german.title, german.body, german.untranslated) == (
        "Neue Öffnungszeiten", "From Monday we open at 8.", True)
    assert notice_in(notice, "fr", "en").untranslated
    assert given({"de": {"title": "", "body": None}}) == {}
