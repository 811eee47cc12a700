"""Request and response bodies of the marketer API, as msgspec structs.

Requests are strict: unknown fields, wrong types (a number in quotes too), unknown enum
values, timestamps without a zone and empty titles are refused (422, each field named, all
at once: ``chalicelib.schema.read``). Texts have size limits, the whole body 64 KiB (413).
Every text is cleaned first by ``chalicelib.cleantext`` (invisible controls and bidi
overrides removed, pasted breaks made newlines or spaces). Answers are built in code and
written by ``http.model_response``, every time in Statuspage's form (``Moment``).
"""
from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from chalicelib.model import ComponentStatus, Impact, IncidentStatus, MaintenanceStatus
from chalicelib.schema import line, paragraphs

Title = line(strip=True, min_length=1, max_length=200)
Body = paragraphs(max_length=10_000)
RequiredBody = paragraphs(strip=True, min_length=1, max_length=10_000)
ComponentId = Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", extra={
    "is_not": "a component id", "fix": "use the component's id from site.yml, e.g. 'facebook-page'"})]
Version = Annotated[int, Meta(ge=1, le=999_999_999, description="The version you read; a stale one gets 409")]
Timestamp = Annotated[datetime, Meta(tz=True)]
Cursor = Annotated[str, Meta(pattern=r"^[0-9a-z]{1,32}$", extra={
    "is_not": "a cursor", "fix": "pass next_cursor from the last page as it was"})]
# Answers carry Statuspage's timestamp form, milliseconds and zone: 2026-05-01T12:00:00.000Z
# (``http.model_response`` writes every datetime so).
Moment = datetime


def empty(kind: type = dict) -> Any:
    """The default of a list or mapping field: a new empty one for each body."""
    return msgspec.field(default_factory=kind)


def given(body: msgspec.Struct, *, leave: frozenset[str] = frozenset()) -> dict[str, Any]:
    """``body``'s fields but those left ``UNSET`` (in an edit, so, what the client sent) and ``leave``."""
    return {name: value for name, value in msgspec.structs.asdict(body).items()
            if value is not UNSET and name not in leave}


def extended(cls: type, answer: msgspec.Struct, **more: Any) -> Any:
    """``answer`` as ``cls``, a subclass that adds fields (``more``): a created key with its secret."""
    return cls(**msgspec.structs.asdict(answer), **more)


def out(cls: type, data: dict[str, Any]) -> Any:
    """An answer built from a record's JSON form (``Record.as_json``): its texts made datetimes and enums."""
    return msgspec.convert(data, cls)


class Model(msgspec.Struct, kw_only=True):
    """Every body of the API: a request read by ``http.parse_body``/``parse_query``, or an answer."""


class Request(Model, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A body or query a client sends: unknown fields are refused."""


Language = Annotated[str, Meta(pattern=r"^[a-z]{2,3}$", extra={
    "is_not": "a language code", "fix": "use a language of site.yml's languages, e.g. 'de'"})]


class IncidentText(Request, kw_only=True):
    """An incident's name and text in one more of the site's languages."""

    name: Title | None = None
    body: Body | None = None


class UpdateText(Request, kw_only=True):
    body: RequiredBody


class NoticeText(Request, kw_only=True):
    title: Title | None = None
    body: Body | None = None


_TRANSLATIONS = ("Texts in the site's other languages (site.yml: languages), by language code, e.g. "
                 "{\"de\": {...}}. Readers of a language left out get the original with a notice, in their "
                 "language, that no translation was given.")


def translations(text: type) -> Any:
    return Annotated[dict[Language, text], Meta(description=_TRANSLATIONS, max_length=20)]


class Response(Model, forbid_unknown_fields=True, kw_only=True):
    """An answer: built in code, or from a record's JSON form with ``out``."""


# -- requests -----------------------------------------------------------------------------------


class CreateIncident(Request, kw_only=True):
    name: Title
    body: RequiredBody
    status: IncidentStatus = IncidentStatus.INVESTIGATING
    impact: Impact = Impact.MINOR
    components: Annotated[dict[ComponentId, ComponentStatus], Meta(max_length=100)] = empty()
    notify: bool = False
    translations: translations(IncidentText) = empty()


class CreateIncidentUpdate(Request, kw_only=True):
    status: IncidentStatus
    body: RequiredBody
    components: Annotated[dict[ComponentId, ComponentStatus], Meta(max_length=100)] = empty()
    notify: bool = False
    version: Version | None = None
    translations: translations(UpdateText) = empty()


class EditIncident(Request, kw_only=True):
    name: Title
    version: Version | None = None


class EditUpdate(Request, kw_only=True):
    body: RequiredBody
    version: Version | None = None


class ResolveIncident(Request, kw_only=True):
    body: RequiredBody = "This incident has been resolved."
    notify: bool = False
    version: Version | None = None
    translations: translations(UpdateText) = empty()


class Postmortem(Request, kw_only=True):
    body: RequiredBody
    version: Version | None = None


class SetComponentStatus(Request, kw_only=True):
    status: ComponentStatus
    until: Annotated[Timestamp, Meta(description="When the manual status expires (ISO-8601 with zone)")] | None = None
    version: Version | None = None


class CreateNotice(Request, kw_only=True):
    title: Title
    body: Body = ""
    starts_at: Timestamp | None = None
    ends_at: Timestamp | None = None
    notify: bool = False
    translations: translations(NoticeText) = empty()


class EditNotice(Request, kw_only=True):
    """Only the fields given change; null clears a time."""

    title: Title | UnsetType = UNSET
    body: Body | None | UnsetType = UNSET
    starts_at: Timestamp | None | UnsetType = UNSET
    ends_at: Timestamp | None | UnsetType = UNSET
    version: Version | None = None


class ScheduleMaintenance(Request, kw_only=True):
    name: Title
    body: Body = ""
    scheduled_for: Timestamp
    scheduled_until: Timestamp
    components: Annotated[list[ComponentId], Meta(min_length=1, max_length=100)]
    notify: bool = False
    translations: translations(IncidentText) = empty()


class EditMaintenance(Request, kw_only=True):
    name: Title | None = None
    body: Body | None = None
    scheduled_for: Timestamp | None = None
    scheduled_until: Timestamp | None = None
    components: Annotated[list[ComponentId], Meta(min_length=1, max_length=100)] | None = None
    status: Literal["scheduled", "in_progress", "verifying", "completed"] | None = None
    notify: bool = False
    version: Version | None = None


class CancelMaintenance(Request, kw_only=True):
    body: Body = "This scheduled maintenance has been cancelled."
    notify: bool = False
    version: Version | None = None


Variable = Annotated[str, Meta(pattern=r"^[a-z_][a-z0-9_]{0,31}$", extra={
    "is_not": "a variable name", "fix": "use the playbook's placeholder without braces, e.g. 'platform'"})]


class TriggerPlaybook(Request, kw_only=True):
    variables: Annotated[dict[Variable, line(max_length=200)], Meta(max_length=20)] = empty()
    cause: line(max_length=500) | None = None


class CreateKey(Request, kw_only=True):
    name: line(strip=True, min_length=1, max_length=80)
    scope: Literal["marketer", "admin"] = "marketer"


class Empty(Request, kw_only=True):
    pass


# -- queries ------------------------------------------------------------------------------------


class PageQuery(Request, kw_only=True):
    limit: Annotated[int, Meta(ge=1, le=100)] = 25
    cursor: Cursor | None = None


def status_filter(statuses: type[Enum]) -> Any:
    """A query's comma-separated statuses: values of ``statuses``, or 'open' and 'closed' for their groups."""
    words = ["open", "closed", *(status.value for status in statuses)]
    one = "|".join(words)
    return Annotated[str, Meta(
        description="Comma-separated statuses; 'open' and 'closed' stand for their groups",
        pattern=rf"^({one})(,({one}))*$",
        extra={"is_not": "a list of statuses",
               "fix": f"give some of {', '.join(words)}, separated by commas, e.g. '{words[2]},{words[3]}'"},
    )]


class IncidentQuery(PageQuery, kw_only=True):
    status: status_filter(IncidentStatus) | None = None


class MaintenanceQuery(PageQuery, kw_only=True):
    status: status_filter(MaintenanceStatus) | None = None


class NoticeQuery(PageQuery, kw_only=True):
    active: bool = False


# -- responses ----------------------------------------------------------------------------------


class ComponentChangeOut(Response, kw_only=True):
    component_id: str
    old_status: ComponentStatus | None = None
    new_status: ComponentStatus


class UpdateOut(Response, kw_only=True):
    id: str
    status: str
    body: str
    created_at: Moment
    updated_at: Moment
    display_at: Moment
    affected_components: list[ComponentChangeOut]
    deliver_notifications: bool
    translations: Annotated[dict[str, str], Meta(description="The text by language, where given")] = empty()


class IncidentOut(Response, kw_only=True):
    id: str
    name: str
    status: IncidentStatus
    impact: Impact
    created_at: Moment
    updated_at: Moment
    started_at: Moment | None
    monitoring_at: Moment | None
    resolved_at: Moment | None
    components: dict[str, ComponentStatus]
    incident_updates: list[UpdateOut]
    postmortem: str | None
    playbook_id: str | None
    cause: str | None
    translations: Annotated[dict[str, str], Meta(description="The name by language, where given")] = empty()
    version: int


class MaintenanceOut(Response, kw_only=True):
    id: str
    name: str
    status: MaintenanceStatus
    impact: Impact
    created_at: Moment
    updated_at: Moment
    started_at: Moment | None
    resolved_at: Moment | None
    scheduled_for: Moment | None
    scheduled_until: Moment | None
    components: list[str]
    incident_updates: list[UpdateOut]
    version: int


class IncidentList(Response, kw_only=True):
    data: list[IncidentOut]
    next_cursor: str | None


class MaintenanceList(Response, kw_only=True):
    data: list[MaintenanceOut]
    next_cursor: str | None


class NoticeOut(Response, kw_only=True):
    id: str
    title: str
    body: str
    starts_at: Moment | None
    ends_at: Moment | None
    active: bool
    created_at: Moment
    updated_at: Moment
    translations: Annotated[dict[str, NoticeText], Meta(
        description="The title and text by language, where given")] = empty()
    version: int


class NoticeList(Response, kw_only=True):
    data: list[NoticeOut]
    next_cursor: str | None


class ComponentOut(Response, kw_only=True):
    id: str
    name: str
    group: str | None
    status: ComponentStatus
    source: Literal["probe", "manual", "incident", "maintenance"]
    probe_status: ComponentStatus
    manual_status: ComponentStatus | None
    manual_until: Moment | None
    cause: str | None
    updated_at: Moment
    version: int


class ComponentList(Response, kw_only=True):
    data: list[ComponentOut]


class PlaybookOut(Response, kw_only=True):
    id: str
    description: str
    components: dict[str, ComponentStatus]
    impact: Impact
    name: str
    body: str
    email_subject: str | None
    sms_text: str | None
    contacts_first: list[str]
    variables: dict[str, str]
    open_incident_id: str | None


class PlaybookList(Response, kw_only=True):
    data: list[PlaybookOut]


class PlaybookResolved(Response, kw_only=True):
    resolved: bool
    incident: IncidentOut | None


class KeyOut(Response, kw_only=True):
    id: str
    name: str
    scope: Literal["marketer", "admin"]
    created_at: Moment
    created_by: str
    revoked_at: Moment | None


class KeyCreated(KeyOut, kw_only=True):
    secret: Annotated[str, Meta(description="The key itself; shown only in this response")]


class KeyList(Response, kw_only=True):
    data: list[KeyOut]


class AuditOut(Response, kw_only=True):
    id: str
    at: Moment
    actor: str
    action: str
    target: str
    summary: str


class AuditList(Response, kw_only=True):
    data: list[AuditOut]
    next_cursor: str | None


class NotificationOut(Response, kw_only=True):
    id: str
    kind: str
    created_at: Moment
    title: str
    body: str
    incident_id: str | None
    update_id: str | None
    notice_id: str | None
    component_ids: list[str]
    email_subject: str | None
    email_text: str | None
    sms_text: str | None
    contacts_first: list[str]
    translations: Annotated[dict[str, dict[str, str | None]], Meta(
        description="The texts by language, where given")] = empty()


class NotificationList(Response, kw_only=True):
    data: list[NotificationOut]
    next_cursor: str | None


class WithheldOut(Response, kw_only=True):
    key: Annotated[str, Meta(description="The object not uploaded this time; its last good copy stays live")]
    incident_id: str | None
    problems: list[str]


class Published(Response, kw_only=True):
    uploaded: int
    unchanged: int
    withheld: Annotated[list[WithheldOut], Meta(
        description="Objects held back because they failed their checks; all else went out")] = empty(list)


class Health(Response, kw_only=True):
    status: str
    stage: str
    site: str
