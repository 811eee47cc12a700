"""Uptime and latency history, aggregated in place: storage grows per month and hour, not per check.

Each check adds to two counter items with ``Table.add`` (no read first, any number of
writers): the component's month (per day ``dDD_``: status counts and a latency histogram;
kept 100 days past the month) and its hour (per 5-minute slot ``mMM_``: status counts,
latency sum and count; kept 25 hours past the hour). Percentiles come from the
histogram's bucket bounds, so they are exact to the bucket. Uptime over 24 hours is summed
from the slots, over 7, 30 and 90 days from the days.

Readers know every key they want, so they read by key: one BatchGetItem of up to 100
keys, batches side by side (``Table.get_keys``), eventually consistent (a check a second
old may be missing; the next publish has it). Days gathered in month items and slots in
hour items keep that to 4 + 25 keys a component (the page's 10: 290 keys, 3 batches), where
an item per day and per slot took 378 (38 batches; measured: 0.33 s of a 0.6 s republish on
the emulator); and a query of each component's partitions would be two round trips a
component, which the emulator answers by walking the whole table. Read units: each key
costs at least half a unit (eventually consistent, up to 4 KB); a month item is ~10 KB
(3 units), an hour item ~1 KB.

Tables written before (an item per day ``<YYYY-MM-DD>``, per slot ``<YYYY-MM-DDTHH:MM>``)
are read in that layout too for what precedes ``older_layout_until``: the publish passes
when the listings were made (``store.incidents.LISTED_MARK``) if the table held days in
that layout then (``holds_former_layout``), so after 90 days no reader asks for those keys
any more, and a table created since never does.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone

from chalicelib.model import ComponentStatus, DayHistory
from chalicelib.store.table import Table

DAY_PK, SLOT_PK = "HISTORY#{}", "LATENCY#{}"
DAYS_KEPT, SLOT_HOURS_KEPT = 100, 25
SLOT = timedelta(minutes=5)
SLOTS_PER_DAY = 288
# Upper bounds (ms) of the latency histogram's buckets; the last is open-ended.
BUCKETS_MS = (25, 50, 75, 100, 150, 200, 300, 400, 600, 800, 1000, 1500, 2000, 3000, 5000, 8000, 15000, 30000)

_COUNT_FIELD = {
    ComponentStatus.OPERATIONAL: "operational",
    ComponentStatus.DEGRADED_PERFORMANCE: "degraded",
    ComponentStatus.PARTIAL_OUTAGE: "partial",
    ComponentStatus.MAJOR_OUTAGE: "major",
    ComponentStatus.UNDER_MAINTENANCE: "maintenance",
}


def bucket_of(latency_ms: float) -> int:
    for index, bound in enumerate(BUCKETS_MS):
        if latency_ms <= bound:
            return index
    return len(BUCKETS_MS)


def percentile_ms(histogram: dict[int, int], q: float) -> float | None:
    total = sum(histogram.values())
    if total == 0:
        return None
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= q * total:
            return float(BUCKETS_MS[index] if index < len(BUCKETS_MS) else BUCKETS_MS[-1] * 2)
    return None


def slot_start(at: datetime) -> datetime:
    at = at.astimezone(timezone.utc)
    return at.replace(minute=at.minute - at.minute % 5, second=0, microsecond=0)


class HistoryStore:
    """``older_layout_until``: checks before it may be stored an item per day and per slot."""

    def __init__(self, table: Table, older_layout_until: datetime | None = None):
        self.table = table
        self.older_layout_until = older_layout_until

    def record(self, component_id: str, at: datetime, status: ComponentStatus, latency_ms: float | None) -> None:
        at = at.astimezone(timezone.utc)
        day = f"d{at:%d}_"
        counts = {day + _COUNT_FIELD[status]: 1}
        if latency_ms is not None:
            counts[f"{day}lat{bucket_of(latency_ms)}"] = 1
        month_end = (at.replace(day=28) + timedelta(days=4)).replace(day=1, hour=0, minute=0, second=0,
                                                                     microsecond=0)
        self.table.add(DAY_PK.format(component_id), f"{at:%Y-%m}", counts,
                       expires_at=int((month_end + timedelta(days=DAYS_KEPT)).timestamp()))
        slot = f"m{slot_start(at):%M}_"
        slot_counts = {slot + _COUNT_FIELD[status]: 1}
        if latency_ms is not None:
            # Whole milliseconds, at least 1: adding 0 changes nothing, and the emulator then omits the
            # counter from the update's answer.
            slot_counts.update({slot + "sum_ms": max(1, round(latency_ms)), slot + "n": 1})
        hour = at.replace(minute=0, second=0, microsecond=0)
        self.table.add(SLOT_PK.format(component_id), f"{hour:%Y-%m-%dT%H}", slot_counts,
                       expires_at=int((hour + timedelta(hours=1 + SLOT_HOURS_KEPT)).timestamp()))

    def days(self, component_ids: Iterable[str], last_day: date, count: int = 90) -> dict[str, list[DayHistory]]:
        """Each component's recorded days among the ``count`` days ending ``last_day``, oldest first."""
        ids = list(component_ids)
        wanted = [last_day - timedelta(days=back) for back in range(count - 1, -1, -1)]
        months = sorted({f"{day:%Y-%m}" for day in wanted})
        older = [day for day in wanted if self._older(datetime.combine(day, datetime.min.time(), timezone.utc))]
        found = self.table.get_keys([(DAY_PK.format(c), month) for c in ids for month in months]
                                    + [(DAY_PK.format(c), day.isoformat()) for c in ids for day in older],
                                    consistent=False)
        result: dict[str, list[DayHistory]] = {}
        for c in ids:
            recorded = []
            for day in wanted:
                data = _within(found.get((DAY_PK.format(c), f"{day:%Y-%m}")), f"d{day:%d}_")
                stored = found.get((DAY_PK.format(c), day.isoformat()))
                if stored is not None:
                    data = _plus(data, stored.data)
                if data:
                    recorded.append(_day(c, day.isoformat(), data))
            result[c] = recorded
        return result

    def latency(self, component_ids: Iterable[str], now: datetime) -> dict[str, list[float | None]]:
        """Mean latency per 5-minute slot over the last 24 hours (288 points, oldest first; None: no check)."""
        slots = self._slots(list(component_ids), now)
        return {c: [d["sum_ms"] / d["n"] if d is not None and d.get("n") else None for d in found]
                for c, found in slots.items()}

    def uptime(self, component_ids: Iterable[str], now: datetime) -> dict[str, dict[str, float | None]]:
        """Uptime (0..1, None: no checks) over the last 24 h, 7 d, 30 d and 90 d, Statuspage-weighted."""
        ids = list(component_ids)
        today = now.astimezone(timezone.utc).date()
        days = self.days(ids, today, count=90)
        slots = self._slots(ids, now)
        result = {}
        for component_id in ids:
            windows = {"24h": _summed(component_id, today, [d for d in slots[component_id] if d is not None])}
            for count in (7, 30, 90):
                first = today - timedelta(days=count - 1)
                recorded = [d.as_json(include=set(_COUNT_FIELD.values())) for d in days[component_id]
                            if d.day >= first]
                windows[f"{count}d"] = _summed(component_id, today, recorded)
            result[component_id] = windows
        return result

    def _slots(self, ids: list[str], now: datetime) -> dict[str, list[dict | None]]:
        """Each component's 288 slots of the last 24 hours, oldest first (None: no check in it)."""
        end = slot_start(now)
        slots = [end - SLOT * (SLOTS_PER_DAY - 1 - k) for k in range(SLOTS_PER_DAY)]
        hours = sorted({f"{slot:%Y-%m-%dT%H}" for slot in slots})
        older = [slot for slot in slots if self._older(slot)]
        found = self.table.get_keys([(SLOT_PK.format(c), hour) for c in ids for hour in hours]
                                    + [(SLOT_PK.format(c), f"{slot:%Y-%m-%dT%H:%M}") for c in ids for slot in older],
                                    consistent=False)
        result = {}
        for c in ids:
            series = []
            for slot in slots:
                data = _within(found.get((SLOT_PK.format(c), f"{slot:%Y-%m-%dT%H}")), f"m{slot:%M}_")
                stored = found.get((SLOT_PK.format(c), f"{slot:%Y-%m-%dT%H:%M}"))
                if stored is not None:
                    data = _plus(data, stored.data)
                series.append(data or None)
            result[c] = series
        return result

    def holds_former_layout(self, component_ids: Iterable[str], today: date) -> bool:
        """Whether a day of the last ``DAYS_KEPT`` is stored in the former layout (asked once, when the
        listings are made: 1,000 keys for 10 components)."""
        days = [(today - timedelta(days=back)).isoformat() for back in range(DAYS_KEPT)]
        return bool(self.table.get_keys([(DAY_PK.format(c), day) for c in component_ids for day in days],
                                        consistent=False))

    def _older(self, start: datetime) -> bool:
        return self.older_layout_until is not None and start < self.older_layout_until


def _within(item, prefix: str) -> dict:
    """The counters of one day or slot of a month or hour item, without their prefix."""
    if item is None:
        return {}
    return {key[len(prefix):]: value for key, value in item.data.items() if key.startswith(prefix)}


def _plus(first: dict, second: dict) -> dict:
    numbers = {k: v for k, v in second.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return {**first, **{k: first.get(k, 0) + v for k, v in numbers.items()}}


def _summed(component_id: str, day: date, counters: list[dict]) -> float | None:
    totals = {field: sum(int(c.get(field, 0)) for c in counters) for field in _COUNT_FIELD.values()}
    return DayHistory(component_id=component_id, day=day, **totals).uptime


def _day(component_id: str, day: str, data: dict) -> DayHistory:
    histogram = {int(key[3:]): value for key, value in data.items() if key.startswith("lat")}
    return DayHistory(
        component_id=component_id,
        day=date.fromisoformat(day),
        **{field: data.get(field, 0) for field in _COUNT_FIELD.values()},
        latency_p50_ms=percentile_ms(histogram, 0.5),
        latency_p95_ms=percentile_ms(histogram, 0.95),
    )
