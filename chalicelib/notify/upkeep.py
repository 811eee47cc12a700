"""This container's subscriber upkeep: SES's bounces and complaints, and the hourly sweep.

Bound to the settings, the site and AWS as ``service`` binds delivery, without what delivery
loads (the message templates, the planner, the webhook and chat senders), so the two functions
that run it start without them.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib import aws
from chalicelib.config import get_site
from chalicelib.model import utcnow
from chalicelib.notify.feedback import FeedbackResult, apply_feedback, purge_unconfirmed, sync_opt_outs
from chalicelib.notify.senders import SmsSender
from chalicelib.store.subscribers import SubscriberStore
from chalicelib.store.table import Table


def ses_feedback(message: str) -> FeedbackResult:
    return apply_feedback(SubscriberStore(Table(aws.get_table())), message, utcnow())


def subscriber_upkeep(now: datetime | None = None) -> dict[str, int]:
    """Hourly: suppress numbers that replied STOP; erase sign-ups unconfirmed past their window."""
    now = now or utcnow()
    store = SubscriberStore(Table(aws.get_table()))
    policy = get_site().subscriptions
    window = max(timedelta(days=policy.confirm_email_days), timedelta(hours=policy.confirm_sms_hours))
    return {"suppressed": sync_opt_outs(store, SmsSender(aws.client("sns")).opted_out_numbers(), now),
            "purged": purge_unconfirmed(store, now - window - timedelta(days=1))}
