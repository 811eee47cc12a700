"""Long incidents keep working: updates are items of their own, and an incident's updates are capped."""
import json
from datetime import timedelta

import boto3

from chalicelib.incidents import MAX_UPDATES
from chalicelib.model import Impact, Incident, IncidentKind, IncidentUpdate, new_id
from chalicelib.settings import get_settings
from chalicelib.store.incidents import INCIDENT, IncidentStore
from tests.integration.api_server import api, api_server  # noqa: F401

DYNAMODB_ITEM_LIMIT = 400 * 1024
LONGEST_BODY = "😀" * 10_000  # the API's longest body, 4 bytes a character in UTF-8


def stored_item_sizes() -> dict[str, int]:
    """Each INCIDENT item's size as DynamoDB counts it: names and values in UTF-8."""
    table = boto3.resource("dynamodb").Table(get_settings().table_name)
    items = table.query(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": INCIDENT})["Items"]
    return {item["sk"]: sum(len(name.encode()) + len(str(value).encode()) for name, value in item.items())
            for item in items}


def incident_with_updates(noon, count: int) -> Incident:
    updates = [IncidentUpdate(id=new_id(noon + timedelta(minutes=n)), status="investigating", body=f"Update {n}.",
                              created_at=noon, updated_at=noon, display_at=noon) for n in range(count)]
    return Incident(id=new_id(noon), kind=IncidentKind.INCIDENT, name="Facebook down all week", status="identified",
                    impact=Impact.MAJOR, created_at=noon, updated_at=noon, updates=updates)


def test_updates_of_the_longest_body_keep_being_accepted(api):
    # GIVEN an open incident
    incident = api.send("POST", "/incidents", {"name": "WhatsApp down", "body": "We are looking into it."}).json()
    # WHEN four updates of the longest body the API takes follow (three used to fill one item past 400 KB)
    for n in range(4):
        posted = api.send("POST", f"/incidents/{incident['id']}/updates", headers={"Content-Type": "application/json"},
                          data=json.dumps({"status": "identified", "body": LONGEST_BODY}, ensure_ascii=False).encode())
        assert posted.status_code == 201, f"update {n + 1}: {posted.status_code} {posted.text[:200]}"
    # THEN the incident reads whole, newest update first
    read = api.get(f"/incidents/{incident['id']}").json()
    assert [u["body"] for u in read["incident_updates"]] == [LONGEST_BODY] * 4 + ["We are looking into it."]
    # AND no stored item comes near DynamoDB's limit: the largest is one update, however many there are
    sizes = stored_item_sizes()
    assert len(sizes) == 1 + 5
    assert max(sizes.values()) < DYNAMODB_ITEM_LIMIT / 3


def test_an_incident_full_of_updates_refuses_more_but_can_still_be_resolved(api, table, noon):
    # GIVEN an incident that holds the most updates one incident keeps
    full = IncidentStore(table).save_incident(incident_with_updates(noon, MAX_UPDATES))
    # WHEN a marketer posts one more
    refused = api.send("POST", f"/incidents/{full.id}/updates", {"status": "identified", "body": "Still down."})
    # THEN it is refused, naming the field and the way out
    assert refused.status_code == 422, refused.text
    assert refused.json()["message"] == (
        f"updates: incident {full.id!r} has {MAX_UPDATES} updates, the most one incident keeps; "
        "resolve it and open a new incident for what follows")
    # AND resolving it is still accepted, once
    assert api.send("POST", f"/incidents/{full.id}/resolve", {}).status_code == 200
    assert api.send("POST", f"/incidents/{full.id}/resolve", {}).status_code == 422
    assert len(api.get(f"/incidents/{full.id}").json()["incident_updates"]) == MAX_UPDATES + 1


def test_an_incident_stored_with_its_updates_as_items_still_reads_and_moves_inline_on_its_next_write(api, table,
                                                                                                    noon):
    # GIVEN an incident whose updates are items of their own (as every one was stored before small ones
    # stayed in their header)
    legacy = incident_with_updates(noon, 2)
    keys = [f"{legacy.id}#{u.id}#0000000000000000" for u in legacy.updates]
    for key, update in zip(keys, legacy.updates):
        table.create(INCIDENT, key, update.as_json())
    table.create(INCIDENT, legacy.id, legacy.as_json(exclude={"version", "updates"}), children=keys)
    # WHEN it is read, and then updated
    read = api.get(f"/incidents/{legacy.id}")
    posted = api.send("POST", f"/incidents/{legacy.id}/updates", {"status": "monitoring", "body": "Recovering."})
    # THEN both show every update
    assert [u["body"] for u in read.json()["incident_updates"]] == ["Update 1.", "Update 0."]
    assert posted.status_code == 201, posted.text
    assert [u["body"] for u in posted.json()["incident_updates"]] == ["Recovering.", "Update 1.", "Update 0."]
    # AND the header now carries them, small as they are, and the update items are gone
    header = table.get(INCIDENT, legacy.id)
    assert len(header.data["updates"]) == 3 and not header.children
    assert len(stored_item_sizes()) == 1
