"""What subscribers read: email (text, HTML, raw MIME) and SMS texts, from ``templates/``.

Pure: an event, the site and the links in; subjects, bodies and bytes out. The incident
text goes through the page's own Markdown sanitiser, so hostile text stays inert in the
HTML part. SMS texts are fitted into one segment where possible (160 GSM-7 characters, or
70 when a character forces UCS-2): typographic punctuation is folded into GSM-7 first,
then the optional parts are dropped and the title shortened; the brand and the link stay.

Each takes the reader's ``language`` (default English): Beacon's own words (labels, subjects,
the layouts' text) come from its catalogue (``chalicelib.i18n``); the event's texts are given
already in that language (``chalicelib.translations``). German's letters (ä ö ü ß) are GSM-7.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formataddr, make_msgid
from pathlib import Path

from chalicelib.config import Contact, Site
from chalicelib.i18n import SOURCE, N_, gettext
from chalicelib.model import Incident, NotificationEvent, NotificationKind, isoformat
from chalicelib.text import environment, markdown_html, plain_text

KIND_LABELS = {
    NotificationKind.INCIDENT_OPENED: N_("Incident"),
    NotificationKind.INCIDENT_UPDATED: N_("Update"),
    NotificationKind.INCIDENT_RESOLVED: N_("Resolved"),
    NotificationKind.MAINTENANCE_SCHEDULED: N_("Scheduled maintenance"),
    NotificationKind.MAINTENANCE_STARTED: N_("Maintenance in progress"),
    NotificationKind.MAINTENANCE_COMPLETED: N_("Maintenance completed"),
    NotificationKind.MAINTENANCE_CANCELLED: N_("Maintenance cancelled"),
    NotificationKind.NOTICE_POSTED: N_("Notice"),
}
STOP_HINT = N_("Reply STOP to opt out")
# Before a text read in a language it was not written in (``event.untranslated``).
UNTRANSLATED_SMS = N_("(not translated)")


@dataclass(frozen=True)
class Links:
    page_url: str
    event_url: str
    unsubscribe_url: str = ""
    manage_url: str = ""


@dataclass(frozen=True)
class EmailContent:
    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AffectedComponent:
    name: str
    status: str


def page_url(site: Site, language: str | None = None) -> str:
    """The page in ``language``: the default language's at the root, each other's under ``<language>/``."""
    base = site.brand.page_url.rstrip("/") + "/"
    return base if language in (None, site.languages[0]) else f"{base}{language}/"


def event_url(site: Site, event: NotificationEvent, language: str | None = None) -> str:
    base = page_url(site, language).rstrip("/")
    if event.incident_id:
        return f"{base}/incidents/{event.incident_id}.html"
    return base + "/"


def affected(site: Site, event: NotificationEvent, incident: Incident | None,
             language: str = SOURCE) -> list[AffectedComponent]:
    statuses = incident.components if incident else {}
    result = []
    for component_id in event.component_ids:
        try:
            name = site.component(component_id).name
        except KeyError:
            continue  # removed from site.yml since the event was recorded
        status = statuses.get(component_id)
        result.append(AffectedComponent(name, gettext(language, status.label) if status is not None else ""))
    return result


def contacts_for(site: Site, event: NotificationEvent) -> list[tuple[Contact, bool]]:
    """The brand's contacts, each with whether it may be affected: prepared ones first, affected ones last."""
    down = set(event.component_ids)
    first = list(event.contacts_first)
    ranked = []
    for position, contact in enumerate(site.brand.contacts):
        hit = bool(down & set(contact.depends_on))
        ranked.append((hit, first.index(contact.id) if contact.id in first else len(first), position, contact))
    return [(contact, hit) for hit, _, _, contact in sorted(ranked, key=lambda r: r[:3])]


def kind_label(kind: NotificationKind, language: str = SOURCE) -> str:
    return gettext(language, KIND_LABELS[kind])


def status_label(event: NotificationEvent, incident: Incident | None, language: str = SOURCE) -> str:
    if incident is not None and event.kind is not NotificationKind.NOTICE_POSTED:
        # the words of i18n.MARKED: "in_progress" reads "In progress"
        return gettext(language, str(incident.status).replace("_", " ").capitalize())
    return kind_label(event.kind, language)


def notification_email(event: NotificationEvent, site: Site, incident: Incident | None, links: Links,
                       templates_dir: Path, language: str = SOURCE) -> EmailContent:
    env = environment(templates_dir, language)
    label = kind_label(event.kind, language)
    subject = event.email_subject or f"[{site.brand.name}] {label}: {event.title}"
    body_text = event.email_text or event.body
    values = dict(
        site=site, brand=site.brand, event=event, kind_label=label,
        status=status_label(event, incident, language), affected=affected(site, event, incident, language),
        contacts=contacts_for(site, event), links=links,
        body_html=markdown_html(body_text), body_text=plain_text(body_text, limit=4000),
    )
    return EmailContent(
        subject=_one_line(subject),
        text=env.get_template("email/notification.txt").render(**values),
        html=env.get_template("email/notification.html").render(**values),
    )


def confirmation_email(site: Site, confirm_url: str, component_names: list[str], days: int,
                       templates_dir: Path, language: str = SOURCE) -> EmailContent:
    env = environment(templates_dir, language)
    values = dict(site=site, brand=site.brand, confirm_url=confirm_url, components=component_names, days=days)
    return EmailContent(
        subject=gettext(language, "Confirm your {brand} status updates").format(brand=site.brand.name),
        text=env.get_template("email/confirm.txt").render(**values),
        html=env.get_template("email/confirm.html").render(**values),
    )


_WIRE = compat32.clone(linesep="\r\n", max_line_length=998)


def raw_email(sender: str, sender_name: str, to: str, content: EmailContent, headers: dict[str, str]) -> bytes:
    """multipart/alternative (text, then HTML) in UTF-8, for SES SendRawEmail.

    The classic ``email.mime`` classes build it: the modern ``EmailMessage`` API costs about
    three milliseconds per message in header parsing, which is most of a sender's CPU.
    """
    message = MIMEMultipart("alternative")
    message["From"] = formataddr((sender_name, sender), charset="utf-8")
    message["To"] = to
    message["Subject"] = Header(content.subject, "utf-8").encode() if not content.subject.isascii() \
        else content.subject
    message["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1])
    for name, value in {**content.headers, **headers}.items():
        message[name] = value
    message.attach(MIMEText(content.text, "plain", "utf-8"))
    message.attach(MIMEText(content.html, "html", "utf-8"))
    # Unfolded headers: a List-Unsubscribe URL split over two lines trips some clients.
    return message.as_bytes(policy=_WIRE)


def unsubscribe_headers(unsubscribe_url: str) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe (RFC 2369 header plus the POST marker)."""
    return {"List-Unsubscribe": f"<{unsubscribe_url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


# -- SMS ---------------------------------------------------------------------------------
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")
_TO_GSM = str.maketrans({"‘": "'", "’": "'", "‚": "'", "“": '"', "”": '"', "„": '"', "–": "-", "—": "-",
                         "…": "...", "\u00a0": " ", "•": "-", "«": '"', "»": '"', "\t": " "})
GSM_SEGMENT, UCS2_SEGMENT = 160, 70


def is_gsm7(text: str) -> bool:
    return all(ch in _GSM_BASIC or ch in _GSM_EXTENDED for ch in text)


def sms_length(text: str) -> tuple[int, int]:
    """(units used, units in one segment): GSM-7 septets (extension characters count two) or UTF-16 units."""
    if is_gsm7(text):
        return sum(2 if ch in _GSM_EXTENDED else 1 for ch in text), GSM_SEGMENT
    return len(text.encode("utf-16-le")) // 2, UCS2_SEGMENT


def fits_one_segment(text: str) -> bool:
    used, limit = sms_length(text)
    return used <= limit


def to_gsm(text: str) -> str:
    return " ".join(text.translate(_TO_GSM).split())


def fit_sms(render, title: str, body: str) -> str:
    """The first candidate that fits one segment: full, without the stop hint, without the body,
    then with the title shortened. ``render(title, body, stop_hint)`` builds one candidate."""
    title, body = to_gsm(title), to_gsm(body)
    candidates = [(title, body, True), (title, body, False), (title, "", True), (title, "", False)]
    for t, b, stop in candidates:
        text = to_gsm(render(t, b, stop))
        if fits_one_segment(text):
            return text
    words = title.split()
    while len(words) > 1:
        words.pop()
        text = to_gsm(render(" ".join(words) + "...", "", False))
        if fits_one_segment(text):
            return text
    # Even a one-word title overflows (a very long brand or link): send it in several segments.
    return to_gsm(render(title, "", False))


def notification_sms(event: NotificationEvent, site: Site, incident: Incident | None, links: Links,
                     templates_dir: Path, language: str = SOURCE) -> str:
    template = environment(templates_dir, language).get_template("sms/notification.txt")
    label, status = kind_label(event.kind, language), status_label(event, incident, language)

    def render(title: str, body: str, stop_hint: bool) -> str:
        return template.render(brand=site.brand, label=label, status=status, title=title, body=body,
                               link=links.event_url, stop_hint=stop_hint)

    if event.sms_text:
        return prepared_sms(event.sms_text, links.event_url, language, untranslated=event.untranslated)
    if event.untranslated:
        flagged = fit_sms(render, f"{gettext(language, UNTRANSLATED_SMS)} {event.title}",
                          plain_text(event.body, limit=160))
        if fits_one_segment(flagged):
            return flagged
    return fit_sms(render, event.title, plain_text(event.body, limit=160))


def prepared_sms(text: str, link: str, language: str = SOURCE, untranslated: bool = False) -> str:
    """A playbook's SMS as its author wrote it (it names the brand and what to do), with the link
    and the stop hint while they fit one segment; the author's words are never cut. Read in a
    language it was not written in, it starts with a note saying so while that fits too."""
    prepared = to_gsm(" ".join(text.split()))
    candidates = [f"{prepared} {link} {gettext(language, STOP_HINT)}", f"{prepared} {link}"]
    if untranslated:
        note = gettext(language, UNTRANSLATED_SMS)
        candidates = [f"{note} {candidate}" for candidate in candidates] + candidates
    for candidate in candidates:
        candidate = to_gsm(candidate)
        if fits_one_segment(candidate):
            return candidate
    return prepared


def confirmation_sms(site: Site, code: str, verify_url: str, templates_dir: Path, language: str = SOURCE) -> str:
    text = environment(templates_dir, language).get_template("sms/confirm.txt").render(
        brand=site.brand, code=code, link=verify_url)
    return to_gsm(text)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


def webhook_payload(event: NotificationEvent, site: Site, incident: Incident | None) -> dict:
    """The JSON a webhook receives: the event, its incident (if any) and the affected components."""
    statuses = incident.components if incident else {}
    components = []
    for component_id in event.component_ids:
        try:
            name = site.component(component_id).name
        except KeyError:
            continue
        status = statuses.get(component_id)
        components.append({"id": component_id, "name": name, "status": status.value if status else None})
    return {
        "event": event.kind.value,
        "notification_id": event.id,
        "created_at": isoformat(event.created_at),
        "title": event.title,
        "body": event.body,
        "url": event_url(site, event),
        "page": {"name": site.brand.name, "url": site.brand.page_url},
        "incident": None if incident is None else {
            "id": incident.id, "name": incident.name, "status": str(incident.status),
            "impact": incident.impact.value, "url": event_url(site, event),
            "started_at": isoformat(incident.started_at), "resolved_at": isoformat(incident.resolved_at),
        },
        "components": components,
    }
