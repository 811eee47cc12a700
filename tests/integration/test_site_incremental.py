"""A publish after writes renders only what they changed, and the bucket ends as a publish of everything leaves it.

Random writes (incidents opened, updated, renamed, resolved, given a postmortem; maintenance
scheduled, moved to another month, cancelled; component statuses; notices) over more than
90 days, each followed by the publish that writes make (``Changes.taken``): after every one,
the bucket holds exactly the bytes a render of everything from the store gives.
"""
import random
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib import aws as aws_clients
from chalicelib.components import ComponentService
from chalicelib.config import get_site
from chalicelib.incidents import IncidentService
from chalicelib.maintenance import MaintenanceService
from chalicelib.model import ComponentStatus, Impact, IncidentStatus
from chalicelib.notices import NoticeService
from chalicelib.settings import get_settings
from chalicelib.site.render import render_site
from chalicelib.site.service import Changes, history_store, publish_site
from chalicelib.site.snapshot import read_snapshot
from chalicelib.site.validate import check_site
from chalicelib.store.incidents import take_changes
from chalicelib.store.records import StateStore
from chalicelib.store.table import Table
from tests.site_scenarios import bucket, bucket_objects  # noqa: F401

START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def full_render(now: datetime) -> dict[str, bytes]:
    """What a publish of everything would put in the bucket at ``now``."""
    table = Table(aws_clients.get_table(), clock=lambda: now)
    settings = get_settings()
    from chalicelib.site.publish import Publisher

    since = Publisher(None, settings.bucket_name, table, concurrency=1).first_published_at()
    snapshot = read_snapshot(get_site(), StateStore(table), now, history=history_store(table), since=since or now,
                             api_url=settings.api_url, probe_interval_seconds=settings.probe_interval_seconds,
                             publish_interval_seconds=settings.publish_interval_seconds)
    checked = check_site(render_site(snapshot, settings.templates_dir))
    assert not checked.withheld
    return {obj.key: obj.body for obj in checked.objects}


def random_write(rng: random.Random, clock: Clock, table: Table) -> str:
    site = get_site()
    components = sorted(site.component_ids)
    incidents = IncidentService(table, site, clock)
    maintenance = MaintenanceService(table, site, clock)
    open_ones = [i for i in StateStore(table).incidents() if i.is_open and i.kind.value == "incident"]
    planned = [i for i in StateStore(table).incidents() if i.is_open and i.kind.value == "maintenance"]
    choice = rng.choice(["open", "open", "update", "resolve", "rename", "postmortem", "schedule", "move",
                         "cancel", "status", "notice"])
    if choice == "open" or (choice in ("update", "resolve", "rename") and not open_ones):
        picked = rng.sample(components, rng.randint(1, 2))
        incidents.open_incident(name=f"Trouble {rng.randint(1, 999)}", body="We are looking into it.",
                                impact=rng.choice(list(Impact)), notify=False, actor="test",
                                components={c: ComponentStatus.PARTIAL_OUTAGE for c in picked})
        return "open"
    if choice == "update":
        incidents.post_update(rng.choice(open_ones).id, status=IncidentStatus.IDENTIFIED, body="Found it.",
                              notify=False, actor="test")
    elif choice == "resolve":
        incidents.resolve_incident(rng.choice(open_ones).id, body="Fixed.", notify=False, actor="test")
    elif choice == "rename":
        incidents.rename_incident(rng.choice(open_ones).id, name=f"Renamed {rng.randint(1, 999)}", actor="test")
    elif choice == "postmortem":
        closed = [i for i in StateStore(table).incidents() if not i.is_open and i.kind.value == "incident"]
        if not closed:
            return "skip"
        incidents.add_postmortem(rng.choice(closed).id, body="What happened, and what we changed.", actor="test")
    elif choice == "schedule" or (choice in ("move", "cancel") and not planned):
        start = clock.now + timedelta(days=rng.randint(1, 60), hours=rng.randint(0, 23))
        maintenance.schedule_maintenance(name=f"Upgrade {rng.randint(1, 999)}", body="Planned work.",
                                         scheduled_for=start, scheduled_until=start + timedelta(hours=2),
                                         components=[rng.choice(components)], notify=False, actor="test")
        return "schedule"
    elif choice == "move":
        record = rng.choice(planned)
        start = clock.now + timedelta(days=rng.randint(20, 80))  # often into another month
        maintenance.update_maintenance(record.id, actor="test", scheduled_for=start,
                                       scheduled_until=start + timedelta(hours=3))
    elif choice == "cancel":
        maintenance.cancel_maintenance(rng.choice(planned).id, body="Not needed after all.", notify=False,
                                       actor="test")
    elif choice == "status":
        ComponentService(table, site, clock).set_manual_status(
            rng.choice(components), rng.choice([ComponentStatus.DEGRADED_PERFORMANCE, None]), until=None,
            actor="test")
    elif choice == "notice":
        NoticeService(table, site, clock).post_notice(title="New opening hours", body="We open at 8 now.",
                                                      starts_at=None, ends_at=clock.now + timedelta(days=3), notify=False,
                                                      actor="test")
    return choice


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_publishes_after_writes_leave_the_bucket_as_a_publish_of_everything(aws, bucket, seed):
    rng = random.Random(seed)
    clock = Clock(START)
    table = Table(aws_table(), clock=clock)
    take_changes()
    publish_site(now=clock.now)  # the first publish renders everything
    done = []
    for _ in range(24):
        # Days to weeks pass between writes: incidents leave the front and months turn.
        clock.now += timedelta(days=rng.choice([0, 1, 3, 9, 20]), hours=rng.randint(0, 23))
        done.append(random_write(rng, clock, table))
        published = publish_site(now=clock.now, changes=Changes.taken())
        assert not published.withheld
        assert bucket_objects(bucket) == full_render(clock.now), f"after {done}"
    assert {"open", "schedule"} <= set(done)


def aws_table():
    return aws_clients.get_table()


def test_a_write_renders_the_front_its_incident_and_its_month_only(aws, bucket, noon):
    # GIVEN a page with 30 past incidents over eight months
    clock = Clock(noon - timedelta(days=240))
    table = Table(aws_table(), clock=clock)
    service = IncidentService(table, get_site(), clock)
    for n in range(30):
        clock.now += timedelta(days=8)
        opened = service.open_incident(name=f"Past {n}", body="Slow.", impact=Impact.MINOR, notify=False,
                                       actor="test", components={"website": ComponentStatus.DEGRADED_PERFORMANCE})
        service.resolve_incident(opened.id, body="Fine again.", notify=False, actor="test")
    take_changes()
    publish_site(now=clock.now)
    # WHEN one new incident is opened and published
    clock.now += timedelta(hours=1)
    new = service.open_incident(name="Checkout down", body="Looking.", impact=Impact.MAJOR, notify=False,
                                actor="test", components={"website": ComponentStatus.MAJOR_OUTAGE})
    result = publish_site(now=clock.now, changes=Changes.taken())
    # THEN its page and its month went up with what shows the front, and no other incident or month
    uploaded = set(result.uploaded)
    assert f"incidents/{new.id}.html" in uploaded and "index.html" in uploaded
    assert not {key for key in uploaded if key.startswith("incidents/") and new.id not in key}
    months = {key for key in uploaded if key.startswith("history/")}
    assert months == {f"history/{clock.now:%Y-%m}.html"}
    assert bucket_objects(bucket) == full_render(clock.now)


def test_incidents_saved_before_the_listings_are_found_after_the_first_whole_publish(aws, bucket, noon):
    from chalicelib.store.incidents import LISTED, LISTED_MARK

    # GIVEN an open incident saved before the store's listings existed (no membership items, no mark)
    clock = Clock(noon)
    table = Table(aws_table(), clock=clock)
    service = IncidentService(table, get_site(), clock)
    opened = service.open_incident(
        name="Old and still open", body="Looking.", impact=Impact.MINOR, notify=False, actor="test",
        components={"website": ComponentStatus.DEGRADED_PERFORMANCE})
    for item in table.query_all(LISTED):
        table.delete(LISTED, item.sk)  # as a table written by the previous version
    table.add("HISTORY#website", noon.date().isoformat(), {"operational": 5})  # with its day items
    assert table.get(*LISTED_MARK) is None
    # THEN writers still find it open (they read every incident until the mark is written)
    assert service.open_incident_for("website").id == opened.id
    take_changes()
    # WHEN a write asks for a publish of only what it changed
    publish_site(now=noon, changes=Changes())
    # THEN the first publish renders everything and lists the incident
    assert table.get(*LISTED_MARK).data["history_before"] is not None
    assert opened.id in table.get(LISTED, "front").data["ids"]
    assert "Old and still open" in bucket_objects(bucket)["index.html"].decode()
    # AND the next incremental publish still shows the incident
    clock.now += timedelta(minutes=5)
    publish_site(now=clock.now, changes=Changes())
    assert bucket_objects(bucket) == full_render(clock.now)
