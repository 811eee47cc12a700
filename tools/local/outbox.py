"""Every email and SMS the emulator accepted, read back from its data endpoint.

Deployed, SES and SNS deliver; locally nothing leaves the machine, and the outbox is where
a person reads what would have been sent (``/_outbox`` on the page server, ``make outbox``).
"""
from __future__ import annotations

import email
import email.policy
import sys
from dataclasses import dataclass, field

import requests


@dataclass(frozen=True)
class OutboxEmail:
    id: str
    source: str
    to: list[str]
    subject: str
    headers: dict[str, str]
    text: str = ""
    html: str = ""


@dataclass(frozen=True)
class OutboxSms:
    id: str
    phone_number: str
    message: str


@dataclass
class Outbox:
    emails: list[OutboxEmail] = field(default_factory=list)
    sms: list[OutboxSms] = field(default_factory=list)


def read_outbox(endpoint_url: str, timeout: float = 5) -> Outbox:
    data = requests.get(endpoint_url.rstrip("/") + "/moto-api/data.json", timeout=timeout).json()
    ses = data.get("ses", {})
    outbox = Outbox()
    for message in ses.get("Message", []):
        to = [a for key in ("ToAddresses", "CcAddresses", "BccAddresses") for a in message["destinations"].get(key, [])]
        outbox.emails.append(OutboxEmail(message["id"], message["source"], to, message.get("subject", ""), {},
                                         html=message.get("body", "")))
    for message in ses.get("RawMessage", []):
        outbox.emails.append(_parse_raw(message))
    for message in data.get("sns", {}).get("SMS", []):
        outbox.sms.append(OutboxSms(message["message_id"], message["phone_number"], message["message"]))
    return outbox


def _parse_raw(message: dict) -> OutboxEmail:
    parsed = email.message_from_string(message["raw_data"], policy=email.policy.default)
    text = html = ""
    for part in parsed.walk() if parsed.is_multipart() else [parsed]:
        if part.get_content_maintype() == "multipart":
            continue
        if part.get_content_type() == "text/html" and not html:
            html = part.get_content()
        elif part.get_content_type() == "text/plain" and not text:
            text = part.get_content()
    to = sorted(set(message.get("destinations") or [])) or [str(parsed.get("To", ""))]
    return OutboxEmail(
        id=message["id"],
        source=message.get("source") or str(parsed.get("From", "")),
        to=to,
        subject=str(parsed.get("Subject", "")),
        headers={k: str(v) for k, v in parsed.items()},
        text=text,
        html=html,
    )


def format_text(outbox: Outbox) -> str:
    lines = [f"{len(outbox.emails)} email(s), {len(outbox.sms)} SMS"]
    for mail in outbox.emails:
        lines += ["", "=" * 72, f"EMAIL to {', '.join(mail.to)} from {mail.source}", f"Subject: {mail.subject}"]
        lines += [f"{name}: {value}" for name, value in mail.headers.items() if name.lower().startswith("list-")]
        lines += ["", (mail.text or mail.html).strip()]
    for sms in outbox.sms:
        lines += ["", "=" * 72, f"SMS to {sms.phone_number} ({len(sms.message)} chars)", sms.message]
    return "\n".join(lines) + "\n"


def main() -> int:
    import os

    endpoint = os.environ.get("AWS_ENDPOINT_URL", f"http://127.0.0.1:{os.environ.get('AWS_PORT', '5000')}")
    try:
        outbox = read_outbox(endpoint)
    except requests.RequestException as exc:
        print(f"cannot reach the emulator at {endpoint} ({exc.__class__.__name__}); is `make run` up?", file=sys.stderr)
        return 1
    sys.stdout.write(format_text(outbox))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
