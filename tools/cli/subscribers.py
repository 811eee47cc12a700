"""``beacon subscribers import|export``: move subscriber lists in and out through the admin API;
``beacon channels add|list|enable``: webhook, Slack, Teams, Discord and Telegram subscribers.

Import reads a CSV (columns ``email`` and/or ``phone``, optionally ``components`` separated
by spaces), checks its header locally, and posts it in chunks with a progress bar. Every
imported row counts as consented already (no confirmation is sent): import only people
who agreed to status updates elsewhere. Refused rows are listed with their line numbers.
"""
from __future__ import annotations

import argparse
import os
import sys

import requests

CHUNK = 500


def register(commands) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--api", default=os.environ.get("BEACON_API_URL"),
                        help="API base URL (default: $BEACON_API_URL)")
    common.add_argument("--key", default=os.environ.get("BEACON_API_KEY"),
                        help="an admin API key (default: $BEACON_API_KEY)")
    subscribers = commands.add_parser("subscribers", help="import or export subscribers (admin)").add_subparsers(
        dest="action", required=True)
    imported = subscribers.add_parser("import", parents=[common],
                                      help="import a CSV of people who consented elsewhere (no confirmation sent)")
    imported.add_argument("file", help="CSV with a header: email and/or phone, optionally components")
    imported.set_defaults(run=_import)
    exported = subscribers.add_parser("export", parents=[common], help="write every subscriber as CSV")
    exported.add_argument("-o", "--output", help="file to write (default: standard output)")
    exported.set_defaults(run=_export)
    _register_channels(commands, common)


def _refused(response: requests.Response, what: str) -> int:
    try:
        message = response.json().get("message", response.text)
    except ValueError:
        message = response.text
    print(f"beacon: the API refused {what}: {message}", file=sys.stderr)
    return 1


def _session(args) -> tuple[requests.Session, str]:
    if not args.api:
        raise SystemExit("beacon: no API URL; pass --api or set BEACON_API_URL (locally http://127.0.0.1:8000)")
    if not args.key:
        raise SystemExit("beacon: no API key; pass --key or set BEACON_API_KEY to an admin key")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {args.key}"
    return session, args.api.rstrip("/")


def _import(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from chalicelib.notify.transfer import read_import_csv

    try:
        with open(args.file, encoding="utf-8-sig", newline="") as handle:
            rows, problems = read_import_csv(handle.read())
    except (OSError, ValueError) as exc:
        print(f"beacon: {args.file}: {exc}", file=sys.stderr)
        return 1
    session, api = _session(args)
    imported = existing = 0
    with tqdm(total=len(rows), unit="row", desc="importing") as progress:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start:start + CHUNK]
            body = {"rows": [{k: v for k, v in row.items() if k != "line" and v} for row in chunk],
                    "first_line": chunk[0]["line"]}
            response = session.post(f"{api}/subscribers/import", json=body, timeout=60)
            if response.status_code != 200:
                progress.close()
                print(f"beacon: the API refused the import at line {chunk[0]['line']}: "
                      f"{response.json().get('message', response.text)}", file=sys.stderr)
                return 1
            answer = response.json()
            imported += answer["imported"]
            existing += answer["existing"]
            lines = [row["line"] for row in chunk]
            problems += [(lines[p["line"] - chunk[0]["line"]] if 0 <= p["line"] - chunk[0]["line"] < len(lines)
                          else p["line"], p["problem"]) for p in answer["problems"]]
            progress.update(len(chunk))
    print(f"{imported} imported, {existing} already subscribed, {len(problems)} refused")
    for line, problem in sorted(problems):
        print(f"  {args.file}:{line}: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _export(args: argparse.Namespace) -> int:
    session, api = _session(args)
    response = session.get(f"{api}/subscribers/export", timeout=120)
    if response.status_code != 200:
        return _refused(response, "the export")
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as handle:
            handle.write(response.text)
        print(f"{max(0, response.text.count(chr(10)) - 1)} subscriber(s) written to {args.output}")
    else:
        sys.stdout.write(response.text)
    return 0


# -- beacon channels ----------------------------------------------------------------------
CHANNEL_KINDS = ("webhook", "slack", "teams", "discord", "telegram")


def _register_channels(commands, common: argparse.ArgumentParser) -> None:
    channels = commands.add_parser("channels", help="webhook and chat subscribers (admin)").add_subparsers(
        dest="action", required=True)
    added = channels.add_parser("add", parents=[common], help="add a webhook, Slack, Teams, Discord or Telegram "
                                                               "subscriber; secrets are not shown again")
    added.add_argument("kind", choices=CHANNEL_KINDS)
    added.add_argument("--label", required=True, help="what to call it in listings")
    added.add_argument("--url", help="the incoming webhook URL (webhook, slack, teams, discord)")
    added.add_argument("--chat-id", help="telegram: the chat id or @channelname")
    added.add_argument("--bot-token", default=os.environ.get("BEACON_TELEGRAM_BOT_TOKEN"),
                       help="telegram: the bot token (default: $BEACON_TELEGRAM_BOT_TOKEN)")
    added.add_argument("--components", nargs="*", default=[], help="component ids (default: every component)")
    added.set_defaults(run=_add_channel)
    listed = channels.add_parser("list", parents=[common], help="list webhook and chat subscribers")
    listed.set_defaults(run=_list_channels)
    enabled = channels.add_parser("enable", parents=[common], help="re-enable one disabled after failures")
    enabled.add_argument("kind", choices=CHANNEL_KINDS)
    enabled.add_argument("subscriber_id")
    enabled.set_defaults(run=_enable_channel)


def _add_channel(args: argparse.Namespace) -> int:
    session, api = _session(args)
    body = {"label": args.label, "components": args.components}
    body.update({k: v for k, v in (("url", args.url), ("chat_id", args.chat_id), ("bot_token", args.bot_token)) if v})
    response = session.post(f"{api}/channels/{args.kind}", json=body, timeout=30)
    if response.status_code != 201:
        return _refused(response, "it")
    added = response.json()
    print(f"{added['channel']} {added['id']} added for {added['destination']} ({added['label']})")
    if added.get("secret"):
        print(f"signing secret (shown once): {added['secret']}")
    return 0


def _list_channels(args: argparse.Namespace) -> int:
    session, api = _session(args)
    response = session.get(f"{api}/channels", timeout=30)
    if response.status_code != 200:
        return _refused(response, "the listing")
    for added in response.json()["data"]:
        problem = f"  last error: {added['last_error']}" if added.get("last_error") else ""
        print(f"{added['channel']:9} {added['id']}  {added['status']:9} {added['label'] or ''}  "
              f"{added['destination']}{problem}")
    return 0


def _enable_channel(args: argparse.Namespace) -> int:
    session, api = _session(args)
    response = session.post(f"{api}/channels/{args.kind}/{args.subscriber_id}/enable", timeout=30)
    if response.status_code != 200:
        return _refused(response, "it")
    print(f"{args.kind} {args.subscriber_id} enabled")
    return 0
