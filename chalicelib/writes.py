"""What every service that changes the page shares: ``Writes`` (the clock, the audit log,
notifications), ``NotFound`` for an unknown id, and the version checks that keep two
writers from losing each other's work (``check_version``, ``rereads_on_conflict``).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime

from chalicelib.config import Site
from chalicelib.model import ComponentState, ComponentStatus, NotificationEvent, NotificationKind, Translation, new_id
from chalicelib.notify.events import record_notification
from chalicelib.status import component_status
from chalicelib.store.audit import AuditStore
from chalicelib.store.incidents import IncidentStore
from chalicelib.store.records import StateStore
from chalicelib.store.table import Conflict, Table

WRITE_ATTEMPTS = 5


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
               texts: dict[str, str | None] | None = None, contacts_first: tuple[str, ...] = (),
               translations: dict[str, Translation] | None = None) -> NotificationEvent:
        now = self.clock()
        texts = texts or {}
        event = NotificationEvent(
            id=new_id(now), kind=kind, created_at=now, title=title, body=body, incident_id=incident_id,
            update_id=update_id, notice_id=notice_id, component_ids=sorted(component_ids),
            email_subject=texts.get("email_subject"), email_text=texts.get("email_text"),
            sms_text=texts.get("sms_text"), contacts_first=list(contacts_first), translations=translations or {},
        )
        record_notification(self.table, event)
        return event

    def check_languages(self, translations: dict | None, field: str = "translations") -> None:
        """Texts may be given in the site's other languages; the default language's text is the record's own."""
        others = self.site.languages[1:]
        unknown = sorted(set(translations or {}) - set(others))
        if unknown:
            allowed = f"use one of {', '.join(others)}" if others else "this page has one language (site.yml: languages)"
            raise ValueError(f"{field}: no language {', '.join(map(repr, unknown))} to translate into; {allowed}")

    def check_components(self, component_ids, field: str = "components") -> None:
        unknown = sorted(set(component_ids) - self.site.component_ids)
        if unknown:
            raise ValueError(f"{field}: no component {', '.join(map(repr, unknown))}; "
                             f"use one of {sorted(self.site.component_ids)}")

    def current_statuses(self) -> dict[str, ComponentStatus]:
        """What the page shows for each component right now (precedence of ``status``)."""
        now = self.clock()
        # Read by key (the site's components, the listed open incidents): a write costs the same
        # whatever the history holds.
        states = self.states.component_states(c.id for c in self.site.components)
        open_incidents = self.states.open_incidents()
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

