"""Publishes after writes coalesce: one holds the site's publishing turn, the others ask it to publish again."""
import threading
from datetime import timedelta

import boto3

from chalicelib import aws
from chalicelib.model import ComponentStatus
from chalicelib.site.service import TURN_PK, TURN_SK, PublishTurn, publish_site
from chalicelib.store.records import StateStore
from chalicelib.store.table import Table
from tests.site_scenarios import bucket, bucket_objects  # noqa: F401


class HeldS3:
    """The real S3 client; the first upload waits until the test lets it go, so a publish stays in flight."""

    def __init__(self):
        self._s3 = boto3.client("s3")
        self.started = threading.Event()
        self.release = threading.Event()

    def put_object(self, **kwargs):
        self.started.set()
        assert self.release.wait(30), "the held publish was never released"
        return self._s3.put_object(**kwargs)

    def __getattr__(self, name):
        return getattr(self._s3, name)


def _set_status(table, component_id, status, now):
    StateStore(table).change_component_state(
        component_id, lambda state: state.replace(manual_status=status, updated_at=now), now)


def test_a_burst_of_writes_costs_at_most_two_publishes_and_the_last_state_is_live(table, bucket, noon):
    # GIVEN a publish after a write, held in flight by a slow bucket
    held = HeldS3()
    results = {}
    first = threading.Thread(target=lambda: results.setdefault("first", publish_site(now=noon, s3=held,
                                                                                      coalesce=True)))
    first.start()
    assert held.started.wait(30)
    # WHEN 50 more writes each ask for a publish while it runs, the last one taking Facebook down
    for n in range(50):
        status = ComponentStatus.MAJOR_OUTAGE if n == 49 else ComponentStatus.DEGRADED_PERFORMANCE
        _set_status(table, "facebook", status, noon)
        results[n] = publish_site(now=noon, coalesce=True)
    held.release.set()
    first.join(60)
    # THEN each of the 50 was taken by the running publish, which ran once more, and no more
    assert all(results[n].coalesced for n in range(50))
    assert results["first"].runs == 2
    # AND the page shows the state after the last write, and the turn is free again
    assert b"major_outage" in bucket_objects(bucket)["api/v2/components.json"]
    assert table.get(TURN_PK, TURN_SK) is None


def test_a_publish_after_the_turn_is_given_back_runs_itself(table, bucket, noon):
    # GIVEN a publish that ran and gave its turn back
    assert publish_site(now=noon, coalesce=True).runs == 1
    # WHEN a later write asks for a publish
    _set_status(table, "facebook", ComponentStatus.MAJOR_OUTAGE, noon)
    result = publish_site(now=noon, coalesce=True)
    # THEN it publishes itself, and the change is live
    assert result.runs == 1 and "api/v2/components.json" in result.uploaded


def test_a_crashed_holder_blocks_publishes_only_until_its_turn_expires(table, bucket, noon):
    # GIVEN a holder that took the turn at noon and died without giving it back
    assert PublishTurn(Table(aws.get_table(), clock=lambda: noon), seconds=60).take()
    # WHEN a write asks for a publish while the dead turn is live
    assert publish_site(now=noon, coalesce=True).coalesced
    # THEN once the turn expired, the next publish runs
    later = noon + timedelta(seconds=61)
    assert publish_site(now=later, coalesce=True).runs == 1


def test_the_schedule_and_a_marketers_publish_never_wait_for_a_turn(table, bucket, noon):
    # GIVEN a turn held by another publish
    assert PublishTurn(table).take()
    # WHEN the schedule publishes (no turn taken)
    result = publish_site(now=noon, reconcile=True)
    # THEN it published the page all the same
    assert result.runs == 1 and "index.html" in bucket_objects(bucket)


def test_the_holder_publishes_the_incidents_others_changed_meanwhile(table, bucket, noon):
    # GIVEN a publish after a write, held in flight
    from chalicelib.config import get_site
    from chalicelib.incidents import IncidentService
    from chalicelib.model import Impact
    from chalicelib.site.service import Changes
    from chalicelib.store.incidents import take_changes

    take_changes()
    publish_site(now=noon)
    later = noon + timedelta(minutes=1)  # the page's time moves, so the held publish uploads
    held = HeldS3()
    first = threading.Thread(target=lambda: publish_site(now=later, s3=held, coalesce=True, changes=Changes()))
    first.start()
    assert held.started.wait(30)
    # WHEN another writer opens an incident and asks for a publish of it meanwhile
    writes = Table(aws.get_table(), clock=lambda: later)
    opened = IncidentService(writes, get_site(), lambda: later).open_incident(
        name="Checkout is down", body="Looking into it.", impact=Impact.MAJOR, notify=False, actor="test",
        components={"website": ComponentStatus.MAJOR_OUTAGE})
    assert publish_site(now=later, coalesce=True, changes=Changes.taken()).coalesced
    held.release.set()
    first.join(60)
    # THEN the holder's second publish rendered that incident's page and its month
    live = bucket_objects(bucket)
    assert f"incidents/{opened.id}.html" in live and b"Checkout is down" in live[f"history/{noon:%Y-%m}.html"]
