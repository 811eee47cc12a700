"""Maintenance: schedule, list, get, update, cancel. The window moves it by itself (chalicelib.maintenance)."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import models
from chalicelib.api.common import maintenance_out, republish, services
from chalicelib.api.openapi import Call, documented
from chalicelib.maintenance import MaintenanceService
from chalicelib.model import MaintenanceStatus
from chalicelib.translations import given

bp = Blueprint(__name__)
MARKETER = "marketer"
_GROUPS = {"open": {"scheduled", "in_progress", "verifying"}, "closed": {"completed", "cancelled"}}


@documented(bp, "/maintenance", methods=["GET"], query=models.MaintenanceQuery,
            responses={200: models.MaintenanceList}, scope=MARKETER, summary="List maintenance, newest first")
def list_maintenance(call: Call):
    statuses: set[str] = set()
    for word in (call.query.status or "").split(","):
        if word:
            statuses |= _GROUPS.get(word, {word})
    found, cursor = services(MaintenanceService).list_maintenance(
        statuses=statuses or None, limit=call.query.limit, cursor=call.query.cursor)
    return models.MaintenanceList(data=[maintenance_out(m) for m in found], next_cursor=cursor)


@documented(bp, "/maintenance", methods=["POST"], body=models.ScheduleMaintenance,
            responses={201: models.MaintenanceOut}, scope=MARKETER,
            summary="Schedule a maintenance; it starts and completes by itself at the window's edges")
def schedule_maintenance(call: Call):
    b = call.body
    record = services(MaintenanceService).schedule_maintenance(
        name=b.name, body=b.body, scheduled_for=b.scheduled_for, scheduled_until=b.scheduled_until,
        components=b.components, notify=b.notify, actor=call.key.name,
        translations=given({lang: {"title": t.name, "body": t.body} for lang, t in b.translations.items()}))
    republish("maintenance scheduled")
    return 201, maintenance_out(record)


@documented(bp, "/maintenance/{maintenance_id}", methods=["GET"], responses={200: models.MaintenanceOut},
            scope=MARKETER, summary="Get a maintenance with its updates")
def get_maintenance(call: Call):
    return maintenance_out(services(MaintenanceService).maintenance(call.params["maintenance_id"]))


@documented(bp, "/maintenance/{maintenance_id}", methods=["PATCH"], body=models.EditMaintenance,
            responses={200: models.MaintenanceOut}, scope=MARKETER,
            summary="Change the window, components or name, post an update, or move its status by hand")
def edit_maintenance(call: Call):
    b = call.body
    record = services(MaintenanceService).update_maintenance(
        call.params["maintenance_id"], actor=call.key.name, body=b.body, notify=b.notify, name=b.name,
        scheduled_for=b.scheduled_for, scheduled_until=b.scheduled_until, components=b.components,
        status=MaintenanceStatus(b.status) if b.status else None, version=call.version())
    republish("maintenance updated")
    return maintenance_out(record)


@documented(bp, "/maintenance/{maintenance_id}/cancel", methods=["POST"], body=models.CancelMaintenance,
            responses={200: models.MaintenanceOut}, scope=MARKETER, summary="Cancel a maintenance")
def cancel_maintenance(call: Call):
    b = call.body
    record = services(MaintenanceService).cancel_maintenance(
        call.params["maintenance_id"], body=b.body, notify=b.notify, actor=call.key.name, version=call.version())
    republish("maintenance cancelled")
    return maintenance_out(record)

