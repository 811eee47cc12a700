"""Ask for a republish without writing the bucket: one message on the FIFO publish queue.

Writers that must not touch the bucket (the probe cycle) call ``request_publish``; the
``publish_requested`` queue handler renders and uploads. One message group serialises
publishes, and the deduplication id (the current second) folds a burst of requests into
one publish: SQS drops a duplicate id for five minutes, so a later second's request still
goes through.
"""
from __future__ import annotations

import json
from datetime import datetime

from chalicelib import aws
from chalicelib.model import utcnow
from chalicelib.settings import get_settings


def request_publish(reason: str, now: datetime | None = None) -> None:
    moment = now or utcnow()
    aws.client("sqs").send_message(
        QueueUrl=get_settings().publish_queue_url,
        MessageBody=json.dumps({"type": "publish", "reason": reason}),
        MessageGroupId="page",
        MessageDeduplicationId=moment.strftime("%Y%m%dT%H%M%S"),
    )
