"""The notification queue's consumer as the deliver function runs it: the ``Deliverer`` bound to
this container's table, site, senders, send buckets and settings (``service``).

Only the deliver function (and the local stack, which runs its queue) loads delivery: the API,
which signs subscribers up and adds channels through ``service``, never does.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from chalicelib.config import get_site
from chalicelib.model import utcnow
from chalicelib.notify.delivery import Deliverer
from chalicelib.notify.senders import Senders
from chalicelib.notify.service import send_buckets, senders, table
from chalicelib.settings import get_settings


def deliverer(clock: Callable[[], datetime] = utcnow, sleep: Callable[[float], None] = time.sleep,
              with_senders: Senders | None = None) -> Deliverer:
    settings = get_settings()
    return Deliverer(table=table(clock), site=get_site(), senders=with_senders or senders(), api_url=settings.api_url,
                     email_source=settings.email_sender, templates_dir=settings.templates_dir,
                     buckets=send_buckets(), clock=clock, sleep=sleep)


def deliver_notifications(records: list[dict], remaining_ms: Callable[[], int]) -> dict:
    """The queue handler's work: the ``ReportBatchItemFailures`` answer for one SQS batch."""
    failures = deliverer().handle(records, remaining_ms)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failures]}
