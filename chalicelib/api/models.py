"""Request and response bodies of the marketer API.

Requests are strict: unknown fields, wrong types, unknown enum values, timestamps without
a zone and empty titles are refused (422, each field named). Texts have size limits, the
whole body 64 KiB (413). Every text is cleaned first by ``chalicelib.cleantext`` (invisible
controls and bidi overrides removed, pasted breaks made newlines or spaces).
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, StringConstraints,
                      WithJsonSchema)

from chalicelib.cleantext import clean_line, clean_paragraphs
from chalicelib.model import ComponentStatus, Impact, IncidentStatus, MaintenanceStatus, isoformat


def _cleaned(clean):
    # Anything but a string goes on unchanged, so the type check after refuses it with its usual message.
    def validate(value: Any) -> Any:
        return clean(value) if isinstance(value, str) else value
    return BeforeValidator(validate)


# The cleaning wraps the constraints, so lengths are checked on what is kept.
def line(**constraints) -> Any:
    """A one-line text (``cleantext.clean_line``) with ``StringConstraints``."""
    return Annotated[str, StringConstraints(**constraints), _cleaned(clean_line)]


def paragraphs(**constraints) -> Any:
    """A body (``cleantext.clean_paragraphs``) with ``StringConstraints``."""
    return Annotated[str, StringConstraints(**constraints), _cleaned(clean_paragraphs)]


Title = line(strip_whitespace=True, min_length=1, max_length=200)
Body = paragraphs(max_length=10_000)
RequiredBody = paragraphs(strip_whitespace=True, min_length=1, max_length=10_000)
ComponentId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
Version = Annotated[int, Field(ge=1, le=999_999_999, description="The version you read; a stale one gets 409")]
Timestamp = AwareDatetime
Cursor = Annotated[str, StringConstraints(pattern=r"^[0-9a-z]{1,32}$")]
# Answers carry Statuspage's timestamp form, milliseconds and zone: 2026-05-01T12:00:00.000Z.
Moment = Annotated[datetime, PlainSerializer(isoformat, return_type=str, when_used="json"),
                   WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization")]


class Model(BaseModel):
    """Every body of the API. Its validator and serializer are built on first use, not at import:
    a call uses two or three of the API's models, and the init builds none of them."""

    model_config = ConfigDict(defer_build=True)


class Request(Model):
    model_config = ConfigDict(extra="forbid", strict=True)


Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]


class IncidentText(Request):
    """An incident's name and text in one more of the site's languages."""

    name: Title | None = None
    body: Body | None = None


class UpdateText(Request):
    body: RequiredBody


class NoticeText(Request):
    title: Title | None = None
    body: Body | None = None


_TRANSLATIONS = ("Texts in the site's other languages (site.yml: languages), by language code, e.g. "
                 "{\"de\": {...}}. Readers of a language left out get the original with a notice, in their "
                 "language, that no translation was given.")


def translations():
    return Field(default_factory=dict, max_length=20, description=_TRANSLATIONS)


class Response(Model):
    model_config = ConfigDict(extra="forbid")


# -- requests -----------------------------------------------------------------------------------


class CreateIncident(Request):
    name: Title
    body: RequiredBody
    status: IncidentStatus = IncidentStatus.INVESTIGATING
    impact: Impact = Impact.MINOR
    components: dict[ComponentId, ComponentStatus] = Field(default_factory=dict, max_length=100)
    notify: bool = False
    translations: dict[Language, IncidentText] = translations()


class CreateIncidentUpdate(Request):
    status: IncidentStatus
    body: RequiredBody
    components: dict[ComponentId, ComponentStatus] = Field(default_factory=dict, max_length=100)
    notify: bool = False
    version: Version | None = None
    translations: dict[Language, UpdateText] = translations()


class EditIncident(Request):
    name: Title
    version: Version | None = None


class EditUpdate(Request):
    body: RequiredBody
    version: Version | None = None


class ResolveIncident(Request):
    body: RequiredBody = "This incident has been resolved."
    notify: bool = False
    version: Version | None = None
    translations: dict[Language, UpdateText] = translations()


class Postmortem(Request):
    body: RequiredBody
    version: Version | None = None


class SetComponentStatus(Request):
    status: ComponentStatus
    until: Timestamp | None = Field(default=None, description="When the manual status expires (ISO-8601 with zone)")
    version: Version | None = None


class CreateNotice(Request):
    title: Title
    body: Body = ""
    starts_at: Timestamp | None = None
    ends_at: Timestamp | None = None
    notify: bool = False
    translations: dict[Language, NoticeText] = translations()


class EditNotice(Request):
    title: Title | None = None
    body: Body | None = None
    starts_at: Timestamp | None = None
    ends_at: Timestamp | None = None
    version: Version | None = None


class ScheduleMaintenance(Request):
    name: Title
    body: Body = ""
    scheduled_for: Timestamp
    scheduled_until: Timestamp
    components: list[ComponentId] = Field(min_length=1, max_length=100)
    notify: bool = False
    translations: dict[Language, IncidentText] = translations()


class EditMaintenance(Request):
    name: Title | None = None
    body: Body | None = None
    scheduled_for: Timestamp | None = None
    scheduled_until: Timestamp | None = None
    components: list[ComponentId] | None = Field(default=None, min_length=1, max_length=100)
    status: Literal["scheduled", "in_progress", "verifying", "completed"] | None = None
    notify: bool = False
    version: Version | None = None


class CancelMaintenance(Request):
    body: Body = "This scheduled maintenance has been cancelled."
    notify: bool = False
    version: Version | None = None


class TriggerPlaybook(Request):
    variables: dict[Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]{0,31}$")],
                    line(max_length=200)] = Field(default_factory=dict, max_length=20)
    cause: line(max_length=500) | None = None


class CreateKey(Request):
    name: line(strip_whitespace=True, min_length=1, max_length=80)
    scope: Literal["marketer", "admin"] = "marketer"


class Empty(Request):
    pass


# -- queries ------------------------------------------------------------------------------------


class PageQuery(Request):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(default=25, ge=1, le=100)
    cursor: Cursor | None = None


class IncidentQuery(PageQuery):
    status: Annotated[str, StringConstraints(pattern=r"^(open|closed|investigating|identified|monitoring|resolved"
                                                     r"|postmortem)(,(open|closed|investigating|identified|monitoring"
                                                     r"|resolved|postmortem))*$")] | None = Field(
        default=None, description="Comma-separated statuses; 'open' and 'closed' stand for their groups")


class MaintenanceQuery(PageQuery):
    status: Annotated[str, StringConstraints(pattern=r"^(open|closed|scheduled|in_progress|verifying|completed"
                                                     r"|cancelled)(,(open|closed|scheduled|in_progress|verifying"
                                                     r"|completed|cancelled))*$")] | None = None


class NoticeQuery(PageQuery):
    active: bool = False


# -- responses ----------------------------------------------------------------------------------


class ComponentChangeOut(Response):
    component_id: str
    old_status: ComponentStatus | None = None
    new_status: ComponentStatus


class UpdateOut(Response):
    id: str
    status: str
    body: str
    created_at: Moment
    updated_at: Moment
    display_at: Moment
    affected_components: list[ComponentChangeOut]
    deliver_notifications: bool
    translations: dict[str, str] = Field(default_factory=dict, description="The text by language, where given")


class IncidentOut(Response):
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
    translations: dict[str, str] = Field(default_factory=dict, description="The name by language, where given")
    version: int


class MaintenanceOut(Response):
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


class IncidentList(Response):
    data: list[IncidentOut]
    next_cursor: str | None


class MaintenanceList(Response):
    data: list[MaintenanceOut]
    next_cursor: str | None


class NoticeOut(Response):
    id: str
    title: str
    body: str
    starts_at: Moment | None
    ends_at: Moment | None
    active: bool
    created_at: Moment
    updated_at: Moment
    translations: dict[str, NoticeText] = Field(default_factory=dict,
                                                description="The title and text by language, where given")
    version: int


class NoticeList(Response):
    data: list[NoticeOut]
    next_cursor: str | None


class ComponentOut(Response):
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


class ComponentList(Response):
    data: list[ComponentOut]


class PlaybookOut(Response):
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


class PlaybookList(Response):
    data: list[PlaybookOut]


class PlaybookResolved(Response):
    resolved: bool
    incident: IncidentOut | None


class KeyOut(Response):
    id: str
    name: str
    scope: Literal["marketer", "admin"]
    created_at: Moment
    created_by: str
    revoked_at: Moment | None


class KeyCreated(KeyOut):
    secret: str = Field(description="The key itself; shown only in this response")


class KeyList(Response):
    data: list[KeyOut]


class AuditOut(Response):
    id: str
    at: Moment
    actor: str
    action: str
    target: str
    summary: str


class AuditList(Response):
    data: list[AuditOut]
    next_cursor: str | None


class NotificationOut(Response):
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
    translations: dict[str, dict[str, str | None]] = Field(default_factory=dict,
                                                           description="The texts by language, where given")


class NotificationList(Response):
    data: list[NotificationOut]
    next_cursor: str | None


class WithheldOut(Response):
    key: str = Field(description="The object not uploaded this time; its last good copy stays live")
    incident_id: str | None
    problems: list[str]


class Published(Response):
    uploaded: int
    unchanged: int
    withheld: list[WithheldOut] = Field(
        default_factory=list, description="Objects held back because they failed their checks; all else went out")


class Health(Response):
    status: str
    stage: str
    site: str
