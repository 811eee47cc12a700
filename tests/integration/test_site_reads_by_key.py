"""A write and the publish after it read the table by key only, as much with a long history as without.

Counted from botocore's events on the emulator's DynamoDB client: the operations asked for and
the items they returned. No query or scan may appear (the emulator, like a growing bill, pays
for those by the size of the table), and past incidents outside the page's 90 days and the
written month add no request and no item.
"""
from collections import Counter
from datetime import datetime, timedelta, timezone

from chalicelib import aws as aws_clients
from chalicelib.config import get_site
from chalicelib.incidents import IncidentService
from chalicelib.model import ComponentStatus, Impact
from chalicelib.site.service import FRONT, Changes, publish_site
from chalicelib.store.incidents import take_changes
from chalicelib.store.table import Table
from tests.site_scenarios import bucket  # noqa: F401

START = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


class TableCalls:
    """The DynamoDB operations made while it is recording, and the items they returned."""

    def __init__(self, client):
        self.operations: Counter[str] | None = None
        self.items = 0
        client.meta.events.register("after-call.dynamodb", self._after)

    def _after(self, model=None, parsed=None, **_):
        if self.operations is None:
            return
        self.operations[model.name] += 1
        parsed = parsed or {}
        self.items += len(parsed.get("Items", [])) + (1 if parsed.get("Item") else 0)
        self.items += sum(len(found) for found in parsed.get("Responses", {}).values())

    def record(self, action) -> tuple[Counter[str], int]:
        self.operations, self.items = Counter(), 0
        action()
        operations, self.operations = self.operations, None
        return operations, self.items


def open_and_publish(service: IncidentService, clock: list[datetime], calls: TableCalls, name: str, *,
                     warm: bool = False):
    """``warm``: the publish starts from the front the last one kept (``FRONT``), as on a warm
    function that published last; otherwise it reads the front, as a cold one does."""
    clock[0] += timedelta(minutes=5)
    take_changes()
    write = calls.record(lambda: service.open_incident(
        name=name, body="Checkout answers slowly.", impact=Impact.MINOR, notify=False, actor="test",
        components={"website": ComponentStatus.DEGRADED_PERFORMANCE}))
    if not warm:
        FRONT.forget()
    publish = calls.record(lambda: publish_site(now=clock[0], changes=Changes.taken()))
    return write, publish


def test_a_write_and_its_publish_read_by_key_whatever_the_history(aws, bucket):
    clock = [START]
    table = Table(aws_clients.get_table(), clock=lambda: clock[0])
    service = IncidentService(table, get_site(), lambda: clock[0])
    calls = TableCalls(aws_clients.get_table().meta.client)
    service.open_incident(name="Already open", body="Looking.", impact=Impact.MINOR, notify=False, actor="test",
                          components={"x": ComponentStatus.PARTIAL_OUTAGE})
    publish_site(now=clock[0])  # the first publish renders everything
    # GIVEN a write and its publish on a site without a past (one incident open)
    (write_ops, write_items), (publish_ops, publish_items) = open_and_publish(service, clock, calls, "First")
    # WHEN 30 incidents of a year ago are added, and the same write is made again
    past = IncidentService(table, get_site(), lambda: START - timedelta(days=365))
    for n in range(30):
        opened = past.open_incident(name=f"Old {n}", body="Down.", impact=Impact.MINOR, notify=False, actor="test",
                                    components={"instagram": ComponentStatus.PARTIAL_OUTAGE})
        past.resolve_incident(opened.id, body="Back.", notify=False, actor="test")
    publish_site(now=clock[0])
    (write_ops_2, write_items_2), (publish_ops_2, publish_items_2) = open_and_publish(service, clock, calls, "Second")
    # THEN neither asked for a query or a scan
    for operations in (write_ops, publish_ops, write_ops_2, publish_ops_2):
        assert not {"Query", "Scan"} & set(operations), operations
    # AND the history added no request and no item: the second write and its publish read the first
    # one's incident (open, on the front: one item, its updates inside) and nothing else more
    assert (write_ops_2, publish_ops_2) == (write_ops, publish_ops)
    assert (write_items_2 - write_items, publish_items_2 - publish_items) == (1, 1)


def test_a_warm_publish_reads_the_changed_incident_and_not_the_front(aws, bucket):
    clock = [START]
    table = Table(aws_clients.get_table(), clock=lambda: clock[0])
    service = IncidentService(table, get_site(), lambda: clock[0])
    calls = TableCalls(aws_clients.get_table().meta.client)
    for n in range(5):
        service.open_incident(name=f"Open {n}", body="Looking.", impact=Impact.MINOR, notify=False, actor="test",
                              components={"x": ComponentStatus.PARTIAL_OUTAGE})
    publish_site(now=clock[0])  # everything: it keeps the front for the next publish
    # GIVEN the same write published by a cold function and by the warm one that published last
    _, (cold_ops, cold_items) = open_and_publish(service, clock, calls, "Cold")
    _, (warm_ops, warm_items) = open_and_publish(service, clock, calls, "Warm", warm=True)
    # THEN the warm one did not read the front: its listing and its 6 incidents, one request each. It
    # read the written incident among its month's instead (one request: the cold one knew it from the
    # front), and one manifest part more (each publish after a write appends one).
    assert cold_ops - warm_ops == Counter({"GetItem": 1})
    assert cold_items - warm_items == (1 + 6) - 1 - 1
    # WHEN another publisher writes the manifest (a cold function's publish), the kept front no longer holds
    kept = FRONT._kept
    open_and_publish(service, clock, calls, "Elsewhere")
    FRONT._kept = kept
    _, (after_ops, _) = open_and_publish(service, clock, calls, "After", warm=True)
    # THEN the next publish reads the front again, as a cold one does
    assert after_ops == cold_ops
