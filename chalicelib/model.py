"""Beacon's vocabulary: the records every part of the product shares.

Words follow Atlassian Statuspage's public v2 API, so the JSON the page publishes needs
no translation: a *component* has a status, an *incident* (or a *maintenance*, which is
an incident with a window) has updates, a *notice* is an announcement that is not an
outage. These models do no I/O; the store turns them into DynamoDB items and back.

Records are msgspec structs: ``Record.from_data`` checks and loads one from its JSON form
(unknown fields refused), ``as_json`` gives that form back, ``replace`` a changed copy. Building
one in code checks nothing, as with a dataclass: give it the typed values (enums, datetimes).
Each record class says ``kw_only=True`` again, as msgspec applies it to the fields a class
declares (a required field may then follow one with a default).
"""
from __future__ import annotations

import secrets
from datetime import date, datetime, timezone
from enum import StrEnum
from typing import Any, ClassVar, Self

import msgspec
from msgspec import field


class ComponentStatus(StrEnum):
    OPERATIONAL = "operational"
    DEGRADED_PERFORMANCE = "degraded_performance"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"
    UNDER_MAINTENANCE = "under_maintenance"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]


_SEVERITY = {
    ComponentStatus.OPERATIONAL: 0,
    ComponentStatus.UNDER_MAINTENANCE: 1,
    ComponentStatus.DEGRADED_PERFORMANCE: 2,
    ComponentStatus.PARTIAL_OUTAGE: 3,
    ComponentStatus.MAJOR_OUTAGE: 4,
}
_STATUS_LABELS = {
    ComponentStatus.OPERATIONAL: "Operational",
    ComponentStatus.UNDER_MAINTENANCE: "Under Maintenance",
    ComponentStatus.DEGRADED_PERFORMANCE: "Degraded Performance",
    ComponentStatus.PARTIAL_OUTAGE: "Partial Outage",
    ComponentStatus.MAJOR_OUTAGE: "Major Outage",
}


class StatusSource(StrEnum):
    """Where a component's current status comes from."""

    PROBE = "probe"
    MANUAL = "manual"
    INCIDENT = "incident"
    MAINTENANCE = "maintenance"


class Indicator(StrEnum):
    """The page's overall status, in Statuspage's words."""

    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"
    MAINTENANCE = "maintenance"

    @property
    def description(self) -> str:
        return _INDICATOR_DESCRIPTIONS[self]


_INDICATOR_DESCRIPTIONS = {
    Indicator.NONE: "All Systems Operational",
    Indicator.MINOR: "Partially Degraded Service",
    Indicator.MAJOR: "Partial System Outage",
    Indicator.CRITICAL: "Major System Outage",
    Indicator.MAINTENANCE: "Service Under Maintenance",
}


class IncidentStatus(StrEnum):
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    POSTMORTEM = "postmortem"


class MaintenanceStatus(StrEnum):
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    VERIFYING = "verifying"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Impact(StrEnum):
    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"
    MAINTENANCE = "maintenance"


class IncidentKind(StrEnum):
    INCIDENT = "incident"
    MAINTENANCE = "maintenance"


CLOSED_STATUSES = frozenset(
    {IncidentStatus.RESOLVED, IncidentStatus.POSTMORTEM, MaintenanceStatus.COMPLETED, MaintenanceStatus.CANCELLED}
)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id(now: datetime | None = None) -> str:
    """A short id that sorts by creation time: 10 base-32 digits of milliseconds, 6 random."""
    millis = int((now or utcnow()).timestamp() * 1000)
    return _base32(millis, 10) + _base32(secrets.randbits(30), 6)


_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def _base32(value: int, width: int) -> str:
    digits = []
    for _ in range(width):
        value, rest = divmod(value, 32)
        digits.append(_ALPHABET[rest])
    return "".join(reversed(digits))


def isoformat(moment: datetime | None) -> str | None:
    """Statuspage's timestamp form: milliseconds and a zone, e.g. 2026-05-01T12:00:00.000Z."""
    if moment is None:
        return None
    utc = moment.astimezone(timezone.utc)
    # strftime's %Y does not pad years before 1000; strict clients want four digits.
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def epoch_seconds(moment: datetime) -> int:
    return int(moment.timestamp())


class Record(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of every stored record and queue message: strict about unknown fields, JSON-serialisable."""

    # Fields a copy may carry and the record's JSON form never does (marks made while reading).
    NOT_KEPT: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def from_data(cls, data: Any) -> Self:
        """The record from its JSON form (a dict as ``as_json`` gives it); ``msgspec.ValidationError``
        names the first field that does not fit."""
        return msgspec.convert(data, cls)

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes``, unchecked, as building one in code is."""
        return msgspec.structs.replace(self, **changes)

    def as_json(self, *, exclude: frozenset[str] | set[str] = frozenset(),
                include: frozenset[str] | set[str] | None = None) -> dict[str, Any]:
        """The record's JSON form: enums as their values, datetimes in ISO 8601, nested records
        the same way, without ``NOT_KEPT`` at any depth; ``exclude``/``include`` pick top-level fields."""
        return {name: _json(getattr(self, name)) for name in self.__struct_fields__
                if name not in self.NOT_KEPT and name not in exclude and (include is None or name in include)}


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _json(value: Any) -> Any:
    kind = type(value)
    if kind in _PLAIN:
        return value
    if isinstance(value, Record):
        return value.as_json()
    if kind is list or kind is tuple:
        return [_json(item) for item in value]
    if kind is dict:
        return {key: _json(item) for key, item in value.items()}
    return msgspec.to_builtins(value)


# Set on a copy read in a language the marketer gave no text in (``translations``); never stored.
_READING_MARKS = frozenset({"untranslated"})


class Translation(Record, kw_only=True):
    """A record's texts in one more language than the site's default; a text left out reads as the original.

    ``title`` is an incident's or maintenance's name, a notice's or notification's title.
    """

    title: str | None = None
    body: str | None = None
    email_subject: str | None = None
    email_text: str | None = None
    sms_text: str | None = None


class ComponentChange(Record, kw_only=True):
    component_id: str
    old_status: ComponentStatus | None = None
    new_status: ComponentStatus


class IncidentUpdate(Record, kw_only=True):
    id: str
    status: str
    body: str = ""
    created_at: datetime
    updated_at: datetime
    display_at: datetime
    affected_components: list[ComponentChange] = field(default_factory=list)
    deliver_notifications: bool = False
    translations: dict[str, Translation] = field(default_factory=dict)
    untranslated: bool = False
    NOT_KEPT = _READING_MARKS


class Incident(Record, kw_only=True):
    """An incident, or a scheduled maintenance (``kind`` tells which).

    ``components`` maps each affected component to the status this incident gives it
    while open; resolving the incident returns the components to what their probes or
    manual statuses say.
    """

    id: str
    kind: IncidentKind = IncidentKind.INCIDENT
    name: str
    status: str
    impact: Impact = Impact.NONE
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    monitoring_at: datetime | None = None
    resolved_at: datetime | None = None
    scheduled_for: datetime | None = None
    scheduled_until: datetime | None = None
    components: dict[str, ComponentStatus] = field(default_factory=dict)
    updates: list[IncidentUpdate] = field(default_factory=list)
    postmortem: str | None = None
    playbook_id: str | None = None
    cause: str | None = None
    translations: dict[str, Translation] = field(default_factory=dict)
    untranslated: bool = False
    NOT_KEPT = _READING_MARKS
    version: int = 0

    @property
    def is_open(self) -> bool:
        return self.status not in CLOSED_STATUSES

    @property
    def start(self) -> datetime:
        """Where it sits in time (history, sorting): a maintenance's scheduled start, else when it started."""
        if self.kind is IncidentKind.MAINTENANCE and self.scheduled_for:
            return self.scheduled_for
        return self.started_at or self.created_at


class Notice(Record, kw_only=True):
    """An announcement that is not an outage, shown while active."""

    id: str
    title: str
    body: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    translations: dict[str, Translation] = field(default_factory=dict)
    untranslated: bool = False
    NOT_KEPT = _READING_MARKS
    version: int = 0

    def is_active(self, now: datetime) -> bool:
        return (self.starts_at is None or self.starts_at <= now) and (self.ends_at is None or now < self.ends_at)


class ComponentState(Record, kw_only=True):
    """What is known of one component right now, and from which source."""

    component_id: str
    probe_status: ComponentStatus = ComponentStatus.OPERATIONAL
    manual_status: ComponentStatus | None = None
    manual_until: datetime | None = None
    cause: str | None = None
    updated_at: datetime
    version: int = 0



class NotificationKind(StrEnum):
    INCIDENT_OPENED = "incident.opened"
    INCIDENT_UPDATED = "incident.updated"
    INCIDENT_RESOLVED = "incident.resolved"
    MAINTENANCE_SCHEDULED = "maintenance.scheduled"
    MAINTENANCE_STARTED = "maintenance.started"
    MAINTENANCE_COMPLETED = "maintenance.completed"
    MAINTENANCE_CANCELLED = "maintenance.cancelled"
    NOTICE_POSTED = "notice.posted"


class NotificationEvent(Record, kw_only=True):
    """Something subscribers are to be told, recorded once by whoever caused it.

    ``component_ids`` are the affected components (empty: every subscriber). Prepared
    texts (from a playbook) replace the default wording of ``templates/`` when given.
    """

    id: str
    kind: NotificationKind
    created_at: datetime
    title: str
    body: str = ""
    incident_id: str | None = None
    update_id: str | None = None
    notice_id: str | None = None
    component_ids: list[str] = field(default_factory=list)
    email_subject: str | None = None
    email_text: str | None = None
    sms_text: str | None = None
    contacts_first: list[str] = field(default_factory=list)
    translations: dict[str, Translation] = field(default_factory=dict)
    untranslated: bool = False
    NOT_KEPT = _READING_MARKS
    version: int = 0


class DayHistory(Record, kw_only=True):
    """One component's probe results over one UTC day, counted in place."""

    component_id: str
    day: date
    operational: int = 0
    degraded: int = 0
    partial: int = 0
    major: int = 0
    maintenance: int = 0
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None

    @property
    def checks(self) -> int:
        return self.operational + self.degraded + self.partial + self.major + self.maintenance

    @property
    def uptime(self) -> float | None:
        """Statuspage's weighting: a major outage counts whole, a partial one 30 %, maintenance not at all."""
        counted = self.checks - self.maintenance
        if counted == 0:
            return None
        return max(0.0, 1.0 - (self.major + 0.3 * self.partial) / counted)
