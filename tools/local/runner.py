"""Run the app's scheduled functions and queue handlers locally, as Lambda would.

``chalice local`` serves routes only. ``Scheduler`` calls every ``@app.schedule``
function at its rate (or at an interval the operator sets for demos); ``QueuePoller``
receives from each ``@app.on_sqs_message`` queue and hands the batch to its handler,
deleting what succeeded and leaving reported failures to be redelivered, like Lambda's
SQS event source with ``ReportBatchItemFailures``.
"""
from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone

from chalice.app import Chalice, Rate, ScheduledEventConfig, SNSEventConfig, SQSEventConfig

log = logging.getLogger("beacon.local")

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression) -> int:
    text = expression.to_string() if isinstance(expression, Rate) else str(expression)
    match = _RATE.match(text)
    if not match:
        raise ValueError(f"the local scheduler runs rate() schedules only, not {text!r}")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


class LambdaContext:
    def __init__(self, name: str, timeout_seconds: int = 60):
        self.function_name = name
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def expire(self) -> None:
        """No time left: what checks its remaining time stops (the local stack stopping)."""
        self._deadline = time.monotonic()


def scheduled_event(name: str, now: datetime) -> dict:
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{name}"], "detail": {},
    }


class Scheduler:
    """Calls each scheduled handler at its interval; ``intervals`` overrides by function name.

    ``concurrent`` runs each call on its own thread, as Lambda runs functions side by side (a
    probe function spends its minute on cycle slots while the publish runs), and skips a
    function's turn while its last call still runs, as a reserved concurrency of one does.
    """

    def __init__(self, app: Chalice, intervals: dict[str, int] | None = None,
                 clock: Callable[[], float] = time.monotonic, concurrent: bool = False):
        self.app = app
        self.clock = clock
        self.concurrent = concurrent
        self.jobs = []
        self.calls: dict[str, Callable] = {}
        self.running: dict[str, threading.Thread] = {}
        self.contexts: dict[str, LambdaContext] = {}
        for source in app.event_sources:
            if isinstance(source, ScheduledEventConfig):
                every = (intervals or {}).get(source.name) or rate_seconds(source.schedule_expression)
                self.jobs.append([source.name, every, 0.0])

    def add(self, name: str, every: int, call: Callable[[dict, LambdaContext], object]) -> None:
        """Another scheduled call, e.g. what a regional stack's schedule runs there."""
        self.calls[name] = call
        self.jobs.append([name, every, 0.0])

    def run_due(self) -> list[str]:
        """Run (or, ``concurrent``, start) every job whose time has come; returns their names."""
        ran = []
        now = self.clock()
        for job in self.jobs:
            name, every, due = job
            if now >= due:
                job[2] = now + every
                if not self.concurrent:
                    self.invoke(name)
                elif name in self.running and self.running[name].is_alive():
                    log.info("scheduled function %s is still running; this turn is skipped", name)
                    continue
                else:
                    self.running[name] = threading.Thread(target=self.invoke, args=(name,), name=name, daemon=True)
                    self.running[name].start()
                ran.append(name)
        return ran

    def invoke(self, name: str):
        call = self.calls.get(name) or self.app.handler_map[name]
        context = self.contexts[name] = LambdaContext(name)
        try:
            return call(scheduled_event(name, datetime.now(timezone.utc)), context)
        except Exception:
            log.exception("scheduled function %s failed", name)
            return None

    def wait(self, timeout: float | None = None) -> None:
        """Until the calls started by ``run_due`` have returned (or ``timeout`` has passed for each)."""
        for thread in list(self.running.values()):
            thread.join(timeout)

    def stop(self, timeout: float) -> None:
        """Tell running calls their time is up, and wait for them to return."""
        for context in list(self.contexts.values()):
            context.expire()
        self.wait(timeout)

    def next_due_in(self) -> float:
        return max(0.0, min((due for _, _, due in self.jobs), default=60.0) - self.clock())


class QueuePoller:
    """Receives from each SQS-triggered handler's queue and invokes the handler with the batch."""

    def __init__(self, app: Chalice, sqs, queue_urls: dict[str, str]):
        """``queue_urls`` maps the name of each handler to drive to its queue's URL."""
        self.app = app
        self.sqs = sqs
        self.handlers = [(source, queue_urls[source.name]) for source in app.event_sources
                         if isinstance(source, SQSEventConfig) and source.name in queue_urls]
        unknown = set(queue_urls) - {source.name for source, _ in self.handlers}
        if unknown:
            raise ValueError(f"the app has no SQS handler named {sorted(unknown)}")

    def poll_once(self, wait_seconds: int = 1) -> int:
        """One receive per queue; returns how many messages were handed to handlers."""
        handed = 0
        for source, url in self.handlers:
            response = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=min(source.batch_size, 10), WaitTimeSeconds=wait_seconds,
                AttributeNames=["All"], MessageAttributeNames=["All"],
            )
            messages = response.get("Messages", [])
            if not messages:
                continue
            handed += len(messages)
            failed = self._invoke(source, url, messages)
            done = [m for m in messages if m["MessageId"] not in failed]
            if done:
                self.sqs.delete_message_batch(
                    QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)]
                )
        return handed

    def _invoke(self, source: SQSEventConfig, url: str, messages: list[dict]) -> set[str]:
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        event = {"Records": [sqs_record(m, arn) for m in messages]}
        try:
            result = self.app.handler_map[source.name](event, LambdaContext(source.name))
        except Exception:
            log.exception("queue handler %s failed; the batch will be redelivered", source.name)
            return {m["MessageId"] for m in messages}
        failures = (result or {}).get("batchItemFailures", []) if isinstance(result, dict) else []
        return {f["itemIdentifier"] for f in failures}


def sqs_record(message: dict, queue_arn: str) -> dict:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }


def sns_handlers(app: Chalice) -> list[SNSEventConfig]:
    return [s for s in app.event_sources if isinstance(s, SNSEventConfig)]


def run_forever(step: Callable[[], float], stop: threading.Event) -> None:
    """Call ``step`` until ``stop`` is set; ``step`` returns how long to wait before the next call."""
    while not stop.is_set():
        try:
            pause = step()
        except Exception:
            log.exception("local runner step failed")
            pause = 1.0
        stop.wait(pause)
