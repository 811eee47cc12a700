"""One consistent view of everything the page shows, read from the store in one go."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.config import Component, Site
from chalicelib.model import ComponentState, ComponentStatus, Incident, Indicator, Notice, StatusSource
from chalicelib.status import component_status, overall_indicator
from chalicelib.store.records import StateStore


@dataclass(frozen=True)
class ComponentView:
    component: Component
    status: ComponentStatus
    source: StatusSource
    cause: str | None = None


@dataclass(frozen=True)
class Snapshot:
    site: Site
    generated_at: datetime
    components: list[ComponentView]
    indicator: Indicator
    incidents: list[Incident] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)

    def status_of(self, component_id: str) -> ComponentStatus:
        for view in self.components:
            if view.component.id == component_id:
                return view.status
        raise KeyError(component_id)


def build_snapshot(site: Site, states: dict[str, ComponentState], incidents: list[Incident],
                   notices: list[Notice], now: datetime) -> Snapshot:
    """Pure: the records in, the page's view of them out."""
    open_incidents = [i for i in incidents if i.is_open]
    views = []
    for component in site.components:
        state = states.get(component.id) or ComponentState(component_id=component.id, updated_at=now)
        status, source = component_status(state, open_incidents, now)
        views.append(ComponentView(component, status, source, state.cause))
    return Snapshot(
        site=site,
        generated_at=now,
        components=views,
        indicator=overall_indicator((v.status for v in views), open_incidents),
        incidents=incidents,
        notices=[n for n in notices if n.is_active(now)],
    )


def read_snapshot(site: Site, store: StateStore, now: datetime) -> Snapshot:
    return build_snapshot(site, store.component_states(), store.incidents(), store.notices(), now)
