"""Incidents: open, list, get, rename, post updates, edit an update's text, resolve, add a postmortem."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import models
from chalicelib.api.common import incident_out, republish, services
from chalicelib.api.openapi import Call, documented
from chalicelib.incidents import IncidentService
from chalicelib.model import CLOSED_STATUSES, IncidentKind
from chalicelib.translations import given
from chalicelib.writes import NotFound

bp = Blueprint(__name__)
MARKETER = "marketer"


@documented(bp, "/incidents", methods=["GET"], query=models.IncidentQuery, responses={200: models.IncidentList},
            scope=MARKETER, summary="List incidents, newest first (filter by status, paged)")
def list_incidents(call: Call):
    wanted = set((call.query.status or "").split(",")) - {""}
    statuses = set()
    for word in wanted:
        if word == "open":
            statuses |= {"investigating", "identified", "monitoring"}
        elif word == "closed":
            statuses |= {s.value for s in CLOSED_STATUSES}
        else:
            statuses.add(word)
    found, cursor = services(IncidentService).list_incidents(
        kind=IncidentKind.INCIDENT, statuses=statuses or None, limit=call.query.limit, cursor=call.query.cursor)
    return models.IncidentList(data=[incident_out(i) for i in found], next_cursor=cursor)


@documented(bp, "/incidents", methods=["POST"], body=models.CreateIncident, responses={201: models.IncidentOut},
            scope=MARKETER, summary="Open an incident")
def create_incident(call: Call):
    b = call.body
    incident = services(IncidentService).open_incident(
        name=b.name, body=b.body, impact=b.impact, components=b.components, notify=b.notify, actor=call.key.name,
        status=b.status, translations=given({lang: {"title": t.name, "body": t.body}
                                             for lang, t in b.translations.items()}))
    republish("incident opened")
    return 201, incident_out(incident)


@documented(bp, "/incidents/{incident_id}", methods=["GET"], responses={200: models.IncidentOut}, scope=MARKETER,
            summary="Get an incident with its updates, newest first")
def get_incident(call: Call):
    incident = services(IncidentService).incident(call.params["incident_id"])
    if incident.kind is not IncidentKind.INCIDENT:
        raise NotFound("incident", incident.id)  # a maintenance: GET /maintenance/{id}
    return incident_out(incident)


@documented(bp, "/incidents/{incident_id}", methods=["PATCH"], body=models.EditIncident,
            responses={200: models.IncidentOut}, scope=MARKETER,
            summary="Correct an incident's name, open or closed; notifies no one")
def edit_incident(call: Call):
    incident = services(IncidentService).rename_incident(
        call.params["incident_id"], name=call.body.name, actor=call.key.name, version=call.version())
    republish("incident renamed")
    return incident_out(incident)


@documented(bp, "/incidents/{incident_id}/updates", methods=["POST"], body=models.CreateIncidentUpdate,
            responses={201: models.IncidentOut}, scope=MARKETER,
            summary="Post an update: status, text, component changes, notify")
def post_update(call: Call):
    b = call.body
    incident = services(IncidentService).post_update(
        call.params["incident_id"], status=b.status, body=b.body, notify=b.notify, actor=call.key.name,
        components=b.components, version=call.version(),
        translations=given({lang: {"body": t.body} for lang, t in b.translations.items()}))
    republish("incident updated")
    return 201, incident_out(incident)


@documented(bp, "/incidents/{incident_id}/updates/{update_id}", methods=["PATCH"], body=models.EditUpdate,
            responses={200: models.IncidentOut}, scope=MARKETER, summary="Edit the text of a posted update")
def edit_update(call: Call):
    incident = services(IncidentService).edit_update(
        call.params["incident_id"], call.params["update_id"], body=call.body.body, actor=call.key.name,
        version=call.version())
    republish("incident update edited")
    return incident_out(incident)


@documented(bp, "/incidents/{incident_id}/resolve", methods=["POST"], body=models.ResolveIncident,
            responses={200: models.IncidentOut}, scope=MARKETER,
            summary="Resolve: components return to what their probes or manual statuses say")
def resolve_incident(call: Call):
    b = call.body
    incident = services(IncidentService).resolve_incident(
        call.params["incident_id"], body=b.body, notify=b.notify, actor=call.key.name, version=call.version(),
        translations=given({lang: {"body": t.body} for lang, t in b.translations.items()}))
    republish("incident resolved")
    return incident_out(incident)


@documented(bp, "/incidents/{incident_id}/postmortem", methods=["PUT"], body=models.Postmortem,
            responses={200: models.IncidentOut}, scope=MARKETER, summary="Add or replace a resolved incident's postmortem")
def put_postmortem(call: Call):
    incident = services(IncidentService).add_postmortem(
        call.params["incident_id"], body=call.body.body, actor=call.key.name, version=call.version())
    republish("postmortem added")
    return incident_out(incident)
