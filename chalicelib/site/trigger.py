"""Ask for a republish without writing the bucket: one message on the FIFO publish queue.

Writers that must not touch the bucket (the probe cycle) call ``request_publish``; the
``publish_requested`` queue handler renders and uploads. One message group serialises
publishes, and the deduplication id (the current second and what the request names)
folds a burst of equal requests into one publish: SQS drops a duplicate id for five minutes, so a later second's request still
goes through. A message names the incidents its writer saved (``incidents``), so the
publish renders what they affect; one without that list asks for everything.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime

from chalicelib import aws
from chalicelib.model import utcnow
from chalicelib.settings import get_settings
from chalicelib.store.incidents import take_changes


def request_publish(reason: str, now: datetime | None = None, *, everything: bool = False) -> None:
    """Ask for a publish of what this thread of work changed (the incidents it saved since the last ask),
    or of ``everything``."""
    moment = now or utcnow()
    changed = [c.encoded() for c in take_changes()]
    aws.client("sqs").send_message(
        QueueUrl=get_settings().publish_queue_url,
        MessageBody=json.dumps({"type": "publish", "reason": reason,
                                **({} if everything else {"incidents": changed})}),
        MessageGroupId="page",
        # The same request within a second folds into one; a request naming other incidents does not.
        MessageDeduplicationId=moment.strftime("%Y%m%dT%H%M%S-") + hashlib.sha256(
            "\n".join(["*"] if everything else sorted(changed)).encode()).hexdigest()[:16],
    )
