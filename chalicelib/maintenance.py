"""Maintenance: schedule, edit, cancel, and the window that moves it by itself.

A maintenance is an incident of kind ``maintenance``: it is stored, versioned, audited and
notified like one (``chalicelib.writes``) and shares the incidents' updates and their limit
(``chalicelib.incidents``). ``advance_maintenance`` is the every-minute step: it moves each
open maintenance ``scheduled -> in_progress -> completed`` at its window's edges, and
asks for a publish through the publish queue when any moved (its function may not write
the bucket). The service does not publish the page: API callers publish after a change.
"""
from __future__ import annotations

from datetime import datetime

from chalicelib.incidents import check_room_for_update, components_summary, new_update
from chalicelib.model import (
    ComponentChange,
    ComponentStatus,
    Impact,
    Incident,
    IncidentKind,
    MaintenanceStatus,
    NotificationKind,
    Translation,
    isoformat,
    new_id,
)
from chalicelib.store.incidents import page_of
from chalicelib.store.table import Conflict
from chalicelib.writes import NotFound, Writes, check_version, rereads_on_conflict

MAINTENANCE_STARTED_BODY = "Scheduled maintenance is in progress. We will provide updates as necessary."
MAINTENANCE_COMPLETED_BODY = "The scheduled maintenance has been completed."
_OPEN_MAINTENANCE = (MaintenanceStatus.SCHEDULED, MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING)


def advance_maintenance() -> int:
    """The scheduled step: move maintenance at its window's edges, ask for a publish when any moved.

    Its function may not write the bucket, so the publish goes through the publish queue.
    """
    from chalicelib import aws
    from chalicelib.config import get_site
    from chalicelib.model import utcnow
    from chalicelib.site.trigger import request_publish
    from chalicelib.store.table import Table

    moved = MaintenanceService(Table(aws.get_table()), get_site(), utcnow).advance_maintenance()
    if moved:
        request_publish("maintenance advanced")
    return len(moved)


class MaintenanceService(Writes):
    def schedule_maintenance(self, *, name: str, body: str, scheduled_for: datetime, scheduled_until: datetime,
                             components: list[str], notify: bool, actor: str,
                             translations: dict[str, Translation] | None = None) -> Incident:
        """``translations``: the name (``title``) and body in the site's other languages."""
        translations = translations or {}
        self.check_languages(translations)
        self.check_components(components)
        _check_window(scheduled_for, scheduled_until)
        if not name.strip():
            raise ValueError("name: must not be empty; say what is maintained, e.g. 'Help centre upgrade'")
        now = self.clock()
        given = {c: ComponentStatus.UNDER_MAINTENANCE for c in components}
        update = new_update(now, MaintenanceStatus.SCHEDULED.value, body, notify, [], translations)
        maintenance = Incident(
            id=new_id(now), kind=IncidentKind.MAINTENANCE, name=name, status=MaintenanceStatus.SCHEDULED.value,
            impact=Impact.MAINTENANCE, created_at=now, updated_at=now, scheduled_for=scheduled_for,
            scheduled_until=scheduled_until, components=given, updates=[update],
            translations={language: Translation(title=t.title) for language, t in translations.items() if t.title},
        )
        saved = self.states.save_incident(maintenance)
        self.audit(actor, "maintenance.schedule", f"maintenance/{saved.id}",
                   f"{name!r} {_iso(scheduled_for)} to {_iso(scheduled_until)}{components_summary(given)}")
        if notify:
            self.notify(NotificationKind.MAINTENANCE_SCHEDULED, title=name, body=body, component_ids=components,
                        incident_id=saved.id, update_id=update.id, translations=translations)
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
            change["updates"] = [*record.updates, new_update(
                change["updated_at"], new_status, body or "", notify, [])]
        saved = self.states.save_incident(record.replace(**change))
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
        update = new_update(now, MaintenanceStatus.CANCELLED.value, body, notify, [])
        saved = self.states.save_incident(record.replace(status=MaintenanceStatus.CANCELLED.value, updated_at=now,
                                                         updates=[*record.updates, update]))
        self.audit(actor, "maintenance.cancel", f"maintenance/{maintenance_id}", f"{record.status} -> cancelled")
        if notify:
            self.notify(NotificationKind.MAINTENANCE_CANCELLED, title=saved.name, body=body,
                        component_ids=list(saved.components), incident_id=saved.id, update_id=update.id)
        return saved

    def advance_maintenance(self, *, actor: str = "schedule", attempts: int = 3) -> list[Incident]:
        """Move every open maintenance whose window edge has passed; returns those that moved."""
        moved = []
        for record in self.states.open_incidents():
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
        update = new_update(now, target.value, body, notify, [
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
        saved = self.states.save_incident(record.replace(**change))
        self.audit(actor, "maintenance.complete" if completed else "maintenance.start", f"maintenance/{record.id}",
                   f"{record.status} -> {target.value} at the window's edge")
        if notify:
            self.notify(NotificationKind.MAINTENANCE_COMPLETED if completed else NotificationKind.MAINTENANCE_STARTED,
                        title=saved.name, body=body, component_ids=list(saved.components), incident_id=saved.id,
                        update_id=update.id)
        return saved
    def list_maintenance(self, *, statuses: set[str] | None = None, limit: int = 25,
                         cursor: str | None = None) -> tuple[list[Incident], str | None]:
        return page_of(self.states.incidents(), limit=limit, cursor=cursor,
                       keep=lambda i: i.kind is IncidentKind.MAINTENANCE and (not statuses or i.status in statuses))


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

def _check_window(starts: datetime | None, ends: datetime | None) -> None:
    if starts is None or ends is None:
        raise ValueError("scheduled_for and scheduled_until: both are required")
    if starts.tzinfo is None or ends.tzinfo is None:
        raise ValueError("scheduled_for, scheduled_until: give a time zone, e.g. 2026-05-01T12:00:00Z")
    if ends <= starts:
        raise ValueError("scheduled_until: must be after scheduled_for")


def _iso(moment: datetime) -> str:
    return isoformat(moment) or ""
