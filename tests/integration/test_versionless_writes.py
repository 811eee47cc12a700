"""A write sent without a version that races another is reapplied to the newer record."""
from datetime import timedelta

import pytest

from chalicelib.incidents import IncidentService
from chalicelib.maintenance import MaintenanceService
from chalicelib.model import Impact, IncidentStatus, utcnow
from chalicelib.notices import NoticeService


@pytest.fixture
def ana_and_ben(table, example_site):
    """GIVEN two marketers' services on the same table."""
    return (IncidentService(table, example_site, utcnow), IncidentService(table, example_site, utcnow),
            NoticeService(table, example_site, utcnow), NoticeService(table, example_site, utcnow))


def saving_after(service, save_name: str, other_write):
    """Make ``other_write`` land between this service's read and its first save."""
    real_save = getattr(service.states, save_name)
    raced = []

    def save(record):
        if not raced:
            raced.append(other_write())
        return real_save(record)

    setattr(service.states, save_name, save)


def test_an_update_edit_without_a_version_is_reapplied_over_a_new_update(ana_and_ben):
    ana, ben, _, _ = ana_and_ben
    incident = ana.open_incident(name="Instagram DMs delayed", body="Tpyo.", impact=Impact.MINOR, components={},
                                 notify=False, actor="ana")
    saving_after(ana, "save_incident", lambda: ben.post_update(
        incident.id, status=IncidentStatus.IDENTIFIED, body="Ben's update", notify=False, actor="ben"))
    # WHEN Ana corrects the first update's text without a version while Ben posts
    saved = ana.edit_update(incident.id, incident.updates[0].id, body="Typo.", actor="ana")
    # THEN both changes stand
    assert [u.body for u in saved.updates] == ["Typo.", "Ben's update"]
    assert [u.body for u in ana.incident(incident.id).updates] == ["Typo.", "Ben's update"]


def test_a_notice_edit_without_a_version_is_reapplied_over_another_edit(ana_and_ben):
    _, _, ana, ben = ana_and_ben
    notice = ana.post_notice(title="New support hours", body="9 to 5.", starts_at=None, ends_at=None, notify=False,
                             actor="ana")
    saving_after(ana, "save_notice", lambda: ben.edit_notice(notice.id, actor="ben", body="9 to 6."))
    # WHEN Ana retitles it without a version while Ben changes the text
    saved = ana.edit_notice(notice.id, actor="ana", title="Support hours")
    # THEN both changes stand
    assert (saved.title, saved.body, saved.version) == ("Support hours", "9 to 6.", 3)


def test_a_maintenance_edit_without_a_version_is_reapplied_over_another_edit(table, example_site):
    ana, ben = MaintenanceService(table, example_site, utcnow), MaintenanceService(table, example_site, utcnow)
    start = utcnow() + timedelta(days=1)
    window = ana.schedule_maintenance(name="Help centre upgrade", body="Planned.", scheduled_for=start,
                                      scheduled_until=start + timedelta(hours=2), components=["help-centre"],
                                      notify=False, actor="ana")
    saving_after(ana, "save_incident", lambda: ben.update_maintenance(window.id, actor="ben", body="Ben's note."))
    # WHEN Ana renames it without a version while Ben posts a note, and then cancels it
    renamed = ana.update_maintenance(window.id, actor="ana", name="Help centre and FAQ upgrade")
    cancelled = ana.cancel_maintenance(window.id, body="Postponed.", notify=False, actor="ana")
    # THEN every change stands
    assert renamed.name == "Help centre and FAQ upgrade"
    assert [u.body for u in cancelled.updates] == ["Planned.", "Ben's note.", "Postponed."]
