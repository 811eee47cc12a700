"""Subscriber endpoints: public sign-up, confirmation, unsubscribe and manage; admin lists, webhooks and chat channels.

Public routes answer browsers and scripts alike: a plain form post gets an HTML page, a
script (``Accept: application/json``) gets JSON with CORS for the status page's origin.
The sign-up steps (subscribe, enter the code, confirm) refuse a POST that a browser says
comes from another site (``Origin``, or ``Referer`` when there is no ``Origin``): a form or
``text/plain`` post needs no CORS preflight, so without this any site could make its
visitors' browsers sign numbers up. A request with neither header comes from no browser
(curl, a script), which no other site can drive; the limits still apply to it.
Every link in a message points here. Admin routes use the API's key check and audit log.
"""
from __future__ import annotations

import json
import logging
from urllib.parse import urlsplit

from chalice import Blueprint, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib.api.auth import audit
from chalicelib.api import http
from chalicelib.api.http import NotFoundError, Unprocessable, field_errors
from chalicelib.api.openapi import Call, describe, documented
from chalicelib.config import get_site
from chalicelib.model import utcnow
from chalicelib.notify import channels, service
from chalicelib.notify.admin import add_subscriber, admin_channel
from chalicelib.notify.destinations import InvalidDestination, mask
from chalicelib.store.windows import TooMany
from chalicelib.notify.model import Channel, Subscriber, SubscriberStatus
from chalicelib.notify.senders import Permanent
from chalicelib.notify.signup import ConfirmationNotSent, InvalidLink, SignupAnswer, WrongCode
from chalicelib.notify.transfer import export_csv, import_rows
from chalicelib.observability import operation
from chalicelib.settings import get_settings
from chalicelib.text import environment
from chalicelib.store.notifications import NotificationStore
from chalicelib.store.subscribers import SubscriberStore
from chalicelib.store.table import AlreadyExists

log = logging.getLogger("beacon.api")
bp = Blueprint(__name__)

FORM_TYPES = ["application/json", "application/x-www-form-urlencoded", "multipart/form-data", "text/plain"]


# -- request and response shapes ---------------------------------------------------------
class SubscribeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    components: list[str] = Field(default_factory=list, max_length=200)


class SubscribeAnswer(BaseModel):
    status: str = "pending"
    channel: str
    destination: str = Field(description="The destination, masked")
    message: str
    verify_url: str | None = Field(default=None, description="SMS: where the code is entered")


class CodeRequest(BaseModel):
    code: str = Field(min_length=6, max_length=12)


class Done(BaseModel):
    status: str
    message: str


class SubscriberOut(BaseModel):
    id: str
    channel: str
    destination: str
    components: list[str]
    status: str
    consent: str | None
    created_at: str
    confirmed_at: str | None
    unsubscribed_at: str | None
    suppressed_reason: str | None
    label: str | None = None
    webhook_failures: int = 0
    last_error: str | None = None


class SubscriberList(BaseModel):
    data: list[SubscriberOut]
    next_cursor: str | None
    counts: dict[str, dict[str, int]]


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(default=50, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=2000)


class ImportRow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str | None = None
    phone: str | None = None
    components: list[str] = Field(default_factory=list)


class ImportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rows: list[ImportRow] = Field(max_length=1000)
    first_line: int = Field(default=2, description="Line number of rows[0] in the CSV, for error messages")


class ImportProblem(BaseModel):
    line: int
    problem: str


class ImportAnswer(BaseModel):
    imported: int
    existing: int
    problems: list[ImportProblem]


class CreateWebhook(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=2000)
    label: str = Field(min_length=1, max_length=80)
    components: list[str] = Field(default_factory=list)


class CreateChannelSubscriber(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(min_length=1, max_length=80)
    components: list[str] = Field(default_factory=list)
    url: str | None = Field(default=None, max_length=2000,
                            description="webhook, slack, teams, discord: the incoming webhook URL (a secret)")
    chat_id: str | None = Field(default=None, max_length=64, description="telegram: the chat id or @channelname")
    bot_token: str | None = Field(default=None, max_length=200, description="telegram: the bot token (a secret)")


class ChannelSubscriberCreated(SubscriberOut):
    secret: str | None = Field(default=None, description="webhook only, shown once: its signing secret")


class WebhookCreated(SubscriberOut):
    secret: str = Field(description="Shown once: verify X-Beacon-Signature (t=<unix>,v1=HMAC-SHA256(secret, "
                                    "'<t>.' + body)) with it")


class NotificationStats(BaseModel):
    notification_id: str
    title: str
    kind: str
    created_at: str
    channels: dict[str, dict[str, int]]


# -- public: sign-up -----------------------------------------------------------------------
describe("/subscribers", ["POST"], summary="Subscribe an email address or phone number (double opt-in)",
         tag="subscribers", body=SubscribeRequest, responses={202: SubscribeAnswer, 429: None, 503: None})


@bp.route("/subscribers", methods=["POST"], content_types=FORM_TYPES)
def subscribe():
    request = bp.current_request
    html = _wants_html(request)
    refused = _refuse_other_sites(request, html, _allowed_origins())
    if refused:
        return refused
    try:
        wanted = _subscribe_request(_fields(request))
    except ValidationError as exc:
        fields = field_errors(exc)
        return _problem(request, html, 422, "; ".join(f"{f['field']}: {f['problem']}" for f in fields),
                        field=fields[0]["field"])
    except ValueError as exc:
        return _problem(request, html, 422, str(exc))
    # An operation of its own, so the metrics it counts (SmsCeilingReached) are flushed.
    with operation("SignUp", (request.context or {}).get("requestId")):
        return _sign_up(request, html, wanted)


def _sign_up(request, html: bool, wanted: SubscribeRequest) -> Response:
    try:
        answer = service.subscriptions().subscribe(
            email=wanted.email, phone=wanted.phone, components=wanted.components, source_ip=http.source_ip(request))
    except InvalidDestination as exc:
        return _problem(request, html, 422, exc.message, field=exc.field)
    except ValueError as exc:
        return _problem(request, html, 422, str(exc))
    except TooMany as exc:
        return _problem(request, html, 429, str(exc), headers={"Retry-After": str(exc.retry_after)})
    except ConfirmationNotSent:
        return _problem(request, html, 503, "we could not send the confirmation just now; try again in a minute",
                        headers={"Retry-After": "60"})
    out = _answer(answer)
    if html:
        return _page(202, "Check your " + channels.get(answer.channel).confirmation_place, "answer",
                     channel=answer.channel.value, masked=out.destination, verify_url=out.verify_url,
                     hours=answer.expires_in_hours)
    return _json(request, 202, out.model_dump())


describe("/subscribers", ["OPTIONS"], summary="CORS preflight of the page's subscribe form", tag="subscribers",
         responses={204: None})


@bp.route("/subscribers", methods=["OPTIONS"])
def subscribe_preflight():
    return _preflight(bp.current_request)


def _preflight(request) -> Response:
    headers = {**_cors(request), "Access-Control-Allow-Methods": "POST, OPTIONS",
               "Access-Control-Allow-Headers": "Content-Type, Accept", "Access-Control-Max-Age": "3600"}
    return Response(body="", status_code=204, headers=headers)


def _subscribe_request(fields: dict) -> SubscribeRequest:
    if fields.get("_form"):
        return SubscribeRequest.model_validate({"email": _one(fields.get("email")), "phone": _one(fields.get("phone")),
                                                "components": _many(fields.get("components"))})
    return SubscribeRequest.model_validate(fields)


def _answer(answer: SignupAnswer) -> SubscribeAnswer:
    if channels.get(answer.channel).confirms_by_code:
        verify_url = f"{get_settings().api_url}/subscribers/verify/{answer.verify_id}"
        message = (f"Almost done: if {answer.masked} can receive updates, we texted it a 6-digit code. "
                   f"Enter it at {verify_url}")
    else:
        verify_url = None
        message = (f"Almost done: if {answer.masked} can receive updates, we sent it a link to confirm. "
                   "Nothing is sent until you follow it.")
    return SubscribeAnswer(channel=answer.channel.value, destination=answer.masked, message=message,
                           verify_url=verify_url)


# -- public: confirmation ------------------------------------------------------------------
# The pages a person opens from a message answer HTML to browsers (a link sends Accept:
# text/html, a form posts form data) and JSON to everyone else, e.g. `curl -X POST <link>`.
class TokenQuery(BaseModel):
    token: str = Field(default="", max_length=200, description="The token of the link in the message")


class ManageAnswer(BaseModel):
    status: str
    components: list[str] = Field(description="Component ids; every component when the subscriber chose none")
    message: str = ""


describe("/subscribers/confirm/{optin_id}", ["GET"], tag="subscribers", query=TokenQuery, responses={200: Done},
         summary="The confirmation link: a page with a button (GET never confirms; mail scanners follow links)")
describe("/subscribers/confirm/{optin_id}", ["POST"], tag="subscribers", query=TokenQuery, responses={200: Done},
         summary="Confirm a sign-up with the link's token (single use, 7 days)")


@bp.route("/subscribers/confirm/{optin_id}", methods=["GET", "POST"], content_types=FORM_TYPES)
def confirm(optin_id):
    request = bp.current_request
    html = _wants_html(request)
    token = (request.query_params or {}).get("token", "")
    if request.method == "POST":
        refused = _refuse_other_sites(request, html, _own_origins())
        if refused:
            return refused
    subscriptions = service.subscriptions()
    try:
        if request.method == "GET":
            subscriptions.pending(optin_id)
            if html:
                return _page(200, "Confirm your subscription", "confirm", action=_self_url(request))
            return _json(request, 200, {"status": "pending", "message": "POST to this URL to confirm"})
        subscriber = subscriptions.confirm_link(optin_id, token)
    except InvalidLink as exc:
        return _problem(request, html, 404, str(exc))
    return _done(request, html, "Subscribed", "confirmed", _confirmed_message(subscriber))


describe("/subscribers/verify/{optin_id}", ["GET"], tag="subscribers", responses={200: Done},
         summary="The SMS code entry page")
describe("/subscribers/verify/{optin_id}", ["POST"], summary="Confirm an SMS sign-up with its 6-digit code",
         tag="subscribers", body=CodeRequest, responses={200: Done})


describe("/subscribers/verify/{optin_id}", ["OPTIONS"], summary="CORS preflight of the page's code entry",
         tag="subscribers", responses={204: None})


@bp.route("/subscribers/verify/{optin_id}", methods=["OPTIONS"])
def verify_preflight(optin_id):
    return _preflight(bp.current_request)


@bp.route("/subscribers/verify/{optin_id}", methods=["GET", "POST"], content_types=FORM_TYPES)
def verify(optin_id):
    request = bp.current_request
    html = _wants_html(request)
    action = _self_url(request, query=False)
    if request.method == "GET":
        if not html:
            return _json(request, 200, {"status": "pending", "message": "POST {\"code\": \"123456\"} to this URL"})
        code = "".join(ch for ch in (request.query_params or {}).get("code", "") if ch.isdigit())[:6]
        return _page(200, "Enter your code", "verify", verify_url=action, code=code)
    refused = _refuse_other_sites(request, html, _own_origins())
    if refused:
        return refused
    try:
        code = _one(_fields(request).get("code")) or ""
        subscriber = service.subscriptions().confirm_code(optin_id, code)
    except WrongCode as exc:
        if html:
            return _page(422, "Enter your code", "verify", verify_url=action, code="", error=str(exc))
        return _problem(request, html, 422, str(exc), field="code")
    except InvalidLink as exc:
        return _problem(request, html, 404, str(exc))
    except ValueError as exc:
        return _problem(request, html, 422, str(exc))
    return _done(request, html, "Subscribed", "confirmed", _confirmed_message(subscriber))


def _confirmed_message(subscriber: Subscriber) -> str:
    site = get_site()
    if subscriber.status is not SubscriberStatus.CONFIRMED:
        return "This address cannot receive updates any more (it bounced or complained before)."
    what = ", ".join(site.component(c).name for c in subscriber.components) or "everything on the page"
    return f"You are subscribed to {site.brand.name} status updates about {what}. Every message has a link to stop."


# -- public: unsubscribe and manage --------------------------------------------------------
describe("/subscribers/{subscriber_id}/unsubscribe", ["GET"], tag="subscribers", query=TokenQuery,
         responses={200: Done}, summary="The unsubscribe link: a page with a button (GET never unsubscribes)")
describe("/subscribers/{subscriber_id}/unsubscribe", ["POST"], tag="subscribers", query=TokenQuery,
         responses={200: Done}, summary="One-click unsubscribe (RFC 8058): no login or cookie, answers 200")


@bp.route("/subscribers/{subscriber_id}/unsubscribe", methods=["GET", "POST"], content_types=FORM_TYPES)
def unsubscribe(subscriber_id):
    request = bp.current_request
    html = _wants_html(request)
    token = (request.query_params or {}).get("token", "")
    subscriptions = service.subscriptions()
    try:
        if request.method == "GET":
            subscriber = subscriptions.by_token(subscriber_id, token)
            if not html:
                return _json(request, 200, {"status": subscriber.status.value,
                                            "message": "POST to this URL to unsubscribe"})
            return _page(200, "Unsubscribe", "unsubscribe", action=_self_url(request),
                         masked=mask(subscriber.channel.value, subscriber.destination),
                         manage_url=_self_url(request).replace("/unsubscribe?", "/manage?"))
        subscriptions.unsubscribe(subscriber_id, token)
    except InvalidLink as exc:
        return _problem(request, html, 404, str(exc))
    return _done(request, html, "Unsubscribed", "unsubscribed",
                 f"You will get no more {get_site().brand.name} status updates. Changed your mind? "
                 "Subscribe again on the status page.")


describe("/subscribers/{subscriber_id}/manage", ["GET"], tag="subscribers", query=TokenQuery,
         responses={200: ManageAnswer}, summary="The manage link: the components a subscriber hears about")
describe("/subscribers/{subscriber_id}/manage", ["POST"], tag="subscribers", query=TokenQuery,
         responses={200: ManageAnswer}, summary="Save the components a subscriber hears about (form field "
                                                "or JSON list 'components')")


@bp.route("/subscribers/{subscriber_id}/manage", methods=["GET", "POST"], content_types=FORM_TYPES)
def manage(subscriber_id):
    request = bp.current_request
    html = _wants_html(request)
    token = (request.query_params or {}).get("token", "")
    subscriptions = service.subscriptions()
    error = None
    try:
        subscriber = subscriptions.by_token(subscriber_id, token)
        if request.method == "POST":
            subscriber = subscriptions.update_components(subscriber_id, token,
                                                         _many(_fields(request).get("components")))
    except InvalidLink as exc:
        return _problem(request, html, 404, str(exc))
    except ValueError as exc:
        error = exc.message if isinstance(exc, InvalidDestination) else str(exc)
        if not html:
            return _problem(request, html, 422, error, field="components")
    site = get_site()
    chosen = subscriber.components or sorted(site.component_ids)
    message = "Saved." if request.method == "POST" and error is None else ""
    if not html:
        return _json(request, 200, {"status": subscriber.status.value, "components": chosen, "message": message})
    return _page(200 if error is None else 422, "Your status updates", "manage", error=error,
                 action=_self_url(request), masked=mask(subscriber.channel.value, subscriber.destination),
                 status=subscriber.status.value, components=site.components, chosen=set(chosen),
                 unsubscribe_url=_self_url(request).replace("/manage?", "/unsubscribe?"), message=message)


# -- admin ---------------------------------------------------------------------------------
@documented(bp, "/subscribers", methods=["GET"], query=ListQuery, responses={200: SubscriberList}, scope="admin",
            summary="List subscribers, oldest first, with counts per channel and status", tag="subscribers")
def list_subscribers(call: Call):
    store = SubscriberStore(service.table())
    try:
        found, cursor = store.page(call.query.limit, call.query.cursor)
    except ValueError as exc:
        raise Unprocessable(str(exc), [{"field": "cursor", "problem": str(exc)}]) from None
    return SubscriberList(data=[_out(s) for s in found], next_cursor=cursor, counts=store.counts())


@documented(bp, "/subscribers/{subscriber_id}", methods=["DELETE"], responses={204: None}, scope="admin",
            summary="Erase a subscriber (their address or number is deleted)", tag="subscribers")
def erase_subscriber(call: Call):
    table = service.table()
    store = SubscriberStore(table)
    subscriber = store.get(call.params["subscriber_id"])
    if subscriber is None:
        raise NotFoundError(f"no subscriber {call.params['subscriber_id']!r}")
    store.erase(subscriber)
    audit(table, call.key, "subscriber.erase", subscriber.id, f"{subscriber.channel.value} subscriber erased")
    return 204, None


@documented(bp, "/subscribers/export", methods=["GET"], responses={200: None}, scope="admin", tag="subscribers",
            summary="Every subscriber as CSV (channel, destination, status, components, consent, dates)")
def export_subscribers(call: Call):
    table = service.table()
    audit(table, call.key, "subscriber.export", "subscribers", "exported as CSV")
    return Response(body=export_csv(SubscriberStore(table)), status_code=200,
                    headers={"Content-Type": "text/csv; charset=utf-8",
                             "Content-Disposition": 'attachment; filename="subscribers.csv"'})


@documented(bp, "/subscribers/import", methods=["POST"], body=ImportRequest, responses={200: ImportAnswer},
            scope="admin", tag="subscribers",
            summary="Import up to 1,000 rows, marked as consented already (no confirmation is sent)")
def import_subscribers(call: Call):
    table = service.table()
    result = import_rows(SubscriberStore(table), get_site(), [r.model_dump() for r in call.body.rows],
                         first_line=call.body.first_line, now=utcnow())
    audit(table, call.key, "subscriber.import", "subscribers",
          f"{result.imported} imported, {result.existing} existing, {len(result.problems)} refused")
    return ImportAnswer(imported=result.imported, existing=result.existing,
                        problems=[ImportProblem(line=line, problem=problem) for line, problem in result.problems])


@documented(bp, "/webhooks", methods=["POST"], body=CreateWebhook, responses={201: WebhookCreated}, scope="admin",
            summary="Add a webhook subscriber; its signing secret is shown once", tag="subscribers")
def create_webhook(call: Call):
    body = call.body
    webhook, secret = _add(call, "webhook", {"url": body.url}, body.label, body.components)
    return 201, WebhookCreated(**_out(webhook).model_dump(), secret=secret or "")


@documented(bp, "/channels/{kind}", methods=["POST"], body=CreateChannelSubscriber,
            responses={201: ChannelSubscriberCreated}, scope="admin", tag="subscribers",
            summary="Add a webhook, Slack, Teams, Discord or Telegram subscriber; its secrets are never shown again")
def create_channel_subscriber(call: Call):
    body = call.body
    fields = body.model_dump(include={"url", "chat_id", "bot_token"})
    subscriber, secret = _add(call, call.params["kind"], fields, body.label, body.components)
    # A secret Beacon made (a webhook's signing secret) is shown once; one the admin typed, never.
    made = secret if secret not in fields.values() else None
    return 201, ChannelSubscriberCreated(**_out(subscriber).model_dump(), secret=made)


def _add(call: Call, kind: str, fields: dict, label: str, components: list[str]) -> tuple[Subscriber, str | None]:
    table = service.table()
    try:
        components = service.subscriptions().check_components(components)
        subscriber, secret = add_subscriber(SubscriberStore(table), get_site(), kind, fields, label, components,
                                            service.senders().webhook.check, utcnow())
    except InvalidDestination as exc:
        raise Unprocessable(str(exc), [{"field": exc.field, "problem": exc.message}]) from None
    except Permanent as exc:
        field = "url" if fields.get("url") else "kind"
        raise Unprocessable(f"{field}: {exc.reason}", [{"field": field, "problem": exc.reason}]) from None
    except AlreadyExists:
        raise Unprocessable(f"a {kind} subscriber for that destination exists already; delete it first",
                            [{"field": "url" if fields.get("url") else "chat_id", "problem": "exists already"}]
                            ) from None
    audit(table, call.key, f"{kind}.create", subscriber.id, f"{kind} {label!r} added")
    return subscriber, secret


@documented(bp, "/webhooks", methods=["GET"], responses={200: SubscriberList}, scope="admin", tag="subscribers",
            summary="List webhook subscribers with their status (disabled after repeated failures)")
def list_webhooks(call: Call):
    return _list_added({Channel.WEBHOOK})


@documented(bp, "/channels", methods=["GET"], responses={200: SubscriberList}, scope="admin", tag="subscribers",
            summary="List webhook and chat subscribers with their status (disabled after repeated failures)")
def list_channel_subscribers(call: Call):
    return _list_added({c.name for c in channels.admin_added()})


def _list_added(kinds: set[Channel]) -> SubscriberList:
    store = SubscriberStore(service.table())
    added = [s for page in store.pages() for s in page if s.channel in kinds]
    return SubscriberList(data=[_out(s) for s in added], next_cursor=None, counts=store.counts())


@documented(bp, "/webhooks/{webhook_id}/enable", methods=["POST"], responses={200: SubscriberOut}, scope="admin",
            summary="Re-enable a webhook disabled after repeated failures", tag="subscribers")
def enable_webhook(call: Call):
    return _enable(call, call.params["webhook_id"], {Channel.WEBHOOK})


@documented(bp, "/channels/{kind}/{subscriber_id}/enable", methods=["POST"], responses={200: SubscriberOut},
            scope="admin", tag="subscribers",
            summary="Re-enable a webhook or chat subscriber disabled after repeated failures")
def enable_channel_subscriber(call: Call):
    try:
        kind = admin_channel(call.params["kind"]).name
    except InvalidDestination as exc:
        raise NotFoundError(exc.message) from None
    return _enable(call, call.params["subscriber_id"], {kind})


def _enable(call: Call, subscriber_id: str, kinds: set[Channel]) -> SubscriberOut:
    table = service.table()
    store = SubscriberStore(table)
    added = store.get(subscriber_id)
    if added is None or added.channel not in kinds:
        raise NotFoundError(f"no {' or '.join(sorted(k.value for k in kinds))} subscriber {subscriber_id!r}")
    enabled = store.save(added.model_copy(update={"status": SubscriberStatus.CONFIRMED, "webhook_failures": 0,
                                                  "last_error": None, "updated_at": utcnow()}), previous=added.status)
    audit(table, call.key, f"{added.channel.value}.enable", added.id, f"{added.channel.value} re-enabled")
    return _out(enabled)


@documented(bp, "/notifications/{notification_id}", methods=["GET"], responses={200: NotificationStats},
            scope="marketer", tag="notifications",
            summary="Delivery counts of one notification: queued, sent, failed, suppressed per channel")
def notification_stats(call: Call):
    notification_id = call.params["notification_id"]
    event = NotificationStore(service.table()).get(notification_id)
    if event is None:
        raise NotFoundError(f"no notification {notification_id!r}")
    return NotificationStats(notification_id=event.id, title=event.title, kind=event.kind.value,
                             created_at=event.created_at.isoformat(), channels=service.notification_stats(event.id))


# -- helpers -------------------------------------------------------------------------------
def _out(subscriber: Subscriber) -> SubscriberOut:
    data = subscriber.model_dump(mode="json")
    channel = channels.get(subscriber.channel)
    if channel.destination_is_secret:
        data["destination"] = channel.mask(subscriber.destination)
    return SubscriberOut(**{name: data.get(name) for name in SubscriberOut.model_fields})


def _fields(request) -> dict:
    """The posted fields, from JSON or any form encoding, parsed by the API's one body parser."""
    raw = request.raw_body or b""
    if len(raw) > 16 * 1024:
        raise ValueError("the form is too large")
    content_type = request.headers.get("content-type") or "application/json"
    try:
        if content_type.split(";")[0].strip().lower() == "application/json":
            return http.load_json_object(raw) if raw.strip() else {}
        return {**http.form_fields(raw, content_type), "_form": True}
    except http.ApiError as exc:
        raise ValueError(exc.message) from None


def _one(value) -> str | None:
    if isinstance(value, list):
        value = value[-1] if value else None
    return value if value is None or isinstance(value, str) else str(value)


def _many(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidDestination("components", "must be a list of component ids, e.g. [\"facebook\"]")
    return value


def _wants_html(request) -> bool:
    """Browsers (form posts, links) get pages; scripts (JSON in or asked for) get JSON."""
    accept = (request.headers.get("accept") or "").lower()
    if "application/json" in accept:
        return False
    if "text/html" in accept:
        return True
    content_type = (request.headers.get("content-type") or "").lower()
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return True
    return False


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _allowed_origins() -> set[str]:
    """The status page's origins: ``brand.page_url`` and ``PAGE_URL`` (the local page server)."""
    return {_origin(url) for url in (get_site().brand.page_url, get_settings().page_url) if url}


def _own_origins() -> set[str]:
    """The page's origins and the API's own: its answer and code pages post their forms to it."""
    return _allowed_origins() | {_origin(get_settings().api_url)}


def _refuse_other_sites(request, html: bool, allowed: set[str]) -> Response | None:
    """403 for a POST a browser sends from another site; None for ours and for non-browser clients.

    Browsers send ``Origin`` with every POST (``null`` when the sending page hides itself,
    which is refused too); only old ones fall back to ``Referer`` alone.
    """
    origin = request.headers.get("origin")
    if origin is None:
        referer = request.headers.get("referer")
        if not referer:
            return None
        origin = _origin(referer)
    if origin.lower() in allowed:
        return None
    log.warning("refused a sign-up post from another site: %s", origin[:200])
    page = get_site().brand.page_url
    return _problem(request, html, 403, f"this form can only be sent from the status page ({page}), not from "
                                        f"{origin[:200]}; open the status page and subscribe there")


def _cors(request) -> dict[str, str]:
    origin = request.headers.get("origin")
    if origin and origin in _allowed_origins():
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    return {"Vary": "Origin"}


def _json(request, status: int, body: dict, headers: dict | None = None) -> Response:
    return Response(body=json.dumps(body), status_code=status,
                    headers={"Content-Type": "application/json", "Cache-Control": "no-store", **_cors(request),
                             **(headers or {})})


def _problem(request, html: bool, status: int, message: str, field: str | None = None,
             headers: dict | None = None) -> Response:
    if html:
        response = _page(status, "That did not work", "message", message=message, error=None)
        response.headers.update(headers or {})
        return response
    body = {"error": {403: "forbidden", 404: "not_found", 422: "validation_failed", 429: "too_many_requests",
                      503: "unavailable"}.get(status, "bad_request"), "message": message}
    if field:
        body["fields"] = [{"field": field, "problem": message}]
    return _json(request, status, body, headers)


def _done(request, html: bool, title: str, status: str, message: str) -> Response:
    if html:
        return _page(200, title, "message", message=message)
    return _json(request, 200, {"status": status, "message": message})


_PAGE_DEFAULTS = dict(error=None, channel="", masked="", verify_url="", hours=0, code="", action="", manage_url="",
                      components=(), chosen=(), status="", unsubscribe_url="", message="")


def _page(http_status: int, title: str, view: str, /, **values) -> Response:
    site = get_site()
    body = environment(get_settings().templates_dir).get_template("subscribe/page.html").render(
        **{**_PAGE_DEFAULTS, **values}, title=title, view=view, brand=site.brand)
    # Links in these pages' URLs carry tokens: no Referer leaves for other sites. Within the API
    # the browser sends its origin, which the sign-up steps check (no-referrer would send "null").
    return Response(body=body, status_code=http_status,
                    headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
                             "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"})


def _self_url(request, query: bool = True) -> str:
    """This route's public URL (API_URL + path), with its query string (the token) when asked."""
    path = request.context.get("resourcePath", "")
    for name, value in (request.uri_params or {}).items():
        path = path.replace("{" + name + "}", value)
    url = get_settings().api_url + path
    params = request.query_params or {}
    if query and params:
        from urllib.parse import urlencode

        url += "?" + urlencode(params)
    return url
