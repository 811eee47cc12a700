"""Playbooks: list the prepared outage responses, trigger one, resolve it."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import models
from chalicelib.api.common import incident_out, republish, services
from chalicelib.api.openapi import Call, documented
from chalicelib.incidents import IncidentService

bp = Blueprint(__name__)
MARKETER = "marketer"


def playbook_out(service: IncidentService, playbook) -> models.PlaybookOut:
    current = service.open_incident_of_playbook(playbook.id)
    return models.PlaybookOut(
        id=playbook.id, description=playbook.description, components=playbook.components, impact=playbook.impact,
        name=playbook.name, body=playbook.body, email_subject=playbook.email_subject, sms_text=playbook.sms_text,
        contacts_first=list(playbook.contacts_first), variables=playbook.variables,
        open_incident_id=current.id if current else None)


@documented(bp, "/playbooks", methods=["GET"], responses={200: models.PlaybookList}, scope=MARKETER,
            summary="List the playbooks of site.yml and the incident each has open")
def list_playbooks(call: Call):
    service = services(IncidentService)
    return models.PlaybookList(data=[playbook_out(service, p) for p in service.site.playbooks])


@documented(bp, "/playbooks/{playbook_id}", methods=["GET"], responses={200: models.PlaybookOut}, scope=MARKETER,
            summary="Get one playbook")
def get_playbook(call: Call):
    service = services(IncidentService)
    return playbook_out(service, service.playbook(call.params["playbook_id"]))


@documented(bp, "/playbooks/{playbook_id}/trigger", methods=["POST"], body=models.TriggerPlaybook,
            responses={200: models.IncidentOut}, scope=MARKETER,
            summary="Open the playbook's incident, or update it while it is open")
def trigger_playbook(call: Call):
    b = call.body
    incident = services(IncidentService).trigger_playbook(call.params["playbook_id"], variables=b.variables,
                                                           actor=call.key.name, cause=b.cause)
    republish("playbook triggered")
    return incident_out(incident)


@documented(bp, "/playbooks/{playbook_id}/resolve", methods=["POST"], body=models.Empty,
            responses={200: models.PlaybookResolved}, scope=MARKETER,
            summary="Resolve the playbook's open incident with its prepared 'we are back' texts")
def resolve_playbook(call: Call):
    incident = services(IncidentService).resolve_playbook(call.params["playbook_id"], actor=call.key.name)
    if incident is not None:
        republish("playbook resolved")
    return models.PlaybookResolved(resolved=incident is not None,
                                   incident=incident_out(incident) if incident else None)
