"""The one producer of notification queue messages, each built from its model in ``notify.model``.

Whoever causes something subscribers must hear of (an incident opened, updated or resolved,
a maintenance starting, a notice) calls ``record_notification`` once. The event is stored
first (pk ``NOTIFICATION``), so it is listable even while no consumer runs; the queue
message (``NotificationMessage``) only carries its id, and the ``deliver_notifications``
handler reads the rest. Fan-out puts its recipient batches (``DeliverMessage``) on the same
queue through ``enqueue_batches``. The queue is passed in, like the clock; without one, this
container's notification queue is used.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.model import NotificationEvent
from chalicelib.notify.model import DeliverMessage, NotificationMessage
from chalicelib.store.notifications import NotificationStore
from chalicelib.store.table import Table

if TYPE_CHECKING:
    from chalicelib.notify.senders import NotificationQueue


def record_notification(table: Table, event: NotificationEvent, queue: NotificationQueue | None = None) -> None:
    NotificationStore(table).save(event)
    message = NotificationMessage(type="notification", notification_id=event.id)
    (queue or notification_queue()).send([message.as_json()])


def enqueue_batches(queue: NotificationQueue, messages: list[DeliverMessage]) -> None:
    if messages:
        queue.send([message.as_json() for message in messages])


def notification_queue() -> NotificationQueue:
    from chalicelib import aws
    from chalicelib.notify.senders import NotificationQueue
    from chalicelib.settings import get_settings

    queue_url = get_settings().notify_queue_url
    if not queue_url:
        raise RuntimeError("NOTIFY_QUEUE_URL is not set; the template's Globals hand it to every function")
    return NotificationQueue(aws.client("sqs"), queue_url)
