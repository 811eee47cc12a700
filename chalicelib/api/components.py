"""Components: current status and its source; a manual status set or cleared by hand."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import models
from chalicelib.api.common import republish, services
from chalicelib.api.openapi import Call, documented
from chalicelib.components import ComponentService, ComponentView

bp = Blueprint(__name__)
MARKETER = "marketer"


def component_out(view: ComponentView) -> models.ComponentOut:
    state = view.state
    return models.ComponentOut(
        id=view.component.id, name=view.component.name, group=view.component.group, status=view.status,
        source=view.source.value, probe_status=state.probe_status, manual_status=state.manual_status,
        manual_until=state.manual_until, cause=state.cause, updated_at=state.updated_at, version=state.version)


@documented(bp, "/components", methods=["GET"], responses={200: models.ComponentList}, scope=MARKETER,
            summary="List components with their status and where it comes from")
def list_components(call: Call):
    return models.ComponentList(data=[component_out(v) for v in services(ComponentService).views()])


@documented(bp, "/components/{component_id}", methods=["GET"], responses={200: models.ComponentOut},
            scope=MARKETER, summary="Get one component's status and its source")
def get_component(call: Call):
    return component_out(services(ComponentService).view(call.params["component_id"]))


@documented(bp, "/components/{component_id}/status", methods=["PUT"], body=models.SetComponentStatus,
            responses={200: models.ComponentOut}, scope=MARKETER,
            summary="Set a manual status, which wins over probes until it expires or is cleared")
def set_status(call: Call):
    b = call.body
    view = services(ComponentService).set_manual_status(call.params["component_id"], b.status, until=b.until,
                                                         actor=call.key.name, version=call.version())
    republish("component status set")
    return component_out(view)


@documented(bp, "/components/{component_id}/status", methods=["DELETE"], responses={200: models.ComponentOut},
            scope=MARKETER, summary="Clear the manual status: probes, maintenance and incidents decide again")
def clear_status(call: Call):
    view = services(ComponentService).set_manual_status(call.params["component_id"], None, until=None,
                                                         actor=call.key.name, version=call.version())
    republish("component status cleared")
    return component_out(view)
