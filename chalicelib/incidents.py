"""Incidents: open, update, resolve, rename, postmortem, playbooks; the page's story of an outage.

Every change goes the same way:

1. read the incident (``NotFound`` for an unknown id) and check the caller's ``version``
   (``Conflict`` when someone changed it since the caller read it);
2. build the new record: a new update with the components it changed (old and new status),
   timestamps of the lifecycle (``monitoring_at``, ``resolved_at``);
3. save it conditionally on the version it was read at (``Conflict`` again if another
   writer got there in between: no lost update);
4. record an audit entry with the actor (an API key's name, ``probe`` or ``schedule``);
5. when ``notify`` was asked, record one notification event (``record_notification``).

The service does not publish the page: callers call ``publish_site()`` after a change.
A playbook opens its incident in one call and updates that incident while it is open.
Maintenance is an incident of kind ``maintenance`` with its own service
(``chalicelib.maintenance``); it shares this module's updates and their limit.

An incident keeps at most ``MAX_UPDATES`` updates (each at most 10,000 characters), so its
size is bounded however long the outage: past that, a new update is refused (422) with
the way out. The update that closes an open incident or maintenance is always accepted,
as are the two a maintenance window posts by itself.
"""
from __future__ import annotations

import logging
from datetime import datetime

from chalicelib.model import (
    ComponentChange,
    ComponentStatus,
    Impact,
    Incident,
    IncidentKind,
    IncidentStatus,
    IncidentUpdate,
    NotificationKind,
    Translation,
    new_id,
)
from chalicelib.playbooks import Playbook
from chalicelib.store.incidents import page_of
from chalicelib.translations import given
from chalicelib.writes import NotFound, Writes, check_version, rereads_on_conflict

log = logging.getLogger("beacon.incidents")

MAX_UPDATES = 100


class IncidentService(Writes):
    # -- incidents -------------------------------------------------------------------------

    def open_incident(self, *, name: str, body: str, impact: Impact, components: dict[str, ComponentStatus],
                      notify: bool, actor: str, status: IncidentStatus = IncidentStatus.INVESTIGATING,
                      cause: str | None = None, playbook_id: str | None = None,
                      translations: dict[str, Translation] | None = None) -> Incident:
        """``translations``: the name (``title``) and body in the site's other languages."""
        return self._open(name=name, body=body, impact=impact, components=components, notify=notify, actor=actor,
                          status=status, cause=cause, playbook_id=playbook_id, translations=translations)

    def _open(self, *, name, body, impact, components, notify, actor, status, cause=None, playbook_id=None,
              texts=None, contacts_first=(), translations=None) -> Incident:
        translations = translations or {}
        self.check_languages(translations)
        self.check_components(components)
        if not name.strip():
            raise ValueError("name: must not be empty; give the incident a title customers understand")
        now = self.clock()
        status = IncidentStatus(status)
        update = new_update(now, status.value, body, notify, self._changes(components), translations)
        incident = Incident(
            id=new_id(now), kind=IncidentKind.INCIDENT, name=name, status=status.value, impact=impact,
            created_at=now, updated_at=now, started_at=now,
            monitoring_at=now if status is IncidentStatus.MONITORING else None,
            resolved_at=now if status is IncidentStatus.RESOLVED else None,
            components=dict(components), updates=[update], playbook_id=playbook_id, cause=cause,
            translations=_titles(translations),
        )
        saved = self.states.save_incident(incident)
        log.info("incident opened: %s (%s)", name, f"playbook {playbook_id}" if playbook_id else f"by {actor}")
        self.audit(actor, "incident.open", f"incident/{saved.id}",
                   f"{name!r} {status.value}, impact {Impact(impact).value}{components_summary(components)}")
        if notify:
            self.notify(NotificationKind.INCIDENT_OPENED, title=name, body=body, component_ids=list(components),
                        incident_id=saved.id, update_id=update.id, texts=texts, contacts_first=contacts_first,
                        translations=translations)
        return saved

    def post_update(self, incident_id: str, *, status: IncidentStatus, body: str, notify: bool, actor: str,
                    components: dict[str, ComponentStatus] | None = None, version: int | None = None,
                    translations: dict[str, Translation] | None = None) -> Incident:
        """``translations``: the body in the site's other languages."""
        return self._post_update(incident_id, status=status, body=body, notify=notify, actor=actor,
                                 components=components, version=version, translations=translations)

    @rereads_on_conflict
    def _post_update(self, incident_id, *, status, body, notify, actor, components=None, version=None,
                     texts=None, contacts_first=(), name: str | None = None, impact: Impact | None = None,
                     translations=None) -> Incident:
        translations = translations or {}
        self.check_languages(translations)
        incident = self.incident(incident_id)
        if incident.kind is IncidentKind.MAINTENANCE:
            raise ValueError(f"incident {incident_id!r} is a maintenance; post its updates to /maintenance/{incident_id}")
        check_version(incident, version, "incident")
        status = IncidentStatus(status)
        if status is IncidentStatus.POSTMORTEM:
            raise ValueError("status: 'postmortem' is set by adding a postmortem; use resolved, then add the postmortem")
        check_room_for_update(incident, closing=status is IncidentStatus.RESOLVED)
        components = components or {}
        self.check_components(components)
        now = self.clock()
        update = new_update(now, status.value, body, notify, self._changes(components), translations)
        change = {
            "status": status.value, "updated_at": now, "components": {**incident.components, **components},
            "updates": [*incident.updates, update],
        }
        if name is not None:
            change["name"] = name
            change["translations"] = {**incident.translations, **_titles(translations)}
        if impact is not None:
            change["impact"] = impact
        if status is IncidentStatus.MONITORING and incident.monitoring_at is None:
            change["monitoring_at"] = now
        change["resolved_at"] = now if status is IncidentStatus.RESOLVED else None
        saved = self.states.save_incident(incident.replace(**change))
        resolving = status is IncidentStatus.RESOLVED
        log.info("incident %s: %s (%s)", "resolved" if resolving else "updated", saved.name, status.value
                 if incident.status == status.value else f"{incident.status} → {status.value}")
        self.audit(actor, "incident.resolve" if resolving else "incident.update", f"incident/{incident_id}",
                   f"{incident.status} -> {status.value}{components_summary(components)}")
        if notify:
            self.notify(NotificationKind.INCIDENT_RESOLVED if resolving else NotificationKind.INCIDENT_UPDATED,
                        title=saved.name, body=body, component_ids=list(saved.components), incident_id=incident_id,
                        update_id=update.id, texts=texts, contacts_first=contacts_first,
                        translations=_event_texts(saved, translations))
        return saved

    def resolve_incident(self, incident_id: str, *, body: str, notify: bool, actor: str,
                         version: int | None = None, translations: dict[str, Translation] | None = None) -> Incident:
        return self._post_update(incident_id, status=IncidentStatus.RESOLVED, body=body, notify=notify,
                                 actor=actor, version=version, translations=translations)

    @rereads_on_conflict
    def edit_update(self, incident_id: str, update_id: str, *, body: str, actor: str,
                    version: int | None = None) -> Incident:
        """Correct the text of a posted update (a typo, a wrong time); notifies no one."""
        incident = self.incident(incident_id)
        check_version(incident, version, "incident")
        now = self.clock()
        updates = list(incident.updates)
        for index, update in enumerate(updates):
            if update.id == update_id:
                updates[index] = update.replace(body=body, updated_at=now)
                break
        else:
            raise NotFound("update", f"{incident_id}/{update_id}")
        saved = self.states.save_incident(incident.replace(updates=updates, updated_at=now))
        self.audit(actor, "incident.edit_update", f"incident/{incident_id}/updates/{update_id}",
                   f"text edited ({len(body)} characters)")
        return saved

    @rereads_on_conflict
    def rename_incident(self, incident_id: str, *, name: str, actor: str, version: int | None = None) -> Incident:
        """Correct an incident's name (a typo, a pasted character), open or closed; notifies no one."""
        incident = self.incident(incident_id)
        if incident.kind is not IncidentKind.INCIDENT:
            raise NotFound("incident", incident_id)  # a maintenance is renamed with update_maintenance
        check_version(incident, version, "incident")
        saved = self.states.save_incident(incident.replace(name=name, updated_at=self.clock()))
        self.audit(actor, "incident.rename", f"incident/{incident_id}", f"{incident.name!r} -> {name!r}")
        return saved

    @rereads_on_conflict
    def add_postmortem(self, incident_id: str, *, body: str, actor: str, version: int | None = None) -> Incident:
        incident = self.incident(incident_id)
        check_version(incident, version, "incident")
        if incident.kind is not IncidentKind.INCIDENT or incident.status not in (
                IncidentStatus.RESOLVED.value, IncidentStatus.POSTMORTEM.value):
            raise ValueError(f"incident {incident_id!r} is {incident.status}; resolve it before adding a postmortem")
        saved = self.states.save_incident(incident.replace(postmortem=body, status=IncidentStatus.POSTMORTEM.value,
                                                           updated_at=self.clock()))
        self.audit(actor, "incident.postmortem", f"incident/{incident_id}", f"postmortem ({len(body)} characters)")
        return saved

    def incident(self, incident_id: str) -> Incident:
        incident = self.records.incident(incident_id)
        if incident is None:
            raise NotFound("incident", incident_id)
        return incident

    def list_incidents(self, *, kind: IncidentKind = IncidentKind.INCIDENT, statuses: set[str] | None = None,
                       limit: int = 25, cursor: str | None = None) -> tuple[list[Incident], str | None]:
        return page_of(self.states.incidents(), limit=limit, cursor=cursor,
                       keep=lambda i: i.kind is kind and (not statuses or i.status in statuses))

    def open_incident_for(self, component_id: str) -> Incident | None:
        candidates = [i for i in self.states.open_incidents()
                      if i.kind is IncidentKind.INCIDENT and component_id in i.components]
        return max(candidates, key=lambda i: i.id, default=None)

    # -- playbooks -------------------------------------------------------------------------

    def playbook(self, playbook_id: str) -> Playbook:
        try:
            return self.site.playbook(playbook_id)
        except KeyError:
            raise NotFound("playbook", playbook_id) from None

    def open_incident_of_playbook(self, playbook_id: str) -> Incident | None:
        candidates = [i for i in self.states.open_incidents() if i.playbook_id == playbook_id]
        return max(candidates, key=lambda i: i.id, default=None)

    def trigger_playbook(self, playbook_id: str, *, variables: dict[str, str], actor: str,
                         cause: str | None = None) -> Incident:
        playbook = self.playbook(playbook_id)
        texts = playbook.rendered(variables)
        notification_texts = {k: texts[k] for k in ("email_subject", "email_text", "sms_text")}
        translations = self.playbook_translations(playbook_id, variables, "")
        current = self.open_incident_of_playbook(playbook_id)
        if current is not None:
            return self._post_update(
                current.id, status=IncidentStatus(current.status), body=texts["body"], notify=playbook.notify,
                actor=actor, components=dict(playbook.components), texts=notification_texts,
                contacts_first=playbook.contacts_first, name=texts["name"], translations=translations)
        return self._open(
            name=texts["name"], body=texts["body"], impact=playbook.impact, components=dict(playbook.components),
            notify=playbook.notify, actor=actor, status=playbook.status, cause=cause, playbook_id=playbook.id,
            texts=notification_texts, contacts_first=playbook.contacts_first, translations=translations)

    def resolve_playbook(self, playbook_id: str, *, actor: str) -> Incident | None:
        playbook = self.playbook(playbook_id)
        current = self.open_incident_of_playbook(playbook_id)
        if current is None:
            return None
        texts = playbook.rendered({})
        return self._post_update(
            current.id, status=IncidentStatus.RESOLVED, body=texts["resolve.body"], notify=playbook.notify,
            actor=actor, texts={"email_subject": texts["resolve.email_subject"],
                                "email_text": texts["resolve.email_text"], "sms_text": texts["resolve.sms_text"]},
            contacts_first=playbook.contacts_first,
            translations=self.playbook_translations(playbook_id, {}, "resolve."))

    def playbook_translations(self, playbook_id: str, variables: dict[str, str], part: str) -> dict[str, Translation]:
        """The playbook's texts in each other language site.yml gives them in (``part``: "" or "resolve.")."""
        original = self.site.playbook(playbook_id).rendered(variables)
        found = {}
        for language in self.site.languages[1:]:
            texts = self.site.in_language(language).playbook(playbook_id).rendered(variables)
            if texts == original:
                continue    # nothing was translated: readers get the original with a notice
            found[language] = {"title": texts["name"], "body": texts[f"{part}body"],
                               **{name: texts[f"{part}{name}"] for name in ("email_subject", "email_text", "sms_text")}}
        return given(found)

    def _changes(self, components: dict[str, ComponentStatus]) -> list[ComponentChange]:
        if not components:
            return []
        current = self.current_statuses()
        return [ComponentChange(component_id=c, old_status=current.get(c), new_status=s) for c, s in components.items()]


def new_update(now: datetime, status: str, body: str, notify: bool, changes: list[ComponentChange],
               translations: dict[str, Translation] | None = None) -> IncidentUpdate:
    """Pure: the update an incident or maintenance posts at ``now``, with its body in other languages."""
    bodies = {language: Translation(body=t.body) for language, t in (translations or {}).items() if t.body}
    return IncidentUpdate(id=new_id(now), status=status, body=body, created_at=now, updated_at=now,
                          display_at=now, affected_components=changes, deliver_notifications=notify,
                          translations=bodies)


def _titles(translations: dict[str, Translation]) -> dict[str, Translation]:
    return {language: Translation(title=t.title) for language, t in translations.items() if t.title}


def _event_texts(incident: Incident, translations: dict[str, Translation]) -> dict[str, Translation]:
    """A notification's texts per language: what the write gave, titled by the incident's name in that language."""
    texts = {}
    for language in {*translations, *incident.translations}:
        given_now = translations.get(language) or Translation()
        title = given_now.title or (incident.translations.get(language) or Translation()).title
        texts[language] = given_now.replace(title=title)
    return texts


def check_room_for_update(record: Incident, *, closing: bool) -> None:
    """Pure: refuse an update past ``MAX_UPDATES``, unless it closes an open record."""
    if len(record.updates) < MAX_UPDATES or (closing and record.is_open):
        return
    kind = record.kind.value
    way_out = ("resolve it and open a new incident for what follows" if record.kind is IncidentKind.INCIDENT
               else "complete or cancel it and schedule a new maintenance for what follows")
    raise ValueError(f"updates: {kind} {record.id!r} has {len(record.updates)} updates, the most one {kind} "
                     f"keeps; {way_out}")


def components_summary(components) -> str:
    if not components:
        return ""
    if isinstance(components, dict):
        return "; components " + ", ".join(f"{c}={ComponentStatus(s).value}" for c, s in components.items())
    return "; components " + ", ".join(components)
