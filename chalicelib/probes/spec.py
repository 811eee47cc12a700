"""What ``site.yml`` may declare about probes: the kinds, their checks, thresholds and settings.

Each component lists its probes under ``probes``; ``kind`` picks the model. A probe's
``role`` says whose health it watches: ``brand`` (the brand's own page, inbox or
integration) or ``platform`` (the platform's own status, e.g. its Statuspage). The pair
lets the cycle tell "Facebook reports a major outage of its own" from "Facebook is up,
but our page cannot be reached". Pure data: no I/O.
"""
from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

import msgspec
from msgspec import Meta

from chalicelib.model import ComponentStatus
from chalicelib.schema import ID_PATTERN, Check, Id, Strict

Url = Annotated[str, Meta(pattern=r"^https?://[^\s/]+", extra={
    "is_not": "a web address", "fix": "start it with https:// or http:// and a host name"})]
Port = Annotated[int, Meta(ge=1, le=65535)]
Host = Annotated[str, Meta(min_length=1, max_length=253)]
Threshold = Annotated[int, Meta(ge=1, le=20)]
# The scheduled minute split into whole slots, one cycle each.
INTERVALS = (60, 30, 20, 15, 12, 10, 5)
_FAILING = (ComponentStatus.DEGRADED_PERFORMANCE, ComponentStatus.PARTIAL_OUTAGE, ComponentStatus.MAJOR_OUTAGE)


def _failing_status(value: ComponentStatus) -> ComponentStatus:
    if value not in _FAILING:
        raise ValueError(f"use one of {', '.join(s.value for s in _FAILING)}")
    return value


class _Probe(Strict, kw_only=True):
    # Unique within the component; defaults to the kind.
    id: Id | None = None
    # What the probe watches, in the page's words: 'our Facebook page'.
    label: Annotated[str, Meta(min_length=1, max_length=80)] | None = None
    role: Literal["brand", "platform"] = "brand"
    timeout_seconds: Annotated[float, Meta(gt=0, le=60)] = 10.0
    failure_threshold: Annotated[Threshold, Meta(description="Consecutive failures before it counts")] = 2
    success_threshold: Annotated[Threshold, Meta(description="Consecutive successes before recovery")] = 2
    on_failure: Annotated[ComponentStatus, Check(_failing_status)] = ComponentStatus.MAJOR_OUTAGE
    # Keep the probe declared but do not run it.
    paused: bool = False

    @property
    def key_id(self) -> str:
        return self.id or self.kind  # type: ignore[attr-defined]

    def results_to_confirm(self, toward: Literal["worse", "better"]) -> int:
        """How many cycle results in a row move the probe's confirmed status (``rules.apply_result``)."""
        return self.failure_threshold if toward == "worse" else self.success_threshold

    @property
    def what(self) -> str:
        return self.label or _DEFAULT_LABELS[self.kind]  # type: ignore[attr-defined]

    def target(self) -> str:
        raise NotImplementedError


class JsonCondition(Strict, kw_only=True):
    """A value in the JSON answer: ``path`` is dotted (``status.indicator``, ``items.0.state``)."""

    path: Annotated[str, Meta(min_length=1, pattern=r"^[^.\s]+(\.[^.\s]+)*$", extra={
        "is_not": "a dotted path", "fix": "name the keys from the top, e.g. status.indicator or items.0.state"})]
    equals: Any = None
    one_of: tuple[Any, ...] | None = None

    def __post_init__(self) -> None:
        if self.equals is not None and self.one_of is not None:
            raise ValueError("give 'equals' or 'one_of', not both")


def _compiles(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression ({exc}); check the pattern or quote it")
    return value


def _codes(value: tuple[int, ...]) -> tuple[int, ...]:
    for code in value:
        if not 100 <= code <= 999:
            raise ValueError(f"{code} is not an HTTP status code; use numbers such as 200 or 301")
    return value


class HttpProbe(_Probe, kw_only=True):
    kind: Literal["http"]
    url: Url
    method: Literal["GET", "HEAD", "POST", "PUT", "OPTIONS"] = "GET"
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    body: str | None = None
    # Empty: any 2xx.
    expect_status: Annotated[tuple[int, ...], Check(_codes)] = ()
    body_contains: str | None = None
    body_not_contains: str | None = None
    body_regex: Annotated[str, Check(_compiles)] | None = None
    json_condition: JsonCondition | None = msgspec.field(default=None, name="json")
    degraded_above_ms: Annotated[int, Meta(gt=0)] | None = None
    follow_redirects: bool = True
    max_redirects: Annotated[int, Meta(ge=0, le=20)] = 5
    # A PEM bundle to trust instead of the system's.
    ca_file: str | None = None

    def target(self) -> str:
        return self.url


class TcpProbe(_Probe, kw_only=True):
    kind: Literal["tcp"]
    host: Host
    port: Port
    degraded_above_ms: Annotated[int, Meta(gt=0)] | None = None

    def target(self) -> str:
        return f"{self.host}:{self.port}"


class DnsProbe(_Probe, kw_only=True):
    kind: Literal["dns"]
    name: Host
    record_type: Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS"] = "A"
    # Records that must be among the answers.
    expect: tuple[str, ...] = ()
    # IP addresses; empty: the system resolver.
    nameservers: tuple[str, ...] = ()
    port: Port = 53

    def target(self) -> str:
        return f"{self.name} {self.record_type}"


class TlsProbe(_Probe, kw_only=True):
    kind: Literal["tls"]
    host: Host
    port: Port = 443
    server_name: str | None = None
    degraded_below_days: Annotated[int, Meta(ge=0, le=365)] = 14
    ca_file: str | None = None

    def target(self) -> str:
        return f"{self.host}:{self.port}"


class UpstreamProbe(_Probe, kw_only=True):
    """A third party's Statuspage v2 ``summary.json``: their indicator, or one of their components."""

    kind: Literal["upstream"]
    role: Literal["platform"] = "platform"
    url: Url
    # Their component's name or id; empty: overall.
    component: str | None = None
    # Their name in cause texts.
    platform: Annotated[str, Meta(max_length=80)] | None = None
    # The status when their status API fails; empty: keep the last known one.
    on_error: ComponentStatus | None = None
    ca_file: str | None = None

    def target(self) -> str:
        return self.url


class HeartbeatProbe(_Probe, kw_only=True):
    """An external job calls ``POST /heartbeat/<secret>`` after each run; no call within the period means down.

    The secret is not declared here: ``beacon heartbeats create <component>/<probe>`` makes it
    and the table keeps only its hash. The thresholds count the job's runs, not cycles: a
    failure is confirmed after ``failure_threshold`` runs in a row reported failed
    (``/fail``), recovery after ``success_threshold`` runs in a row reported fine. A job that
    misses its period and grace is down at once: the grace was its allowance.
    """

    kind: Literal["heartbeat"]
    period_seconds: Annotated[int, Meta(ge=30, le=7 * 86400)]
    grace_seconds: Annotated[int, Meta(ge=0, le=86400)] = 60
    failure_threshold: Annotated[Threshold, Meta(description="Runs in a row reported failed before it counts")] = 2
    success_threshold: Annotated[Threshold, Meta(description="Runs in a row reported fine before recovery")] = 1

    @classmethod
    def refuse(cls, data: dict[str, Any]) -> None:
        if "token" in data:
            probe = data.get("id") or "heartbeat"
            raise ValueError(f"token: a heartbeat's secret does not belong in site.yml; remove the 'token' line "
                             f"and run `beacon heartbeats create <component>/{probe}`, which stores only its hash "
                             f"and prints the URL for the job once")

    def results_to_confirm(self, toward: Literal["worse", "better"]) -> int:
        # The job's runs were counted when it called (checks.check_heartbeat); cycles only read the count.
        return 1

    def target(self) -> str:
        return f"heartbeat every {self.period_seconds} s"


_DEFAULT_LABELS = {
    "http": "our page", "tcp": "our service", "dns": "our domain", "tls": "our certificate",
    "upstream": "its status page", "heartbeat": "our scheduled job",
}

# Told apart by ``kind`` (``schema.read``).
ProbeSpec = Union[HttpProbe, TcpProbe, DnsProbe, TlsProbe, UpstreamProbe, HeartbeatProbe]


def _networks(value: tuple[str, ...]) -> tuple[str, ...]:
    from chalicelib.probes.guard import checked_networks  # the guard loads urllib3, which a pure module may not

    return checked_networks(value)


# Private networks a probe or webhook may still reach, e.g. 10.20.0.0/16 (the target guard's form).
PrivateNetworks = Annotated[tuple[str, ...], Check(_networks)]


def _slots_of_a_minute(value: int) -> int:
    if value not in INTERVALS:
        raise ValueError(f"{value} does not divide the scheduled minute into whole cycles; use one of "
                         f"{', '.join(map(str, INTERVALS))}")
    return value


def _location_names(value: tuple[str, ...]) -> tuple[str, ...]:
    for name in value:
        if not re.match(ID_PATTERN, name):
            raise ValueError(f"location {name!r}: use lowercase letters, digits and '-' (e.g. eu-west-1)")
    if len(set(value)) != len(value):
        raise ValueError("a location is listed twice; list each once")
    return value


class ProbeSettings(Strict, kw_only=True):
    """Site-wide probe settings, ``probe_settings`` in site.yml."""

    # Let probes reach loopback/private/link-local addresses (local stack, tests).
    allow_private_targets: bool = False
    # Private networks probes may reach while others stay refused, e.g. 10.20.0.0/16.
    allowed_private_networks: PrivateNetworks = ()
    # Keep below the function timeout (60 s).
    cycle_deadline_seconds: Annotated[float, Meta(gt=0, le=840)] = 45.0
    # Seconds between cycles: the minute's invocation runs 60 / interval cycles, each on its own
    # slot (60, 30, 20, 15, 12, 10 or 5).
    interval_seconds: Annotated[int, Check(_slots_of_a_minute)] = 60
    # Where probes run: the first is the home stack's region, the others run the probe function
    # of the regional probe stack and send their results home.
    locations: Annotated[tuple[str, ...], Meta(min_length=1, max_length=5), Check(_location_names)] = ("home",)
    # Locations that must see a failure before it counts; seen by fewer, it is shown to
    # operators as unconfirmed and never to subscribers.
    quorum: Annotated[int, Meta(ge=1, le=5)] = 1
    max_concurrency: Annotated[int, Meta(ge=1, le=1000)] = 500
    # Above this many probes the scheduled cycle shards components onto the probe shard queue.
    probes_per_invocation: Annotated[int, Meta(ge=1, le=5000)] = 1000
    max_body_bytes: Annotated[int, Meta(ge=1024, le=20_000_000)] = 1_000_000
    user_agent: Annotated[str, Meta(min_length=1)] = "Beacon-Probe/1.0 (status page monitor)"

    def __post_init__(self) -> None:
        if self.quorum > len(self.locations):
            raise ValueError(f"quorum: {self.quorum} locations cannot agree when {len(self.locations)} "
                             f"run probes; lower quorum or add locations")

    @property
    def home(self) -> str:
        return self.locations[0]

    @property
    def deadline_seconds(self) -> float:
        """Each cycle's deadline: inside its slot, leaving a quarter of it for the steps after the
        probes; a probe still running then counts as a timeout."""
        return min(self.cycle_deadline_seconds, self.interval_seconds * 0.75)


def probe_problems(components, settings: ProbeSettings) -> list[str]:
    """Cross-checks no single field can make: unique ids, timeouts inside the deadline."""
    problems: list[str] = []
    for i, component in enumerate(components):
        seen: set[str] = set()
        for j, probe in enumerate(component.probes):
            where = f"components[{i}] (id {component.id!r}).probes[{j}]"
            if probe.key_id in seen:
                problems.append(f"{where}.id: {probe.key_id!r} is used twice in this component; "
                                f"give each {probe.kind} probe its own 'id'")
            seen.add(probe.key_id)
            # A cycle of a shorter interval cuts what runs past its slot's deadline: it counts as a timeout.
            if probe.timeout_seconds >= settings.cycle_deadline_seconds:
                problems.append(f"{where}.timeout_seconds: {probe.timeout_seconds:g} s does not fit the cycle deadline "
                                f"of {settings.cycle_deadline_seconds:g} s; lower it or raise "
                                f"probe_settings.cycle_deadline_seconds")
    return problems
