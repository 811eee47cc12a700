"""The public JSON, field for field as Atlassian Statuspage's public v2 API publishes it.

Existing Statuspage clients, exporters and widgets read these files unchanged: the
``{"page": {...}, ...}`` envelope, Statuspage's field names and vocabularies, and
timestamps with milliseconds. Bodies stay the plain text the marketer wrote (JSON is not
HTML; whoever shows it escapes it). Only data timestamps appear (never the render time),
so a publish with nothing new leaves every file byte-identical.

Two mappings keep strict clients happy: a cancelled maintenance is reported as
``completed`` (Statuspage has no cancelled state; its last update says it was cancelled),
and lists are capped as Statuspage caps them (the 50 most recent).
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from chalicelib.config import Component, Group
from chalicelib.model import (
    ComponentStatus, Incident, IncidentKind, IncidentStatus, IncidentUpdate, MaintenanceStatus, isoformat,
)
from chalicelib.site.snapshot import ComponentView, Snapshot

BASE = "api/v2/"
MOST_RECENT = 50
ENDPOINTS = (
    "summary.json", "status.json", "components.json", "incidents.json", "incidents/unresolved.json",
    "scheduled-maintenances.json", "scheduled-maintenances/upcoming.json", "scheduled-maintenances/active.json",
)


def page_id(snapshot: Snapshot) -> str:
    """A stable 12-character id, as Statuspage's page ids look, derived from the page's URL."""
    return hashlib.sha256(snapshot.site.brand.page_url.encode()).hexdigest()[:12]


def statuspage_documents(snapshot: Snapshot) -> dict[str, dict[str, Any]]:
    """Object key (``api/v2/...``) → JSON document, for all eight endpoints."""
    page = _page(snapshot)
    components = _components(snapshot)
    docs = {c["id"]: c for c in components if not c["group"]}
    incidents = [i for i in snapshot.sorted_incidents if i.kind is IncidentKind.INCIDENT]
    maintenance = [i for i in snapshot.sorted_incidents if i.kind is IncidentKind.MAINTENANCE]
    unresolved = [_incident(snapshot, i, docs) for i in incidents if i.is_open]
    upcoming = [_incident(snapshot, i, docs) for i in snapshot.upcoming_maintenance]
    active = [_incident(snapshot, i, docs) for i in snapshot.active_maintenance]
    status = {"indicator": snapshot.indicator.value, "description": snapshot.indicator.description}
    documents = {
        "summary.json": {"page": page, "components": components, "incidents": unresolved,
                         "scheduled_maintenances": active + upcoming, "status": status},
        "status.json": {"page": page, "status": status},
        "components.json": {"page": page, "components": components},
        "incidents.json": {"page": page, "incidents": [_incident(snapshot, i, docs) for i in incidents[:MOST_RECENT]]},
        "incidents/unresolved.json": {"page": page, "incidents": unresolved},
        "scheduled-maintenances.json": {
            "page": page, "scheduled_maintenances": [_incident(snapshot, i, docs) for i in maintenance[:MOST_RECENT]]},
        "scheduled-maintenances/upcoming.json": {"page": page, "scheduled_maintenances": upcoming},
        "scheduled-maintenances/active.json": {"page": page, "scheduled_maintenances": active},
    }
    return {BASE + name: document for name, document in documents.items()}


def dumps(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _page(snapshot: Snapshot) -> dict[str, Any]:
    brand = snapshot.site.brand
    return {"id": page_id(snapshot), "name": brand.name, "url": brand.page_url.rstrip("/"),
            "time_zone": brand.time_zone, "updated_at": isoformat(snapshot.page_time)}


def _components(snapshot: Snapshot) -> list[dict[str, Any]]:
    """Groups are components too (``group: true`` with their members' ids), as in Statuspage.

    ``position`` is the place in the page's order: ungrouped components, then each group
    followed by its members.
    """
    site = snapshot.site
    views = {v.component.id: v for v in snapshot.components}
    result = [_component(snapshot, views[c.id]) for c in site.components_in(None)]
    for group in sorted(site.groups, key=lambda g: (g.position, g.name)):
        members = [views[c.id] for c in site.components_in(group.id)]
        result.append(_group(snapshot, group, members))
        result += [_component(snapshot, v) for v in members]
    for position, component in enumerate(result, start=1):
        component["position"] = position
    return result


def _component_fields(snapshot: Snapshot, id_: str, component: Component | Group, status: ComponentStatus,
                      updated_at) -> dict[str, Any]:
    return {
        "id": id_,
        "name": component.name,
        "status": status.value,
        "created_at": isoformat(snapshot.created_at),
        "updated_at": isoformat(max(updated_at, snapshot.created_at) if updated_at else snapshot.created_at),
        "position": component.position,
        "description": component.description or None,
        "showcase": getattr(component, "showcase", True),
        "start_date": None,
        "group_id": getattr(component, "group", None),
        "page_id": page_id(snapshot),
        "group": False,
        "only_show_if_degraded": getattr(component, "only_show_if_degraded", False),
    }


def _component(snapshot: Snapshot, view: ComponentView) -> dict[str, Any]:
    return _component_fields(snapshot, view.component.id, view.component, view.status, view.updated_at)


def _group(snapshot: Snapshot, group: Group, members: list[ComponentView]) -> dict[str, Any]:
    worst = max((v.status for v in members), key=lambda s: s.severity, default=ComponentStatus.OPERATIONAL)
    updated = max((v.updated_at for v in members if v.updated_at), default=None)
    fields = _component_fields(snapshot, group.id, group, worst, updated)
    fields.update({"group": True, "group_id": None, "showcase": False, "only_show_if_degraded": False,
                   "components": [v.component.id for v in members]})
    return fields


def _status(status: str) -> str:
    if status == MaintenanceStatus.CANCELLED:
        return MaintenanceStatus.COMPLETED.value
    return str(status)


def _incident_status(snapshot: Snapshot, incident: Incident) -> str:
    # A maintenance whose window has begun is in progress, as Statuspage's auto-start reports it.
    if incident.status == MaintenanceStatus.SCHEDULED and incident in snapshot.active_maintenance:
        return MaintenanceStatus.IN_PROGRESS.value
    return _status(incident.status)


def _incident(snapshot: Snapshot, incident: Incident, components: dict[str, dict[str, Any]]) -> dict[str, Any]:
    document = {
        "id": incident.id,
        "name": incident.name,
        "status": _incident_status(snapshot, incident),
        "created_at": isoformat(incident.created_at),
        "updated_at": isoformat(incident.updated_at),
        "monitoring_at": isoformat(incident.monitoring_at),
        "resolved_at": isoformat(incident.resolved_at),
        "impact": incident.impact.value,
        "shortlink": f"{snapshot.site.brand.page_url.rstrip('/')}/incidents/{incident.id}.html",
        "started_at": isoformat(incident.started_at or incident.created_at),
        "page_id": page_id(snapshot),
        "incident_updates": [_update(snapshot, incident, u) for u in
                             sorted(incident.updates, key=lambda u: (u.display_at, u.id), reverse=True)],
        "components": [components[c] for c in incident.components if c in components],
    }
    if incident.kind is IncidentKind.MAINTENANCE:
        document["scheduled_for"] = isoformat(incident.scheduled_for)
        document["scheduled_until"] = isoformat(incident.scheduled_until)
    return document


def _update(snapshot: Snapshot, incident: Incident, update: IncidentUpdate) -> dict[str, Any]:
    names = {c.id: c.name for c in snapshot.site.components}
    return {
        "id": update.id,
        "status": _status(update.status),
        "body": update.body,
        "incident_id": incident.id,
        "created_at": isoformat(update.created_at),
        "updated_at": isoformat(update.updated_at),
        "display_at": isoformat(update.display_at),
        "affected_components": [
            {"code": change.component_id, "name": names.get(change.component_id, change.component_id),
             "old_status": change.old_status.value if change.old_status else ComponentStatus.OPERATIONAL.value,
             "new_status": change.new_status.value}
            for change in update.affected_components
        ] or None,
        "deliver_notifications": update.deliver_notifications,
        "custom_tweet": None,
        "tweet_id": None,
    }


INCIDENT_STATUSES = tuple(s.value for s in IncidentStatus)
MAINTENANCE_STATUSES = tuple(s.value for s in MaintenanceStatus if s is not MaintenanceStatus.CANCELLED)
