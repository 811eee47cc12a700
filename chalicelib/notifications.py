"""Recording a notification event: stored once, then one message on the notification queue.

Whoever causes something subscribers must hear of (an incident opened, updated or resolved,
a maintenance starting, a notice) calls ``record_notification`` once. The event is stored
first (pk ``NOTIFICATION``), so it is listable even while no consumer runs; the queue
message only carries its id, and the ``deliver_notifications`` handler reads the rest.
"""
from __future__ import annotations

import json

from chalicelib import aws
from chalicelib.model import NotificationEvent
from chalicelib.settings import get_settings
from chalicelib.store.notifications import NotificationStore
from chalicelib.store.table import Table


def record_notification(table: Table, event: NotificationEvent) -> None:
    NotificationStore(table).save(event)
    queue_url = get_settings().notify_queue_url
    if not queue_url:
        raise RuntimeError("NOTIFY_QUEUE_URL is not set; the template's Globals hand it to every function")
    aws.client("sqs").send_message(
        QueueUrl=queue_url, MessageBody=json.dumps({"type": "notification", "notification_id": event.id})
    )
