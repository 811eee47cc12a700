"""Admin and operations: API keys, the audit log, notification events, publishing on demand."""
from __future__ import annotations

from typing import Annotated

from chalice import Blueprint
from msgspec import Meta

from chalicelib.api import models
from chalicelib.api.auth import audit, create_key
from chalicelib.api.common import table
from chalicelib.api.openapi import Call, documented
from chalicelib.model import utcnow
from chalicelib.store.audit import AuditStore
from chalicelib.store.keys import KeyStore
from chalicelib.store.notifications import NotificationStore
from chalicelib.writes import NotFound

bp = Blueprint(__name__)


def key_out(key) -> models.KeyOut:
    return models.out(models.KeyOut, key.as_json())


@documented(bp, "/keys", methods=["GET"], responses={200: models.KeyList}, scope="admin",
            summary="List API keys (names and scopes; secrets are never shown again)")
def list_keys(call: Call):
    return models.KeyList(data=[key_out(k) for k in KeyStore(table()).all()])


@documented(bp, "/keys", methods=["POST"], body=models.CreateKey, responses={201: models.KeyCreated}, scope="admin",
            summary="Create an API key; the secret is in this response only")
def post_key(call: Call):
    secret, key = create_key(table(), name=call.body.name, scope=call.body.scope, created_by=call.key.name,
                             now=utcnow())
    audit(table(), call.key, "key.create", f"key/{key.id}", f"{key.name!r} scope {key.scope}")
    return 201, models.extended(models.KeyCreated, key_out(key), secret=secret)


@documented(bp, "/keys/{key_id}", methods=["DELETE"], responses={200: models.KeyOut}, scope="admin",
            summary="Revoke an API key; it stops working at once")
def revoke_key(call: Call):
    store = KeyStore(table())
    keys = store.all()
    target = next((k for k in keys if k.id == call.params["key_id"]), None)
    if target is None:
        raise NotFound("key", call.params["key_id"])
    if target.id == call.key.id:
        raise ValueError(f"key {target.name!r} is the key making this request and cannot revoke itself; "
                         "revoke it with another admin key")
    admins = [k for k in keys if k.active and k.scope == "admin"]
    if target.active and admins == [target]:
        raise ValueError(f"key {target.name!r} is the last admin key; create another admin key before revoking it")
    key = store.revoke(target.id, utcnow())
    audit(table(), call.key, "key.revoke", f"key/{key.id}", f"{key.name!r} revoked")
    return key_out(key)


class AuditQuery(models.PageQuery, kw_only=True):
    cursor: Annotated[str, Meta(pattern=r"^[A-Za-z0-9_=-]{1,512}$", extra={
        "is_not": "a cursor", "fix": "pass next_cursor from the last page as it was"})] | None = None


@documented(bp, "/audit", methods=["GET"], query=AuditQuery, responses={200: models.AuditList}, scope="admin",
            summary="The audit log, newest first, paged")
def list_audit(call: Call):
    entries, cursor = AuditStore(table()).page(limit=call.query.limit, cursor=call.query.cursor)
    return models.AuditList(data=[models.out(models.AuditOut, e.as_json()) for e in entries],
                            next_cursor=cursor)


@documented(bp, "/notifications", methods=["GET"], query=AuditQuery, responses={200: models.NotificationList},
            scope="marketer", summary="Notification events recorded for subscribers, newest first")
def list_notifications(call: Call):
    events, cursor = NotificationStore(table()).page(limit=call.query.limit, cursor=call.query.cursor)
    return models.NotificationList(
        data=[models.out(models.NotificationOut, e.as_json(exclude={"version"})) for e in events],
        next_cursor=cursor)


@documented(bp, "/publish", methods=["POST"], responses={200: models.Published}, scope="marketer",
            summary="Render and publish the page now; an incident page that fails its checks is withheld and listed")
def publish(call: Call):
    from chalicelib.site.service import publish_site

    result = publish_site()
    held = f", {len(result.withheld)} withheld" if result.withheld else ""
    audit(table(), call.key, "page.publish", "page", f"{len(result.uploaded)} object(s) uploaded{held}")
    return models.Published(uploaded=len(result.uploaded), unchanged=result.unchanged, withheld=[
        models.WithheldOut(key=w.key, incident_id=w.incident_id, problems=list(w.problems)) for w in result.withheld])
