"""Components as marketers see them: current status and its source; manual statuses set by hand.

A manual status wins over everything else (``status.component_status``) until its
``manual_until`` passes or it is cleared. Probes write the same record (``probe_status``),
so both sides re-read and retry on ``Conflict`` instead of overwriting each other.
"""
from __future__ import annotations

from datetime import datetime

import msgspec

from chalicelib.config import Component
from chalicelib.writes import NotFound, Writes, check_version
from chalicelib.model import ComponentState, ComponentStatus, StatusSource
from chalicelib.status import component_status


class ComponentView(msgspec.Struct, frozen=True):
    component: Component
    state: ComponentState
    status: ComponentStatus
    source: StatusSource


class ComponentService(Writes):
    def views(self) -> list[ComponentView]:
        now = self.clock()
        states = self.states.component_states()
        open_incidents = self.states.open_incidents()
        views = []
        for component in self.site.components:
            state = states.get(component.id) or ComponentState(component_id=component.id, updated_at=now)
            status, source = component_status(state, open_incidents, now)
            views.append(ComponentView(component, state, status, source))
        return views

    def view(self, component_id: str) -> ComponentView:
        self._component(component_id)
        return next(v for v in self.views() if v.component.id == component_id)

    def set_manual_status(self, component_id: str, status: ComponentStatus | None, *, until: datetime | None,
                          actor: str, version: int | None = None, attempts: int = 5) -> ComponentView:
        """Set (or, with ``status`` None, clear) the manual status; a stale ``version`` is a Conflict."""
        self._component(component_id)
        now = self.clock()
        if status is not None and until is not None and until <= now:
            raise ValueError("until: must be in the future; leave it out for a status that stays until cleared")
        def change(current: ComponentState) -> ComponentState:
            # With a version, a probe's write in between makes it stale: the re-read raises Conflict here.
            check_version(_Versioned(component_id, current.version), version, "component")
            return current.replace(manual_status=status, manual_until=until if status else None, updated_at=now)

        self.states.change_component_state(component_id, change, now, attempts)
        summary = (f"manual status {status.value}" + (f" until {until.isoformat()}" if until else "")
                   if status else "manual status cleared")
        self.audit(actor, "component.status", f"component/{component_id}", summary)
        return self.view(component_id)

    def _component(self, component_id: str) -> Component:
        try:
            return self.site.component(component_id)
        except KeyError:
            raise NotFound("component", component_id) from None


class _Versioned(msgspec.Struct, frozen=True):
    id: str
    version: int
