"""The HTTP API: Blueprints per area, each route declared with ``openapi.documented``.

``register_api(app)`` is app.py's one line: it registers every blueprint of this package
and serves ``GET /openapi.json``, generated from the routes the blueprints declared.
"""
from __future__ import annotations

from chalicelib.api.openapi import Call, describe, documented

__all__ = ["Call", "describe", "documented", "register_api"]


def register_api(app) -> None:
    from chalicelib.api import admin, components, incidents, maintenance, meta, notices, playbooks

    for module in (components, incidents, notices, maintenance, playbooks, admin, meta):
        app.register_blueprint(module.bp)
