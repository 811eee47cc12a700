"""Incidents and maintenance: open, update, resolve, schedule, advance; the page's story of an outage.

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
Maintenance is an incident of kind ``maintenance`` that ``advance_maintenance`` moves
``scheduled -> in_progress -> completed`` at its window's edges.

An incident keeps at most ``MAX_UPDATES`` updates (each at most 10,000 characters), so its
size is bounded however long the outage: past that, a new update is refused (422) with
the way out. The update that closes an open incident or maintenance is always accepted,
as are the two a maintenance window posts by itself.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime

from chalicelib.config import Site
from chalicelib.model import (
    ComponentChange,
    ComponentState,
    ComponentStatus,
    Impact,
    Incident,
    IncidentKind,
    IncidentStatus,
    IncidentUpdate,
    MaintenanceStatus,
    NotificationEvent,
    NotificationKind,
    isoformat,
    new_id,
)
from chalicelib.notifications import record_notification
from chalicelib.playbooks import Playbook
from chalicelib.status import component_status
from chalicelib.store.audit import AuditStore
from chalicelib.store.incidents import IncidentStore, page_of
from chalicelib.store.records import StateStore
from chalicelib.store.table import Conflict, Table

MAINTENANCE_STARTED_BODY = "Scheduled maintenance is in progress. We will provide updates as necessary."
MAINTENANCE_COMPLETED_BODY = "The scheduled maintenance has been completed."
WRITE_ATTEMPTS = 5
MAX_UPDATES = 100
_OPEN_MAINTENANCE = (MaintenanceStatus.SCHEDULED, MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING)


class NotFound(KeyError):
    """An id that names nothing; ``str()`` is the message for the caller."""

    def __init__(self, kind: str, ident: str):
        self.kind, self.ident = kind, ident
        super().__init__(ident)

    def __str__(self) -> str:
        return f"no {self.kind} with id {self.ident!r}"


class Writes:
    """What every service that changes the page shares: the clock, the audit log, notifications."""

    def __init__(self, table: Table, site: Site, clock: Callable[[], datetime]):
        self.table = table
        self.site = site
        self.clock = clock
        self.states = StateStore(table)
        self.records = IncidentStore(table)
        self.audit_log = AuditStore(table)

    def audit(self, actor: str, action: str, target: str, summary: str) -> None:
        self.audit_log.record(actor=actor, action=action, target=target, summary=summary, at=self.clock())

    def notify(self, kind: NotificationKind, *, title: str, body: str, component_ids: list[str],
               incident_id: str | None = None, update_id: str | None = None, notice_id: str | None = None,
               texts: dict[str, str | None] | None = None, contacts_first: tuple[str, ...] = ()) -> NotificationEvent:
        now = self.clock()
        texts = texts or {}
        event = NotificationEvent(
            id=new_id(now), kind=kind, created_at=now, title=title, body=body, incident_id=incident_id,
            update_id=update_id, notice_id=notice_id, component_ids=sorted(component_ids),
            email_subject=texts.get("email_subject"), email_text=texts.get("email_text"),
            sms_text=texts.get("sms_text"), contacts_first=list(contacts_first),
        )
        record_notification(self.table, event)
        return event

    def check_components(self, component_ids, field: str = "components") -> None:
        unknown = sorted(set(component_ids) - self.site.component_ids)
        if unknown:
            raise ValueError(f"{field}: no component {', '.join(map(repr, unknown))}; "
                             f"use one of {sorted(self.site.component_ids)}")

    def current_statuses(self) -> dict[str, ComponentStatus]:
        """What the page shows for each component right now (precedence of ``status``)."""
        now = self.clock()
        states = self.states.component_states()
        open_incidents = [i for i in self.states.incidents() if i.is_open]
        return {
            c.id: component_status(states.get(c.id) or ComponentState(component_id=c.id, updated_at=now),
                                   open_incidents, now)[0]
            for c in self.site.components
        }


def rereads_on_conflict(method):
    """A write without a caller's ``version`` that lost a race is reapplied to what the winner saved.

    Updates append, so both marketers' work stays. With a ``version`` the caller asked to be
    told instead: the ``Conflict`` reaches them (409). The save is each method's last step
    before the audit entry and the notification, so a retried attempt has done nothing else.
    """
    @functools.wraps(method)
    def write(self, *args, **kwargs):
        if kwargs.get("version") is not None:
            return method(self, *args, **kwargs)
        for attempt in range(WRITE_ATTEMPTS):
            try:
                return method(self, *args, **kwargs)
            except Conflict:
                if attempt == WRITE_ATTEMPTS - 1:
                    raise

    return write


def check_version(record, version: int | None, kind: str) -> None:
    if version is not None and version != record.version:
        raise Conflict(f"{kind} {record.id!r} is at version {record.version}, not {version}: "
                       f"someone changed it since you read it; read it again and reapply your change")


class IncidentService(Writes):
    # -- incidents -------------------------------------------------------------------------

    def open_incident(self, *, name: str, body: str, impact: Impact, components: dict[str, ComponentStatus],
                      notify: bool, actor: str, status: IncidentStatus = IncidentStatus.INVESTIGATING,
                      cause: str | None = None, playbook_id: str | None = None) -> Incident:
        return self._open(name=name, body=body, impact=impact, components=components, notify=notify, actor=actor,
                          status=status, cause=cause, playbook_id=playbook_id)

    def _open(self, *, name, body, impact, components, notify, actor, status, cause=None, playbook_id=None,
              texts=None, contacts_first=()) -> Incident:
        self.check_components(components)
        if not name.strip():
            raise ValueError("name: must not be empty; give the incident a title customers understand")
        now = self.clock()
        status = IncidentStatus(status)
        update = self._new_update(now, status.value, body, notify, self._changes(components))
        incident = Incident(
            id=new_id(now), kind=IncidentKind.INCIDENT, name=name, status=status.value, impact=impact,
            created_at=now, updated_at=now, started_at=now,
            monitoring_at=now if status is IncidentStatus.MONITORING else None,
            resolved_at=now if status is IncidentStatus.RESOLVED else None,
            components=dict(components), updates=[update], playbook_id=playbook_id, cause=cause,
        )
        saved = self.states.save_incident(incident)
        self.audit(actor, "incident.open", f"incident/{saved.id}",
                   f"{name!r} {status.value}, impact {Impact(impact).value}{_components_summary(components)}")
        if notify:
            self.notify(NotificationKind.INCIDENT_OPENED, title=name, body=body, component_ids=list(components),
                        incident_id=saved.id, update_id=update.id, texts=texts, contacts_first=contacts_first)
        return saved

    def post_update(self, incident_id: str, *, status: IncidentStatus, body: str, notify: bool, actor: str,
                    components: dict[str, ComponentStatus] | None = None, version: int | None = None) -> Incident:
        return self._post_update(incident_id, status=status, body=body, notify=notify, actor=actor,
                                 components=components, version=version)

    @rereads_on_conflict
    def _post_update(self, incident_id, *, status, body, notify, actor, components=None, version=None,
                     texts=None, contacts_first=(), name: str | None = None, impact: Impact | None = None) -> Incident:
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
        update = self._new_update(now, status.value, body, notify, self._changes(components))
        change = {
            "status": status.value, "updated_at": now, "components": {**incident.components, **components},
            "updates": [*incident.updates, update],
        }
        if name is not None:
            change["name"] = name
        if impact is not None:
            change["impact"] = impact
        if status is IncidentStatus.MONITORING and incident.monitoring_at is None:
            change["monitoring_at"] = now
        change["resolved_at"] = now if status is IncidentStatus.RESOLVED else None
        saved = self.states.save_incident(incident.model_copy(update=change))
        resolving = status is IncidentStatus.RESOLVED
        self.audit(actor, "incident.resolve" if resolving else "incident.update", f"incident/{incident_id}",
                   f"{incident.status} -> {status.value}{_components_summary(components)}")
        if notify:
            self.notify(NotificationKind.INCIDENT_RESOLVED if resolving else NotificationKind.INCIDENT_UPDATED,
                        title=saved.name, body=body, component_ids=list(saved.components), incident_id=incident_id,
                        update_id=update.id, texts=texts, contacts_first=contacts_first)
        return saved

    def resolve_incident(self, incident_id: str, *, body: str, notify: bool, actor: str,
                         version: int | None = None) -> Incident:
        return self._post_update(incident_id, status=IncidentStatus.RESOLVED, body=body, notify=notify,
                                 actor=actor, version=version)

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
                updates[index] = update.model_copy(update={"body": body, "updated_at": now})
                break
        else:
            raise NotFound("update", f"{incident_id}/{update_id}")
        saved = self.states.save_incident(incident.model_copy(update={"updates": updates, "updated_at": now}))
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
        saved = self.states.save_incident(incident.model_copy(update={"name": name, "updated_at": self.clock()}))
        self.audit(actor, "incident.rename", f"incident/{incident_id}", f"{incident.name!r} -> {name!r}")
        return saved

    @rereads_on_conflict
    def add_postmortem(self, incident_id: str, *, body: str, actor: str, version: int | None = None) -> Incident:
        incident = self.incident(incident_id)
        check_version(incident, version, "incident")
        if incident.kind is not IncidentKind.INCIDENT or incident.status not in (
                IncidentStatus.RESOLVED.value, IncidentStatus.POSTMORTEM.value):
            raise ValueError(f"incident {incident_id!r} is {incident.status}; resolve it before adding a postmortem")
        saved = self.states.save_incident(incident.model_copy(
            update={"postmortem": body, "status": IncidentStatus.POSTMORTEM.value, "updated_at": self.clock()}))
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
        candidates = [i for i in self.states.incidents()
                      if i.kind is IncidentKind.INCIDENT and i.is_open and component_id in i.components]
        return max(candidates, key=lambda i: i.id, default=None)

    # -- playbooks -------------------------------------------------------------------------

    def playbook(self, playbook_id: str) -> Playbook:
        try:
            return self.site.playbook(playbook_id)
        except KeyError:
            raise NotFound("playbook", playbook_id) from None

    def open_incident_of_playbook(self, playbook_id: str) -> Incident | None:
        candidates = [i for i in self.states.incidents() if i.playbook_id == playbook_id and i.is_open]
        return max(candidates, key=lambda i: i.id, default=None)

    def trigger_playbook(self, playbook_id: str, *, variables: dict[str, str], actor: str,
                         cause: str | None = None) -> Incident:
        playbook = self.playbook(playbook_id)
        texts = playbook.rendered(variables)
        notification_texts = {k: texts[k] for k in ("email_subject", "email_text", "sms_text")}
        current = self.open_incident_of_playbook(playbook_id)
        if current is not None:
            return self._post_update(
                current.id, status=IncidentStatus(current.status), body=texts["body"], notify=playbook.notify,
                actor=actor, components=dict(playbook.components), texts=notification_texts,
                contacts_first=playbook.contacts_first, name=texts["name"])
        return self._open(
            name=texts["name"], body=texts["body"], impact=playbook.impact, components=dict(playbook.components),
            notify=playbook.notify, actor=actor, status=playbook.status, cause=cause, playbook_id=playbook.id,
            texts=notification_texts, contacts_first=playbook.contacts_first)

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
            contacts_first=playbook.contacts_first)

    # -- maintenance -----------------------------------------------------------------------

    def schedule_maintenance(self, *, name: str, body: str, scheduled_for: datetime, scheduled_until: datetime,
                             components: list[str], notify: bool, actor: str) -> Incident:
        self.check_components(components)
        _check_window(scheduled_for, scheduled_until)
        if not name.strip():
            raise ValueError("name: must not be empty; say what is maintained, e.g. 'Help centre upgrade'")
        now = self.clock()
        given = {c: ComponentStatus.UNDER_MAINTENANCE for c in components}
        update = self._new_update(now, MaintenanceStatus.SCHEDULED.value, body, notify, [])
        maintenance = Incident(
            id=new_id(now), kind=IncidentKind.MAINTENANCE, name=name, status=MaintenanceStatus.SCHEDULED.value,
            impact=Impact.MAINTENANCE, created_at=now, updated_at=now, scheduled_for=scheduled_for,
            scheduled_until=scheduled_until, components=given, updates=[update],
        )
        saved = self.states.save_incident(maintenance)
        self.audit(actor, "maintenance.schedule", f"maintenance/{saved.id}",
                   f"{name!r} {_iso(scheduled_for)} to {_iso(scheduled_until)}{_components_summary(given)}")
        if notify:
            self.notify(NotificationKind.MAINTENANCE_SCHEDULED, title=name, body=body, component_ids=components,
                        incident_id=saved.id, update_id=update.id)
        return saved

    def maintenance(self, maintenance_id: str) -> Incident:
        record = self.records.incident(maintenance_id)
        if record is None or record.kind is not IncidentKind.MAINTENANCE:
            raise NotFound("maintenance", maintenance_id)
        return record

    @rereads_on_conflict
    def update_maintenance(self, maintenance_id: str, *, actor: str, body: str | None = None,
                           notify: bool = False, name: str | None = None, scheduled_for: datetime | None = None,
                           scheduled_until: datetime | None = None, components: list[str] | None = None,
                           status: MaintenanceStatus | None = None, version: int | None = None) -> Incident:
        record = self.maintenance(maintenance_id)
        check_version(record, version, "maintenance")
        if not record.is_open:
            raise ValueError(f"maintenance {maintenance_id!r} is {record.status}; schedule a new one instead")
        if status is MaintenanceStatus.CANCELLED:
            raise ValueError("status: cancel with POST /maintenance/{id}/cancel")
        window = (scheduled_for or record.scheduled_for, scheduled_until or record.scheduled_until)
        _check_window(*window)
        change: dict = {"updated_at": self.clock(), "scheduled_for": window[0], "scheduled_until": window[1]}
        if name is not None:
            if not name.strip():
                raise ValueError("name: must not be empty")
            change["name"] = name
        if components is not None:
            self.check_components(components)
            change["components"] = {c: ComponentStatus.UNDER_MAINTENANCE for c in components}
        new_status = status.value if status is not None else record.status
        change["status"] = new_status
        if body is not None or status is not None:
            check_room_for_update(record, closing=new_status == MaintenanceStatus.COMPLETED.value)
            change["updates"] = [*record.updates, self._new_update(
                change["updated_at"], new_status, body or "", notify, [])]
        saved = self.states.save_incident(record.model_copy(update=change))
        fields = sorted(k for k in change if k not in ("updated_at", "updates"))
        self.audit(actor, "maintenance.update", f"maintenance/{maintenance_id}", "changed " + ", ".join(fields))
        if notify and "updates" in change:
            kind = (NotificationKind.MAINTENANCE_COMPLETED if new_status == MaintenanceStatus.COMPLETED.value
                    else NotificationKind.MAINTENANCE_STARTED if new_status != record.status
                    and new_status == MaintenanceStatus.IN_PROGRESS.value
                    else NotificationKind.MAINTENANCE_SCHEDULED)
            self.notify(kind, title=saved.name, body=body or "", component_ids=list(saved.components),
                        incident_id=saved.id, update_id=saved.updates[-1].id)
        return saved

    @rereads_on_conflict
    def cancel_maintenance(self, maintenance_id: str, *, body: str, notify: bool, actor: str,
                           version: int | None = None) -> Incident:
        record = self.maintenance(maintenance_id)
        check_version(record, version, "maintenance")
        if not record.is_open:
            raise ValueError(f"maintenance {maintenance_id!r} is {record.status} already")
        check_room_for_update(record, closing=True)
        now = self.clock()
        update = self._new_update(now, MaintenanceStatus.CANCELLED.value, body, notify, [])
        saved = self.states.save_incident(record.model_copy(update={
            "status": MaintenanceStatus.CANCELLED.value, "updated_at": now, "updates": [*record.updates, update]}))
        self.audit(actor, "maintenance.cancel", f"maintenance/{maintenance_id}", f"{record.status} -> cancelled")
        if notify:
            self.notify(NotificationKind.MAINTENANCE_CANCELLED, title=saved.name, body=body,
                        component_ids=list(saved.components), incident_id=saved.id, update_id=update.id)
        return saved

    def advance_maintenance(self, *, actor: str = "schedule", attempts: int = 3) -> list[Incident]:
        """Move every open maintenance whose window edge has passed; returns those that moved."""
        moved = []
        for record in self.states.incidents():
            if record.kind is not IncidentKind.MAINTENANCE or record.status not in _OPEN_MAINTENANCE:
                continue
            for _ in range(attempts):
                try:
                    result = self._advance_one(record, actor)
                except Conflict:
                    # A marketer changed it in between: look again at what they saved.
                    record = self.maintenance(record.id)
                    continue
                if result is not None:
                    moved.append(result)
                break
        return moved

    def _advance_one(self, record: Incident, actor: str) -> Incident | None:
        now = self.clock()
        target = next_maintenance_status(record, now)
        if target is None:
            return None
        notify = bool(record.updates) and record.updates[0].deliver_notifications
        completed = target is MaintenanceStatus.COMPLETED
        body = MAINTENANCE_COMPLETED_BODY if completed else MAINTENANCE_STARTED_BODY
        update = self._new_update(now, target.value, body, notify, [
            ComponentChange(component_id=c,
                            old_status=ComponentStatus.UNDER_MAINTENANCE if completed else ComponentStatus.OPERATIONAL,
                            new_status=ComponentStatus.OPERATIONAL if completed else ComponentStatus.UNDER_MAINTENANCE)
            for c in record.components])
        change = {"status": target.value, "updated_at": now, "updates": [*record.updates, update]}
        if target is MaintenanceStatus.IN_PROGRESS:
            change["started_at"] = now
        if completed:
            change["resolved_at"] = now
            change["started_at"] = record.started_at or now
        saved = self.states.save_incident(record.model_copy(update=change))
        self.audit(actor, "maintenance.complete" if completed else "maintenance.start", f"maintenance/{record.id}",
                   f"{record.status} -> {target.value} at the window's edge")
        if notify:
            self.notify(NotificationKind.MAINTENANCE_COMPLETED if completed else NotificationKind.MAINTENANCE_STARTED,
                        title=saved.name, body=body, component_ids=list(saved.components), incident_id=saved.id,
                        update_id=update.id)
        return saved

    # -- shared ----------------------------------------------------------------------------

    def _changes(self, components: dict[str, ComponentStatus]) -> list[ComponentChange]:
        if not components:
            return []
        current = self.current_statuses()
        return [ComponentChange(component_id=c, old_status=current.get(c), new_status=s) for c, s in components.items()]

    def _new_update(self, now: datetime, status: str, body: str, notify: bool,
                    changes: list[ComponentChange]) -> IncidentUpdate:
        return IncidentUpdate(id=new_id(now), status=status, body=body, created_at=now, updated_at=now,
                              display_at=now, affected_components=changes, deliver_notifications=notify)


def next_maintenance_status(record: Incident, now: datetime) -> MaintenanceStatus | None:
    """Pure: where a maintenance goes at ``now`` by its window alone (None: it stays)."""
    if record.status not in _OPEN_MAINTENANCE:
        return None
    if record.scheduled_until is not None and now >= record.scheduled_until:
        return MaintenanceStatus.COMPLETED
    if record.status == MaintenanceStatus.SCHEDULED.value and record.scheduled_for is not None \
            and now >= record.scheduled_for:
        return MaintenanceStatus.IN_PROGRESS
    return None


def check_room_for_update(record: Incident, *, closing: bool) -> None:
    """Pure: refuse an update past ``MAX_UPDATES``, unless it closes an open record."""
    if len(record.updates) < MAX_UPDATES or (closing and record.is_open):
        return
    kind = record.kind.value
    way_out = ("resolve it and open a new incident for what follows" if record.kind is IncidentKind.INCIDENT
               else "complete or cancel it and schedule a new maintenance for what follows")
    raise ValueError(f"updates: {kind} {record.id!r} has {len(record.updates)} updates, the most one {kind} "
                     f"keeps; {way_out}")


def _check_window(starts: datetime | None, ends: datetime | None) -> None:
    if starts is None or ends is None:
        raise ValueError("scheduled_for and scheduled_until: both are required")
    if starts.tzinfo is None or ends.tzinfo is None:
        raise ValueError("scheduled_for, scheduled_until: give a time zone, e.g. 2026-05-01T12:00:00Z")
    if ends <= starts:
        raise ValueError("scheduled_until: must be after scheduled_for")


def _iso(moment: datetime) -> str:
    return isoformat(moment) or ""


def _components_summary(components) -> str:
    if not components:
        return ""
    if isinstance(components, dict):
        return "; components " + ", ".join(f"{c}={ComponentStatus(s).value}" for c, s in components.items())
    return "; components " + ", ".join(components)
