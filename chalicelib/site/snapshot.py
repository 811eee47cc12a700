"""One consistent view of everything the page shows, read from the store in one go.

``read_snapshot`` is the only reader; ``build_snapshot`` is pure (records in, the page's
view out), so every page, feed and JSON file is a function of one ``Snapshot``:

1. each component's status by the precedence of ``status.component_status``;
2. its last 90 days (uptime per day, the incidents that touched each day) and the last
   24 hours of response times;
3. incidents and maintenance sorted into active, upcoming and past, newest first;
4. the brand's contact channels, the ones still working first (a playbook of an open
   incident can put its own choice first);
5. the timestamps the page and JSON carry: ``generated_at`` (when the data was read) and
   ``updated_at`` (the newest change in the data, so files that only carry it stay
   byte-identical between publishes and are not uploaded again).

What the page shows at a glance (the index, the JSON, the feeds, the badges, ``history.html``)
is computed from the incidents **on the front** only: the open ones (with upcoming
maintenance) and every one changed in the last 90 days (``on_the_front``). An incident
that touched a day of the 90-day bars was changed at or after its end, so it is among them.
The store can read that set without reading the whole history, which is what lets a
publish after one write read and render only what it changed (``incidents`` may then hold
the front and the incidents of the months being rendered, and ``months`` lists every month
that has an incident). Each incident's own page and its month's history page depend on that
incident and that month alone.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from functools import cached_property
from typing import TYPE_CHECKING

from chalicelib.config import Component, Contact, Group, Site
from chalicelib.model import (
    ComponentState, ComponentStatus, DayHistory, Incident, IncidentKind, Indicator, MaintenanceStatus, Notice,
    StatusSource,
)
from chalicelib.status import component_status, overall_indicator

if TYPE_CHECKING:  # the store is handed in; the page's model loads no AWS client
    from chalicelib.store.records import StateStore

HISTORY_DAYS = 90
NARROW_DAYS = 30  # what a phone shows of the 90-day bar
RECENT_DAYS = 7
RECENT_MAX = 10
STALE_AFTER_INTERVALS = 3


@dataclass(frozen=True)
class DayView:
    """One bar of a component's uptime bar."""

    day: date
    uptime: float | None
    status: ComponentStatus | None
    incidents: tuple[str, ...] = ()


@dataclass(frozen=True)
class DayRun:
    """Consecutive days that read the same (status, uptime, incidents): one segment of the bar.

    ``start`` is the first day's place in the bar (0 is the oldest). Runs never cross into the
    last ``NARROW_DAYS``, which a phone shows alone.
    """

    first: date
    last: date
    uptime: float | None
    status: ComponentStatus | None
    incidents: tuple[str, ...] = ()
    start: int = 0
    recent: bool = True

    @property
    def length(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def quiet(self) -> bool:
        """Operational all day by every check, and no incident: the bar's background, told once."""
        return self.status is ComponentStatus.OPERATIONAL and self.uptime == 1.0 and not self.incidents


@dataclass(frozen=True)
class ComponentView:
    component: Component
    status: ComponentStatus
    source: StatusSource
    cause: str | None = None
    updated_at: datetime | None = None
    days: tuple[DayView, ...] = ()
    uptime: float | None = None
    latency: tuple[float | None, ...] = ()

    @property
    def visible(self) -> bool:
        return not self.component.only_show_if_degraded or self.status is not ComponentStatus.OPERATIONAL

    @property
    def probed(self) -> bool:
        return any(value is not None for value in self.latency)

    @cached_property
    def runs(self) -> tuple[DayRun, ...]:
        """The bar's segments, oldest first: ``days`` with equal neighbours merged."""
        return _day_runs(self.days)

    @property
    def notable_runs(self) -> tuple[DayRun, ...]:
        """The runs a reader needs told one by one; every other day is quiet."""
        return tuple(run for run in self.runs if not run.quiet)

    @property
    def quiet_days(self) -> int:
        return sum(run.length for run in self.runs if run.quiet)


@dataclass(frozen=True)
class GroupView:
    group: Group | None
    components: tuple[ComponentView, ...]

    @property
    def status(self) -> ComponentStatus:
        return max((v.status for v in self.components), key=lambda s: s.severity, default=ComponentStatus.OPERATIONAL)


@dataclass(frozen=True)
class ContactView:
    contact: Contact
    down: tuple[str, ...] = ()  # names of the components it needs that are not operational
    recommended: bool = False

    @property
    def working(self) -> bool:
        return not self.down


@dataclass(frozen=True)
class Snapshot:
    site: Site
    generated_at: datetime
    components: list[ComponentView]
    indicator: Indicator
    incidents: list[Incident] = field(default_factory=list)  # the front, and whatever else was read
    front: list[Incident] = field(default_factory=list)  # what the page shows at a glance (``on_the_front``)
    known_months: tuple[str, ...] | None = None  # every month with an incident, when not all incidents were read
    notices: list[Notice] = field(default_factory=list)
    groups: list[GroupView] = field(default_factory=list)
    contacts: list[ContactView] = field(default_factory=list)
    updated_at: datetime | None = None
    since: datetime | None = None
    api_url: str = ""
    stale_after_seconds: int = 180
    language: str | None = None  # what the page is written in; None: the site's default language

    @property
    def reads(self) -> str:
        return self.language or self.site.default_language

    def in_language(self, language: str) -> Snapshot:
        """The same moment as a reader of ``language`` sees it: the site's texts and the records in that language.

        Only words change: statuses, days and links stay, so every language's page tells the same.
        """
        from chalicelib.translations import incident_in, notice_in

        default = self.site.default_language
        if language == self.reads:
            return self
        site = self.site.in_language(language)
        views = {v.component.id: replace(v, component=site.component(v.component.id)) for v in self.components}
        names = {c.name: site.component(c.id).name for c in self.site.components}
        groups = {g.id: g for g in site.groups}
        contacts = {c.id: c for c in site.brand.contacts}
        incidents = {i.id: incident_in(i, language, default) for i in self.incidents}
        front = [incidents.get(i.id) or incident_in(i, language, default) for i in self.front]
        return replace(
            self, site=site, language=language,
            components=[views[v.component.id] for v in self.components],
            incidents=list(incidents.values()), front=front,
            notices=[notice_in(n, language, default) for n in self.notices],
            groups=[GroupView(g.group and groups[g.group.id], tuple(views[v.component.id] for v in g.components))
                    for g in self.groups],
            contacts=[replace(c, contact=contacts[c.contact.id], down=tuple(names.get(n, n) for n in c.down))
                      for c in self.contacts],
        )

    def status_of(self, component_id: str) -> ComponentStatus:
        return self.view(component_id).status

    def view(self, component_id: str) -> ComponentView:
        for view in self.components:
            if view.component.id == component_id:
                return view
        raise KeyError(component_id)

    @cached_property
    def sorted_incidents(self) -> list[Incident]:
        """The incidents and maintenance on the front, newest first (by start, then creation)."""
        return sorted(self.front, key=lambda i: (i.start, i.id), reverse=True)

    @cached_property
    def months(self) -> tuple[str, ...]:
        """Every month (``YYYY-MM`` in the brand's zone) that has an incident or maintenance, newest first."""
        if self.known_months is not None:
            return self.known_months
        return tuple(sorted({self.month_of(i) for i in self.incidents}, reverse=True))

    def month_of(self, incident: Incident) -> str:
        """The month an incident belongs to in the history: of its start, in the brand's zone."""
        return month_of(incident, self.site.brand.zone)

    def in_month(self, month: str) -> list[Incident]:
        """The incidents and maintenance of one month, newest first (``incidents`` must hold them all)."""
        chosen = [i for i in self.incidents if self.month_of(i) == month]
        return sorted(chosen, key=lambda i: (i.start, i.id), reverse=True)

    @cached_property
    def active_incidents(self) -> list[Incident]:
        return [i for i in self.sorted_incidents if i.kind is IncidentKind.INCIDENT and i.is_open]

    @cached_property
    def active_maintenance(self) -> list[Incident]:
        return [i for i in self.sorted_incidents if _maintenance_active(i, self.generated_at)]

    @cached_property
    def upcoming_maintenance(self) -> list[Incident]:
        upcoming = [i for i in self.front if _maintenance_upcoming(i, self.generated_at)]
        return sorted(upcoming, key=lambda i: (i.scheduled_for or i.created_at, i.id))

    @cached_property
    def past(self) -> list[Incident]:
        """Closed incidents and maintenance, newest first."""
        return [i for i in self.sorted_incidents if not i.is_open]

    @cached_property
    def recent(self) -> list[Incident]:
        since = self.generated_at - timedelta(days=RECENT_DAYS)
        return [i for i in self.past if (i.resolved_at or i.updated_at) >= since][:RECENT_MAX]

    @cached_property
    def headline(self) -> str:
        """The banner in words a customer trusts.

        When only components on third-party platforms are affected (a probe of theirs watches the
        platform), it names them and says the brand's own services work: "Facebook is down ·
        Online shop, Help centre and Email & SMS support work", not a "Major System Outage" that
        reads as if the shop were down. Otherwise Statuspage's words (the v2 JSON keeps those).
        """
        from chalicelib.i18n import translations

        words = translations(self.reads)
        troubled = [v for v in self.components if v.status is not ComponentStatus.OPERATIONAL]
        ours = [v for v in self.components if not _on_a_platform(v.component)]
        if not troubled or any(_on_a_platform(v.component) is False for v in troubled):
            return words.gettext(self.indicator.description)
        parts = []
        for status in sorted({v.status for v in troubled}, key=lambda s: s.severity, reverse=True):
            names = [v.component.name for v in troubled if v.status is status]
            singular, plural = _TROUBLE.get(status, _HAS_PROBLEMS)
            parts.append(words.ngettext(singular, plural, len(names)).format(names=_spoken_list(names, words)))
        told = ", ".join(parts)
        if ours:
            if len(ours) <= 3:
                working = words.ngettext("{names} works", "{names} work", len(ours))
                told += " · " + working.format(names=_spoken_list([v.component.name for v in ours], words))
            else:
                told += " · " + words.gettext("all our own services work")
        return told

    @property
    def page_time(self) -> datetime:
        """The data's own timestamp (JSON ``updated_at``): the newest change, else the first publish."""
        return self.updated_at or self.since or self.generated_at

    @property
    def created_at(self) -> datetime:
        return self.since or self.page_time


def build_snapshot(site: Site, states: dict[str, ComponentState], incidents: list[Incident],
                   notices: list[Notice], now: datetime, *,
                   days: dict[str, list[DayHistory]] | None = None,
                   latency: dict[str, list[float | None]] | None = None,
                   since: datetime | None = None, api_url: str = "",
                   probe_interval_seconds: int = 60, publish_interval_seconds: int = 0,
                   known_months: tuple[str, ...] | None = None) -> Snapshot:
    """Pure: the records in, the page's view of them out."""
    front = [i for i in incidents if on_the_front(i, now)]
    open_incidents = [i for i in front if i.is_open]
    touched = _incident_days(front, now)
    views = []
    for component in site.components:
        state = states.get(component.id)
        status, source = component_status(
            state or ComponentState(component_id=component.id, updated_at=now), open_incidents, now)
        updated = [state.updated_at] if state else []
        updated += [i.updated_at for i in front if component.id in i.components]
        day_views = _day_views(component.id, (days or {}).get(component.id, []), touched, now.date())
        views.append(ComponentView(
            component, status, source, state.cause if state else None,
            updated_at=max(updated, default=None),
            days=day_views,
            uptime=_uptime((days or {}).get(component.id, [])),
            latency=tuple((latency or {}).get(component.id, ())),
        ))
    changes = [v.updated_at for v in views if v.updated_at] + [i.updated_at for i in front]
    changes += [n.updated_at for n in notices]
    active_notices = sorted((n for n in notices if n.is_active(now)), key=lambda n: n.starts_at or n.created_at,
                            reverse=True)
    return Snapshot(
        site=site,
        generated_at=now,
        components=views,
        indicator=overall_indicator((v.status for v in views), open_incidents),
        incidents=list(incidents),
        front=front,
        known_months=known_months,
        notices=active_notices,
        groups=_groups(site, views),
        contacts=_contacts(site, views, open_incidents),
        updated_at=max(changes, default=None),
        since=since,
        api_url=api_url,
        stale_after_seconds=stale_after(probe_interval_seconds, publish_interval_seconds),
    )


def read_snapshot(site: Site, store: StateStore, now: datetime, *, history=None, since: datetime | None = None,
                  api_url: str = "", probe_interval_seconds: int = 60, publish_interval_seconds: int = 0,
                  incidents: list[Incident] | None = None, known_months: tuple[str, ...] | None = None) -> Snapshot:
    """Everything the page needs, read once. ``history`` is a ``store.history.HistoryStore``.

    ``incidents``, when given, replaces reading every incident: it must hold the front (see the
    module docstring) and the incidents of the months to render; ``known_months`` then lists
    every month that has an incident. The rest is read by key (the site's components, the
    listed notices, the history's known days and slots), so with ``incidents`` given the read
    does not grow with the history.
    """
    ids = [c.id for c in site.components]
    days = history.days(ids, now.astimezone(timezone.utc).date(), HISTORY_DAYS) if history else None
    latency = history.latency(ids, now) if history else None
    return build_snapshot(site, store.component_states(ids), store.incidents() if incidents is None else incidents,
                          store.listed_notices(), now, days=days, latency=latency, since=since, api_url=api_url,
                          probe_interval_seconds=probe_interval_seconds,
                          publish_interval_seconds=publish_interval_seconds, known_months=known_months)


def stale_after(probe_interval_seconds: int, publish_interval_seconds: int = 0) -> int:
    """Three probe intervals, but never less than the scheduled republish plus one probe interval.

    Probes republish only on a change and the schedule keeps the timestamp fresh; with the
    defaults (probes every minute, republish every 5) a bare 3 minutes would call a healthy
    page stale between two scheduled publishes.
    """
    return max(STALE_AFTER_INTERVALS * probe_interval_seconds, publish_interval_seconds + probe_interval_seconds)


def N_(singular: str, plural: str) -> tuple[str, str]:
    """Marks a message pair for the catalogue; the headline translates it when it is told."""
    return singular, plural


_HAS_PROBLEMS = N_("{names} has problems", "{names} have problems")
_TROUBLE = {
    ComponentStatus.MAJOR_OUTAGE: N_("{names} is down", "{names} are down"),
    ComponentStatus.PARTIAL_OUTAGE: _HAS_PROBLEMS,
    ComponentStatus.DEGRADED_PERFORMANCE: N_("{names} is slow", "{names} are slow"),
    ComponentStatus.UNDER_MAINTENANCE: N_("{names} is under maintenance", "{names} are under maintenance"),
}


def _on_a_platform(component: Component) -> bool:
    """A channel on someone else's platform: a probe of it watches the platform itself."""
    return any(probe.role == "platform" for probe in component.probes)


def _spoken_list(names: list[str], words) -> str:
    if len(names) == 1:
        return names[0]
    return words.gettext("{first} and {last}").format(first=", ".join(names[:-1]), last=names[-1])


def on_the_front(incident: Incident, now: datetime) -> bool:
    """Open (upcoming maintenance too), or changed within the 90 days the page's bars show."""
    return incident.is_open or incident.updated_at >= now - timedelta(days=HISTORY_DAYS)


def month_of(incident: Incident, zone) -> str:
    return incident.start.astimezone(zone).strftime("%Y-%m")


def _maintenance_active(incident: Incident, now: datetime) -> bool:
    if incident.kind is not IncidentKind.MAINTENANCE or not incident.is_open:
        return False
    if incident.status in (MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING):
        return True
    return incident.scheduled_for is not None and incident.scheduled_for <= now and (
        incident.scheduled_until is None or now < incident.scheduled_until)


def _maintenance_upcoming(incident: Incident, now: datetime) -> bool:
    return (incident.kind is IncidentKind.MAINTENANCE and incident.status == MaintenanceStatus.SCHEDULED
            and not _maintenance_active(incident, now))


Touched = dict[tuple[str, date], tuple[list[str], ComponentStatus]]


def _incident_days(incidents: list[Incident], now: datetime) -> Touched:
    """(component id, UTC day) → the incidents that affected it that day and the worst status they gave it."""
    first_day = now.date() - timedelta(days=HISTORY_DAYS - 1)
    touched: Touched = {}
    for incident in sorted(incidents, key=lambda i: (i.start, i.id)):
        if incident.status == MaintenanceStatus.CANCELLED:
            continue
        start = incident.start.astimezone(timezone.utc).date()
        end_at = incident.resolved_at or (incident.scheduled_until if not incident.is_open else None) or now
        end = min(end_at.astimezone(timezone.utc).date(), now.date())
        day = max(start, first_day)
        while day <= end:
            for component_id, given in incident.components.items():
                if incident.kind is IncidentKind.MAINTENANCE:
                    given = ComponentStatus.UNDER_MAINTENANCE
                names, worst = touched.get((component_id, day), ([], given))
                touched[(component_id, day)] = (names + [incident.name], _worse(worst, given))
            day += timedelta(days=1)
    return touched


def _worse(a: ComponentStatus | None, b: ComponentStatus | None) -> ComponentStatus | None:
    if a is None or b is None:
        return a or b
    return a if a.severity >= b.severity else b


def _day_views(component_id: str, history: list[DayHistory], touched: dict, last_day: date) -> tuple[DayView, ...]:
    """90 bars, oldest first: a day's colour is the worse of what the probes saw and what incidents said."""
    by_day = {h.day: h for h in history}
    views = []
    for offset in range(HISTORY_DAYS - 1, -1, -1):
        day = last_day - timedelta(days=offset)
        record = by_day.get(day)
        names, given = touched.get((component_id, day), ((), None))
        views.append(DayView(day, record.uptime if record else None, _worse(_day_status(record), given), tuple(names)))
    return tuple(views)


def _day_runs(days: tuple[DayView, ...]) -> tuple[DayRun, ...]:
    narrow_from = days[-1].day - timedelta(days=NARROW_DAYS - 1) if days else None
    runs: list[DayRun] = []
    for start, view in enumerate(days):
        recent = view.day >= narrow_from
        previous = runs[-1] if runs else None
        if (previous and previous.recent == recent and previous.last + timedelta(days=1) == view.day
                and (previous.status, previous.uptime, previous.incidents) == (view.status, view.uptime, view.incidents)):
            runs[-1] = replace(previous, last=view.day)
        else:
            runs.append(DayRun(view.day, view.day, view.uptime, view.status, view.incidents, start, recent))
    return tuple(runs)


def _day_status(record: DayHistory | None) -> ComponentStatus | None:
    """The worst status that held for a noticeable share (0.5 %) of the day's checks."""
    if record is None or record.checks == 0:
        return None
    floor = max(1, record.checks * 0.005)
    for count, status in ((record.major, ComponentStatus.MAJOR_OUTAGE),
                          (record.partial, ComponentStatus.PARTIAL_OUTAGE),
                          (record.degraded, ComponentStatus.DEGRADED_PERFORMANCE)):
        if count >= floor:
            return status
    if record.maintenance and not record.operational:
        return ComponentStatus.UNDER_MAINTENANCE
    return ComponentStatus.OPERATIONAL


def _uptime(history: list[DayHistory]) -> float | None:
    counted = sum(h.checks - h.maintenance for h in history)
    if counted == 0:
        return None
    lost = sum(h.major + 0.3 * h.partial for h in history)
    return max(0.0, 1.0 - lost / counted)


def _groups(site: Site, views: list[ComponentView]) -> list[GroupView]:
    by_id = {v.component.id: v for v in views}
    result = []
    ungrouped = tuple(by_id[c.id] for c in site.components_in(None) if by_id[c.id].visible)
    if ungrouped:
        result.append(GroupView(None, ungrouped))
    for group in sorted(site.groups, key=lambda g: (g.position, g.name)):
        members = tuple(by_id[c.id] for c in site.components_in(group.id) if by_id[c.id].visible)
        if members:
            result.append(GroupView(group, members))
    return result


def _contacts(site: Site, views: list[ComponentView], open_incidents: list[Incident]) -> list[ContactView]:
    not_operational = {v.component.id: v.component.name for v in views if v.status is not ComponentStatus.OPERATIONAL}
    first: list[str] = []
    for incident in sorted(open_incidents, key=lambda i: (i.start, i.id), reverse=True):
        if incident.playbook_id:
            try:
                playbook = site.playbook(incident.playbook_id)
            except (KeyError, AttributeError):
                continue  # a playbook removed from site.yml since the incident opened
            first += [c for c in getattr(playbook, "contacts_first", ()) if c not in first]
    contacts = []
    for position, contact in enumerate(site.brand.contacts):
        down = tuple(not_operational[c] for c in contact.depends_on if c in not_operational)
        contacts.append((bool(down), first.index(contact.id) if contact.id in first else len(first), position,
                         ContactView(contact, down, contact.id in first and not down)))
    return [view for *_, view in sorted(contacts, key=lambda entry: entry[:3])]
