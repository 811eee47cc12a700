"""Admin routes for subscribers: lists, erase, CSV export and import, webhooks and chat channels, delivery stats.

Every route needs an admin key (delivery stats: a marketer key) and writes go to the audit
log. The public sign-up pages are ``api.signup``; adding a webhook or chat subscriber is
``notify.admin``.
"""
from __future__ import annotations

from typing import Annotated

import msgspec
from chalice import Blueprint, Response
from msgspec import Meta

from chalicelib.api.auth import audit
from chalicelib.api.http import NotFoundError, Unprocessable
from chalicelib.api.models import Model, Request, empty, extended
from chalicelib.api.openapi import Call, documented
from chalicelib.config import get_site
from chalicelib.model import utcnow
from chalicelib.notify import channels, service
from chalicelib.notify.admin import add_subscriber, admin_channel
from chalicelib.notify.destinations import InvalidDestination
from chalicelib.notify.model import Channel, Subscriber, SubscriberStatus
from chalicelib.notify.senders import Permanent
from chalicelib.notify.transfer import export_csv, import_rows
from chalicelib.store.notifications import NotificationStore
from chalicelib.store.subscribers import SubscriberStore
from chalicelib.store.table import AlreadyExists

bp = Blueprint(__name__)


# -- shapes ----------------------------------------------------------------------------------
class SubscriberOut(Model, kw_only=True):
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
    language: Annotated[str, Meta(description="What they read; none: the site's default language")] | None = None


class SubscriberList(Model, kw_only=True):
    data: list[SubscriberOut]
    next_cursor: str | None
    counts: dict[str, dict[str, int]]


class ListQuery(Request, kw_only=True):
    limit: Annotated[int, Meta(ge=1, le=500)] = 50
    cursor: Annotated[str, Meta(max_length=2000)] | None = None


class ImportRow(Request, kw_only=True):
    email: str | None = None
    phone: str | None = None
    components: list[str] = empty(list)


class ImportRequest(Request, kw_only=True):
    rows: Annotated[list[ImportRow], Meta(max_length=1000)]
    first_line: Annotated[int, Meta(description="Line number of rows[0] in the CSV, for error messages")] = 2


class ImportProblem(Model, kw_only=True):
    line: int
    problem: str


class ImportAnswer(Model, kw_only=True):
    imported: int
    existing: int
    problems: list[ImportProblem]


Label = Annotated[str, Meta(min_length=1, max_length=80)]


class CreateWebhook(Request, kw_only=True):
    url: Annotated[str, Meta(max_length=2000)]
    label: Label
    components: list[str] = empty(list)


class CreateChannelSubscriber(Request, kw_only=True):
    label: Label
    components: list[str] = empty(list)
    url: Annotated[str, Meta(
        description="webhook, slack, teams, discord: the incoming webhook URL (a secret)",
        max_length=2000)] | None = None
    chat_id: Annotated[str, Meta(description="telegram: the chat id or @channelname", max_length=64)] | None = None
    bot_token: Annotated[str, Meta(description="telegram: the bot token (a secret)", max_length=200)] | None = None


class ChannelSubscriberCreated(SubscriberOut, kw_only=True):
    secret: Annotated[str, Meta(description="webhook only, shown once: its signing secret")] | None = None


class WebhookCreated(SubscriberOut, kw_only=True):
    secret: Annotated[str, Meta(
        description="Shown once: verify X-Beacon-Signature (t=<unix>,v1=HMAC-SHA256(secret, '<t>.' + body)) with it")]


class NotificationStats(Model, kw_only=True):
    notification_id: str
    title: str
    kind: str
    created_at: str
    channels: dict[str, dict[str, int]]
    languages: Annotated[dict[str, dict[str, int]], Meta(
        description="Sent, failed and suppressed by the language recipients read")] = empty()


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
    result = import_rows(SubscriberStore(table), get_site(), [msgspec.structs.asdict(r) for r in call.body.rows],
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
    return 201, extended(WebhookCreated, _out(webhook), secret=secret or "")


@documented(bp, "/channels/{kind}", methods=["POST"], body=CreateChannelSubscriber,
            responses={201: ChannelSubscriberCreated}, scope="admin", tag="subscribers",
            summary="Add a webhook, Slack, Teams, Discord or Telegram subscriber; its secrets are never shown again")
def create_channel_subscriber(call: Call):
    body = call.body
    fields = {"url": body.url, "chat_id": body.chat_id, "bot_token": body.bot_token}
    subscriber, secret = _add(call, call.params["kind"], fields, body.label, body.components)
    # A secret Beacon made (a webhook's signing secret) is shown once; one the admin typed, never.
    made = secret if secret not in fields.values() else None
    return 201, extended(ChannelSubscriberCreated, _out(subscriber), secret=made)


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
    enabled = store.save(added.replace(status=SubscriberStatus.CONFIRMED, webhook_failures=0, last_error=None,
                                       updated_at=utcnow()), previous=added.status)
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
                             created_at=event.created_at.isoformat(), channels=service.notification_stats(event.id),
                             languages=service.notification_stats_by_language(event.id))


# -- helpers -------------------------------------------------------------------------------
def _out(subscriber: Subscriber) -> SubscriberOut:
    data = subscriber.as_json()
    channel = channels.get(subscriber.channel)
    if channel.destination_is_secret:
        data["destination"] = channel.mask(subscriber.destination)
    return SubscriberOut(**{name: data.get(name) for name in SubscriberOut.__struct_fields__})
