"""Run every benchmark module of bench/ (or those named) and print one table."""
from __future__ import annotations

import contextlib
import importlib
import io
import os
import pkgutil
import sys
import time
from pathlib import Path

from bench.table import format_rows


def main(selected: list[str]) -> int:
    # Info logs of the code under test would interleave with the table.
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    rows = []
    here = Path(__file__).parent
    for module_info in sorted(pkgutil.iter_modules([str(here)]), key=lambda m: m.name):
        if not module_info.name.startswith("bench_"):
            continue
        if selected and module_info.name.removeprefix("bench_") not in selected:
            continue
        module = importlib.import_module(f"bench.{module_info.name}")
        saved = dict(os.environ)
        chatter = io.StringIO()
        started = time.perf_counter()
        try:
            # Servers under test log every request; keep that out of the table unless a bench fails.
            with contextlib.redirect_stderr(chatter):
                rows += module.run()
        except Exception:
            sys.stderr.write(chatter.getvalue()[-5000:])
            raise
        finally:
            os.environ.clear()
            os.environ.update(saved)
            _forget_cached_settings()
        print(f"  {module_info.name}: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    print(format_rows(rows))
    return 0


def _forget_cached_settings() -> None:
    from chalicelib import aws, config, settings

    settings.reset_settings()
    config.reset_site()
    aws.reset_clients()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
