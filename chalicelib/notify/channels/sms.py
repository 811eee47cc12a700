"""SMS: one segment where possible (``templates/sms``) through SNS; carrier opt-outs (STOP) are honoured."""
from __future__ import annotations

from chalicelib.i18n import N_
from chalicelib.notify.channels.base import BaseChannel
from chalicelib.notify.model import Channel as ChannelName


class Sms(BaseChannel):
    name = ChannelName.SMS
    batch_size = 25
    confirms_by_code = True
    confirmation_place = "phone"
    paid_confirmations = True
    signup_field = "phone"
    not_offered = N_("this page does not offer SMS updates; subscribe by email")

    def offered(self, policy) -> bool:
        return policy.sms

    def normalise(self, raw: str, policy) -> str:
        from chalicelib.notify.destinations import normalise_phone

        return normalise_phone(raw, policy)

    def signups_per_ip(self, policy):
        return policy.limits.sms_signups_per_ip

    def confirm_hours(self, policy) -> int:
        return policy.confirm_sms_hours

    def confirmation(self, site, destination: str, confirm_url: str, code: str | None, component_names: list[str],
                     templates_dir, email_source: str, language: str) -> str:
        from chalicelib.notify import content

        return content.confirmation_sms(site, code or "", confirm_url, templates_dir, language=language)

    def rate(self, settings) -> float:
        return settings.sms_send_rate / settings.notify_consumers

    def hears(self, event, policy) -> bool:
        return event.kind in policy.sms_events

    def mask(self, destination: str) -> str:
        return destination[:3] + "*" * max(0, len(destination) - 5) + destination[-2:]

    def render(self, event, context) -> str:
        from chalicelib.notify import content

        return content.notification_sms(event, context.site, context.incident, context.links, context.templates_dir,
                                        language=context.language)

    def send(self, payload: str, subscriber, senders) -> str:
        return senders.sms.send(subscriber.destination, payload)

    def refusal(self, subscriber, senders) -> str | None:
        from chalicelib.notify.senders import SendError

        try:
            opted_out = senders.sms.opted_out(subscriber.destination)
        except SendError:
            return None     # cannot tell now: the send's own error handling decides
        return "sms-opt-out" if opted_out else None


CHANNEL = Sms()
