"""The HTTP API: Blueprints per area, each route declared with ``openapi.documented``.

``register_api(app)`` is app.py's one line: it registers every blueprint of this package (the
marketer API, the public sign-up pages, the probe routes) and serves ``GET /openapi.json``,
generated from the routes the blueprints declared.
"""
from __future__ import annotations

from chalicelib.api.openapi import Call, describe, documented

__all__ = ["Call", "describe", "documented", "register_api"]


def register_api(app) -> None:
    from chalicelib.api import (
        admin, components, console, incidents, maintenance, meta, notices, playbooks, probes, signup, subscribers,
    )

    for module in (probes, components, incidents, notices, maintenance, playbooks, admin, meta, signup,
                   subscribers, console):
        app.register_blueprint(module.bp)
