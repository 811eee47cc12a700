"""Subscribers in and out as CSV: export for the admin, import of lists consented elsewhere.

Imported rows are stored as confirmed with consent ``imported``: the admin who imports
asserts that these people agreed elsewhere, and no confirmation is sent to them. Each row
is checked like a sign-up (email-validator, phonenumbers and the country allow-list); a
refused row is reported with its CSV line number and the rest are imported.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return as a formula, so the export puts a ``'`` before such a cell (OWASP's advice; the
spreadsheet shows the value without it). E.164 numbers start with ``+`` and get it too; the
import takes it off again, and it reads the export's own columns (``channel``,
``destination``, ``status``...; confirmed rows only), so an export can be imported as it is.
"""
from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Iterable, Iterator
from datetime import datetime

import msgspec

from chalicelib.config import Site
from chalicelib.model import new_id
from chalicelib.notify import channels
from chalicelib.notify.destinations import InvalidDestination, normalise_email, normalise_phone
from chalicelib.notify.model import Channel, Consent, Subscriber, SubscriberStatus
from chalicelib.store.subscribers import SubscriberStore
from chalicelib.store.table import AlreadyExists

COLUMNS = ["id", "channel", "destination", "status", "components", "consent", "created_at", "confirmed_at",
           "unsubscribed_at", "suppressed_reason"]
IMPORT_COLUMNS = ("email", "phone", "components")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(cell: str) -> str:
    """The cell as a spreadsheet shows it but never runs it."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def unneutralised(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell


class ImportResult(msgspec.Struct):
    imported: int = 0
    existing: int = 0
    problems: list[tuple[int, str]] = msgspec.field(default_factory=list)


def export_rows(store: SubscriberStore) -> Iterator[list[str]]:
    yield COLUMNS
    for page in store.pages():
        for subscriber in page:
            if channels.get(subscriber.channel).admin_added:
                continue    # webhooks and chat channels: their URLs and tokens are secrets
            data = subscriber.as_json()
            data["components"] = " ".join(subscriber.components)
            yield ["" if data.get(column) is None else neutralised(str(data[column])) for column in COLUMNS]


def export_csv(store: SubscriberStore) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(export_rows(store))
    return out.getvalue()


def read_import_csv(text: str) -> tuple[list[dict], list[tuple[int, str]]]:
    """Rows of an import file: columns email, phone, components (separated by spaces), or an export's."""
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip().lower() for c in reader.fieldnames or []]
    exported = {"channel", "destination"} <= set(columns)
    unknown = [c for c in columns if c not in (COLUMNS if exported else IMPORT_COLUMNS)]
    if unknown or not (exported or {"email", "phone"} & set(columns)):
        raise ValueError(f"the CSV header must name the columns email and/or phone (and optionally components), "
                         f"or be the header of an export; found {columns or 'no header'}")
    rows, problems = [], []
    for line, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): unneutralised((v or "").strip()) for k, v in raw.items() if k is not None}
        if None in raw:
            problems.append((line, "more values than columns; quote values that contain commas"))
            continue
        if exported:
            status = row.get("status") or SubscriberStatus.CONFIRMED.value
            if status != SubscriberStatus.CONFIRMED.value:
                problems.append((line, f"status {status}: only confirmed subscribers are imported"))
                continue
            row[{"sms": "phone"}.get(row.get("channel", ""), "email")] = row.get("destination", "")
        rows.append({"email": row.get("email") or None, "phone": row.get("phone") or None,
                     "components": (row.get("components") or "").replace(",", " ").split(), "line": line})
    return rows, problems


def import_rows(store: SubscriberStore, site: Site, rows: Iterable[dict], *, first_line: int,
                now: datetime) -> ImportResult:
    result = ImportResult()
    for offset, row in enumerate(rows):
        line = row.get("line") or first_line + offset
        try:
            subscriber = _imported(site, row, now)
        except InvalidDestination as exc:
            result.problems.append((line, str(exc)))
            continue
        try:
            store.create(subscriber)
            result.imported += 1
        except AlreadyExists:
            result.existing += 1     # whoever is there already keeps their own choices
    return result


def _imported(site: Site, row: dict, now: datetime) -> Subscriber:
    email, phone = (row.get("email") or "").strip(), (row.get("phone") or "").strip()
    if bool(email) == bool(phone):
        raise InvalidDestination("email", "each row needs an email or a phone number (one of the two)")
    policy = site.subscriptions
    if email:
        channel, destination = Channel.EMAIL, normalise_email(email)
    else:
        channel, destination = Channel.SMS, normalise_phone(phone, policy)
    components = sorted(set(row.get("components") or []))
    unknown = [c for c in components if c not in site.component_ids]
    if unknown:
        raise InvalidDestination("components", f"no component {unknown[0]!r}; use ids from site.yml")
    return Subscriber(id=new_id(now), channel=channel, destination=destination, components=components,
                      status=SubscriberStatus.CONFIRMED, consent=Consent.IMPORTED, created_at=now, updated_at=now,
                      confirmed_at=now, manage_token=secrets.token_urlsafe(24))
