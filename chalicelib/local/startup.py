"""What the local stack does once its resources exist, before it serves: seed and publish.

Each capability that needs local seed data (an admin key, demo state) adds a step here.
"""
from __future__ import annotations

import logging

log = logging.getLogger("beacon.local")


def publish_first_page(app) -> None:
    from chalicelib.site.service import publish_site

    result = publish_site()
    log.info("published the page: %d object(s)", len(result.uploaded))


def seed_admin_key(app) -> None:
    """The local stack's admin key, from BEACON_ADMIN_KEY; a deployed stage uses `beacon keys create --direct`."""
    import os

    from chalicelib import aws
    from chalicelib.api.auth import check_key, create_key
    from chalicelib.model import utcnow
    from chalicelib.store import Table

    secret = os.environ.get("BEACON_ADMIN_KEY")
    if not secret:
        return
    table = Table(aws.get_table())
    if check_key(table, secret) is None:
        create_key(table, name="local-admin", scope="admin", created_by="local stack", now=utcnow(), secret=secret)
        log.info("seeded the local admin API key from BEACON_ADMIN_KEY")


STEPS = [seed_admin_key, publish_first_page]


def run_all(app) -> None:
    for step in STEPS:
        step(app)
