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

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chalicelib.model import ComponentStatus

_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"
# The scheduled minute split into whole slots, one cycle each.
INTERVALS = (60, 30, 20, 15, 12, 10, 5)
_FAILING = (ComponentStatus.DEGRADED_PERFORMANCE, ComponentStatus.PARTIAL_OUTAGE, ComponentStatus.MAJOR_OUTAGE)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Probe(_Strict):
    id: str | None = Field(default=None, pattern=_ID,
                           description="Unique within the component; defaults to the kind")
    label: str | None = Field(default=None, min_length=1, max_length=80,
                              description="What the probe watches, in the page's words: 'our Facebook page'")
    role: Literal["brand", "platform"] = "brand"
    timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    failure_threshold: int = Field(default=2, ge=1, le=20, description="Consecutive failures before it counts")
    success_threshold: int = Field(default=2, ge=1, le=20, description="Consecutive successes before recovery")
    on_failure: ComponentStatus = ComponentStatus.MAJOR_OUTAGE
    paused: bool = Field(default=False, description="Keep the probe declared but do not run it")

    @field_validator("on_failure")
    @classmethod
    def _failing_status(cls, value: ComponentStatus) -> ComponentStatus:
        if value not in _FAILING:
            raise ValueError(f"use one of {', '.join(s.value for s in _FAILING)}")
        return value

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


class JsonCondition(_Strict):
    """A value in the JSON answer: ``path`` is dotted (``status.indicator``, ``items.0.state``)."""

    path: str = Field(min_length=1, pattern=r"^[^.\s]+(\.[^.\s]+)*$")
    equals: Any = None
    one_of: tuple[Any, ...] | None = None

    @model_validator(mode="after")
    def _one_test(self) -> "JsonCondition":
        if self.equals is not None and self.one_of is not None:
            raise ValueError("give 'equals' or 'one_of', not both")
        return self


class HttpProbe(_Probe):
    kind: Literal["http"]
    url: str = Field(pattern=r"^https?://[^\s/]+")
    method: Literal["GET", "HEAD", "POST", "PUT", "OPTIONS"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    expect_status: tuple[int, ...] = Field(default=(), description="Empty: any 2xx")
    body_contains: str | None = None
    body_not_contains: str | None = None
    body_regex: str | None = None
    json_condition: JsonCondition | None = Field(default=None, alias="json")
    degraded_above_ms: int | None = Field(default=None, gt=0)
    follow_redirects: bool = True
    max_redirects: int = Field(default=5, ge=0, le=20)
    ca_file: str | None = Field(default=None, description="PEM bundle to trust instead of the system's")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("body_regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression ({exc}); check the pattern or quote it")
        return value

    @field_validator("expect_status")
    @classmethod
    def _codes(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        for code in value:
            if not 100 <= code <= 999:
                raise ValueError(f"{code} is not an HTTP status code; use numbers such as 200 or 301")
        return value

    def target(self) -> str:
        return self.url


class TcpProbe(_Probe):
    kind: Literal["tcp"]
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(ge=1, le=65535)
    degraded_above_ms: int | None = Field(default=None, gt=0)

    def target(self) -> str:
        return f"{self.host}:{self.port}"


class DnsProbe(_Probe):
    kind: Literal["dns"]
    name: str = Field(min_length=1, max_length=253)
    record_type: Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS"] = "A"
    expect: tuple[str, ...] = Field(default=(), description="Records that must be among the answers")
    nameservers: tuple[str, ...] = Field(default=(), description="IP addresses; empty: the system resolver")
    port: int = Field(default=53, ge=1, le=65535)

    def target(self) -> str:
        return f"{self.name} {self.record_type}"


class TlsProbe(_Probe):
    kind: Literal["tls"]
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(default=443, ge=1, le=65535)
    server_name: str | None = None
    degraded_below_days: int = Field(default=14, ge=0, le=365)
    ca_file: str | None = None

    def target(self) -> str:
        return f"{self.host}:{self.port}"


class UpstreamProbe(_Probe):
    """A third party's Statuspage v2 ``summary.json``: their indicator, or one of their components."""

    kind: Literal["upstream"]
    role: Literal["platform"] = "platform"
    url: str = Field(pattern=r"^https?://[^\s/]+")
    component: str | None = Field(default=None, description="Their component's name or id; empty: overall")
    platform: str | None = Field(default=None, max_length=80, description="Their name in cause texts")
    on_error: ComponentStatus | None = Field(
        default=None, description="Status when their status API fails; empty: keep the last known one")
    ca_file: str | None = None

    def target(self) -> str:
        return self.url


class HeartbeatProbe(_Probe):
    """An external job calls ``POST /heartbeat/<secret>`` after each run; no call within the period means down.

    The secret is not declared here: ``beacon heartbeats create <component>/<probe>`` makes it
    and the table keeps only its hash. The thresholds count the job's runs, not cycles: a
    failure is confirmed after ``failure_threshold`` runs in a row reported failed
    (``/fail``), recovery after ``success_threshold`` runs in a row reported fine. A job that
    misses its period and grace is down at once: the grace was its allowance.
    """

    kind: Literal["heartbeat"]
    period_seconds: int = Field(ge=30, le=7 * 86400)
    grace_seconds: int = Field(default=60, ge=0, le=86400)
    failure_threshold: int = Field(default=2, ge=1, le=20, description="Runs in a row reported failed before it counts")
    success_threshold: int = Field(default=1, ge=1, le=20, description="Runs in a row reported fine before recovery")

    @model_validator(mode="before")
    @classmethod
    def _no_secret_here(cls, data: Any) -> Any:
        if isinstance(data, dict) and "token" in data:
            probe = data.get("id") or "heartbeat"
            raise ValueError(f"token: a heartbeat's secret does not belong in site.yml; remove the 'token' line "
                             f"and run `beacon heartbeats create <component>/{probe}`, which stores only its hash "
                             f"and prints the URL for the job once")
        return data

    def results_to_confirm(self, toward: Literal["worse", "better"]) -> int:
        # The job's runs were counted when it called (checks.check_heartbeat); cycles only read the count.
        return 1

    def target(self) -> str:
        return f"heartbeat every {self.period_seconds} s"


_DEFAULT_LABELS = {
    "http": "our page", "tcp": "our service", "dns": "our domain", "tls": "our certificate",
    "upstream": "its status page", "heartbeat": "our scheduled job",
}

ProbeSpec = Annotated[
    Union[HttpProbe, TcpProbe, DnsProbe, TlsProbe, UpstreamProbe, HeartbeatProbe], Field(discriminator="kind")
]


class ProbeSettings(_Strict):
    """Site-wide probe settings, ``probe_settings`` in site.yml."""

    allow_private_targets: bool = Field(
        default=False, description="Let probes reach loopback/private/link-local addresses (local stack, tests)")
    allowed_private_networks: tuple[str, ...] = Field(
        default=(), description="Private networks probes may reach while others stay refused, e.g. 10.20.0.0/16")
    cycle_deadline_seconds: float = Field(default=45.0, gt=0, le=840,
                                          description="Keep below the function timeout (60 s)")
    interval_seconds: int = Field(
        default=60, description="Seconds between cycles: the minute's invocation runs 60 / interval cycles, "
                                "each on its own slot (60, 30, 20, 15, 12, 10 or 5)")
    locations: tuple[str, ...] = Field(
        default=("home",), min_length=1, max_length=5,
        description="Where probes run: the first is the home stack's region, the others run the probe "
                    "function of the regional probe stack and send their results home")
    quorum: int = Field(default=1, ge=1, le=5,
                        description="Locations that must see a failure before it counts; seen by fewer, it "
                                    "is shown to operators as unconfirmed and never to subscribers")
    max_concurrency: int = Field(default=500, ge=1, le=1000)
    probes_per_invocation: int = Field(
        default=1000, ge=1, le=5000,
        description="Above this many probes the scheduled cycle shards components onto the probe shard queue")
    max_body_bytes: int = Field(default=1_000_000, ge=1024, le=20_000_000)
    user_agent: str = Field(default="Beacon-Probe/1.0 (status page monitor)", min_length=1)


    @field_validator("allowed_private_networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from chalicelib.probes.guard import checked_networks

        return checked_networks(value)

    @field_validator("interval_seconds")
    @classmethod
    def _slots_of_a_minute(cls, value: int) -> int:
        if value not in INTERVALS:
            raise ValueError(f"{value} does not divide the scheduled minute into whole cycles; use one of "
                             f"{', '.join(map(str, INTERVALS))}")
        return value

    @field_validator("locations")
    @classmethod
    def _location_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not re.match(_ID, name):
                raise ValueError(f"location {name!r}: use lowercase letters, digits and '-' (e.g. eu-west-1)")
        if len(set(value)) != len(value):
            raise ValueError("a location is listed twice; list each once")
        return value

    @model_validator(mode="after")
    def _reachable_quorum(self) -> "ProbeSettings":
        if self.quorum > len(self.locations):
            raise ValueError(f"quorum: {self.quorum} locations cannot agree when {len(self.locations)} "
                             f"run probes; lower quorum or add locations")
        return self

    @property
    def home(self) -> str:
        return self.locations[0]

    @property
    def deadline_seconds(self) -> float:
        """Each cycle's deadline: inside its slot, leaving a quarter of it for the steps after the
        probes; a probe still running then counts as a timeout."""
        return min(self.cycle_deadline_seconds, self.interval_seconds * 0.75)


def probe_problems(components, settings: ProbeSettings) -> list[str]:
    """Cross-checks pydantic cannot make per field: unique ids, timeouts inside the deadline."""
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
