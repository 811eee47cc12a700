"""Uptime and latency history, aggregated in place: storage grows per day, not per check.

Each check adds to two counter items with ``Table.add`` (no read first, any number of
writers): the component's day (status counts and a latency histogram; kept 100 days)
and its 5-minute slot (status counts, latency sum and count; kept 25 hours). Percentiles
come from the histogram's bucket bounds, so they are exact to the bucket. Uptime over
24 hours is summed from the slots, over 7, 30 and 90 days from the days.
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
    def __init__(self, table: Table):
        self.table = table

    def record(self, component_id: str, at: datetime, status: ComponentStatus, latency_ms: float | None) -> None:
        day = at.astimezone(timezone.utc).date()
        counts = {_COUNT_FIELD[status]: 1}
        if latency_ms is not None:
            counts[f"lat{bucket_of(latency_ms)}"] = 1
        day_end = datetime.combine(day, datetime.min.time(), timezone.utc) + timedelta(days=DAYS_KEPT)
        self.table.add(DAY_PK.format(component_id), day.isoformat(), counts, expires_at=int(day_end.timestamp()))
        slot = slot_start(at)
        slot_counts = {_COUNT_FIELD[status]: 1}
        if latency_ms is not None:
            # Whole milliseconds, at least 1: adding 0 changes nothing, and the emulator then omits the
            # counter from the update's answer.
            slot_counts.update({"sum_ms": max(1, round(latency_ms)), "n": 1})
        self.table.add(SLOT_PK.format(component_id), slot.strftime("%Y-%m-%dT%H:%M"), slot_counts,
                       expires_at=int((slot + timedelta(hours=SLOT_HOURS_KEPT)).timestamp()))

    def days(self, component_ids: Iterable[str], last_day: date, count: int = 90) -> dict[str, list[DayHistory]]:
        """Each component's recorded days among the ``count`` days ending ``last_day``, oldest first."""
        first = (last_day - timedelta(days=count - 1)).isoformat()
        result = {}
        for component_id in component_ids:
            items = self.table.query(DAY_PK.format(component_id)).items
            result[component_id] = [_day(component_id, i.sk, i.data) for i in items if first <= i.sk <= last_day.isoformat()]
        return result

    def latency(self, component_ids: Iterable[str], now: datetime) -> dict[str, list[float | None]]:
        """Mean latency per 5-minute slot over the last 24 hours (288 points, oldest first; None: no check)."""
        end = slot_start(now)
        start = end - SLOT * (SLOTS_PER_DAY - 1)
        result = {}
        for component_id in component_ids:
            means = {
                i.sk: i.data["sum_ms"] / i.data["n"]
                for i in self.table.query(SLOT_PK.format(component_id)).items
                if i.data.get("n")
            }
            result[component_id] = [
                means.get((start + SLOT * k).strftime("%Y-%m-%dT%H:%M")) for k in range(SLOTS_PER_DAY)
            ]
        return result


    def uptime(self, component_ids: Iterable[str], now: datetime) -> dict[str, dict[str, float | None]]:
        """Uptime (0..1, None: no checks) over the last 24 h, 7 d, 30 d and 90 d, Statuspage-weighted."""
        ids = list(component_ids)
        today = now.astimezone(timezone.utc).date()
        days = self.days(ids, today, count=90)
        first_slot = (slot_start(now) - SLOT * (SLOTS_PER_DAY - 1)).strftime("%Y-%m-%dT%H:%M")
        result = {}
        for component_id in ids:
            slots = [i.data for i in self.table.query(SLOT_PK.format(component_id)).items if i.sk >= first_slot]
            windows = {"24h": _summed(component_id, today, slots)}
            for count in (7, 30, 90):
                first = today - timedelta(days=count - 1)
                recorded = [d.model_dump(include=set(_COUNT_FIELD.values())) for d in days[component_id]
                            if d.day >= first]
                windows[f"{count}d"] = _summed(component_id, today, recorded)
            result[component_id] = windows
        return result


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
