"""Notices: post, list, get, edit, take down."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import models
from chalicelib.api.common import notice_out, republish, services
from chalicelib.api.openapi import Call, documented
from chalicelib.notices import NoticeService
from chalicelib.translations import given

bp = Blueprint(__name__)
MARKETER = "marketer"


@documented(bp, "/notices", methods=["GET"], query=models.NoticeQuery, responses={200: models.NoticeList},
            scope=MARKETER, summary="List notices, newest first (active=true: only those shown now)")
def list_notices(call: Call):
    found, cursor = services(NoticeService).list_notices(
        active_only=call.query.active, limit=call.query.limit, cursor=call.query.cursor)
    return models.NoticeList(data=[notice_out(n) for n in found], next_cursor=cursor)


@documented(bp, "/notices", methods=["POST"], body=models.CreateNotice, responses={201: models.NoticeOut},
            scope=MARKETER, summary="Post a notice, shown on the page between starts_at and ends_at")
def post_notice(call: Call):
    b = call.body
    notice = services(NoticeService).post_notice(
        title=b.title, body=b.body, starts_at=b.starts_at, ends_at=b.ends_at, notify=b.notify, actor=call.key.name,
        translations=given({lang: {"title": t.title, "body": t.body} for lang, t in b.translations.items()}))
    republish("notice posted")
    return 201, notice_out(notice)


@documented(bp, "/notices/{notice_id}", methods=["GET"], responses={200: models.NoticeOut}, scope=MARKETER,
            summary="Get a notice")
def get_notice(call: Call):
    return notice_out(services(NoticeService).notice(call.params["notice_id"]))


@documented(bp, "/notices/{notice_id}", methods=["PATCH"], body=models.EditNotice, responses={200: models.NoticeOut},
            scope=MARKETER, summary="Edit a notice's title, text or window (null clears a time)")
def edit_notice(call: Call):
    given = models.given(call.body, leave=frozenset({"version"}))
    if "body" in given and given["body"] is None:
        given["body"] = ""
    notice = services(NoticeService).edit_notice(call.params["notice_id"], actor=call.key.name,
                                                 version=call.version(), **given)
    republish("notice edited")
    return notice_out(notice)


@documented(bp, "/notices/{notice_id}", methods=["DELETE"], responses={204: None}, scope=MARKETER,
            summary="Take a notice down")
def delete_notice(call: Call):
    services(NoticeService).end_notice(call.params["notice_id"], actor=call.key.name, version=call.version())
    republish("notice removed")
    return 204, None
