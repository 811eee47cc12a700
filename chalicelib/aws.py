"""boto3 clients, made lazily and once per container.

The endpoint comes from boto3's standard ``AWS_ENDPOINT_URL`` variable, so the same code
talks to AWS in Lambda and to the emulator locally. Tests call ``reset_clients()`` after
pointing the environment at their own emulator.
"""
from __future__ import annotations

import functools

import boto3
from botocore.config import Config

from chalicelib.settings import get_settings

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10)


@functools.cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


@functools.cache
def client(service: str, *, max_pool_connections: int | None = None):
    """``max_pool_connections``: connections kept open, at least the threads that share the client
    (botocore's default is 10)."""
    config = _CONFIG if max_pool_connections is None else _CONFIG.merge(
        Config(max_pool_connections=max_pool_connections))
    return _session().client(service, config=config)


@functools.cache
def get_table():
    settings = get_settings()
    # A regional probe stack writes to the home region's table.
    region = {"region_name": settings.table_region} if settings.table_region else {}
    return _session().resource("dynamodb", config=_CONFIG, **region).Table(settings.table_name)


def reset_clients() -> None:
    _session.cache_clear()
    client.cache_clear()
    get_table.cache_clear()
