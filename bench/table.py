"""The one table every benchmark prints into: bench, figure, unit, baseline, ratio."""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    bench: str
    figure: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.figure / self.baseline


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def format_rows(rows: Sequence[Row]) -> str:
    header = ("bench", "figure", "unit", "baseline", "ratio")
    body = [
        (
            r.bench,
            _fmt(r.figure),
            r.unit,
            f"{_fmt(r.baseline)} ({r.baseline_name})" if r.baseline is not None else "-",
            f"{r.ratio:.2f}x" if r.ratio is not None else "-",
        )
        for r in rows
    ]
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(5)]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)) for line in [header, *body]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def median_seconds_in_subprocess(code: str, runs: int = 7, cwd: str | None = None,
                                 env: dict[str, str] | None = None, flags: Sequence[str] = ()) -> float:
    """Median of what ``code`` prints (a duration in seconds), each run in a fresh interpreter
    (``env``: its environment, None: this one's; ``flags``: the interpreter's options, e.g. ``-S``)."""
    return medians_side_by_side([(code, env)], rounds=runs, cwd=cwd, flags=flags)[0]


def medians_side_by_side(runs: Sequence[tuple[str, dict[str, str] | None]], rounds: int = 11, cwd: str | None = None,
                         flags: Sequence[str] = ()) -> list[float]:
    """Per ``(code, env)`` the median of what it prints, as ``median_seconds_in_subprocess``, with the
    runs taken in turn (a, b, a, b, ...) so a machine that speeds up or slows down during the bench
    moves every figure alike and their ratios stay true."""
    return [statistics.median(times) for times in timings_side_by_side(runs, rounds, cwd, flags)]


def timings_side_by_side(runs: Sequence[tuple[str, dict[str, str] | None]], rounds: int = 11,
                         cwd: str | None = None, flags: Sequence[str] = ()) -> list[list[float]]:
    """Per ``(code, env)`` what it printed in each of ``rounds`` fresh interpreters, taken in turn."""
    results: list[list[float]] = [[] for _ in runs]
    for _ in range(rounds):
        for times, (code, env) in zip(results, runs):
            out = subprocess.run([sys.executable, *flags, "-c", code], capture_output=True, text=True, check=True,
                                 cwd=cwd, env=env)
            times.append(float(out.stdout.strip().splitlines()[-1]))
    return results


def median_ms(action: Callable[[], object], runs: int = 3) -> float:
    """Median wall time of ``action`` over ``runs`` calls, in milliseconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)
