"""One check per probe kind: a probe in, a ``ProbeResult`` out, never an exception.

A check says what its probe alone makes of the component (``status``; None when it could
not tell, e.g. a platform's status API answered nonsense) and why (``error``). Thresholds
and combining probes are the rules' business, not the checks'.

The kinds that fetch over HTTP (http, upstream) run on an event loop (``check_on_loop``,
through ``probes.http``); the others (tcp, dns, tls, heartbeat) block, and the runner gives
them threads. ``check`` runs any kind on its own, for one probe at a time.
"""
from __future__ import annotations

import asyncio
import codecs
import json
import re
import socket
import ssl
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

from chalicelib.model import ComponentStatus
from chalicelib.probes.guard import NameNotResolved, TargetGuard, TargetRefused
from chalicelib.probes.http import Answer, FetchFailed, fetch, run_to_end
from chalicelib.probes.model import HeartbeatCalls, PlannedProbe, ProbeResult
from chalicelib.probes.spec import DnsProbe, HeartbeatProbe, HttpProbe, ProbeSettings, TcpProbe, TlsProbe, UpstreamProbe

OK, DEGRADED = ComponentStatus.OPERATIONAL, ComponentStatus.DEGRADED_PERFORMANCE

# Statuspage's page indicator and component statuses, in our words.
_INDICATOR = {
    "none": ComponentStatus.OPERATIONAL,
    "minor": ComponentStatus.DEGRADED_PERFORMANCE,
    "major": ComponentStatus.PARTIAL_OUTAGE,
    "critical": ComponentStatus.MAJOR_OUTAGE,
    "maintenance": ComponentStatus.UNDER_MAINTENANCE,
}


class CheckFailed(Exception):
    """The target answered wrongly or not at all: the probe's failure status applies."""


class NoVerdict(Exception):
    """The probe cannot tell (a platform's status API is broken): keep the last known status."""


class ProbeContext:
    """What every check of one cycle shares: the guard, name lookups, TLS contexts, heartbeats, the clock."""

    def __init__(self, settings: ProbeSettings, *, now: datetime,
                 heartbeats: dict[str, HeartbeatCalls] | None = None,
                 watch_since: dict[str, datetime] | None = None, monotonic: Callable[[], float] = time.monotonic):
        self.settings = settings
        self.guard = TargetGuard(settings.allow_private_targets, settings.allowed_private_networks)
        self.now = now
        self.heartbeats = heartbeats or {}
        self.watch_since = watch_since or {}
        self.monotonic = monotonic
        self._tls: dict[str | None, ssl.SSLContext] = {}
        self._lookups: dict[tuple[str, int], Future] = {}
        self._lookup_threads: ThreadPoolExecutor | None = None

    def tls(self, ca_file: str | None) -> ssl.SSLContext:
        """One verifying TLS context per CA bundle for the cycle (loading a bundle costs milliseconds)."""
        context = self._tls.get(ca_file)
        if context is None:
            try:
                context = ssl.create_default_context(cafile=ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise FetchFailed(f"ca_file: {ca_file} cannot be read as PEM certificates ({exc}); "
                                  f"give the path of the CA bundle to trust") from None
            context = self._tls.setdefault(ca_file, context)
        return context

    async def lookup(self, host: str, port: int) -> list[tuple]:
        """``getaddrinfo`` off the event loop, once per name and port in a cycle (``guard.open`` checks each use)."""
        key = (host, port)
        pending = self._lookups.get(key)
        if pending is None:
            if self._lookup_threads is None:
                self._lookup_threads = ThreadPoolExecutor(max_workers=min(64, self.settings.max_concurrency),
                                                          thread_name_prefix="probe-lookup")
            pending = self._lookups.setdefault(key, self._lookup_threads.submit(socket.getaddrinfo, host, port,
                                                                                type=socket.SOCK_STREAM))
        try:
            infos = await asyncio.wrap_future(pending)
        except socket.gaierror as exc:
            raise NameNotResolved(f"{host} does not resolve ({exc.strerror})") from None
        return infos

    def close(self) -> None:
        if self._lookup_threads is not None:
            # A lookup still hanging keeps its thread until the resolver gives up; the cycle does not wait.
            self._lookup_threads.shutdown(wait=False, cancel_futures=True)


def check(planned: PlannedProbe, context: ProbeContext) -> ProbeResult:
    if planned.spec.kind in ON_LOOP:
        return run_to_end(check_on_loop(planned, context))
    spec = planned.spec
    started = context.monotonic()
    detail: dict[str, Any] = {}
    error = None
    try:
        if isinstance(spec, HeartbeatProbe):
            status, error, detail = check_heartbeat(spec, context.heartbeats.get(planned.key),
                                                    context.watch_since.get(planned.key, context.now), context.now)
        else:
            status = _CHECKS[spec.kind](spec, context, detail)
    except (CheckFailed, TargetRefused, NoVerdict) as exc:
        status, error = _failed(spec, exc)
    return _result(planned, context, started, status, error, detail)


async def check_on_loop(planned: PlannedProbe, context: ProbeContext) -> ProbeResult:
    """``check`` for the kinds of ``ON_LOOP``, on the running event loop."""
    spec = planned.spec
    started = context.monotonic()
    detail: dict[str, Any] = {}
    error = None
    try:
        status = await _ON_LOOP_CHECKS[spec.kind](spec, context, detail)
    except (CheckFailed, TargetRefused, NoVerdict) as exc:
        status, error = _failed(spec, exc)
    return _result(planned, context, started, status, error, detail)


def _failed(spec, exc: Exception) -> tuple[ComponentStatus | None, str]:
    if isinstance(exc, CheckFailed):
        return spec.on_failure, str(exc)
    if isinstance(exc, TargetRefused):
        # A platform's status API we may not reach says nothing about the platform itself.
        return (spec.on_error if isinstance(spec, UpstreamProbe) else spec.on_failure), str(exc)
    return getattr(spec, "on_error", None), str(exc)


def _result(planned: PlannedProbe, context: ProbeContext, started: float, status, error, detail) -> ProbeResult:
    spec = planned.spec
    latency = detail.pop("latency_ms", (context.monotonic() - started) * 1000)
    return ProbeResult(planned.key, planned.component_id, spec.kind, spec.role, spec.target(), status, error,
                       None if spec.kind == "heartbeat" else latency, detail)


# -- http ------------------------------------------------------------------------------------------

async def _check_http(spec: HttpProbe, context: ProbeContext, detail: dict) -> ComponentStatus:
    response, body, elapsed_ms = await _fetch(spec.url, context, timeout=spec.timeout_seconds, method=spec.method,
                                              headers=spec.headers, body=spec.body, ca_file=spec.ca_file,
                                              redirects=spec.max_redirects, follow=spec.follow_redirects)
    detail["status_code"] = response.status
    detail["latency_ms"] = elapsed_ms
    expected = spec.expect_status or None
    if (expected and response.status not in expected) or (not expected and not 200 <= response.status < 300):
        wanted = ", ".join(map(str, expected)) if expected else "2xx"
        raise CheckFailed(f"answered HTTP {response.status}, expected {wanted}")
    text = body.decode(_charset(response), errors="replace")
    if spec.body_contains is not None and spec.body_contains not in text:
        raise CheckFailed(f"the answer does not contain {spec.body_contains!r}")
    if spec.body_not_contains is not None and spec.body_not_contains in text:
        raise CheckFailed(f"the answer contains {spec.body_not_contains!r}")
    if spec.body_regex is not None and not re.search(spec.body_regex, text):
        raise CheckFailed(f"the answer does not match /{spec.body_regex}/")
    if spec.json_condition is not None:
        condition = spec.json_condition
        value = _json_path(_parse_json(body, spec.url, CheckFailed), condition.path, CheckFailed)
        if condition.one_of is not None and value not in condition.one_of:
            raise CheckFailed(f"{condition.path} is {value!r}, expected one of {list(condition.one_of)!r}")
        if condition.equals is not None and value != condition.equals:
            raise CheckFailed(f"{condition.path} is {value!r}, expected {condition.equals!r}")
    if spec.degraded_above_ms is not None and elapsed_ms > spec.degraded_above_ms:
        detail["slow"] = True
        return DEGRADED
    return OK


async def _fetch(url: str, context: ProbeContext, *, timeout: float, method: str = "GET",
                 headers: dict[str, str] | None = None, body: str | None = None, ca_file: str | None = None,
                 redirects: int = 5, follow: bool = True, failure: type[Exception] = CheckFailed
                 ) -> tuple[Answer, bytes, float]:
    """One request through the guard; the whole exchange, body included, inside ``timeout``."""
    started = context.monotonic()
    try:
        answer = await fetch(url, guard=context.guard, lookup=context.lookup, tls=lambda: context.tls(ca_file),
                             timeout=timeout, user_agent=context.settings.user_agent, method=method,
                             headers=headers, body=body, redirects=redirects, follow=follow,
                             max_body=context.settings.max_body_bytes)
    except FetchFailed as exc:
        raise failure(str(exc)) from None
    return answer, answer.body, (context.monotonic() - started) * 1000


def _charset(response: Answer) -> str:
    match = re.search(r"charset=\"?([\w-]+)", response.headers.get("content-type", ""))
    if match:
        try:
            return codecs.lookup(match.group(1)).name
        except LookupError:
            pass  # an unknown charset: read it as UTF-8, with replacements
    return "utf-8"


def _parse_json(body: bytes, url: str, failure: type[Exception]) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise failure(f"the answer of {url} is not JSON") from None


def _json_path(document: Any, path: str, failure: type[Exception]) -> Any:
    node = document
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise failure(f"the answer has no {path}")
    return node


# -- tcp, dns, tls ---------------------------------------------------------------------------------

def _check_tcp(spec: TcpProbe, context: ProbeContext, detail: dict) -> ComponentStatus:
    started = context.monotonic()
    try:
        context.guard.connect(spec.host, spec.port, spec.timeout_seconds).close()
    except TargetRefused:
        raise
    except socket.timeout:
        raise CheckFailed(f"no connection to {spec.host}:{spec.port} within {spec.timeout_seconds:g} s") from None
    except OSError as exc:
        raise CheckFailed(f"cannot connect to {spec.host}:{spec.port}: {exc.strerror or exc}") from None
    elapsed = detail["latency_ms"] = (context.monotonic() - started) * 1000
    if spec.degraded_above_ms is not None and elapsed > spec.degraded_above_ms:
        return DEGRADED
    return OK


def _check_dns(spec: DnsProbe, context: ProbeContext, detail: dict) -> ComponentStatus:
    import dns.exception
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=not spec.nameservers)
    if spec.nameservers:
        for server in spec.nameservers:
            context.guard.check(server, server)
        resolver.nameservers = list(spec.nameservers)
    resolver.port = spec.port
    resolver.lifetime = spec.timeout_seconds
    try:
        answer = resolver.resolve(spec.name, spec.record_type, search=False)
    except dns.resolver.NXDOMAIN:
        raise CheckFailed(f"{spec.name} does not exist (NXDOMAIN)") from None
    except dns.resolver.NoAnswer:
        raise CheckFailed(f"{spec.name} has no {spec.record_type} record") from None
    except dns.exception.Timeout:
        raise CheckFailed(f"no DNS answer for {spec.name} within {spec.timeout_seconds:g} s") from None
    except (dns.resolver.NoNameservers, dns.exception.DNSException) as exc:
        raise CheckFailed(f"{spec.name} cannot be resolved: {exc}") from None
    records = sorted(_record_text(spec.record_type, rdata) for rdata in answer)
    detail["records"] = records
    missing = [value for value in spec.expect if _normal(value) not in records]
    if missing:
        raise CheckFailed(f"{spec.name} {spec.record_type} is {', '.join(records)}; missing {', '.join(missing)}")
    return OK


def _record_text(record_type: str, rdata) -> str:
    if record_type == "MX":
        return _normal(rdata.exchange.to_text())
    if record_type == "TXT":
        return b"".join(rdata.strings).decode(errors="replace")
    return _normal(rdata.to_text())


def _normal(value: str) -> str:
    return value.lower().rstrip(".")


def _check_tls(spec: TlsProbe, context: ProbeContext, detail: dict) -> ComponentStatus:
    tls = ssl.create_default_context(cafile=spec.ca_file) if spec.ca_file else ssl.create_default_context()
    name = spec.server_name or spec.host
    started = context.monotonic()
    try:
        raw = context.guard.connect(spec.host, spec.port, spec.timeout_seconds)
    except TargetRefused:
        raise
    except OSError as exc:
        raise CheckFailed(f"cannot connect to {spec.host}:{spec.port}: {exc.strerror or exc}") from None
    try:
        with tls.wrap_socket(raw, server_hostname=name) as sock:
            certificate = sock.getpeercert()
    except ssl.SSLCertVerificationError as exc:
        reason = exc.verify_message or str(exc)
        raise CheckFailed(f"the certificate of {name} is not valid: {reason}") from None
    except (ssl.SSLError, OSError) as exc:
        raise CheckFailed(f"TLS handshake with {name} failed: {exc}") from None
    finally:
        raw.close()
    detail["latency_ms"] = (context.monotonic() - started) * 1000
    expires = datetime.fromtimestamp(ssl.cert_time_to_seconds(certificate["notAfter"]), timezone.utc)
    days_left = (expires - context.now) / timedelta(days=1)
    detail["expires_at"] = expires.isoformat()
    detail["days_left"] = round(days_left, 1)
    if days_left <= 0:
        raise CheckFailed(f"the certificate of {name} expired on {expires:%Y-%m-%d}")
    if days_left < spec.degraded_below_days:
        return DEGRADED
    return OK


# -- upstream, heartbeat ---------------------------------------------------------------------------

async def _check_upstream(spec: UpstreamProbe, context: ProbeContext, detail: dict) -> ComponentStatus:
    response, body, elapsed_ms = await _fetch(spec.url, context, timeout=spec.timeout_seconds, ca_file=spec.ca_file,
                                              failure=NoVerdict)
    detail["latency_ms"] = elapsed_ms
    if response.status != 200:
        raise NoVerdict(f"their status API answered HTTP {response.status}")
    summary = _parse_json(body, spec.url, NoVerdict)
    if spec.component is None:
        indicator = _json_path(summary, "status.indicator", NoVerdict)
        detail["indicator"] = indicator
        detail["description"] = (summary.get("status") or {}).get("description")
        if indicator not in _INDICATOR:
            raise NoVerdict(f"their status indicator {indicator!r} is not one Statuspage uses")
        return _INDICATOR[indicator]
    components = summary.get("components") if isinstance(summary, dict) else None
    if not isinstance(components, list):
        raise NoVerdict("their summary lists no components")
    wanted = spec.component.casefold()
    for theirs in components:
        if isinstance(theirs, dict) and wanted in (str(theirs.get("name", "")).casefold(), str(theirs.get("id", ""))):
            detail["their_status"] = theirs.get("status")
            try:
                return ComponentStatus(theirs.get("status"))
            except ValueError:
                raise NoVerdict(f"their component {spec.component!r} has status {theirs.get('status')!r}") from None
    raise NoVerdict(f"their summary has no component {spec.component!r}; check the name on their status page")


def check_heartbeat(spec: HeartbeatProbe, calls: HeartbeatCalls | None, watch_since: datetime,
                    now: datetime) -> tuple[ComponentStatus | None, str | None, dict]:
    """Overdue is down at once; reported runs count by the probe's thresholds, and until one is
    reached there is no verdict, so one ``/fail`` (or one good run after failures) moves nothing."""
    detail = {"last_seen": calls.last_seen.isoformat() if calls else None}
    allowed = timedelta(seconds=spec.period_seconds + spec.grace_seconds)
    late = now - (calls.last_seen if calls else watch_since) - allowed
    if late > timedelta(0):
        if calls is None:
            return spec.on_failure, f"no heartbeat received since {watch_since:%Y-%m-%d %H:%M} UTC", detail
        minutes = int((now - calls.last_seen).total_seconds() // 60)
        return spec.on_failure, f"no heartbeat for {minutes} min (expected every {spec.period_seconds} s)", detail
    if calls is None:
        return OK, None, detail
    if calls.failed_runs:
        detail["failed_runs"] = calls.failed_runs
        counted = (f"{calls.failed_runs} run(s) in a row reported failed, "
                   f"the last at {calls.last_seen:%Y-%m-%d %H:%M} UTC")
        if calls.failed_runs >= spec.failure_threshold:
            return spec.on_failure, f"the job {counted}", detail
        return None, f"the job {counted}; {spec.failure_threshold} in a row count as a failure", detail
    if calls.ok_runs >= spec.success_threshold:
        return OK, None, detail
    return None, (f"the job reported {calls.ok_runs} good run(s) since it failed; "
                  f"{spec.success_threshold} in a row count as recovered"), detail


_CHECKS: dict[str, Callable[[Any, ProbeContext, dict], ComponentStatus]] = {
    "tcp": _check_tcp, "dns": _check_dns, "tls": _check_tls,
}
_ON_LOOP_CHECKS = {"http": _check_http, "upstream": _check_upstream}
ON_LOOP = frozenset(_ON_LOOP_CHECKS)  # the kinds the runner runs on its event loop
