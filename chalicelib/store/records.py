"""Component states, incidents and notices: the records the page is rendered from.

Each record carries the ``version`` it was read at; saving it writes only if nobody
saved it since (``Conflict`` otherwise), and a record at version 0 is new.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TypeVar

from chalicelib.model import ComponentState, Incident, Notice, Record
from chalicelib.store.incidents import LISTED, MEMBERS, NOTICE, NOTICES, IncidentStore
from chalicelib.store.table import AlreadyExists, Conflict, Item, Table

COMPONENT = "COMPONENT"

R = TypeVar("R", bound=Record)


class StateStore:
    def __init__(self, table: Table):
        self.table = table

    def component_states(self, ids: Iterable[str] | None = None) -> dict[str, ComponentState]:
        """Every component's state, or (read by key) those of ``ids``: what the page and writers need."""
        if ids is None:
            states = self._all(COMPONENT, ComponentState)
        else:
            states = [ComponentState.from_data({**item.data, "version": item.version})
                      for item in self.table.get_many(COMPONENT, sorted(set(ids))).values()]
        return {state.component_id: state for state in states}

    def incidents(self) -> list[Incident]:
        return IncidentStore(self.table).incidents()

    def open_incidents(self) -> list[Incident]:
        return IncidentStore(self.table).open_incidents()

    def notices(self) -> list[Notice]:
        return self._all(NOTICE, Notice)

    def listed_notices(self) -> list[Notice]:
        """The same notices as ``notices``, read by key."""
        return IncidentStore(self.table).listed_notices()

    def component_state(self, component_id: str) -> ComponentState | None:
        item = self.table.get(COMPONENT, component_id)
        return None if item is None else ComponentState.from_data({**item.data, "version": item.version})

    def save_component_state(self, state: ComponentState) -> ComponentState:
        return self._save(COMPONENT, state.component_id, state)

    def change_component_state(self, component_id: str, change: Callable[[ComponentState], ComponentState],
                               now: datetime, attempts: int = 5) -> ComponentState:
        """Apply ``change`` to one component's state (a new one when it has none) and save it.

        Probes and marketers both write component states: when the other saved in between,
        re-read and apply the change again. What ``change`` raises (a stale If-Match) stops it.
        """
        for _ in range(attempts):
            current = self.component_state(component_id) or ComponentState(component_id=component_id, updated_at=now)
            changed = change(current)
            try:
                return self.save_component_state(changed)
            except (Conflict, AlreadyExists):
                continue
        raise Conflict(f"component {component_id!r} kept changing; gave up after {attempts} attempts")

    def save_incident(self, incident: Incident) -> Incident:
        return IncidentStore(self.table).save_incident(incident)

    def save_notice(self, notice: Notice) -> Notice:
        saved = self._save(NOTICE, notice.id, notice)
        self.table.add_members(LISTED, NOTICES, MEMBERS, [notice.id])  # after the item (``store.incidents``)
        return saved

    def _all(self, pk: str, model: type[R]) -> list[R]:
        return [model.from_data({**item.data, "version": item.version}) for item in self.table.query_all(pk)]

    def _save(self, pk: str, sk: str, record: R) -> R:
        data = record.as_json(exclude={"version"})
        version = record.version  # type: ignore[attr-defined]
        if version == 0:
            item = self.table.create(pk, sk, data)
        else:
            item = self.table.replace(Item(pk, sk, {}, version), data)
        return record.replace(version=item.version)
