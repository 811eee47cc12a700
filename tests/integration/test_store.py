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


def test_delete_many_removes_exactly_the_keys_named_across_several_batches(table):
    # GIVEN 60 parts (three batch requests of at most 25) and a neighbour in the same partition
    for n in range(60):
        table.create("SITE", f"published#{n:02d}", {"n": n})
    table.create("SITE", "published", {"head": True})
    # WHEN 55 of the parts are deleted, one named twice
    table.delete_many("SITE", [f"published#{n:02d}" for n in range(55)] + ["published#00"])
    # THEN exactly the named items are gone
    assert [item.sk for item in table.query_all("SITE")] == [
        "published", *(f"published#{n}" for n in range(55, 60))]


def test_records_round_trip_with_their_version(table, noon):
    store = StateStore(table)
    state = store.save_component_state(
        ComponentState(component_id="facebook", probe_status=ComponentStatus.MAJOR_OUTAGE, updated_at=noon))
    assert state.version == 1
    loaded = store.component_states()["facebook"]
    assert loaded == state
    store.save_component_state(loaded.replace(probe_status=ComponentStatus.OPERATIONAL))
    with pytest.raises(Conflict):
        store.save_component_state(loaded.replace(cause="stale writer"))


def test_a_component_change_is_reapplied_over_another_writers_save(table, noon):
    store = StateStore(table)
    store.save_component_state(ComponentState(component_id="facebook", updated_at=noon))
    calls = []

    def set_manual(current):
        calls.append(current.version)
        if len(calls) == 1:
            # GIVEN a probe saves between this writer's read and its write
            store.save_component_state(current.replace(probe_status=ComponentStatus.MAJOR_OUTAGE))
        return current.replace(manual_status=ComponentStatus.OPERATIONAL)

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
    store.save_incident(opened.replace(updates=[*opened.updates, update("First.", 1)]))
    # WHEN the second saves its own update over the same version
    with pytest.raises(Conflict):
        store.save_incident(opened.replace(updates=[*opened.updates, update("Second.", 2)]))
    # THEN readers see the winner's updates only, one by id and the same in the listing
    assert [u.body for u in store.incident("i1").updates] == ["Opened.", "First."]
    assert [u.body for u in store.incidents()[0].updates] == ["Opened.", "First."]


def _incident(incident_id: str, at: datetime, status: str = "investigating", **fields):
    from chalicelib.model import Incident

    return Incident(id=incident_id, name=f"Incident {incident_id}", status=status, created_at=at, updated_at=at,
                    **fields)


def test_the_front_listing_keeps_open_and_recent_incidents_and_lets_old_ones_go(table, noon):
    from chalicelib.store.incidents import LISTED, IncidentStore

    store = IncidentStore(table)
    # GIVEN an incident still open, one closed two days ago and one closed four months ago
    long_ago = noon - timedelta(days=120)
    for incident in (_incident("open", long_ago), _incident("recent", noon - timedelta(days=2), "resolved"),
                     _incident("old", long_ago, "resolved")):
        store.save_incident(incident)
    # WHEN the page's front is read, by key
    front = store.front(noon - timedelta(days=90))
    # THEN it holds the open and the recent one, and the listing no longer names the old one
    assert sorted(i.id for i in front) == ["open", "recent"]
    assert table.get(LISTED, "front").data["ids"] == {"open", "recent"}
    assert [i.id for i in store.open_incidents()] == ["open"]
    assert sorted(i.id for i in store.of_months([f"{long_ago:%Y-%m}"])) == ["old", "open"]


def test_the_kept_front_is_read_only_for_the_manifest_it_names_and_not_kept_past_its_bound(
        table, noon, monkeypatch):
    from chalicelib.store import incidents as incidents_module
    from chalicelib.store.incidents import IncidentStore

    store = IncidentStore(table)
    front = [_incident("open", noon), _incident("recent", noon - timedelta(days=2), "resolved")]
    # GIVEN a front kept for the manifest write "3:a,b"
    assert store.keep_front("3:a,b", front) is True
    # THEN it reads back whole for that write, and for no other
    assert store.kept_front("3:a,b") == front
    assert store.kept_front("4:a,c") is None
    # WHEN the next front is larger than an item may hold
    monkeypatch.setattr(incidents_module, "KEPT_FRONT_BYTES", 10)
    # THEN it is not kept, and the one kept before still names only its own write
    assert store.keep_front("4:a,c", front) is False
    assert store.kept_front("4:a,c") is None
    assert store.kept_front("3:a,b") == front


def test_a_listing_read_before_a_save_takes_nothing_out(table, noon):
    from chalicelib.store.incidents import LISTED, IncidentStore

    store = IncidentStore(table)
    old = store.save_incident(_incident("old", noon - timedelta(days=120), "resolved"))
    # GIVEN a reader that read the front listing, then the old incident's header (aged out)
    listing = table.get(LISTED, "front")
    # WHEN a marketer edits that incident meanwhile (it is on the front again)
    store.save_incident(old.replace(updated_at=noon))
    # THEN the reader's removal, conditional on the version it read, is refused and the id stays
    assert not table.remove_members(LISTED, "front", "ids", ["old"], version=listing.version)
    assert [i.id for i in store.front(noon - timedelta(days=90))] == ["old"]


def test_a_month_listing_lets_go_of_an_incident_that_moved_to_another_month(table, noon):
    from chalicelib.model import IncidentKind
    from chalicelib.store.incidents import LISTED, IncidentStore

    store = IncidentStore(table)
    # GIVEN a maintenance scheduled in May, then moved to June
    may, june = noon, noon + timedelta(days=40)
    planned = store.save_incident(_incident("m", noon, "scheduled", kind=IncidentKind.MAINTENANCE, scheduled_for=may))
    store.save_incident(planned.replace(scheduled_for=june))
    # WHEN each month is read
    # THEN it is June's alone, and May's listing no longer names it
    assert [i.id for i in store.of_months([f"{may:%Y-%m}"])] == []
    assert [i.id for i in store.of_months([f"{june:%Y-%m}"])] == ["m"]
    assert not table.get(LISTED, f"month#{may:%Y-%m}").data.get("ids")


def test_list_missing_puts_back_what_a_writer_left_out(table, noon):
    from chalicelib.model import Notice
    from chalicelib.store.incidents import LISTED, IncidentStore

    store, states = IncidentStore(table), StateStore(table)
    # GIVEN an incident and a notice whose listings were lost (a writer stopped between its two writes)
    store.save_incident(_incident("a", noon))
    states.save_notice(Notice(id="n", title="New hours", created_at=noon, updated_at=noon))
    for item in table.query_all(LISTED):
        table.delete(LISTED, item.sk)
    assert store.front(noon) == [] and states.listed_notices() == []
    # WHEN everything read whole is listed again
    added = store.list_missing(states.incidents(), [n.id for n in states.notices()], noon)
    # THEN readers by key find them, and a second pass adds nothing
    assert added == 3
    assert [i.id for i in store.front(noon)] == ["a"] and [n.id for n in states.listed_notices()] == ["n"]
    assert store.list_missing(states.incidents(), ["n"], noon) == 0
