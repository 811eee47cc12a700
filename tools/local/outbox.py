"""Every email and SMS the emulator accepted, and every chat and webhook message the chat receiver got.

Deployed, SES, SNS and the chat platforms deliver; locally nothing leaves the machine, and
the outbox is where a person reads what would have been sent (``/_outbox`` on the page
server, ``make outbox``). Email and SMS are read from the emulator's data endpoint, chat
and webhook messages from the chat receiver (``tools/local/chat.py``), each reduced to the
title, status, components and link the platform would show, beside the raw JSON.
"""
from __future__ import annotations

import email
import email.policy
import html
import json
import re
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


@dataclass(frozen=True)
class OutboxChat:
    """One message the chat receiver got, as its platform would show it."""

    id: int
    platform: str
    target: str
    received_at: str
    title: str
    status: str
    components: str
    link: str
    raw: dict

    @property
    def text(self) -> str:
        lines = [self.title or "(no title)"]
        lines += [f"{name}: {value}" for name, value in
                  (("Status", self.status), ("Components", self.components), ("Link", self.link)) if value]
        return "\n".join(lines)

    @property
    def raw_json(self) -> str:
        return json.dumps(self.raw, indent=2, ensure_ascii=False)


@dataclass
class Outbox:
    emails: list[OutboxEmail] = field(default_factory=list)
    sms: list[OutboxSms] = field(default_factory=list)
    chat: list[OutboxChat] = field(default_factory=list)
    # Why chat messages could not be read (the receiver is not running); empty when they were.
    chat_problem: str = ""


def read_outbox(endpoint_url: str, chat_url: str | None = None, timeout: float = 5) -> Outbox:
    """The emulator's email and SMS, and the chat receiver's messages when ``chat_url`` is given."""
    data = requests.get(endpoint_url.rstrip("/") + "/moto-api/data.json", timeout=timeout).json()
    ses = data.get("ses", {})
    outbox = Outbox()
    if chat_url:
        outbox.chat, outbox.chat_problem = read_chat(chat_url, timeout)
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


def read_chat(chat_url: str, timeout: float = 5) -> tuple[list[OutboxChat], str]:
    """The receiver's messages, oldest first, and why they could not be read ("" when they were)."""
    try:
        response = requests.get(chat_url.rstrip("/") + "/_messages", timeout=timeout)
        response.raise_for_status()
        messages = response.json()["messages"]
    except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
        return [], f"the chat receiver at {chat_url} is not reachable ({exc.__class__.__name__}); is `make run` up?"
    return [chat_message(message) for message in messages], ""


def chat_message(message: dict) -> OutboxChat:
    body = message.get("body") or {}
    try:
        title, status, components, link = _READERS.get(message.get("platform"), _read_webhook)(body)
    except (AttributeError, IndexError, KeyError, TypeError):
        # The receiver keeps whatever was posted; a shape no reader knows is still shown raw.
        title, status, components, link = "(not a shape Beacon sends: see the raw JSON)", "", "", ""
    return OutboxChat(id=message.get("id", 0), platform=message.get("platform", ""), target=message.get("target", ""),
                      received_at=message.get("received_at", ""), title=title, status=status,
                      components=components, link=link if link.startswith(("https://", "http://")) else "", raw=body)


def _read_webhook(body: dict) -> tuple[str, str, str, str]:
    incident = body.get("incident") or {}
    components = ", ".join(f"{c['name']} ({c['status']})" if c.get("status") else c["name"]
                           for c in body.get("components") or [])
    brand = (body.get("page") or {}).get("name")
    title = f"{brand}: {body['title']}" if brand and body.get("title") else body.get("title", "")
    return title, incident.get("status") or body.get("event", ""), components, body.get("url", "")


def _read_slack(body: dict) -> tuple[str, str, str, str]:
    title, fields, link = body.get("text", ""), {}, ""
    for attachment in body.get("attachments") or []:
        for block in attachment.get("blocks") or []:
            if block.get("type") == "header":
                title = block["text"]["text"]
            for item in block.get("fields") or []:
                name, _, value = item["text"].partition("\n")
                fields[name.strip("*")] = value
            if found := re.search(r"<([^|>]+)\|[^>]*>", (block.get("text") or {}).get("text", "")):
                link = found.group(1)
    return title, fields.get("Status", ""), fields.get("Components", ""), link


def _read_teams(body: dict) -> tuple[str, str, str, str]:
    card = body["attachments"][0]["content"]
    blocks = card.get("body") or []
    title = next((b["text"] for b in blocks if b.get("type") == "TextBlock"), "")
    facts = {f["title"]: f["value"] for b in blocks if b.get("type") == "FactSet" for f in b.get("facts", [])}
    link = next((a["url"] for a in card.get("actions") or [] if a.get("type") == "Action.OpenUrl"), "")
    return title, facts.get("Status", ""), facts.get("Components", ""), link


def _read_discord(body: dict) -> tuple[str, str, str, str]:
    embed = (body.get("embeds") or [{}])[0]
    fields = {f["name"]: f["value"] for f in embed.get("fields") or []}
    brand = (embed.get("footer") or {}).get("text")
    title = embed.get("title") or ""
    title = f"{brand}: {title}" if brand and title else title or body.get("content", "")
    return title, fields.get("Status", ""), fields.get("Components", ""), embed.get("url", "")


def _read_telegram(body: dict) -> tuple[str, str, str, str]:
    text = body["text"]
    link = re.search(r'<a href="([^"]+)"', text)
    lines = [html.unescape(re.sub(r"<[^>]+>", "", line)) for line in text.split("\n")]
    labelled: dict[str, str] = {}
    for name, _, value in (line.partition(": ") for line in lines[1:]):
        labelled.setdefault(name, value)
    return (lines[0], labelled.get("Status", ""), labelled.get("Components", ""),
            html.unescape(link.group(1)) if link else "")


_READERS = {"webhook": _read_webhook, "slack": _read_slack, "teams": _read_teams, "discord": _read_discord,
            "telegram": _read_telegram}


def format_text(outbox: Outbox) -> str:
    lines = [f"{len(outbox.emails)} email(s), {len(outbox.sms)} SMS, {len(outbox.chat)} chat/webhook message(s)"]
    if outbox.chat_problem:
        lines.append(f"(chat and webhook messages not shown: {outbox.chat_problem})")
    for mail in outbox.emails:
        lines += ["", "=" * 72, f"EMAIL to {', '.join(mail.to)} from {mail.source}", f"Subject: {mail.subject}"]
        lines += [f"{name}: {value}" for name, value in mail.headers.items() if name.lower().startswith("list-")]
        lines += ["", (mail.text or mail.html).strip()]
    for sms in outbox.sms:
        lines += ["", "=" * 72, f"SMS to {sms.phone_number} ({len(sms.message)} chars)", sms.message]
    for chat in outbox.chat:
        lines += ["", "=" * 72, f"{chat.platform.upper()} to {chat.target} at {chat.received_at}", chat.text]
    return "\n".join(lines) + "\n"


def main() -> int:
    import os

    endpoint = os.environ.get("AWS_ENDPOINT_URL", f"http://127.0.0.1:{os.environ.get('AWS_PORT', '5000')}")
    chat_url = f"http://127.0.0.1:{os.environ.get('CHAT_PORT', '8070')}"
    try:
        outbox = read_outbox(endpoint, chat_url)
    except requests.RequestException as exc:
        print(f"cannot reach the emulator at {endpoint} ({exc.__class__.__name__}); is `make run` up?", file=sys.stderr)
        return 1
    sys.stdout.write(format_text(outbox))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
