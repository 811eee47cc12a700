"""``beacon probe-check``: run every probe of a site.yml once and print what each finds.

For trying probe declarations before they ship: no state is read or written, no
threshold applies, nobody is told. Heartbeats need the stack's store and are listed only.
"""
from __future__ import annotations

import argparse
import sys

from chalicelib.config import SiteConfigError, load_site
from chalicelib.model import ComponentStatus, utcnow
from chalicelib.probes.checks import ProbeContext
from chalicelib.probes.cycle import plan
from chalicelib.probes.overrides import OverridesError, load_overrides
from chalicelib.probes.runner import run_probes


def register(commands) -> None:
    command = commands.add_parser("probe-check", help="run every probe of site.yml once and print the results "
                                                       "(nothing is stored or sent)")
    command.add_argument("path", nargs="?", default="site.yml")
    command.add_argument("--overrides", metavar="FILE",
                         help="point the probes elsewhere, e.g. chalicelib/local/demo-targets.yml")
    command.add_argument("--component", metavar="ID", help="only this component's probes")
    command.set_defaults(run=_probe_check)


def _probe_check(args: argparse.Namespace) -> int:
    try:
        site = load_site(args.path)
        overrides = load_overrides(args.overrides)
    except (SiteConfigError, OverridesError) as exc:
        print(exc, file=sys.stderr)
        return 2
    planned, refused = plan(site, overrides)
    wanted = lambda key: args.component is None or key.split("/", 1)[0] == args.component  # noqa: E731
    heartbeats = [p for p in planned if p.spec.kind == "heartbeat" and wanted(p.key)]
    planned = [p for p in planned if p.spec.kind != "heartbeat" and wanted(p.key)]
    settings = overrides.settings(site.probe_settings) if overrides else site.probe_settings
    results = run_probes(planned, ProbeContext(settings, now=utcnow()),
                         deadline_seconds=settings.cycle_deadline_seconds, max_workers=settings.max_concurrency)
    results += [r for r in refused if wanted(r.key)]
    width = max((len(r.key) for r in results), default=10)
    for result in results:
        status = result.status.value if result.status else "no verdict"
        latency = f"{result.latency_ms:7.0f} ms" if result.latency_ms is not None else " " * 10
        print(f"{result.key:<{width}}  {status:<20}  {latency}  {result.error or result.target}")
    for probe in heartbeats:
        print(f"{probe.key:<{width}}  {'not checked here':<20}  {'':10}  heartbeat: POST /heartbeat/<token>")
    failing = [r for r in results if r.status not in (None, ComponentStatus.OPERATIONAL)]
    print(f"\n{len(results)} probe(s): {len(failing)} failing", file=sys.stderr)
    return 1 if failing else 0
