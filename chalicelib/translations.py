"""Records read in a reader's language: incidents, notices and notifications as each language sees them.

A marketer writes in the site's default language and may add a text per other language
(``model.Translation``). Read in another language, a record shows the texts given for it;
where none was given it shows the original and is marked ``untranslated``, so the page,
the email and the SMS can say, in the reader's language, that no translation was given.
Nothing is ever machine-translated. Pure: records in, copies out.
"""
from __future__ import annotations

from chalicelib.model import Incident, IncidentUpdate, Notice, NotificationEvent, Translation

_EVENT_TEXTS = ("title", "body", "email_subject", "email_text", "sms_text")
_MESSAGE_TEXTS = ("body", "email_text", "sms_text")


def incident_in(incident: Incident, language: str, default: str) -> Incident:
    """The incident (or maintenance) in ``language``: its name and each update's body where given."""
    if language == default:
        return incident
    given = incident.translations.get(language)
    updates = [_update_in(update, language) for update in incident.updates]
    change: dict = {"updates": updates, "untranslated": not (given and given.title)}
    if given and given.title:
        change["name"] = given.title
    if incident.postmortem and given and given.body:
        change["postmortem"] = given.body
    return incident.replace(**change)


def _update_in(update: IncidentUpdate, language: str) -> IncidentUpdate:
    given = update.translations.get(language)
    if given and given.body:
        return update.replace(body=given.body)
    # An empty body has nothing to translate.
    return update.replace(untranslated=bool(update.body))


def notice_in(notice: Notice, language: str, default: str) -> Notice:
    """A notice in ``language``; ``untranslated`` when its message (its body, else its title) was not given."""
    if language == default:
        return notice
    given = notice.translations.get(language) or Translation()
    missing = not given.body if notice.body else not given.title
    return notice.replace(title=given.title or notice.title, body=given.body or notice.body, untranslated=missing)


def event_in(event: NotificationEvent, language: str, default: str) -> NotificationEvent:
    """A notification in ``language``: each prepared text given in it replaces the original.

    It is ``untranslated`` when it has a message (body, email or SMS text) and none was given in
    ``language``; a title alone (an incident's translated name) does not make a message.
    """
    if language == default:
        return event
    given = event.translations.get(language) or Translation()
    change = {name: getattr(given, name) for name in _EVENT_TEXTS if getattr(given, name)}
    has_message = any(getattr(event, name) for name in _MESSAGE_TEXTS)
    change["untranslated"] = has_message and not any(getattr(given, name) for name in _MESSAGE_TEXTS)
    return event.replace(**change)


def given(texts: dict[str, dict[str, str | None]] | None) -> dict[str, Translation]:
    """``{language: {field: text}}`` from a request or a playbook, as stored: empty texts and languages dropped."""
    kept = {}
    for language, fields in (texts or {}).items():
        present = {name: value for name, value in fields.items() if value}
        if present:
            kept[language] = Translation(**present)
    return kept
