"""Structured JSON logs with a correlation id, and CloudWatch metrics in embedded metric format.

Every scheduled, queue and API unit of work runs inside ``operation(name, ...)``: its log
lines carry ``correlation_id`` (the probe cycle id, the notification id, the request id),
its duration and failure are emitted as metrics, and the metrics are flushed at its end,
as one EMF line that CloudWatch turns into metrics with no API call. The local stack sets
``POWERTOOLS_METRICS_DISABLED`` so its terminal shows logs, not metric documents.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

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
    logger.append_keys(correlation_id=correlation_id, **keys)
    try:
        yield correlation_id
    finally:
        logger.remove_keys(["correlation_id", *keys])


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
