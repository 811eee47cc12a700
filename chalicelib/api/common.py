"""What the API's blueprints share: the services of this container, republishing, record shapes."""
from __future__ import annotations

import logging

from chalicelib import aws
from chalicelib.api import models
from chalicelib.config import get_site
from chalicelib.model import Incident, Notice, utcnow
from chalicelib.store.table import Table

log = logging.getLogger("beacon.api")


def table() -> Table:
    return Table(aws.get_table())


def services(kind):
    """``kind`` (IncidentService, MaintenanceService, NoticeService, ComponentService) bound to this container's table and site."""
    return kind(table(), get_site(), utcnow)


def republish(reason: str) -> bool:
    """Publish the page now, so it shows the change within seconds; queue a publish if that fails.

    It renders what this request's writes affect (``Changes.taken``); while another publish
    runs, this one only hands it those changes to publish once more (``coalesce``).
    The write has happened either way: a failed publish must not turn it into an error.
    """
    from chalicelib.site.service import Changes, publish_site

    try:
        publish_site(coalesce=True, changes=Changes.taken())
        return True
    except Exception:
        log.exception("publishing after %s failed; asking for a publish through the queue", reason)
        try:
            from chalicelib.site.trigger import request_publish

            request_publish(reason, everything=True)  # the changes were taken by the publish that failed
        except Exception:
            log.exception("requesting a publish after %s failed too; the scheduled publish will catch up", reason)
        return False


def incident_out(incident: Incident) -> models.IncidentOut:
    return models.IncidentOut(
        id=incident.id, name=incident.name, status=incident.status, impact=incident.impact,
        created_at=incident.created_at, updated_at=incident.updated_at, started_at=incident.started_at,
        monitoring_at=incident.monitoring_at, resolved_at=incident.resolved_at, components=incident.components,
        incident_updates=[_update_out(u) for u in reversed(incident.updates)], postmortem=incident.postmortem,
        playbook_id=incident.playbook_id, cause=incident.cause, version=incident.version,
        translations={language: t.title for language, t in incident.translations.items() if t.title},
    )


def maintenance_out(record: Incident) -> models.MaintenanceOut:
    return models.MaintenanceOut(
        id=record.id, name=record.name, status=record.status, impact=record.impact, created_at=record.created_at,
        updated_at=record.updated_at, started_at=record.started_at, resolved_at=record.resolved_at,
        scheduled_for=record.scheduled_for, scheduled_until=record.scheduled_until,
        components=sorted(record.components), incident_updates=[_update_out(u) for u in reversed(record.updates)],
        version=record.version,
    )


def notice_out(notice: Notice) -> models.NoticeOut:
    return models.NoticeOut(
        id=notice.id, title=notice.title, body=notice.body, starts_at=notice.starts_at, ends_at=notice.ends_at,
        active=notice.is_active(utcnow()), created_at=notice.created_at, updated_at=notice.updated_at,
        version=notice.version,
        translations={language: models.NoticeText(title=t.title, body=t.body)
                      for language, t in notice.translations.items()},
    )


def _update_out(update) -> models.UpdateOut:
    data = update.as_json()
    data["translations"] = {language: t["body"] for language, t in data["translations"].items() if t["body"]}
    return models.out(models.UpdateOut, data)
