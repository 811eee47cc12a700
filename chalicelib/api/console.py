"""What the marketer console (``/admin/`` on the page) asks the API besides the marketer routes.

- ``GET /me``: the caller's key (name and scope), so the console shows admin screens to admin keys only;
- ``GET /page``: the page's address, its time zone (the console enters and shows maintenance windows and
  notices in it) and when ``index.html`` was last uploaded to the bucket;
- ``POST /preview``: a body as the page shows it, through the page's own Markdown sanitiser;
- ``GET /subscribers/search``: a page of subscribers as ``GET /subscribers`` lists them (chat URLs masked),
  those whose destination holds ``q``, with the counts per channel and status. The console cannot call
  ``GET /subscribers`` itself: the public sign-up form's preflight answers that path, and it allows
  neither ``GET`` nor ``Authorization``;
- ``GET /playbooks/{id}/preview``: exactly what triggering (or resolving) a playbook sends, before
  anyone taps: the page's title and text, the email subject and text, the SMS with its segment
  count, and how many subscribers of each channel receive it. It takes the texts from
  ``Playbook.rendered`` as the trigger does, renders them with ``notify.content`` (what the email
  and SMS channels call when they deliver) and counts recipients with the fan-out's own
  ``FanOutPlanner``, so the preview cannot drift from what goes out. It writes nothing.
"""
from __future__ import annotations

import math
from datetime import datetime
from types import SimpleNamespace
from typing import Annotated, Literal

import msgspec
from chalice import Blueprint
from msgspec import Meta

from chalicelib import schema
from chalicelib.api import models
from chalicelib.api.models import empty
from chalicelib.api.common import services
from chalicelib.api.subscribers import SubscriberOut
from chalicelib.api.http import Unprocessable, invalid
from chalicelib.api.openapi import Call, documented
from chalicelib.incidents import IncidentService
from chalicelib.model import (Incident, IncidentKind, IncidentStatus, NotificationEvent, NotificationKind, Translation,
                              new_id)
from chalicelib.translations import event_in, incident_in

bp = Blueprint(__name__)
MARKETER = "marketer"
# Characters one part of a multi-part SMS holds: the concatenation header takes the rest.
_PART = {160: 153, 70: 67}


class Me(models.Response, kw_only=True):
    id: str
    name: str
    scope: Literal["marketer", "admin"]
    created_at: models.Moment


class PageOut(models.Response, kw_only=True):
    url: str
    time_zone: Annotated[str, Meta(
        description="The page's IANA time zone (site.yml brand.time_zone), e.g. Europe/Berlin")]
    published_at: Annotated[models.Moment, Meta(
        description="When index.html was last uploaded; null before the first publish")] | None


class PreviewBody(models.Request, kw_only=True):
    body: models.Body


class PreviewOut(models.Response, kw_only=True):
    html: Annotated[str, Meta(description="The body as the page shows it, sanitised as the page sanitises it")]


class SubscriberSearchQuery(models.Request, kw_only=True):
    q: Annotated[str, Meta(
        description="Part of the destination as listings show it (chat URLs masked); any case",
        max_length=200)] | None = None
    limit: Annotated[int, Meta(description="How many subscribers to look at, oldest first", ge=1, le=1000)] = 500
    cursor: Annotated[str, Meta(max_length=2000)] | None = None


class PlaybookPreviewQuery(models.Request, kw_only=True):
    action: Literal["trigger", "resolve"] = "trigger"
    variables: Annotated[str, Meta(
        description='The trigger\'s variables as a JSON object, e.g. {"eta": "15:00"}', max_length=4000)] | None = None


class EmailPreview(models.Response, kw_only=True):
    subject: str
    text: str


class SmsPreview(models.Response, kw_only=True):
    text: str
    characters: Annotated[int, Meta(description="GSM-7 septets, or UTF-16 units when a character needs UCS-2")]
    encoding: Literal["GSM-7", "UCS-2"]
    segments: int


class LanguagePreview(models.Response, kw_only=True):
    name: str
    body: str
    translated: Annotated[bool, Meta(
        description="False: no text in this language was given; its readers get the original with a notice saying so")]
    email: EmailPreview | None
    sms: SmsPreview | None
    recipients: Annotated[int, Meta(description="Subscribers who read this language and receive it")]


class PlaybookPreview(models.Response, kw_only=True):
    playbook_id: str
    action: Literal["trigger", "resolve"]
    effect: Annotated[Literal["open", "update", "resolve", "nothing"], Meta(
        description="open a new incident, update the open one, resolve it, or nothing (no incident is open)")]
    incident_id: str | None
    name: str
    status: IncidentStatus
    body: str
    body_html: str
    components: dict[str, models.ComponentStatus]
    notify: bool
    email: EmailPreview | None
    sms: SmsPreview | None
    recipients: Annotated[dict[str, int], Meta(description="Subscribers who receive it, per channel")]
    languages: Annotated[dict[str, LanguagePreview], Meta(
        description="The same in every language of the site (the default's included), as its readers get it")] = empty()


@documented(bp, "/me", methods=["GET"], responses={200: Me}, scope=MARKETER,
            summary="The key making this request: its name and scope")
def who_am_i(call: Call):
    key = call.key
    return Me(id=key.id, name=key.name, scope=key.scope, created_at=key.created_at)


@documented(bp, "/page", methods=["GET"], responses={200: PageOut}, scope=MARKETER,
            summary="The page's address, its time zone and when it was last published")
def page(call: Call):
    from chalicelib.config import get_site

    brand = get_site().brand
    return PageOut(url=brand.page_url, time_zone=brand.time_zone, published_at=last_published_at())


def last_published_at() -> datetime | None:
    """When the page's entry point was last uploaded (publishes upload ``index.html`` every time, last)."""
    from botocore.exceptions import ClientError

    from chalicelib import aws
    from chalicelib.settings import get_settings

    try:
        answer = aws.client("s3").head_object(Bucket=get_settings().bucket_name, Key="index.html")
    except ClientError as exc:
        # Without s3:ListBucket (the API may read index.html only) S3 answers a missing key with 403.
        if exc.response.get("Error", {}).get("Code") in ("403", "404", "NoSuchKey", "NotFound", "AccessDenied"):
            return None
        raise
    return answer["LastModified"]


@documented(bp, "/preview", methods=["POST"], body=PreviewBody, responses={200: PreviewOut}, scope=MARKETER,
            summary="A body as the page will show it (the page's Markdown subset and sanitiser); stores nothing")
def preview_body(call: Call):
    from chalicelib.config import get_site
    from chalicelib.text import markdown_html

    return PreviewOut(html=str(markdown_html(call.body.body, links_from=get_site().brand.website)))


class SubscriberSearch(models.Response, kw_only=True):
    data: Annotated[list[SubscriberOut], Meta(
        description="Those of the subscribers looked at whose destination holds q")]
    looked_at: Annotated[int, Meta(description="How many subscribers this page looked at")]
    next_cursor: Annotated[str, Meta(description="Where the next page starts; null after the last subscriber")] | None
    counts: Annotated[dict[str, dict[str, int]], Meta(description="Every subscriber, per channel and status")]


@documented(bp, "/subscribers/search", methods=["GET"], query=SubscriberSearchQuery,
            responses={200: SubscriberSearch}, scope="admin", tag="subscribers",
            summary="Look at a page of subscribers, oldest first, keeping those whose shown destination holds q")
def search_subscribers(call: Call):
    from chalicelib.api.subscribers import _out
    from chalicelib.notify import service
    from chalicelib.store.subscribers import SubscriberStore

    store = SubscriberStore(service.table())
    try:
        page_of_subscribers, cursor = store.page(call.query.limit, call.query.cursor)
    except ValueError as exc:
        raise Unprocessable(f"cursor: {exc}", [{"field": "cursor", "problem": str(exc)}]) from None
    needle = (call.query.q or "").strip().lower()
    shown = [_out(s) for s in page_of_subscribers]
    return SubscriberSearch(data=[s for s in shown if needle in s.destination.lower()], looked_at=len(shown),
                            next_cursor=cursor, counts=store.counts())


@documented(bp, "/playbooks/{playbook_id}/preview", methods=["GET"], query=PlaybookPreviewQuery,
            responses={200: PlaybookPreview}, scope=MARKETER,
            summary="Exactly what triggering or resolving the playbook sends, and to how many; sends nothing")
def preview_playbook(call: Call):
    service = services(IncidentService)
    variables = _variables(call.query.variables)
    return playbook_preview(service, call.params["playbook_id"], call.query.action, variables)


def _variables(raw: str | None) -> dict[str, str]:
    if raw is None:
        return {}
    try:
        given = msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        raise Unprocessable('variables: not a JSON object; send e.g. {"eta": "15:00"}',
                            [{"field": "variables", "problem": 'not a JSON object; send e.g. {"eta": "15:00"}'}]
                            ) from None
    try:
        return schema.read(models.TriggerPlaybook, {"variables": given}, strict=True).variables
    except schema.Invalid as exc:
        raise invalid(exc, "query") from None


def playbook_preview(service: IncidentService, playbook_id: str, action: str,
                     variables: dict[str, str]) -> PlaybookPreview:
    """What ``trigger_playbook`` / ``resolve_playbook`` would record and send now, computed the same way."""
    from chalicelib.text import markdown_html

    playbook = service.playbook(playbook_id)
    current = service.open_incident_of_playbook(playbook_id)
    now = service.clock()
    translations = service.playbook_translations(playbook_id, variables if action == "trigger" else {},
                                                  "resolve." if action == "resolve" else "")
    if action == "resolve":
        texts = playbook.rendered({})
        if current is None:
            return PlaybookPreview(
                playbook_id=playbook.id, action="resolve", effect="nothing", incident_id=None, name=playbook.name,
                status=IncidentStatus.RESOLVED, body="", body_html="", components={}, notify=False, email=None,
                sms=None, recipients={})
        kind, effect, name, status = NotificationKind.INCIDENT_RESOLVED, "resolve", current.name, IncidentStatus.RESOLVED
        body, components = texts["resolve.body"], dict(current.components)
        prepared = {"email_subject": texts["resolve.email_subject"], "email_text": texts["resolve.email_text"],
                    "sms_text": texts["resolve.sms_text"]}
    else:
        texts = playbook.rendered(variables)
        name, body, components = texts["name"], texts["body"], {**(current.components if current else {}),
                                                                **playbook.components}
        prepared = {k: texts[k] for k in ("email_subject", "email_text", "sms_text")}
        if current is None:
            kind, effect, status = NotificationKind.INCIDENT_OPENED, "open", IncidentStatus(playbook.status)
        else:
            kind, effect, status = NotificationKind.INCIDENT_UPDATED, "update", IncidentStatus(current.status)
    incident = _incident_as_it_would_be(current, now, name=name, status=status, impact=playbook.impact,
                                        components=components, playbook_id=playbook.id)
    event = NotificationEvent(
        id=new_id(now), kind=kind, created_at=now, title=name, body=body, incident_id=incident.id,
        component_ids=sorted(incident.components if kind is not NotificationKind.INCIDENT_OPENED
                             else playbook.components),
        email_subject=prepared["email_subject"], email_text=prepared["email_text"], sms_text=prepared["sms_text"],
        contacts_first=list(playbook.contacts_first), translations=translations)
    if action == "trigger":
        incident = incident.replace(translations={
            language: Translation(title=t.title) for language, t in translations.items()})
    email = sms = None
    recipients: dict[str, int] = {}
    readers: dict[str, int] = {}
    if playbook.notify:
        email, sms = _messages(service, event, incident, service.site.default_language)
        recipients, readers = _recipients(service, event)
    languages = {}
    for language in service.site.languages:
        read = event_in(event, language, service.site.default_language)
        in_language = email_in = sms_in = None
        if playbook.notify:
            in_language = incident_in(incident, language, service.site.default_language)
            email_in, sms_in = _messages(service, read, in_language, language)
        languages[language] = LanguagePreview(name=read.title, body=read.body, translated=not read.untranslated,
                                              email=email_in, sms=sms_in, recipients=readers.get(language, 0))
    return PlaybookPreview(
        playbook_id=playbook.id, action=action, effect=effect, incident_id=current.id if current else None, name=name,
        status=status, body=body, body_html=str(markdown_html(body, links_from=service.site.brand.website)),
        components=components, notify=playbook.notify, email=email, sms=sms, recipients=recipients,
        languages=languages)


def _incident_as_it_would_be(current: Incident | None, now: datetime, **change) -> Incident:
    """The incident the messages describe: the open one changed, or the one the trigger would open.

    A new incident gets an id of the same form and length as the one it will get, so the
    SMS, whose link holds it, is as long as the one sent.
    """
    change["status"] = IncidentStatus(change["status"]).value
    if current is not None:
        return current.replace(**{k: v for k, v in change.items() if k != "playbook_id"})
    return Incident(id=new_id(now), kind=IncidentKind.INCIDENT, created_at=now, updated_at=now, started_at=now,
                    updates=[], **change)


def _messages(service: IncidentService, event: NotificationEvent, incident: Incident, language: str
              ) -> tuple[EmailPreview, SmsPreview]:
    from chalicelib.notify import content
    from chalicelib.notify.delivery import subscriber_links
    from chalicelib.settings import get_settings

    settings = get_settings()
    # The links of one subscriber, with placeholders where each recipient's own id and token go.
    links = subscriber_links(settings.api_url, service.site, event,
                             SimpleNamespace(id="SUBSCRIBER", manage_token="TOKEN"), language)
    site = service.site.in_language(language)
    mail = content.notification_email(event, site, incident, links, settings.templates_dir, language=language)
    text = content.notification_sms(event, site, incident, links, settings.templates_dir, language=language)
    return EmailPreview(subject=mail.subject, text=mail.text), sms_preview(text)


def sms_preview(text: str) -> SmsPreview:
    from chalicelib.notify.content import GSM_SEGMENT, sms_length

    used, limit = sms_length(text)
    segments = 1 if used <= limit else math.ceil(used / _PART[limit])
    return SmsPreview(text=text, characters=used, encoding="GSM-7" if limit == GSM_SEGMENT else "UCS-2",
                      segments=segments)


def _recipients(service: IncidentService, event: NotificationEvent) -> tuple[dict[str, int], dict[str, int]]:
    """Who would receive it: per channel, and per language they read."""
    from chalicelib.notify.planning import FanOutPlanner, selected
    from chalicelib.store.subscribers import SubscriberStore

    planner = FanOutPlanner(event, service.site.subscriptions)
    readers: dict[str, int] = {}
    for page_of_subscribers in SubscriberStore(service.table).pages(1000):
        planner.add(page_of_subscribers)
        for subscriber in page_of_subscribers:
            if selected(subscriber, event, planner.channels):
                language = subscriber.reads(service.site.languages)
                readers[language] = readers.get(language, 0) + 1
    return planner.counts, readers
