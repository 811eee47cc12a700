"""A write and the publish after it read the table by key only, as much with a long history as without.

Counted from botocore's events on the emulator's DynamoDB client: the operations asked for and
the items they returned. No query or scan may appear (the emulator, like a growing bill, pays
for those by the size of the table), and past incidents outside the page's 90 days and the
written month add no request and no item.
"""
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError

from chalicelib import aws as aws_clients
from chalicelib.config import get_site
from chalicelib.incidents import IncidentService
from chalicelib.model import ComponentStatus, Impact
from chalicelib.site.render import incident_key
from chalicelib.site.service import Changes, front_tag, publish_site
from chalicelib.store.incidents import KEPT_FRONT, IncidentStore, take_changes
from chalicelib.store.table import Table
from tests.site_scenarios import bucket, bucket_objects  # noqa: F401

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
                     kept: bool = True):
    """``kept``: the publish starts from the front the last publish kept; otherwise there is none
    (as after a failed publish) and it reads the front's listing."""
    clock[0] += timedelta(minutes=5)
    take_changes()
    write = calls.record(lambda: service.open_incident(
        name=name, body="Checkout answers slowly.", impact=Impact.MINOR, notify=False, actor="test",
        components={"website": ComponentStatus.DEGRADED_PERFORMANCE}))
    if not kept:
        IncidentStore(service.table).forget_front()
    publish = calls.record(lambda: publish_site(now=clock[0], changes=Changes.taken()))
    return write, publish


@pytest.mark.parametrize("kept", [True, False], ids=["kept front", "front's listing"])
def test_a_write_and_its_publish_read_by_key_whatever_the_history(aws, bucket, kept):
    clock = [START]
    table = Table(aws_clients.get_table(), clock=lambda: clock[0])
    service = IncidentService(table, get_site(), lambda: clock[0])
    calls = TableCalls(aws_clients.get_table().meta.client)
    service.open_incident(name="Already open", body="Looking.", impact=Impact.MINOR, notify=False, actor="test",
                          components={"x": ComponentStatus.PARTIAL_OUTAGE})
    publish_site(now=clock[0])  # the first publish renders everything
    # GIVEN a write and its publish on a site without a past (one incident open)
    (write_ops, write_items), (publish_ops, publish_items) = open_and_publish(service, clock, calls, "First",
                                                                                     kept=kept)
    # WHEN 30 incidents of a year ago are added, and the same write is made again
    past = IncidentService(table, get_site(), lambda: START - timedelta(days=365))
    for n in range(30):
        opened = past.open_incident(name=f"Old {n}", body="Down.", impact=Impact.MINOR, notify=False, actor="test",
                                    components={"instagram": ComponentStatus.PARTIAL_OUTAGE})
        past.resolve_incident(opened.id, body="Back.", notify=False, actor="test")
    publish_site(now=clock[0])
    (write_ops_2, write_items_2), (publish_ops_2, publish_items_2) = open_and_publish(service, clock, calls, "Second",
                                                                                             kept=kept)
    # THEN neither asked for a query or a scan
    for operations in (write_ops, publish_ops, write_ops_2, publish_ops_2):
        assert not {"Query", "Scan"} & set(operations), operations
    # AND the history added no request and no item: the second write read the first one's incident
    # (open, on the front: one item, its updates inside) and nothing else more; so did its publish
    # from the front's listing, while from the kept front (one item, whatever it holds) it read no more
    assert (write_ops_2, publish_ops_2) == (write_ops, publish_ops)
    assert (write_items_2 - write_items, publish_items_2 - publish_items) == (1, 0 if kept else 1)


class FailingS3:
    """The emulator's client, failing every upload, as S3 can in the middle of a publish."""

    def __init__(self):
        self.real = aws_clients.client("s3")

    def put_object(self, **kwargs):
        raise ClientError({"Error": {"Code": "InternalError", "Message": "injected"}}, "PutObject")

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_a_publish_starts_from_the_front_the_last_one_kept_and_reads_the_listing_when_it_does_not_hold(
        aws, bucket):
    clock = [START]
    table = Table(aws_clients.get_table(), clock=lambda: clock[0])
    service = IncidentService(table, get_site(), lambda: clock[0])
    calls = TableCalls(aws_clients.get_table().meta.client)
    for n in range(5):
        service.open_incident(name=f"Open {n}", body="Looking.", impact=Impact.MINOR, notify=False, actor="test",
                              components={"x": ComponentStatus.PARTIAL_OUTAGE})
    publish_site(now=clock[0])  # everything: it keeps the front for the next publish
    # GIVEN the same write published with no kept front, and with the one the last publish kept
    _, (listed_ops, listed_items) = open_and_publish(service, clock, calls, "Listed", kept=False)
    _, (kept_ops, kept_items) = open_and_publish(service, clock, calls, "Kept")
    # THEN the second did not read the front's listing and its 6 incidents (one request each) but
    # the kept front (one item, asked for by both, found by the second, and read again by its
    # write of the next). It read the written incident among its month's instead (one request: the
    # first knew it from the listing), and one manifest part more (each publish after a write appends one).
    assert listed_ops - kept_ops == Counter({"GetItem": 1})
    assert listed_items - kept_items == (1 + 6) - 2 - 1 - 1
    # WHEN a publisher writes the manifest and dies before it keeps its front (the one kept is put back)
    before = table.get(*KEPT_FRONT)
    open_and_publish(service, clock, calls, "Elsewhere")
    table.put(*KEPT_FRONT, before.data)
    _, (after_ops, _) = open_and_publish(service, clock, calls, "After")
    # THEN the kept front is another manifest's: the next publish reads the listing
    assert after_ops == listed_ops
    # WHEN the kept front cannot be read (kept by a release whose incidents read otherwise)
    current = table.get(*KEPT_FRONT)
    table.put(*KEPT_FRONT, {**current.data, "incidents": "not what a front is kept as"})
    _, (unreadable_ops, _) = open_and_publish(service, clock, calls, "Unreadable")
    # THEN the publish reads the listing too, and the next keeps a front it can read
    assert unreadable_ops == listed_ops
    assert IncidentStore(table).kept_front(front_tag(table.get("SITE", "published"))) is not None
    # WHEN a publish fails half-way, taking its changes with it
    clock[0] += timedelta(minutes=5)
    lost = service.open_incident(name="Lost", body="Down.", impact=Impact.MINOR, notify=False, actor="test",
                                 components={"x": ComponentStatus.PARTIAL_OUTAGE})
    with pytest.raises(ClientError):
        publish_site(now=clock[0], changes=Changes.taken(), s3=FailingS3())
    # THEN no front is kept, and the next publish reads the listing, which shows the incident it lost,
    # and publishes that incident's page with its own
    assert table.get(*KEPT_FRONT) is None
    _, (next_ops, _) = open_and_publish(service, clock, calls, "Next")
    assert next_ops == listed_ops
    front = IncidentStore(table).kept_front(front_tag(table.get("SITE", "published")))
    assert {"Lost", "Next"} <= {incident.name for incident in front}
    assert b"Lost" in bucket_objects(bucket)[incident_key(lost.id)]
