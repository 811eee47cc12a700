"""The ``beacon`` subcommands that talk to the API: keys, incident, notice, playbook, publish.

The API is ``--api`` or ``BEACON_API_URL``; the key ``--key`` or ``BEACON_API_KEY``. Each
command prints a readable table (or ``--json``) and exits 1 with the API's own error
message when it refuses. ``beacon keys create --direct`` writes a key's hash straight to
the table with the operator's AWS credentials: how a deployed stage gets its first admin
key, with no open endpoint.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import requests


class CliError(Exception):
    pass


def common_options() -> argparse.ArgumentParser:
    """The options every command that calls the API takes (a parent parser)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--api", default=os.environ.get("BEACON_API_URL"),
                        help="API base URL (default: $BEACON_API_URL)")
    common.add_argument("--key", default=os.environ.get("BEACON_API_KEY"), help="API key (default: $BEACON_API_KEY)")
    common.add_argument("--json", action="store_true", help="print the API's JSON instead of a table")
    return common


def add_direct_options(command, what: str) -> None:
    """``--direct`` with ``--stage``/``--table``: write to the stage's table with the operator's AWS credentials."""
    command.add_argument("--direct", action="store_true", help=f"write {what} to the table with your AWS credentials")
    command.add_argument("--stage", help="with --direct: the deployed stage; its table is found in stack beacon-STAGE")
    command.add_argument("--table", default=os.environ.get("TABLE_NAME"),
                         help="with --direct: the stage's DynamoDB table (default: $TABLE_NAME)")


def register(commands) -> None:
    common = common_options()

    keys = commands.add_parser("keys", help="API keys (admin)").add_subparsers(dest="action", required=True)
    create = keys.add_parser("create", parents=[common], help="create a key; its secret is shown once")
    create.add_argument("name", nargs="?", help="who or what uses the key, e.g. ana-phone")
    create.add_argument("--name", dest="name_option", metavar="NAME", help="the same as the positional name")
    create.add_argument("--scope", choices=["marketer", "admin"], default="marketer")
    add_direct_options(create, "the key (the first admin key of a stage)")
    create.set_defaults(run=_cmd(_keys_create))
    keys.add_parser("list", parents=[common], help="list keys").set_defaults(run=_cmd(_keys_list))
    revoke = keys.add_parser("revoke", parents=[common], help="revoke a key by its id")
    revoke.add_argument("key_id")
    revoke.set_defaults(run=_cmd(_keys_revoke))

    incident = commands.add_parser("incident", help="open, update, resolve incidents").add_subparsers(
        dest="action", required=True)
    opened = incident.add_parser("open", parents=[common], help="open an incident")
    opened.add_argument("name")
    opened.add_argument("--body", required=True)
    opened.add_argument("--impact", choices=["none", "minor", "major", "critical"], default="minor")
    opened.add_argument("--status", choices=["investigating", "identified", "monitoring"], default="investigating")
    opened.add_argument("--component", action="append", default=[], metavar="ID=STATUS",
                        help="an affected component and the status it takes, e.g. facebook=major_outage")
    opened.add_argument("--notify", action="store_true", help="tell subscribers")
    opened.set_defaults(run=_cmd(_incident_open))
    update = incident.add_parser("update", parents=[common], help="post an update")
    update.add_argument("incident_id")
    update.add_argument("--status", required=True, choices=["investigating", "identified", "monitoring", "resolved"])
    update.add_argument("--body", required=True)
    update.add_argument("--component", action="append", default=[], metavar="ID=STATUS")
    update.add_argument("--notify", action="store_true")
    update.add_argument("--version", type=int, help="the version you read; a stale one is refused")
    update.set_defaults(run=_cmd(_incident_update))
    resolve = incident.add_parser("resolve", parents=[common], help="resolve an incident")
    resolve.add_argument("incident_id")
    resolve.add_argument("--body", default="This incident has been resolved.")
    resolve.add_argument("--notify", action="store_true")
    resolve.add_argument("--version", type=int)
    resolve.set_defaults(run=_cmd(_incident_resolve))
    incident.add_parser("list", parents=[common], help="list open incidents").set_defaults(run=_cmd(_incident_list))
    edit = incident.add_parser("edit", parents=[common], help="correct an incident's name")
    edit.add_argument("incident_id")
    edit.add_argument("--name", required=True)
    edit.add_argument("--version", type=int, help="the version you read; a stale one is refused")
    edit.set_defaults(run=_cmd(_incident_edit))

    notice = commands.add_parser("notice", help="post notices").add_subparsers(dest="action", required=True)
    post = notice.add_parser("post", parents=[common], help="post a notice")
    post.add_argument("title")
    post.add_argument("--body", default="")
    post.add_argument("--starts-at", help="ISO-8601 with zone, e.g. 2026-05-01T09:00:00Z")
    post.add_argument("--ends-at", help="ISO-8601 with zone")
    post.add_argument("--notify", action="store_true")
    post.set_defaults(run=_cmd(_notice_post))
    retitle = notice.add_parser("edit", parents=[common], help="correct a notice's title or text")
    retitle.add_argument("notice_id")
    retitle.add_argument("--title")
    retitle.add_argument("--body")
    retitle.add_argument("--version", type=int, help="the version you read; a stale one is refused")
    retitle.set_defaults(run=_cmd(_notice_edit))

    playbook = commands.add_parser("playbook", help="trigger and resolve playbooks").add_subparsers(
        dest="action", required=True)
    trigger = playbook.add_parser("trigger", parents=[common], help="open (or update) the playbook's incident")
    trigger.add_argument("playbook_id")
    trigger.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help="e.g. eta=15:00")
    trigger.set_defaults(run=_cmd(_playbook_trigger))
    done = playbook.add_parser("resolve", parents=[common], help="resolve the playbook's open incident")
    done.add_argument("playbook_id")
    done.set_defaults(run=_cmd(_playbook_resolve))
    playbook.add_parser("list", parents=[common], help="list playbooks").set_defaults(run=_cmd(_playbook_list))

    maintenance = commands.add_parser("maintenance", help="schedule and cancel maintenance").add_subparsers(
        dest="action", required=True)
    schedule = maintenance.add_parser("schedule", parents=[common],
                                      help="schedule a window; it starts and completes by itself")
    schedule.add_argument("name")
    schedule.add_argument("--from", dest="scheduled_for", required=True, metavar="WHEN",
                          help="ISO-8601 with zone, e.g. 2026-05-01T22:00:00Z")
    schedule.add_argument("--until", dest="scheduled_until", required=True, metavar="WHEN")
    schedule.add_argument("--component", action="append", required=True, metavar="ID")
    schedule.add_argument("--body", default="")
    schedule.add_argument("--notify", action="store_true", help="tell subscribers now, at the start and at the end")
    schedule.set_defaults(run=_cmd(_maintenance_schedule))
    cancel = maintenance.add_parser("cancel", parents=[common], help="cancel a maintenance")
    cancel.add_argument("maintenance_id")
    cancel.add_argument("--notify", action="store_true")
    cancel.set_defaults(run=_cmd(_maintenance_cancel))
    rename = maintenance.add_parser("edit", parents=[common], help="correct a maintenance's name")
    rename.add_argument("maintenance_id")
    rename.add_argument("--name", required=True)
    rename.add_argument("--version", type=int, help="the version you read; a stale one is refused")
    rename.set_defaults(run=_cmd(_maintenance_edit))
    maintenance.add_parser("list", parents=[common], help="list open maintenance").set_defaults(
        run=_cmd(_maintenance_list))

    component = commands.add_parser("component", help="component statuses").add_subparsers(
        dest="action", required=True)
    component.add_parser("list", parents=[common], help="statuses and their sources").set_defaults(
        run=_cmd(_component_list))
    manual = component.add_parser("set", parents=[common], help="set a manual status (wins over probes)")
    manual.add_argument("component_id")
    manual.add_argument("status", choices=["operational", "degraded_performance", "partial_outage", "major_outage",
                                           "under_maintenance"])
    manual.add_argument("--until", help="when it expires, ISO-8601 with zone")
    manual.set_defaults(run=_cmd(_component_set))
    clear = component.add_parser("clear", parents=[common], help="clear the manual status")
    clear.add_argument("component_id")
    clear.set_defaults(run=_cmd(_component_clear))

    publish = commands.add_parser("publish", parents=[common], help="render and publish the page now")
    publish.set_defaults(run=_cmd(_publish))


def _cmd(handler):
    def run(args) -> int:
        try:
            handler(args)
        except CliError as exc:
            print(f"beacon: {exc}", file=sys.stderr)
            return 1
        return 0

    return run


# -- calls --------------------------------------------------------------------------------------


def _call(args, method: str, path: str, body: dict | None = None) -> Any:
    if not args.api:
        raise CliError("no API URL; pass --api or set BEACON_API_URL (make run prints it)")
    if not args.key:
        raise CliError("no API key; pass --key or set BEACON_API_KEY")
    try:
        response = requests.request(method, args.api.rstrip("/") + path, json=body, timeout=30,
                                    headers={"Authorization": f"Bearer {args.key}"})
    except requests.RequestException as exc:
        raise CliError(f"cannot reach the API at {args.api}: {exc}") from None
    try:
        data = response.json() if response.content else None
    except ValueError:
        data = None
    if response.status_code >= 400:
        if isinstance(data, dict) and "message" in data:
            raise CliError(f"{response.status_code} {data.get('error', '')}: {data['message']}".replace(" :", ":"))
        raise CliError(f"{response.status_code}: {response.text[:500]}")
    return data


def _pairs(values: list[str], what: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name:
            raise CliError(f"{what} {value!r}: write it as NAME=VALUE")
        pairs[name] = rest
    return pairs


def _with_version(body: dict, version: int | None) -> dict:
    return {**body, "version": version} if version is not None else body


def _keys_create(args) -> None:
    args.name = args.name or args.name_option
    if not args.name:
        raise CliError("name the key: beacon keys create NAME (e.g. ana-phone)")
    if args.direct:
        secret, key = _create_directly(args)
        data = {**key.as_json(), "secret": secret}
    else:
        data = _call(args, "POST", "/keys", {"name": args.name, "scope": args.scope})
    if args.json:
        print(json.dumps(data, indent=2))
        return
    _table([data], ["id", "name", "scope", "created_at"])
    print(f"\nsecret (shown only now; store it in a password manager):\n  {data['secret']}")
    page_url = _page_url(args)
    if page_url:
        print(f"\nsign-in link for the marketer console (holds the key: share it as you would the key):\n"
              f"  {console_sign_in_link(page_url, data['secret'])}")


def console_sign_in_link(page_url: str, key: str) -> str:
    """The console at ``page_url``/admin/ with ``key`` in the fragment, which never reaches a server:
    the console reads it once, keeps it in the tab's sessionStorage and removes it from the address."""
    from urllib.parse import quote

    return f"{page_url.rstrip('/')}/admin/#key={quote(key, safe='')}"


def _page_url(args) -> str | None:
    """The page's address: the API's ``GET /page``, or the site file when writing the table directly."""
    if args.direct:
        from chalicelib.config import SiteConfigError, get_site

        try:
            return get_site().brand.page_url
        except SiteConfigError:  # the link is a convenience: the key was made, and the file's fault is told elsewhere
            return None
    try:
        return _call(args, "GET", "/page")["url"]
    except CliError:
        return None


def direct_table(args):
    """The stage's table (``--stage`` or ``--table``), written with the operator's AWS credentials."""
    import boto3

    from chalicelib.store import Table

    if args.stage and not args.table:
        try:
            args.table = boto3.client("cloudformation").describe_stack_resource(
                StackName=f"beacon-{args.stage}", LogicalResourceId="StateTable"
            )["StackResourceDetail"]["PhysicalResourceId"]
        except Exception as exc:
            raise CliError(f"cannot find the table of stack beacon-{args.stage}: {exc}; pass --table") from None
    if not args.table:
        raise CliError("--direct needs the stage: pass --stage STAGE (stack beacon-STAGE) or --table NAME")
    try:
        return Table(boto3.resource("dynamodb").Table(args.table))
    except Exception as exc:  # botocore's errors name the region or the missing credentials
        raise CliError(f"cannot reach table {args.table!r}: {exc}") from None


def direct_actor() -> str:
    return f"direct:{os.environ.get('USER', '?')}"


def _create_directly(args):
    from chalicelib.api.auth import audit, create_key
    from chalicelib.model import utcnow

    table = direct_table(args)
    try:
        actor = direct_actor()
        secret, key = create_key(table, name=args.name, scope=args.scope, created_by=actor, now=utcnow())
        audit(table, actor, "key.create", f"key/{key.id}", f"{key.name!r} scope {key.scope}, written directly")
        return secret, key
    except ValueError as exc:
        raise CliError(str(exc)) from None
    except Exception as exc:  # botocore's errors name the table, the region or the missing credentials
        raise CliError(f"cannot write to table {args.table!r}: {exc}") from None


def _keys_list(args) -> None:
    _show(args, _call(args, "GET", "/keys")["data"], ["id", "name", "scope", "created_at", "revoked_at"])


def _keys_revoke(args) -> None:
    _show(args, [_call(args, "DELETE", f"/keys/{args.key_id}")], ["id", "name", "scope", "revoked_at"])


def _incident_open(args) -> None:
    body = {"name": args.name, "body": args.body, "impact": args.impact, "status": args.status,
            "components": _pairs(args.component, "--component"), "notify": args.notify}
    _show_incident(args, _call(args, "POST", "/incidents", body))


def _incident_update(args) -> None:
    body = _with_version({"status": args.status, "body": args.body,
                          "components": _pairs(args.component, "--component"), "notify": args.notify}, args.version)
    _show_incident(args, _call(args, "POST", f"/incidents/{args.incident_id}/updates", body))


def _incident_resolve(args) -> None:
    body = _with_version({"body": args.body, "notify": args.notify}, args.version)
    _show_incident(args, _call(args, "POST", f"/incidents/{args.incident_id}/resolve", body))


def _incident_list(args) -> None:
    data = _call(args, "GET", "/incidents?status=open")["data"]
    _show(args, data, ["id", "name", "status", "impact", "started_at", "version"])


def _incident_edit(args) -> None:
    body = _with_version({"name": args.name}, args.version)
    _show_incident(args, _call(args, "PATCH", f"/incidents/{args.incident_id}", body))


def _notice_post(args) -> None:
    body = {"title": args.title, "body": args.body, "notify": args.notify}
    if args.starts_at:
        body["starts_at"] = args.starts_at
    if args.ends_at:
        body["ends_at"] = args.ends_at
    _show(args, [_call(args, "POST", "/notices", body)], ["id", "title", "active", "starts_at", "ends_at"])


def _notice_edit(args) -> None:
    given = {field: value for field, value in (("title", args.title), ("body", args.body)) if value is not None}
    if not given:
        raise CliError("notice edit: give --title, --body or both")
    data = _call(args, "PATCH", f"/notices/{args.notice_id}", _with_version(given, args.version))
    _show(args, [data], ["id", "title", "active", "starts_at", "ends_at", "version"])


def _playbook_trigger(args) -> None:
    body = {"variables": _pairs(args.var, "--var")}
    _show_incident(args, _call(args, "POST", f"/playbooks/{args.playbook_id}/trigger", body))


def _playbook_resolve(args) -> None:
    data = _call(args, "POST", f"/playbooks/{args.playbook_id}/resolve", {})
    if args.json:
        print(json.dumps(data, indent=2))
    elif data["incident"] is None:
        print(f"playbook {args.playbook_id} has no open incident; nothing to resolve")
    else:
        _show_incident(args, data["incident"])


def _playbook_list(args) -> None:
    _show(args, _call(args, "GET", "/playbooks")["data"], ["id", "impact", "open_incident_id", "name"])


_MAINTENANCE_COLUMNS = ["id", "name", "status", "scheduled_for", "scheduled_until", "version"]
_COMPONENT_COLUMNS = ["id", "status", "source", "manual_until", "cause"]


def _maintenance_schedule(args) -> None:
    body = {"name": args.name, "body": args.body, "scheduled_for": args.scheduled_for,
            "scheduled_until": args.scheduled_until, "components": args.component, "notify": args.notify}
    _show(args, [_call(args, "POST", "/maintenance", body)], _MAINTENANCE_COLUMNS)


def _maintenance_cancel(args) -> None:
    data = _call(args, "POST", f"/maintenance/{args.maintenance_id}/cancel", {"notify": args.notify})
    _show(args, [data], _MAINTENANCE_COLUMNS)


def _maintenance_edit(args) -> None:
    body = _with_version({"name": args.name}, args.version)
    _show(args, [_call(args, "PATCH", f"/maintenance/{args.maintenance_id}", body)], _MAINTENANCE_COLUMNS)


def _maintenance_list(args) -> None:
    _show(args, _call(args, "GET", "/maintenance?status=open")["data"], _MAINTENANCE_COLUMNS)


def _component_list(args) -> None:
    _show(args, _call(args, "GET", "/components")["data"], _COMPONENT_COLUMNS)


def _component_set(args) -> None:
    body = {"status": args.status, **({"until": args.until} if args.until else {})}
    _show(args, [_call(args, "PUT", f"/components/{args.component_id}/status", body)], _COMPONENT_COLUMNS)


def _component_clear(args) -> None:
    _show(args, [_call(args, "DELETE", f"/components/{args.component_id}/status")], _COMPONENT_COLUMNS)


def _publish(args) -> None:
    data = _call(args, "POST", "/publish")
    _show(args, [data], ["uploaded", "unchanged"])
    if not args.json:
        for withheld in data.get("withheld", []):
            print(f"withheld {withheld['key']} (its last good copy stays live): {'; '.join(withheld['problems'])}",
                  file=sys.stderr)


# -- output -------------------------------------------------------------------------------------


def _show_incident(args, incident: dict) -> None:
    if args.json:
        print(json.dumps(incident, indent=2))
        return
    _table([incident], ["id", "name", "status", "impact", "version"])
    components = incident.get("components") or {}
    if components:
        print()
        _table([{"component": c, "status": s} for c, s in components.items()], ["component", "status"])
    updates = incident.get("incident_updates") or []
    if updates:
        print()
        _table([{"at": u["created_at"][:19].replace("T", " ") + " UTC", "status": u["status"], "body": _short(u["body"])} for u in updates],
               ["at", "status", "body"])


def _show(args, rows: list[dict], columns: list[str]) -> None:
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print("(none)")
    else:
        _table(rows, columns)


def _short(text: str, width: int = 70) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(rows: list[dict], columns: list[str]) -> None:
    cells = [[_short("" if row.get(c) is None else row.get(c), 70) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
