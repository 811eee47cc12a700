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


STEPS = [publish_first_page]


def run_all(app) -> None:
    for step in STEPS:
        step(app)
