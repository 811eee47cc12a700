"""``beacon probe-check`` and ``beacon heartbeats``.

``probe-check`` runs every probe of a site.yml once and prints what each finds, for trying
probe declarations before they ship: no state is read or written, no threshold applies,
nobody is told. Heartbeats need the stack's store and are listed only.

``heartbeats list|create|rotate`` manage the secrets heartbeat probes are called with,
through the API (an admin key) or, with ``--direct``, straight in a stage's table with the
operator's AWS credentials (checked against the local site.yml). The secret and the job's
URL are printed once.
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
                         help="point the probes elsewhere, e.g. tools/local/demo-targets.yml")
    command.add_argument("--component", metavar="ID", help="only this component's probes")
    command.set_defaults(run=_probe_check)
    _register_heartbeats(commands)


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
        print(f"{probe.key:<{width}}  {'not checked here':<20}  {'':10}  heartbeat: POST /heartbeat/<secret>")
    failing = [r for r in results if r.status not in (None, ComponentStatus.OPERATIONAL)]
    print(f"\n{len(results)} probe(s): {len(failing)} failing", file=sys.stderr)
    return 1 if failing else 0


# -- beacon heartbeats ----------------------------------------------------------------------------

def _register_heartbeats(commands) -> None:
    from tools.cli.api import _cmd, add_direct_options, common_options

    common = common_options()
    heartbeats = commands.add_parser("heartbeats", help="heartbeat probes' secrets (admin)").add_subparsers(
        dest="action", required=True)
    listed = heartbeats.add_parser("list", parents=[common], help="heartbeat probes: secret made or not, last call")
    listed.set_defaults(run=_cmd(_heartbeats_list))
    for action, text in (("create", "make a heartbeat probe's secret; it and the job's URL are shown once"),
                         ("rotate", "replace a heartbeat probe's secret; the old one works for the overlap")):
        command = heartbeats.add_parser(action, parents=[common], help=text)
        command.add_argument("probe", metavar="COMPONENT/PROBE", help="e.g. hootsuite/heartbeat")
        if action == "rotate":
            command.add_argument("--overlap-minutes", type=int, default=60, metavar="N",
                                 help="how long the old secret keeps working (default 60; 0 ends it now)")
        add_direct_options(command, "the secret's hash")
        command.add_argument("--site", default="site.yml", help="with --direct: the site.yml naming the probe")
        command.set_defaults(run=_cmd(_heartbeat_secret), rotate=action == "rotate")


def _heartbeats_list(args) -> None:
    from tools.cli.api import _call, _show

    _show(args, _call(args, "GET", "/heartbeats")["data"],
          ["probe", "has_secret", "secret_created_at", "previous_secret_until", "last_seen", "failed_runs"])


def _heartbeat_secret(args) -> None:
    import json

    from tools.cli.api import CliError, _call, _table

    component_id, slash, probe_id = args.probe.partition("/")
    if not slash or not component_id or not probe_id:
        raise CliError(f"{args.probe!r}: name the probe as COMPONENT/PROBE, e.g. hootsuite/heartbeat")
    overlap = getattr(args, "overlap_minutes", None)
    if overlap is not None and overlap < 0:
        raise CliError("--overlap-minutes: give 0 or more minutes")
    if args.direct:
        data = _secret_directly(args, overlap)
    elif args.rotate:
        data = _call(args, "POST", f"/heartbeats/{component_id}/{probe_id}/rotate", {"overlap_minutes": overlap})
    else:
        data = _call(args, "POST", f"/heartbeats/{component_id}/{probe_id}/secret")
    if args.json:
        print(json.dumps(data, indent=2))
        return
    _table([data], ["probe", "created_at", "previous_secret_until"])
    print(f"\nthe job's URL (shown only now; POST after each run, append /fail when a run failed):\n  {data['url']}")


def _secret_directly(args, overlap_minutes: int | None) -> dict:
    from datetime import timedelta

    from chalicelib.api.auth import audit
    from tools.cli.api import CliError, direct_actor, direct_table
    from chalicelib.model import isoformat
    from chalicelib.probes.heartbeats import DEFAULT_OVERLAP, create_secret
    from chalicelib.store.probes import ProbeStore

    try:
        site = load_site(args.site)
    except SiteConfigError as exc:
        raise CliError(str(exc)) from None
    table = direct_table(args)
    actor = direct_actor()
    overlap = DEFAULT_OVERLAP if overlap_minutes is None else timedelta(minutes=overlap_minutes)
    try:
        secret, record = create_secret(ProbeStore(table), site, args.probe, now=utcnow(), created_by=actor,
                                       rotate=args.rotate, overlap=overlap)
        action = "rotate" if args.rotate else "create"
        audit(table, actor, f"heartbeat_secret.{action}", f"heartbeat/{args.probe}", f"secret {action}d directly")
    except (KeyError, ValueError) as exc:
        raise CliError(str(exc)) from None
    except Exception as exc:  # botocore's errors name the table, the region or the missing credentials
        raise CliError(f"cannot write to table {args.table!r}: {exc}") from None
    api_url = (args.api or "{API_URL}").rstrip("/")
    return {"probe": args.probe, "secret": secret, "url": f"{api_url}/heartbeat/{secret}",
            "created_at": isoformat(record.created_at), "previous_secret_until": isoformat(record.previous_until)}
