"""Run every benchmark module of bench/ and print one table."""
from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path

from bench.table import format_rows


def main(selected: list[str]) -> int:
    rows = []
    here = Path(__file__).parent
    for module_info in sorted(pkgutil.iter_modules([str(here)]), key=lambda m: m.name):
        if not module_info.name.startswith("bench_"):
            continue
        if selected and module_info.name.removeprefix("bench_") not in selected:
            continue
        module = importlib.import_module(f"bench.{module_info.name}")
        started = time.perf_counter()
        rows += module.run()
        print(f"  {module_info.name}: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    print(format_rows(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
