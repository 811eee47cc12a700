"""The public sign-up pages: subscribe, confirm by link or code, unsubscribe and manage.

Every route here is an ``openapi.documented`` route with ``browsers``: the same body parser,
error shape and audit-free public access as the JSON API, plus what people in a browser
need. A plain form post or a link gets an HTML page (errors too, with the same message the
JSON error carries); a script (``Accept: application/json``, or a JSON body) gets JSON.
The sign-up steps (subscribe, enter the code, confirm) refuse a POST that a browser says
comes from another site (``Origin``, or ``Referer`` when there is no ``Origin``): a form or
``text/plain`` post needs no CORS preflight, so without this any site could make its
visitors' browsers sign numbers up. A request with neither header comes from no browser
(curl, a script), which no other site can drive; the limits still apply to it. Answers
carry CORS for the status page's origins only. Every link in a message points here.

Each page and message is in its reader's language (``reader_language``): the one the form sent
(the page's), the sign-up's or subscriber's, else the browser's ``Accept-Language``, else the
site's default; errors too (``told``), while JSON for English readers keeps the API's precise words.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlencode, urlsplit

import msgspec
from chalice import Blueprint, Response
from msgspec import Meta

from chalicelib.api import http
from chalicelib.api.http import NotFoundError, Unprocessable
from chalicelib.api.models import Model, Request, empty
from chalicelib.api.openapi import Call, documented
from chalicelib.config import get_site
from chalicelib.i18n import SOURCE, language_name, negotiate, translations
from chalicelib.notify import channels, service
from chalicelib.notify.destinations import InvalidDestination, mask
from chalicelib.notify.model import Subscriber, SubscriberStatus
from chalicelib.notify.signup import ConfirmationNotSent, InvalidLink, SignupAnswer, WrongCode
from chalicelib.observability import operation
from chalicelib.settings import get_settings
from chalicelib.store.windows import TooMany
from chalicelib.text import environment

log = logging.getLogger("beacon.api")
bp = Blueprint(__name__)

# Browsers post forms (and, from other sites, text/plain); scripts post JSON.
POSTED = ["application/json", "application/x-www-form-urlencoded", "multipart/form-data", "text/plain"]


class TooManyRequests(http.ApiError):
    STATUS_CODE, code = 429, "too_many_requests"


class Unavailable(http.ApiError):
    STATUS_CODE, code = 503, "unavailable"


# -- how these routes answer browsers ------------------------------------------------------
def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def page_origins() -> set[str]:
    """The status page's origins: ``brand.page_url`` and ``PAGE_URL`` (the local page server)."""
    return {_origin(url) for url in (get_site().brand.page_url, get_settings().page_url) if url}


def own_origins() -> set[str]:
    """The page's origins and the API's own: its answer and code pages post their forms to it."""
    return page_origins() | {_origin(get_settings().api_url)}


def wants_html(request) -> bool:
    """Browsers (form posts, links) get pages; scripts (JSON in or asked for) get JSON."""
    accept = (request.headers.get("accept") or "").lower()
    if "application/json" in accept:
        return False
    if "text/html" in accept:
        return True
    content_type = (request.headers.get("content-type") or "").lower()
    return content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


class SignupBrowsers(msgspec.Struct, frozen=True):
    """The ``openapi.Browsers`` of these routes; ``posts_from`` lists the origins a POST may come from."""

    posts_from: Callable[[], set[str]] | None = None

    def refuse(self, request) -> None:
        """403 for a POST a browser sends from another site; nothing for ours and for non-browser clients.

        Browsers send ``Origin`` with every POST (``null`` when the sending page hides itself,
        which is refused too); only old ones fall back to ``Referer`` alone.
        """
        if self.posts_from is None or request.method != "POST":
            return
        origin = request.headers.get("origin")
        if origin is None:
            referer = request.headers.get("referer")
            if not referer:
                return
            origin = _origin(referer)
        if origin.lower() in self.posts_from():
            return
        log.warning("refused a sign-up post from another site: %s", origin[:200])
        raise http.Forbidden(f"this form can only be sent from the status page ({get_site().brand.page_url}), not "
                             f"from {origin[:200]}; open the status page and subscribe there")

    def finish(self, request, response: Response, error: http.ApiError | None) -> Response:
        if error is not None and wants_html(request):
            language = reader_language(request)
            response = page(error.STATUS_CODE, translations(language).gettext("That did not work"), "message",
                            language, message=error.message)
            response.headers.update(error.headers)
        response.headers.update({"Cache-Control": "no-store", **cors_headers(request)})
        return response

    def preflight(self, request) -> Response:
        # A path the sign-up form posts to may also hold a keyed route (GET /subscribers, which the
        # console on the page calls): its methods and headers are allowed too; the key decides.
        return Response(body="", status_code=204, headers={
            **cors_headers(request), "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type, Accept, Authorization, If-Match",
            "Access-Control-Max-Age": "3600"})


def cors_headers(request) -> dict[str, str]:
    """The one CORS rule of these routes: the status page's origins may read the answers."""
    origin = request.headers.get("origin")
    if origin and origin in page_origins():
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    return {"Vary": "Origin"}


FROM_THE_PAGE = SignupBrowsers(posts_from=page_origins)
FROM_PAGE_OR_API = SignupBrowsers(posts_from=own_origins)
# Links in messages: a mail client's one-click unsubscribe (RFC 8058) posts from no page at all.
FROM_A_LINK = SignupBrowsers()

_PAGE_DEFAULTS = dict(error=None, channel="", masked="", verify_url="", hours=0, code="", action="", manage_url="",
                      components=(), chosen=(), status="", unsubscribe_url="", message="", languages=())


def reader_language(request, chosen: str | None = None) -> str:
    """What a sign-up page is written in: ``chosen`` (the form's, the subscriber's) when the site offers
    it, else the browser's choice (``Accept-Language``), else the site's default language."""
    site = get_site()
    if chosen in site.languages:
        return chosen
    return negotiate(request.headers.get("accept-language"), site.languages, site.default_language)


def told(exc: Exception, language: str) -> str:
    """An error of the sign-up steps as its reader reads it: the API's precise English message for
    English, Beacon's sentence in the reader's language for the others (the field it names stays)."""
    if isinstance(exc, ConfirmationNotSent):
        english = "we could not send the confirmation just now; try again in a minute"  # the provider's reason is ours
    else:
        english = exc.message if isinstance(exc, InvalidDestination) else str(exc)
    if language == SOURCE:
        return english
    _ = translations(language).gettext
    if isinstance(exc, WrongCode):
        if exc.attempts_left:
            return _("That code is not right; {n} tries left.").format(n=exc.attempts_left)
        return _("Too many wrong codes; subscribe again to get a new code.")
    if isinstance(exc, TooMany):
        return _("Too many attempts just now; try again in {minutes} minutes.").format(
            minutes=max(1, -(-exc.retry_after // 60)))
    if isinstance(exc, ConfirmationNotSent):
        return _("We could not send the confirmation just now; try again in a minute.")
    words = getattr(exc, "words", None)
    return _(words).format(**exc.params) if words else english


def page(http_status: int, title: str, view: str, language: str, /, **values) -> Response:
    site = get_site()
    home = site.brand.page_url.rstrip("/") + "/"
    body = environment(get_settings().templates_dir, language).get_template("subscribe/page.html").render(
        **{**_PAGE_DEFAULTS, **values}, title=title, view=view, brand=site.in_language(language).brand,
        page_url=home if language == site.default_language else f"{home}{language}/")
    # Links in these pages' URLs carry tokens: no Referer leaves for other sites. Within the API
    # the browser sends its origin, which the sign-up steps check (no-referrer would send "null").
    return Response(body=body, status_code=http_status,
                    headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
                             "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"})


def self_url(request, query: bool = True) -> str:
    """This route's public URL (API_URL + path), with its query string (the token) when asked."""
    path = request.context.get("resourcePath", "")
    for name, value in (request.uri_params or {}).items():
        path = path.replace("{" + name + "}", value)
    url = get_settings().api_url + path
    params = request.query_params or {}
    return url + "?" + urlencode(params) if query and params else url


# -- shapes ----------------------------------------------------------------------------------
class SubscribeRequest(Request, kw_only=True):
    email: Annotated[str, Meta(max_length=254)] | None = None
    phone: Annotated[str, Meta(max_length=32)] | None = None
    components: Annotated[list[str], Meta(max_length=200)] = empty(list)
    language: Annotated[str, Meta(
        description="What the subscriber reads, one of the site's languages (the page's form sends its own); without "
                    "it, the request's Accept-Language decides, else the site's default language",
        max_length=8)] | None = None


class SubscribeAnswer(Model, kw_only=True):
    status: str = "pending"
    channel: str
    destination: Annotated[str, Meta(description="The destination, masked")]
    message: str
    verify_url: Annotated[str, Meta(description="SMS: where the code is entered")] | None = None


# Parameters besides these are ignored: a link may gain some on its way to the subscriber.
class TokenQuery(Model, kw_only=True):
    token: Annotated[str, Meta(description="The token of the link in the message", max_length=200)] = ""


class CodeQuery(Model, kw_only=True):
    code: Annotated[str, Meta(description="The code, when the SMS link carries it", max_length=32)] = ""


class CodeRequest(Model, kw_only=True):
    code: Annotated[str, Meta(description="The 6-digit code of the SMS (spaces allowed)", max_length=32)] = ""


class ComponentsRequest(Model, kw_only=True):
    components: Annotated[list[str], Meta(
        description="Component ids; none means every component", max_length=200)] = empty(list)
    language: Annotated[str, Meta(
        description="What the subscriber reads from now on; none keeps it", max_length=8)] | None = None


class Done(Model, kw_only=True):
    status: str
    message: str


class ManageAnswer(Model, kw_only=True):
    status: str
    components: Annotated[list[str], Meta(description="Component ids; every component when the subscriber chose none")]
    language: Annotated[str, Meta(description="What the subscriber reads")]
    message: str = ""


# -- subscribe ---------------------------------------------------------------------------------
@documented(bp, "/subscribers", methods=["POST"], body=SubscribeRequest, content_types=POSTED,
            browsers=FROM_THE_PAGE, responses={202: SubscribeAnswer, 429: None, 503: None}, tag="subscribers",
            summary="Subscribe an email address or phone number (double opt-in)")
def subscribe(call: Call):
    wanted = call.body
    language = reader_language(call.request, wanted.language)
    # An operation of its own, so the metrics it counts (SmsCeilingReached) are flushed.
    with operation("SignUp", (call.request.context or {}).get("requestId")):
        try:
            answer = service.subscriptions().subscribe(email=wanted.email, phone=wanted.phone,
                                                       components=wanted.components,
                                                       source_ip=http.source_ip(call.request),
                                                       language=wanted.language or language)
        except InvalidDestination as exc:
            said = told(exc, language)
            raise Unprocessable(said, [{"field": exc.field, "problem": said}]) from None
        except TooMany as exc:
            raise TooManyRequests(told(exc, language), headers={"Retry-After": str(exc.retry_after)}) from None
        except ConfirmationNotSent as exc:
            raise Unavailable(told(exc, language), headers={"Retry-After": "60"}) from None
    out = _subscribe_answer(answer, language)
    log.info("sign-up: %s pending confirmation", answer.channel.value)
    if wants_html(call.request):
        _ = translations(language).gettext
        title = _("Check your phone") if channels.get(answer.channel).confirms_by_code else _("Check your inbox")
        return page(202, title, "answer", language, channel=answer.channel.value, masked=out.destination,
                    verify_url=out.verify_url, hours=answer.expires_in_hours)
    return 202, out


def _subscribe_answer(answer: SignupAnswer, language: str) -> SubscribeAnswer:
    # The same words whatever the address's state, so nobody learns who is subscribed.
    _ = translations(language).gettext
    if channels.get(answer.channel).confirms_by_code:
        verify_url = f"{get_settings().api_url}/subscribers/verify/{answer.verify_id}"
        message = _("Almost done: enter the 6-digit code we texted to {masked}. Nothing within a few minutes? "
                    "Check the number; it may be subscribed already.").format(masked=answer.masked)
    else:
        verify_url = None
        message = _("Almost done: follow the link we emailed to {masked} to confirm. Nothing arrived? Check the "
                    "address and your spam folder; it may be subscribed already.").format(masked=answer.masked)
    return SubscribeAnswer(channel=answer.channel.value, destination=answer.masked, message=message,
                           verify_url=verify_url)


# -- confirm by link or code -------------------------------------------------------------------
# GET never changes anything: mail scanners follow links. The page a link opens has a button.
@documented(bp, "/subscribers/confirm/{optin_id}", methods=["GET"], query=TokenQuery, browsers=FROM_A_LINK,
            responses={200: Done}, tag="subscribers",
            summary="The confirmation link: a page with a button (GET never confirms; mail scanners follow links)")
def confirm_page(call: Call):
    try:
        optin = service.subscriptions().pending(call.params["optin_id"])
    except InvalidLink as exc:
        raise NotFoundError(told(exc, reader_language(call.request))) from None
    if wants_html(call.request):
        language = reader_language(call.request, optin.language)
        return page(200, translations(language).gettext("Confirm your subscription"), "confirm", language,
                    action=self_url(call.request))
    return Done(status="pending", message="POST to this URL to confirm")


@documented(bp, "/subscribers/confirm/{optin_id}", methods=["POST"], query=TokenQuery, content_types=POSTED,
            browsers=FROM_PAGE_OR_API, responses={200: Done}, tag="subscribers",
            summary="Confirm a sign-up with the link's token (single use, 7 days)")
def confirm(call: Call):
    try:
        subscriber = service.subscriptions().confirm_link(call.params["optin_id"], call.query.token)
    except InvalidLink as exc:
        raise NotFoundError(told(exc, reader_language(call.request))) from None
    log.info("sign-up: %s %s", subscriber.channel.value, subscriber.status.value)
    return _subscribed(call, subscriber)


@documented(bp, "/subscribers/verify/{optin_id}", methods=["GET"], query=CodeQuery, browsers=FROM_A_LINK,
            responses={200: Done}, tag="subscribers", summary="The SMS code entry page")
def verify_page(call: Call):
    if not wants_html(call.request):
        return Done(status="pending", message="POST {\"code\": \"123456\"} to this URL")
    code = "".join(ch for ch in call.query.code if ch.isdigit())[:6]
    language = _optin_language(call)
    return page(200, translations(language).gettext("Enter your code"), "verify", language,
                verify_url=self_url(call.request, query=False), code=code)


@documented(bp, "/subscribers/verify/{optin_id}", methods=["POST"], body=CodeRequest, content_types=POSTED,
            browsers=FROM_PAGE_OR_API, responses={200: Done}, tag="subscribers",
            summary="Confirm an SMS sign-up with its 6-digit code")
def verify(call: Call):
    try:
        subscriber = service.subscriptions().confirm_code(call.params["optin_id"], call.body.code)
    except WrongCode as exc:
        if wants_html(call.request):
            language = _optin_language(call)
            return page(422, translations(language).gettext("Enter your code"), "verify", language,
                        verify_url=self_url(call.request, query=False), error=told(exc, language))
        said = told(exc, reader_language(call.request))
        raise Unprocessable(said, [{"field": "code", "problem": said}]) from None
    except InvalidLink as exc:
        raise NotFoundError(told(exc, reader_language(call.request))) from None
    log.info("sign-up: %s %s", subscriber.channel.value, subscriber.status.value)
    return _subscribed(call, subscriber)


def _optin_language(call: Call) -> str:
    """The language of the sign-up a code page belongs to (an unknown one: the browser's)."""
    try:
        chosen = service.subscriptions().pending(call.params["optin_id"]).language
    except InvalidLink:
        chosen = None
    return reader_language(call.request, chosen)


def _subscribed(call: Call, subscriber: Subscriber):
    language = reader_language(call.request, subscriber.language)
    site = get_site().in_language(language)
    _ = translations(language).gettext
    if subscriber.status is not SubscriberStatus.CONFIRMED:
        message = _("This address cannot receive updates any more (it bounced or complained before).")
    else:
        what = ", ".join(site.component(c).name for c in subscriber.components) or _("everything on the page")
        message = _("You are subscribed to {brand} status updates about {what}. Every message has a link to "
                    "stop.").format(brand=site.brand.name, what=what)
    return _done(call, _("Subscribed"), "confirmed", message, language)


# -- unsubscribe and manage ----------------------------------------------------------------------
@documented(bp, "/subscribers/{subscriber_id}/unsubscribe", methods=["GET"], query=TokenQuery,
            browsers=FROM_A_LINK, responses={200: Done}, tag="subscribers",
            summary="The unsubscribe link: a page with a button (GET never unsubscribes)")
def unsubscribe_page(call: Call):
    subscriber = _by_token(call)
    if not wants_html(call.request):
        return Done(status=subscriber.status.value, message="POST to this URL to unsubscribe")
    here = self_url(call.request)
    language = reader_language(call.request, subscriber.language)
    return page(200, translations(language).gettext("Unsubscribe"), "unsubscribe", language, action=here,
                manage_url=here.replace("/unsubscribe?", "/manage?"),
                masked=mask(subscriber.channel.value, subscriber.destination))


@documented(bp, "/subscribers/{subscriber_id}/unsubscribe", methods=["POST"], query=TokenQuery,
            content_types=POSTED, browsers=FROM_A_LINK, responses={200: Done}, tag="subscribers",
            summary="One-click unsubscribe (RFC 8058): no login or cookie, answers 200")
def unsubscribe(call: Call):
    try:
        gone = service.subscriptions().unsubscribe(call.params["subscriber_id"], call.query.token)
    except InvalidLink as exc:
        raise NotFoundError(told(exc, reader_language(call.request))) from None
    language = reader_language(call.request, gone.language if gone else None)
    _ = translations(language).gettext
    brand = get_site().in_language(language).brand.name
    return _done(call, _("Unsubscribed"), "unsubscribed",
                 _("You will get no more {brand} status updates. Changed your mind? Subscribe again on the status "
                   "page.").format(brand=brand), language)


@documented(bp, "/subscribers/{subscriber_id}/manage", methods=["GET"], query=TokenQuery, browsers=FROM_A_LINK,
            responses={200: ManageAnswer}, tag="subscribers",
            summary="The manage link: the components a subscriber hears about")
def manage_page(call: Call):
    return _manage(call, _by_token(call))


@documented(bp, "/subscribers/{subscriber_id}/manage", methods=["POST"], query=TokenQuery,
            body=ComponentsRequest, content_types=POSTED, browsers=FROM_A_LINK, responses={200: ManageAnswer},
            tag="subscribers", summary="Save the components a subscriber hears about (form field or JSON list "
                                       "'components')")
def manage(call: Call):
    subscriber = _by_token(call)
    try:
        subscriber = service.subscriptions().update_components(subscriber.id, call.query.token,
                                                               call.body.components, call.body.language)
    except InvalidLink as exc:
        raise NotFoundError(told(exc, reader_language(call.request))) from None
    except ValueError as exc:
        error = told(exc, reader_language(call.request, subscriber.language))
        if not wants_html(call.request):
            field = exc.field if isinstance(exc, InvalidDestination) else "components"
            raise Unprocessable(error, [{"field": field, "problem": error}]) from None
        return _manage(call, subscriber, error=error)
    return _manage(call, subscriber, saved=True)


def _manage(call: Call, subscriber: Subscriber, *, error: str | None = None, saved: bool = False):
    site = get_site()
    language = subscriber.reads(site.languages)
    chosen = subscriber.components or sorted(site.component_ids)
    _ = translations(language).gettext
    message = _("Saved.") if saved else ""
    if not wants_html(call.request):
        return ManageAnswer(status=subscriber.status.value, components=chosen, language=language, message=message)
    here = self_url(call.request)
    choices = [(code, language_name(code)) for code in site.languages] if len(site.languages) > 1 else []
    return page(200 if error is None else 422, _("Your status updates"), "manage", language, error=error,
                action=here, masked=mask(subscriber.channel.value, subscriber.destination),
                status=subscriber.status.value, components=site.in_language(language).components, chosen=set(chosen),
                message=message, unsubscribe_url=here.replace("/manage?", "/unsubscribe?"), languages=choices)


def _by_token(call: Call) -> Subscriber:
    try:
        return service.subscriptions().by_token(call.params["subscriber_id"], call.query.token)
    except InvalidLink as exc:
        raise NotFoundError(told(exc, reader_language(call.request))) from None


def _done(call: Call, title: str, status: str, message: str, language: str):
    if wants_html(call.request):
        return page(200, title, "message", language, message=message)
    return Done(status=status, message=message)
