"""The ``beacon`` command for operators and marketers.

Subcommands are registered by the modules that own them, each with ``register(subparsers)``.
"""
from __future__ import annotations

import argparse
import sys

from chalicelib.config import SiteConfigError, load_site, missing_translations


def _check_site(args: argparse.Namespace) -> int:
    try:
        site = load_site(args.path)
    except SiteConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{args.path}: valid ({len(site.components)} components in {len(site.groups)} groups, "
          f"languages {', '.join(site.languages)})")
    # Untranslated texts show the default language's: worth a warning, never a refusal.
    for language, paths in missing_translations(site).items():
        if paths:
            texts = "1 text has" if len(paths) == 1 else f"{len(paths)} texts have"
            print(f"warning: {language}: {texts} no translation into {language!r}, readers see the "
                  f"{site.default_language!r} text:", file=sys.stderr)
            print("\n".join(f"  - {path}" for path in paths), file=sys.stderr)
    return 0


def _outbox(args: argparse.Namespace) -> int:
    from tools.local.outbox import main

    return main()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="beacon", description="Operate a Beacon status page.")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check-site", help="validate site.yml without applying it")
    check.add_argument("path", nargs="?", default="site.yml")
    check.set_defaults(run=_check_site)
    outbox = commands.add_parser("outbox", help="print the local stack's outbox (email, SMS, chat and webhook messages)")
    outbox.set_defaults(run=_outbox)
    from tools.cli import api, probes, subscribers

    api.register(commands)
    probes.register(commands)
    subscribers.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
