"""Notices: announcements that are not outages, shown on the page while active."""
from __future__ import annotations

from datetime import datetime

from chalicelib.writes import NotFound, Writes, check_version, rereads_on_conflict
from chalicelib.model import NotificationKind, Notice, Translation, new_id
from chalicelib.store.incidents import page_of

_UNSET = object()


class NoticeService(Writes):
    def post_notice(self, *, title: str, body: str, starts_at: datetime | None, ends_at: datetime | None,
                    notify: bool, actor: str, translations: dict[str, Translation] | None = None) -> Notice:
        _check(title, starts_at, ends_at)
        translations = translations or {}
        self.check_languages(translations)
        now = self.clock()
        notice = self.states.save_notice(Notice(id=new_id(now), title=title, body=body, starts_at=starts_at,
                                                ends_at=ends_at, created_at=now, updated_at=now,
                                                translations=translations))
        self.audit(actor, "notice.post", f"notice/{notice.id}", f"{title!r}{_window(starts_at, ends_at)}")
        if notify:
            self.notify(NotificationKind.NOTICE_POSTED, title=title, body=body, component_ids=[],
                        notice_id=notice.id, translations=translations)
        return notice

    def notice(self, notice_id: str) -> Notice:
        notice = self.records.notice(notice_id)
        if notice is None:
            raise NotFound("notice", notice_id)
        return notice

    @rereads_on_conflict
    def edit_notice(self, notice_id: str, *, actor: str, version: int | None = None, title=_UNSET, body=_UNSET,
                    starts_at=_UNSET, ends_at=_UNSET) -> Notice:
        notice = self.notice(notice_id)
        check_version(notice, version, "notice")
        given = {k: v for k, v in {"title": title, "body": body, "starts_at": starts_at, "ends_at": ends_at}.items()
                 if v is not _UNSET}
        changed = notice.replace(**{**given, "updated_at": self.clock()})
        _check(changed.title, changed.starts_at, changed.ends_at)
        saved = self.states.save_notice(changed)
        self.audit(actor, "notice.edit", f"notice/{notice_id}", "changed " + (", ".join(sorted(given)) or "nothing"))
        return saved

    @rereads_on_conflict
    def end_notice(self, notice_id: str, *, actor: str, version: int | None = None) -> None:
        """Take a notice down for good (it disappears from the page at the next publish)."""
        notice = self.notice(notice_id)
        check_version(notice, version, "notice")
        self.records.delete_notice(notice_id, notice.version)
        self.audit(actor, "notice.delete", f"notice/{notice_id}", f"{notice.title!r} removed")

    def list_notices(self, *, active_only: bool = False, limit: int = 25, cursor: str | None = None
                     ) -> tuple[list[Notice], str | None]:
        now = self.clock()
        return page_of(self.states.notices(), limit=limit, cursor=cursor,
                       keep=lambda n: not active_only or n.is_active(now))


def _check(title: str, starts_at: datetime | None, ends_at: datetime | None) -> None:
    if not title.strip():
        raise ValueError("title: must not be empty")
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise ValueError("ends_at: must be after starts_at")


def _window(starts_at, ends_at) -> str:
    if starts_at is None and ends_at is None:
        return ""
    return f" from {starts_at.isoformat() if starts_at else 'now'} until {ends_at.isoformat() if ends_at else 'removed'}"
