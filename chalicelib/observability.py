"""Structured JSON logs with a correlation id, and CloudWatch metrics in embedded metric format.

Every scheduled, queue and API unit of work runs inside ``operation(name, ...)``: its log
lines carry ``correlation_id`` (the probe cycle id, the notification id, the request id),
its duration and failure are emitted as metrics, and the metrics are flushed at its end,
as one EMF line that CloudWatch turns into metrics with no API call. The local stack sets
``POWERTOOLS_METRICS_DISABLED`` so its terminal shows logs, not metric documents.

The keys live in a context variable, not on the shared logger: two requests served at
once (``chalice local`` is threaded) or two operations in one process each log their own
id, and leaving ``correlated`` restores the keys of the block around it. A thread does
not inherit its starter's context by itself: code that hands work to a thread pool runs
it in ``in_this_context(...)`` so the work logs the id of the operation that started it.

``LOG_FORMAT`` chooses what a record looks like, here and nowhere else: ``json`` (the default,
what a deployed function writes) or ``text``, one short line for a person at a terminal
(``12:03:05 probe cycle …``; the level only when it is not INFO; correlation keys left out).
The local stack sets ``text``. ``LOG_FILE=path`` also writes every record, as JSON, to that file.
"""
from __future__ import annotations

import contextvars
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit

from chalicelib.model import new_id

LOG_FORMATS = ("json", "text")

# What every LogRecord has; anything else on a record was passed by its caller in ``extra``.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class TextFormatter(LambdaPowertoolsFormatter):
    """One line per record: ``HH:MM:SS message``, the level before the message when it is not INFO,
    and the record's ``extra`` fields as ``key=value`` after it; a traceback follows on its own lines.

    It keeps Powertools' key handling (``correlated`` appends keys through the formatter), and
    leaves those keys out of the line: they are for searching logs, not for reading them.
    """

    def __init__(self) -> None:
        super().__init__()
        self._plain = logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S")
        self._flagged = logging.Formatter("%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:  # noqa: A003 - logging.Formatter's name
        text = (self._plain if record.levelno == logging.INFO else self._flagged).format(record)
        fields = "".join(f" {key}={value}" for key, value in vars(record).items() if key not in _RECORD_ATTRIBUTES)
        first, newline, rest = text.partition("\n")
        return first + fields + newline + rest


def make_logger(log_format: str = "json", log_file: str | None = None) -> Logger:
    """The ``beacon`` logger, writing ``log_format`` to stdout and, given ``log_file``, JSON to that file."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT is {log_format!r}; use one of {', '.join(LOG_FORMATS)}")
    made = Logger(service="beacon", logger_formatter=TextFormatter() if log_format == "text" else None)
    # Chalice gives its app's logger, also named "beacon", a plain stdout handler of its own: beside
    # this one every record would print twice.
    for handler in list(made.handlers):
        if type(handler) is logging.StreamHandler and handler is not made.registered_handler:
            made.removeHandler(handler)
    if log_file:
        to_file = logging.FileHandler(log_file, encoding="utf-8")
        to_file.setFormatter(LambdaPowertoolsFormatter(service=made.service))
        made.addHandler(to_file)
    return made


logger = make_logger(os.environ.get("LOG_FORMAT", "json").strip().lower() or "json",
                     os.environ.get("LOG_FILE") or None)
metrics = Metrics(namespace="Beacon", service="beacon")

Count = MetricUnit.Count


def count(name: str, value: float = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


@contextmanager
def correlated(correlation_id: str | None = None, **keys) -> Iterator[str]:
    """Every log line inside carries ``correlation_id`` (a new one when none is given) and ``keys``."""
    correlation_id = correlation_id or new_id()
    # Powertools keeps these keys in a context variable; set and restore whole dicts, never
    # mutate one in place: a thread started with a copy of this context shares its dicts.
    around = dict(logger.thread_safe_get_current_keys())
    logger.thread_safe_append_keys(correlation_id=correlation_id, **keys)
    try:
        yield correlation_id
    finally:
        logger.thread_safe_clear_keys()
        logger.thread_safe_append_keys(**around)


P = ParamSpec("P")
T = TypeVar("T")


def in_this_context(work: Callable[P, T]) -> Callable[P, T]:
    """``work`` to be run by another thread with the caller's log keys (its correlation id).

    Take one per submission: a context runs in one thread at a time.
    """
    context = contextvars.copy_context()

    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        return context.run(work, *args, **kwargs)

    return run


@contextmanager
def operation(name: str, correlation_id: str | None = None, **keys) -> Iterator[str]:
    """One unit of work: ``name`` is CamelCase (ProbeCycle, Publish, DeliverNotifications)."""
    started = time.perf_counter()
    with correlated(correlation_id, operation=name, **keys) as correlation_id:
        try:
            yield correlation_id
        except Exception:
            logger.exception(f"{name} failed")
            count(f"{name}Errors")
            raise
        finally:
            metrics.add_metric(name=f"{name}Duration", unit=MetricUnit.Milliseconds,
                               value=round((time.perf_counter() - started) * 1000, 1))
            metrics.flush_metrics()
