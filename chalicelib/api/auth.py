"""API keys: made random, shown once, kept as a hash, checked in constant time, revocable.

A key is ``bk_`` and 43 URL-safe characters (256 random bits). The table keeps only its
SHA-256 (the lookup key), its name and its scope; the secret is printed once at creation.
``authorize(request, scope)`` is the check every authenticated view makes: a missing or
unknown key is 401 (``identify``), a key of the wrong scope is 403 (``permit``). Scope
``admin`` includes ``marketer``.

The audit log holds one entry per write attempt on an authenticated route. A write the
service carried out is recorded by the service, with its domain summary (``audit``:
"incident.open", "'Instagram DMs delayed' (major)"); every other attempt is recorded by
the route decorator with ``audit_attempt``: refused (401 as actor "anonymous", 403, 404,
409, 422...), failed (500), or done by a route no service describes (``POST /probes/run``).
Its action is the method and route, its target the path called, its summary the status
and the error's code and field names. Keys, tokens and bodies are never recorded.
Public routes (sign-ups from anyone, heartbeats by token) are not recorded: anyone could
fill the log with them, and their paths carry tokens.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from datetime import datetime

from chalicelib import aws
from chalicelib.api.http import Forbidden, Unauthorized
from chalicelib.model import new_id, utcnow
from chalicelib.store.audit import AuditStore
from chalicelib.store.keys import ApiKey, KeyStore
from chalicelib.store.table import Table

SCOPES = ("marketer", "admin")
_BEARER = re.compile(r"^\s*Bearer\s+(\S+)\s*$", re.IGNORECASE)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    return "bk_" + secrets.token_urlsafe(32)


def create_key(table: Table, *, name: str, scope: str, created_by: str, now: datetime,
               secret: str | None = None) -> tuple[str, ApiKey]:
    """Store a new key; returns the secret (to show once) and its public record."""
    if scope not in SCOPES:
        raise ValueError(f"scope: {scope!r} is not a scope; use one of {', '.join(SCOPES)}")
    if not name.strip():
        raise ValueError("name: must not be empty; name the person or integration, e.g. 'ana-phone'")
    secret = secret or new_secret()
    key = ApiKey(id=new_id(now)[-8:] + secrets.token_hex(2), name=name, scope=scope, created_at=now,
                 created_by=created_by)
    return secret, KeyStore(table).add(digest(secret), key)


def check_key(table: Table, secret: str) -> ApiKey | None:
    """The active key for ``secret``, or None."""
    wanted = digest(secret)
    found = KeyStore(table).by_digest(wanted)
    if found is None:
        return None
    stored, key = found
    # The lookup found the item by its digest; compare again without leaking timing.
    if not hmac.compare_digest(stored, wanted) or not key.active:
        return None
    return key


def authorize(request, scope: str) -> ApiKey:
    """The caller's key if it may act in ``scope``; raises 401/403 errors (JSON) otherwise."""
    return permit(identify(request), scope)


def identify(request) -> ApiKey:
    """The caller's active key; 401 when it is missing, malformed, unknown or revoked."""
    header = (request.headers or {}).get("authorization")
    if not header:
        raise Unauthorized("missing API key; send 'Authorization: Bearer <key>' (create one with `beacon keys create`)")
    match = _BEARER.match(header)
    if not match:
        raise Unauthorized("the Authorization header must be 'Bearer <key>'")
    key = check_key(Table(aws.get_table()), match.group(1))
    if key is None:
        raise Unauthorized("unknown or revoked API key; ask an admin for a new one")
    return key


def permit(key: ApiKey, scope: str) -> ApiKey:
    """``key`` if its scope covers ``scope``; 403 otherwise."""
    if scope == "admin" and key.scope != "admin":
        raise Forbidden(f"key {key.name!r} has scope {key.scope!r}; this needs an 'admin' key")
    return key


def audit(table: Table, key: ApiKey | str, action: str, target: str, summary: str,
          clock: Callable[[], datetime] = utcnow) -> None:
    """Record one write in the audit log; ``key`` is the caller's key (or an actor name)."""
    actor = key if isinstance(key, str) else key.name
    AuditStore(table).record(actor=actor, action=action, target=target, summary=summary, at=clock())


ANONYMOUS = "anonymous"


def audit_attempt(table: Table, key: ApiKey | None, method: str, route: str, path: str, status: int,
                  error: str | None = None, fields: tuple[str, ...] = (),
                  clock: Callable[[], datetime] = utcnow) -> None:
    """Record a write attempt no service recorded: who, which route, and how it ended (no secrets)."""
    outcome = "done" if status < 400 else "refused" if status < 500 else "failed"
    summary = f"{outcome}: {status}" + (f" {error}" if error else "")
    if fields:
        summary += " (" + ", ".join(sorted(set(fields))[:20]) + ")"
    AuditStore(table).record(actor=key.name if key is not None else ANONYMOUS, action=f"{method} {route}",
                             target=path, summary=summary, at=clock())
