"""The table wrapper against the emulator over HTTP: versions, conflicts, TTLs, paging."""
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib import aws
from chalicelib.model import ComponentState, ComponentStatus
from chalicelib.store import AlreadyExists, Conflict, Table
from chalicelib.store.records import StateStore


def test_create_refuses_an_existing_key(table):
    table.create("INCIDENT", "a", {"name": "first"})
    with pytest.raises(AlreadyExists):
        table.create("INCIDENT", "a", {"name": "second"})
    assert table.get("INCIDENT", "a").data == {"name": "first"}


def test_two_writers_of_one_version_conflict_and_nothing_is_lost(table):
    # GIVEN two marketers who read the same incident at version 1
    first = table.create("INCIDENT", "a", {"name": "Facebook down"})
    second = table.get("INCIDENT", "a")
    # WHEN both write
    saved = table.replace(first, {"name": "Facebook down (update 1)"})
    with pytest.raises(Conflict):
        table.replace(second, {"name": "Facebook down (update 2)"})
    # THEN the first write stands and the second was refused
    current = table.get("INCIDENT", "a")
    assert (current.version, current.data["name"]) == (2, "Facebook down (update 1)") == (saved.version, saved.data["name"])


def test_update_retries_read_modify_write_on_conflict(table):
    table.create("COUNTER", "c", {"n": 0})
    for _ in range(5):
        table.update("COUNTER", "c", lambda data: {"n": data["n"] + 1})
    assert table.get("COUNTER", "c").data == {"n": 5}


def test_expired_items_are_invisible_and_claimable_again(aws):
    # GIVEN a clock we control (the emulator never expires items by itself)
    now = [datetime(2026, 5, 1, 12, tzinfo=timezone.utc)]
    table = Table(aws_table(), clock=lambda: now[0])
    expiry = int((now[0] + timedelta(minutes=10)).timestamp())
    # WHEN a key is claimed
    assert table.claim("CLAIM#n1", "r1#email", expires_at=expiry) is True
    assert table.claim("CLAIM#n1", "r1#email", expires_at=expiry) is False
    # THEN it is there until its TTL, then gone and claimable again
    assert table.get("CLAIM#n1", "r1#email") is not None
    now[0] += timedelta(minutes=11)
    assert table.get("CLAIM#n1", "r1#email") is None
    assert table.claim("CLAIM#n1", "r1#email", expires_at=expiry + 3600) is True


def aws_table():
    return aws.get_table()


def test_counters_add_atomically_and_carry_a_ttl(table):
    assert table.add("RATE#ip#1.2.3.4", "2026-05-01T12", {"count": 1}, expires_at=2_000_000_000) == {"count": 1}
    assert table.add("RATE#ip#1.2.3.4", "2026-05-01T12", {"count": 1, "sms": 2}, expires_at=2_100_000_000) == {
        "count": 2, "sms": 2}
    item = table.get("RATE#ip#1.2.3.4", "2026-05-01T12")
    # The first writer's TTL stays: a window does not stretch with each hit.
    assert (item.data, item.expires_at) == ({"count": 2, "sms": 2}, 2_000_000_000)


def test_query_pages_with_an_opaque_cursor(table):
    for n in range(7):
        table.create("NOTICE", f"n{n}", {"n": n})
    first = table.query("NOTICE", limit=3, descending=True)
    assert [i.sk for i in first.items] == ["n6", "n5", "n4"]
    second = table.query("NOTICE", limit=3, descending=True, cursor=first.cursor)
    assert [i.sk for i in second.items] == ["n3", "n2", "n1"]
    with pytest.raises(ValueError, match="cursor"):
        table.query("NOTICE", cursor="not-a-cursor")


def test_records_round_trip_with_their_version(table, noon):
    store = StateStore(table)
    state = store.save_component_state(
        ComponentState(component_id="facebook", probe_status=ComponentStatus.MAJOR_OUTAGE, updated_at=noon))
    assert state.version == 1
    loaded = store.component_states()["facebook"]
    assert loaded == state
    store.save_component_state(loaded.model_copy(update={"probe_status": ComponentStatus.OPERATIONAL}))
    with pytest.raises(Conflict):
        store.save_component_state(loaded.model_copy(update={"cause": "stale writer"}))


def test_a_component_change_is_reapplied_over_another_writers_save(table, noon):
    store = StateStore(table)
    store.save_component_state(ComponentState(component_id="facebook", updated_at=noon))
    calls = []

    def set_manual(current):
        calls.append(current.version)
        if len(calls) == 1:
            # GIVEN a probe saves between this writer's read and its write
            store.save_component_state(current.model_copy(update={"probe_status": ComponentStatus.MAJOR_OUTAGE}))
        return current.model_copy(update={"manual_status": ComponentStatus.OPERATIONAL})

    # WHEN the marketer's change is applied
    saved = store.change_component_state("facebook", set_manual, noon)
    # THEN it was re-read once and both writes stand
    assert calls == [1, 2]
    assert (saved.probe_status, saved.manual_status) == (ComponentStatus.MAJOR_OUTAGE, ComponentStatus.OPERATIONAL)
    assert store.component_state("facebook") == saved


def test_an_incident_save_that_loses_the_race_leaves_no_trace(table, noon):
    from chalicelib.model import Incident, IncidentUpdate
    from chalicelib.store.incidents import IncidentStore

    store = IncidentStore(table)

    def update(body: str, minutes: int) -> IncidentUpdate:
        at = noon + timedelta(minutes=minutes)
        return IncidentUpdate(id=f"u{minutes:02d}", status="identified", body=body, created_at=at, updated_at=at,
                              display_at=at)

    opened = store.save_incident(Incident(id="i1", name="X is slow", status="investigating", created_at=noon,
                                          updated_at=noon, updates=[update("Opened.", 0)]))
    # GIVEN two writers who read the incident at version 1; the first saves an update
    store.save_incident(opened.model_copy(update={"updates": [*opened.updates, update("First.", 1)]}))
    # WHEN the second saves its own update over the same version
    with pytest.raises(Conflict):
        store.save_incident(opened.model_copy(update={"updates": [*opened.updates, update("Second.", 2)]}))
    # THEN readers see the winner's updates only, one by id and the same in the listing
    assert [u.body for u in store.incident("i1").updates] == ["Opened.", "First."]
    assert [u.body for u in store.incidents()[0].updates] == ["Opened.", "First."]
