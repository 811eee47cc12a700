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
"""
from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from chalicelib.model import new_id

logger = Logger(service="beacon")
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
