"""The API's description of itself: ``GET /openapi.json``."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import models
from chalicelib.api.http import json_response
from chalicelib.api.openapi import describe, openapi_document

bp = Blueprint(__name__)

# /health is app.py's own route; it is described here so the document covers every route.
describe("/health", ["GET"], summary="Liveness: the stage and the site's brand", responses={200: models.Health},
         operation_id="health")
describe("/openapi.json", ["GET"], summary="This document", responses={200: None}, operation_id="openapi")


@bp.route("/openapi.json", methods=["GET"], cors=True)
def openapi_json():
    from chalicelib.settings import get_settings

    return json_response(openapi_document(server_url=get_settings().api_url or None))
