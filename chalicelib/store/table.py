"""The single-table wrapper: conditional writes, versions, TTLs and paging over boto3."""
from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from datetime import datetime, timezone
from typing import Any

import msgspec
from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError


class Conflict(Exception):
    """The item changed (or vanished) since it was read: re-read and try again."""


class AlreadyExists(Exception):
    """An item with this key exists already."""


class Item(msgspec.Struct, frozen=True):
    """``children``: sort keys of the items (same partition) that belong to this one and that
    readers are to trust; written in the same conditional put as ``data`` (None: none kept)."""

    pk: str
    sk: str
    data: dict[str, Any]
    version: int
    expires_at: int | None = None
    children: tuple[str, ...] | None = None


# Attributes of the secondary indexes the table had before listings replaced them: headers
# written then still carry them; they are not data, and their next save drops them.
_FORMER_INDEX_ATTRIBUTES = frozenset({"front", "front_at", "month", "month_at"})
# BatchGetItem takes 100 keys a call; independent calls run side by side (botocore keeps 10
# connections a client by default).
BATCH_KEYS, BATCH_CONCURRENCY = 100, 8


class Page(msgspec.Struct, frozen=True):
    items: list[Item]
    cursor: str | None


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Table:
    """Items of the shape ``{pk, sk, data, version, expires_at?}``.

    ``table`` is a boto3 DynamoDB Table resource; ``clock`` returns an aware datetime.
    """

    def __init__(self, table, clock: Callable[[], datetime] = _now):
        self._table = table
        self.clock = clock

    def get(self, pk: str, sk: str, *, consistent: bool = True) -> Item | None:
        response = self._table.get_item(Key={"pk": pk, "sk": sk}, ConsistentRead=consistent)
        raw = response.get("Item")
        if raw is None or self._expired(raw):
            return None
        return _to_item(raw)

    def query(
        self,
        pk: str,
        *,
        prefix: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        descending: bool = False,
        consistent: bool = False,
    ) -> Page:
        condition = Key("pk").eq(pk)
        if prefix:
            condition &= Key("sk").begins_with(prefix)
        kwargs: dict[str, Any] = {"KeyConditionExpression": condition, "ScanIndexForward": not descending,
                                  "ConsistentRead": consistent}
        if cursor:
            kwargs["ExclusiveStartKey"] = _decode_cursor(cursor)
        items: list[Item] = []
        while True:
            if limit is not None:
                kwargs["Limit"] = limit - len(items)
            response = self._table.query(**kwargs)
            items += [_to_item(raw) for raw in response["Items"] if not self._expired(raw)]
            last = response.get("LastEvaluatedKey")
            if last is None or (limit is not None and len(items) >= limit):
                return Page(items, _encode_cursor(last) if last else None)
            kwargs["ExclusiveStartKey"] = last

    def query_all(self, pk: str, *, prefix: str | None = None) -> list[Item]:
        return self.query(pk, prefix=prefix).items

    def get_many(self, pk: str, sks: Sequence[str], *, consistent: bool = True) -> dict[str, Item]:
        """The items of one partition at these sort keys (absent keys are left out)."""
        return {sk: item for (_, sk), item in self.get_keys([(pk, sk) for sk in sks], consistent=consistent).items()}

    def get_keys(self, keys: Iterable[tuple[str, str]], *, consistent: bool = True) -> dict[tuple[str, str], Item]:
        """The items at these (pk, sk) keys, any partitions, absent and expired ones left out.

        Batches of ``BATCH_KEYS`` go out ``BATCH_CONCURRENCY`` at a time, so the wait is that of
        the slowest batch, not their sum. Eventually consistent reads (``consistent=False``)
        cost half: what a moment-old write may be missing from is for the caller to say.
        """
        wanted = list(dict.fromkeys(keys))
        batches = [wanted[start:start + BATCH_KEYS] for start in range(0, len(wanted), BATCH_KEYS)]
        found: dict[tuple[str, str], Item] = {}
        if len(batches) <= 1:
            results = [self._batch_get(batch, consistent) for batch in batches]
        else:
            with ThreadPoolExecutor(min(BATCH_CONCURRENCY, len(batches))) as pool:
                results = list(pool.map(lambda batch: self._batch_get(batch, consistent), batches))
        for result in results:
            found.update(result)
        return found

    def _batch_get(self, keys: list[tuple[str, str]], consistent: bool) -> dict[tuple[str, str], Item]:
        client, name = self._table.meta.client, self._table.name
        found: dict[tuple[str, str], Item] = {}
        request = {name: {"Keys": [{"pk": pk, "sk": sk} for pk, sk in keys], "ConsistentRead": consistent}}
        while request:
            response = client.batch_get_item(RequestItems=request)
            for raw in response.get("Responses", {}).get(name, []):
                if not self._expired(raw):
                    found[(raw["pk"], raw["sk"])] = _to_item(raw)
            request = response.get("UnprocessedKeys") or {}
        return found

    def create(self, pk: str, sk: str, data: dict[str, Any], *, expires_at: int | None = None,
               children: Sequence[str] | None = None) -> Item:
        """Write a new item at version 1; ``AlreadyExists`` if the key is taken (and not expired)."""
        item = Item(pk, sk, data, 1, expires_at, None if children is None else tuple(children))
        # An expired item that DynamoDB has not swept yet may be overwritten.
        condition = Attr("pk").not_exists() | Attr("expires_at").lte(self._epoch())
        try:
            self._table.put_item(Item=_to_raw(item), ConditionExpression=condition)
        except ClientError as exc:
            if _condition_failed(exc):
                raise AlreadyExists(f"{pk}/{sk}") from None
            raise
        return item

    def replace(self, item: Item, data: dict[str, Any], *, expires_at: int | None = None,
                children: Sequence[str] | None = None) -> Item:
        """Write ``data`` over ``item`` if nobody wrote it since it was read; ``Conflict`` otherwise."""
        new = Item(item.pk, item.sk, data, item.version + 1, expires_at if expires_at is not None else item.expires_at,
                   tuple(children) if children is not None else item.children)
        try:
            self._table.put_item(Item=_to_raw(new), ConditionExpression=Attr("version").eq(item.version))
        except ClientError as exc:
            if _condition_failed(exc):
                raise Conflict(f"{item.pk}/{item.sk} changed since version {item.version}") from None
            raise
        return new

    def put(self, pk: str, sk: str, data: dict[str, Any], *, expires_at: int | None = None) -> Item:
        """Unconditional write, for records only one writer ever touches (caches, manifests)."""
        current = self.get(pk, sk)
        item = Item(pk, sk, data, (current.version if current else 0) + 1, expires_at)
        self._table.put_item(Item=_to_raw(item))
        return item

    def update(
        self, pk: str, sk: str, change: Callable[[dict[str, Any] | None], dict[str, Any]], *, attempts: int = 5
    ) -> Item:
        """Read, apply ``change`` to the data (None when absent), write back; retry on conflict."""
        for _ in range(attempts):
            current = self.get(pk, sk)
            data = change(None if current is None else dict(current.data))
            try:
                if current is None:
                    return self.create(pk, sk, data)
                return self.replace(current, data)
            except (Conflict, AlreadyExists):
                continue
        raise Conflict(f"{pk}/{sk} kept changing; gave up after {attempts} attempts")

    def delete(self, pk: str, sk: str, *, version: int | None = None) -> None:
        kwargs: dict[str, Any] = {"Key": {"pk": pk, "sk": sk}}
        if version is not None:
            kwargs["ConditionExpression"] = Attr("version").eq(version)
        try:
            self._table.delete_item(**kwargs)
        except ClientError as exc:
            if _condition_failed(exc):
                raise Conflict(f"{pk}/{sk} changed since version {version}") from None
            raise

    def delete_many(self, pk: str, sks: Sequence[str]) -> None:
        """Delete the items of one partition at these sort keys, unconditionally: boto3's batch writer
        sends 25 a request and sends again what DynamoDB leaves unprocessed."""
        with self._table.batch_writer() as batch:
            for sk in dict.fromkeys(sks):  # a key named twice in one request is refused
                batch.delete_item(Key={"pk": pk, "sk": sk})

    def claim(self, pk: str, sk: str, *, expires_at: int, data: dict[str, Any] | None = None) -> bool:
        """Take a key once: True for the first caller, False for every later one until it expires."""
        try:
            self.create(pk, sk, data or {}, expires_at=expires_at)
        except AlreadyExists:
            return False
        return True

    def add(self, pk: str, sk: str, amounts: dict[str, int], *, expires_at: int | None = None) -> dict[str, int]:
        """Atomically add to counters kept as plain attributes beside ``data``; returns their new values.

        Counters aggregate in place (rate limits, daily history): many writers, no read first.
        """
        names = {"#v": "version"}
        values: dict[str, Any] = {":one": 1}
        adds = ["#v :one"]
        for i, (field, amount) in enumerate(amounts.items()):
            names[f"#f{i}"] = field
            values[f":a{i}"] = amount
            adds.append(f"#f{i} :a{i}")
        expression = "ADD " + ", ".join(adds)
        if expires_at is not None:
            names["#e"] = "expires_at"
            values[":e"] = expires_at
            expression += " SET #e = if_not_exists(#e, :e)"
        response = self._table.update_item(
            Key={"pk": pk, "sk": sk},
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="UPDATED_NEW",
        )
        return {field: _number(response["Attributes"][field]) for field in amounts}

    def add_below(self, pk: str, sk: str, field: str, ceiling: int) -> Item | None:
        """Add one to the counter ``field`` of an existing, unexpired item unless it reached ``ceiling``.

        One conditional request, so callers racing each other never take more than ``ceiling``
        between them. Returns the item after the add, or None when refused (at the ceiling,
        absent or expired).
        """
        try:
            response = self._table.update_item(
                Key={"pk": pk, "sk": sk},
                UpdateExpression="ADD #f :one, #v :one",
                ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(#f) OR #f < :ceiling) "
                                    "AND (attribute_not_exists(#e) OR #e > :now)",
                ExpressionAttributeNames={"#f": field, "#v": "version", "#e": "expires_at"},
                ExpressionAttributeValues={":one": 1, ":ceiling": ceiling, ":now": self._epoch()},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _condition_failed(exc):
                return None
            raise
        return _to_item(response["Attributes"])

    def add_to_set(self, pk: str, sk: str, field: str, values: Sequence[str]) -> bool:
        """Add ``values`` to the string set ``field`` of an existing, unexpired item (and one to its version).

        One conditional request; False when the item is absent or expired. Without values it
        still adds one to the version, which is how a waiting writer is counted.
        """
        names = {"#v": "version", "#e": "expires_at"}
        values_ = {":one": 1, ":now": self._epoch()}
        expression = "ADD #v :one"
        if values:
            names["#f"] = field
            values_[":s"] = set(values)
            expression += ", #f :s"
        try:
            self._table.update_item(
                Key={"pk": pk, "sk": sk}, UpdateExpression=expression,
                ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(#e) OR #e > :now)",
                ExpressionAttributeNames=names, ExpressionAttributeValues=values_)
        except ClientError as exc:
            if _condition_failed(exc):
                return False
            raise
        return True

    def add_members(self, pk: str, sk: str, field: str, values: Sequence[str]) -> None:
        """Add ``values`` to the string set ``field`` (the item is made if absent) and one to its version.

        One request and no read first, so writers never wait for each other; the version rise is
        what a ``remove_members`` that read the set earlier finds changed.
        """
        if not values:
            return
        self._table.update_item(
            Key={"pk": pk, "sk": sk}, UpdateExpression="ADD #f :s, #v :one",
            ExpressionAttributeNames={"#f": field, "#v": "version"},
            ExpressionAttributeValues={":s": set(values), ":one": 1})

    def remove_members(self, pk: str, sk: str, field: str, values: Sequence[str], *, version: int | None = None
                       ) -> bool:
        """Take ``values`` out of the string set ``field``, if the item is still at ``version`` when given.

        False when someone added meanwhile: what they added may be what the caller meant to take out
        (read before their write), so nothing is taken; a later reader tries again.
        """
        if not values:
            return True
        kwargs: dict[str, Any] = {
            "Key": {"pk": pk, "sk": sk}, "UpdateExpression": "DELETE #f :s ADD #v :one",
            "ExpressionAttributeNames": {"#f": field, "#v": "version"},
            "ExpressionAttributeValues": {":s": set(values), ":one": 1}}
        if version is not None:
            kwargs["ConditionExpression"] = "#v = :version"
            kwargs["ExpressionAttributeValues"][":version"] = version
        try:
            self._table.update_item(**kwargs)
        except ClientError as exc:
            if _condition_failed(exc):
                return False
            raise
        return True

    def keep_first(self, pk: str, sk: str, data: dict[str, Any]) -> Item:
        """The item at this key, written with ``data`` first when there is none (items without TTL).

        One request: of writers racing for a key, every one gets back the item the first wrote.
        """
        response = self._table.update_item(
            Key={"pk": pk, "sk": sk},
            UpdateExpression="SET #d = if_not_exists(#d, :d), #v = if_not_exists(#v, :one)",
            ExpressionAttributeNames={"#d": "data", "#v": "version"},
            ExpressionAttributeValues={":d": json.dumps(data, separators=(",", ":"), default=str), ":one": 1},
            ReturnValues="ALL_NEW",
        )
        return _to_item(response["Attributes"])

    def _epoch(self) -> int:
        return int(self.clock().timestamp())

    def _expired(self, raw: dict[str, Any]) -> bool:
        # DynamoDB deletes expired items lazily (and the emulator never): readers must not trust them.
        expires_at = raw.get("expires_at")
        return expires_at is not None and int(expires_at) <= self._epoch()


def _to_raw(item: Item) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "pk": item.pk,
        "sk": item.sk,
        "data": json.dumps(item.data, separators=(",", ":"), default=str),
        "version": item.version,
    }
    if item.expires_at is not None:
        raw["expires_at"] = int(item.expires_at)
    if item.children is not None:
        raw["children"] = list(item.children)
    return raw


_RESERVED = frozenset({"pk", "sk", "data", "version", "expires_at", "children"}) | _FORMER_INDEX_ATTRIBUTES


def _to_item(raw: dict[str, Any]) -> Item:
    expires_at = raw.get("expires_at")
    children = raw.get("children")
    data = json.loads(raw["data"]) if "data" in raw else {}
    data.update({key: _number(value) for key, value in raw.items() if key not in _RESERVED})
    return Item(
        pk=raw["pk"],
        sk=raw["sk"],
        data=data,
        version=int(raw.get("version", 0)),
        expires_at=int(expires_at) if expires_at is not None else None,
        children=tuple(children) if children is not None else None,
    )


def _number(value: Any) -> Any:
    """DynamoDB hands numbers back as Decimal."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _condition_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _encode_cursor(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, default=str).encode()).decode()


def _decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError:
        raise ValueError("cursor is not one this API returned; omit it to start from the first page") from None
    if not isinstance(key, dict) or set(key) != {"pk", "sk"}:
        raise ValueError("cursor is not one this API returned; omit it to start from the first page")
    return key
