"""Start the whole local stack in one process and stop it on Ctrl-C.

1. the AWS emulator (moto, server mode) on 127.0.0.1:AWS_PORT;
2. the resources of infra/resources.json created on it, and their names exported the way
   the template hands them to the Lambda functions;
3. the Chalice app, served as ``chalice local`` would on API_PORT;
4. the scheduler and the queue poller that ``chalice local`` does not have;
5. the page server (the bucket as S3 website hosting serves it, the marketer console under /admin/
   included, plus /_outbox) on PAGE_PORT;
6. the demo upstream the probes check (tools/local/demo.py) on DEMO_PORT, pointed at
   through PROBE_OVERRIDES=tools/local/demo-targets.yml, with the post scheduler whose
   webhook subscriber it adds (tools/local/scheduler.py);
7. the chat receiver (tools/local/chat.py) on CHAT_PORT, where the seeded webhook, Slack,
   Teams, Discord and Telegram subscribers' messages arrive.

Only endpoint URLs and names differ from a deployed stage; the app has no local branch. The
site file is the one exception the stack makes, and it makes it outside the app: it runs a
derived copy of SITE_CONFIG (``write_local_site``) that lets webhooks reach 127.0.0.1,
sends Telegram's Bot API calls to the chat receiver and probes from two locations (home and
``second``, which the scheduler runs as a regional probe stack's schedule would, and which
must agree before a failure counts); the original file is left as it is.
"""
from __future__ import annotations

import dataclasses
import functools
import importlib
import logging
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import yaml

from chalicelib.settings import PROJECT_ROOT

log = logging.getLogger("beacon.local")

STACK_NAME = "beacon-local"
DEFAULT_ADMIN_KEY = "local-admin-key-do-not-use-in-production"


class PortInUse(RuntimeError):
    pass


@dataclass(frozen=True)
class Ports:
    aws: int = 5000
    api: int = 8000
    page: int = 8080
    chat: int = 8070

    @classmethod
    def from_environ(cls, env=os.environ) -> "Ports":
        return cls(int(env.get("AWS_PORT", 5000)), int(env.get("API_PORT", 8000)), int(env.get("PAGE_PORT", 8080)),
                   int(env.get("CHAT_PORT", 8070)))


def check_port_free(port: int, variable: str, host: str = "127.0.0.1") -> None:
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the servers bind: a previous run's connections waiting out TIME-WAIT do not hold the port,
        # a listener does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            raise PortInUse(
                f"port {port} on {host} is in use ({variable}); stop what holds it or choose another, "
                f"e.g. {variable}={port + 1} make run"
            ) from None


class BadSiteFile(Exception):
    """The site file does not validate; the message is ``beacon check-site``'s."""


def check_site_file(path: str) -> None:
    from chalicelib.config import SiteConfigError, load_site
    from chalicelib.settings import project_path

    try:
        load_site(project_path(path))
    except SiteConfigError as exc:
        raise BadSiteFile(str(exc)) from None


def port_or_any_free(port: int, variable: str) -> int:
    """``port``, or 0 (any free port) when the default is taken and ``variable`` was not set by hand."""
    try:
        check_port_free(port, variable)
    except PortInUse:
        if variable in os.environ:
            raise
        log.warning("port %d (%s) is in use; a free port is taken instead", port, variable)
        return 0
    return port


# The one private network the local stack's webhooks reach: its own receivers on this machine.
LOCAL_TARGETS = ["127.0.0.1/32"]


# The probe location the local stack adds to a site that declares one, so failures need two to agree.
SECOND_LOCATION = "second"


def write_local_site(source: Path, directory: Path, chat_url: str, probe_interval: int | None = None) -> Path:
    """A copy of the site file ``source`` in ``directory`` that lets webhooks reach this machine,
    sends Telegram's Bot API calls to the chat receiver at ``chat_url``, probes from two
    locations that must agree (a site declaring one gets ``second`` and ``quorum: 2``) and, given
    ``probe_interval``, runs that many seconds apart; nothing else changes."""
    from chalicelib.config import load_site

    load_site(source)  # refused here with the original's name (and its duplicate keys, which a YAML load drops)
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    data["subscriptions"] = {**(data.get("subscriptions") or {}), "webhooks_allowed_private_networks": LOCAL_TARGETS,
                             "telegram_api_url": chat_url}
    probes = dict(data.get("probe_settings") or {})
    locations = list(probes.get("locations") or ["home"])
    if len(locations) == 1:
        probes.update(locations=[locations[0], SECOND_LOCATION], quorum=2)
    if probe_interval:
        probes["interval_seconds"] = probe_interval
    data["probe_settings"] = probes
    target = directory / source.name
    target.write_text(f"# Written by the local stack from {source}; edit that file instead.\n"
                      + yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return target


def local_environment(aws_endpoint: str, ports: Ports) -> dict[str, str]:
    """What a deployed stage gets from .chalice/config.json and AWS, pointed at the local stack."""
    return {
        "AWS_ENDPOINT_URL": aws_endpoint,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "BEACON_STAGE": "local",
        "API_URL": f"http://127.0.0.1:{ports.api}",
        # The local page server's origin, allowed (besides site.yml's page_url) to post the subscribe form.
        "PAGE_URL": f"http://127.0.0.1:{ports.page}",
        "EMAIL_SENDER": os.environ.get("EMAIL_SENDER", "status@beacon.local"),
        "BEACON_ADMIN_KEY": os.environ.get("BEACON_ADMIN_KEY", DEFAULT_ADMIN_KEY),
        # The terminal shows the app's log lines; metric documents only mean something to CloudWatch.
        "POWERTOOLS_METRICS_DISABLED": "true",
    }


@dataclass
class LocalStack:
    """The running pieces, so tests and ``make run`` start and stop them the same way."""

    ports: Ports
    probe_interval: int | None = None
    publish_interval: int | None = None
    emulator: object = None
    app: object = None
    servers: list = field(default_factory=list)
    threads: list = field(default_factory=list)
    stop_event: threading.Event = field(default_factory=threading.Event)
    demo: object = None
    chat: object = None
    scheduler: object = None
    # The derived site file the stack runs (write_local_site) and the directory that holds it.
    site_config: Path | None = None
    site_directory: str | None = None

    def start_emulator(self) -> str:
        from moto.server import ThreadedMotoServer

        self.emulator = ThreadedMotoServer(ip_address="127.0.0.1", port=self.ports.aws, verbose=False)
        self.emulator.start()
        host, port = self.emulator.get_host_and_port()
        self.ports = dataclasses.replace(self.ports, aws=port)
        return f"http://{host}:{port}"

    def start(self) -> "LocalStack":
        # The site file a person chose (SITE_CONFIG=examples/… make run) wins over the stage's
        # default, and a bad one stops everything before anything starts.
        site_config = os.environ.get("SITE_CONFIG") or _chalice_stage_environment("dev").get("SITE_CONFIG", "site.yml")
        check_site_file(site_config)
        check_port_free(self.ports.aws, "AWS_PORT")
        check_port_free(self.ports.api, "API_PORT")
        check_port_free(self.ports.page, "PAGE_PORT")
        endpoint = self.start_emulator()
        os.environ.update(_chalice_stage_environment("dev"))
        os.environ["SITE_CONFIG"] = site_config
        os.environ.update(local_environment(endpoint, self.ports))
        if self.probe_interval is None and os.environ.get("PROBE_INTERVAL_SECONDS"):
            self.probe_interval = int(os.environ["PROBE_INTERVAL_SECONDS"])
        if self.probe_interval:
            os.environ["PROBE_INTERVAL_SECONDS"] = str(self.probe_interval)
        if self.publish_interval:
            os.environ["PUBLISH_INTERVAL_SECONDS"] = str(self.publish_interval)
        self._start_chat()
        self._run_local_site()

        from tools.local.provision import provision

        provisioned = provision(boto3.session.Session(), STACK_NAME, email_sender=os.environ["EMAIL_SENDER"],
                                parameter_values={"ApiUrl": os.environ["API_URL"]})
        os.environ.update(provisioned.environment)
        _forget_cached_settings()

        self.app = importlib.import_module("app").app
        # The API's port is known before the first publish, so the page and the console name the API that runs.
        self._serve_api()
        self._run_startup_hooks()
        self._start_demo()
        self._run_event_sources(provisioned.names)
        self._serve_page(endpoint)
        return self

    def _start_chat(self) -> None:
        """The chat receiver (tools/local/chat.py); CHAT_PORT tells the seeding and the outbox where it is."""
        from tools.local.chat import start_chat

        self.chat = start_chat(port_or_any_free(self.ports.chat, "CHAT_PORT"))
        self.servers.append(self.chat)
        self.ports = dataclasses.replace(self.ports, chat=self.chat.server_address[1])
        os.environ["CHAT_PORT"] = str(self.ports.chat)

    def _run_local_site(self) -> None:
        """Point SITE_CONFIG, for the API and every function, at the derived copy of the site file."""
        from chalicelib.settings import Settings

        self.site_directory = tempfile.mkdtemp(prefix="beacon-local-site-")
        self.site_config = write_local_site(Settings.from_environ().site_config, Path(self.site_directory),
                                            self.chat.url, self.probe_interval)
        os.environ["SITE_CONFIG"] = str(self.site_config)
        _forget_cached_settings()

    def _run_startup_hooks(self) -> None:
        from tools.local import startup

        startup.run_all(self.app)

    def _serve_api(self) -> None:
        config = _chalice_config("dev")
        server = local_api_server(self.app, config, "127.0.0.1", self.ports.api)
        self.ports = dataclasses.replace(self.ports, api=server.server.server_address[1])
        os.environ["API_URL"] = f"http://127.0.0.1:{self.ports.api}"
        _forget_cached_settings()
        self._thread("api", server.server.serve_forever)
        self.servers.append(server.server)

    def _start_demo(self) -> None:
        """The demo upstream the probes point at (tools/local/demo.py, via PROBE_OVERRIDES)."""
        from tools.local.demo import start_demo
        from tools.local.startup import heartbeat_urls, scheduler_webhook_secret

        port = port_or_any_free(int(os.environ.get("DEMO_PORT", 8090)), "DEMO_PORT")
        server = start_demo(port, heartbeat_urls(os.environ["API_URL"]))
        os.environ["DEMO_PORT"], os.environ["DEMO_SMTP_PORT"] = str(server.server_address[1]), str(server.mail.port)
        # Its port is known only now: the scheduler's webhook subscriber is added here, its secret handed over.
        server.scheduler.use_secret(scheduler_webhook_secret(f"http://127.0.0.1:{server.server_address[1]}"))
        os.environ.setdefault("PROBE_OVERRIDES", "tools/local/demo-targets.yml")
        _forget_cached_settings()
        from chalicelib.config import get_site
        from chalicelib.probes.service import run_location_cycle

        for location in get_site().probe_settings.locations[1:]:
            server.locations[location] = functools.partial(run_location_cycle, location)
        self.demo = server
        self.servers.append(server)

    def _run_event_sources(self, physical_names: dict[str, str]) -> None:
        from tools.local.runner import QueuePoller, Scheduler, run_forever

        from chalicelib.config import get_site

        intervals = {}
        if self.publish_interval:
            intervals["publish_site"] = self.publish_interval
        # The probe function runs once a minute, as on AWS, and its cycles on the site's interval slots.
        scheduler = self.scheduler = Scheduler(self.app, intervals, concurrent=True)
        for location in get_site().probe_settings.locations[1:]:
            scheduler.add(f"probe_cycle@{location}", 60, _probe_location(location))

        def schedule_step() -> float:
            scheduler.run_due()
            return min(scheduler.next_due_in(), 1.0)

        self._thread("scheduler", lambda: run_forever(schedule_step, self.stop_event))
        queue_urls = {}
        from chalice.app import SQSEventConfig

        for source in self.app.event_sources:
            if isinstance(source, SQSEventConfig):
                queue_urls[source.name] = _queue_url_for(source.queue, physical_names)
        poller = QueuePoller(self.app, boto3.client("sqs"), queue_urls)
        if poller.handlers:
            self._thread("queue-poller", lambda: run_forever(lambda: 0.0 if poller.poll_once(1) else 0.2,
                                                             self.stop_event))

    def _serve_page(self, endpoint: str) -> None:
        from tools.local.static import PageServer
        from chalicelib.settings import get_settings

        settings = get_settings()
        server = PageServer(("127.0.0.1", self.ports.page), boto3.client("s3"), settings.bucket_name, endpoint,
                            settings.templates_dir, self.chat.url)
        self.ports = dataclasses.replace(self.ports, page=server.server_address[1])
        self._thread("page", server.serve_forever)
        self.servers.append(server)

    def _thread(self, name: str, target) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def stop(self) -> None:
        self.stop_event.set()
        for server in self.servers:
            server.shutdown()
            server.server_close()
        # The scheduler and poller finish their current step before the emulator goes away, and so
        # do the functions they started (a probe minute ends at its next slot).
        for thread in self.threads:
            thread.join(timeout=15)
        if self.scheduler is not None:
            self.scheduler.stop(timeout=30)
        if self.emulator is not None:
            self.emulator.stop()
        if self.site_directory is not None:
            shutil.rmtree(self.site_directory, ignore_errors=True)


def _locations_words() -> str:
    """'home and second, 2 must agree, a cycle every 60 s': the running site's probe settings."""
    from chalicelib.config import get_site

    settings = get_site().probe_settings
    return (f"{' and '.join(settings.locations)}, {settings.quorum} must agree, a cycle every "
            f"{settings.interval_seconds} s")


def _probe_location(location: str):
    """What the regional probe stack's schedule runs there (app.probe_cycle with PROBE_LOCATION), here."""

    def run(event: dict, context) -> dict:
        from chalicelib.observability import operation
        from chalicelib.probes.service import scheduled_probe_cycle

        with operation("ProbeCycle", trigger="schedule", probe_location=location):
            return scheduled_probe_cycle(scheduled_at=event["time"], location=location,
                                         seconds_left=lambda: context.get_remaining_time_in_millis() / 1000)

    return run


def local_api_server(app, config, host: str, port: int):
    """``chalice local``'s server for ``app``; safe to call twice in one process (tests start several).

    ``create_local_server`` rebases the app's class onto its local subclass, and a second call
    on the same app would make that class its own base.
    """
    from chalice.local import CustomLocalChalice, LocalDevServer, create_local_server

    if isinstance(app, CustomLocalChalice):
        server = LocalDevServer(app, config, host, port)
    else:
        server = create_local_server(app, config, host, port)
    server.server.RequestHandlerClass = functools.partial(_api_request_handler(), app_object=app, config=config)
    return server


_HEARTBEAT_SECRET = re.compile(r"^(/heartbeat/)[^/?]+")


def _api_request_handler() -> type:
    """``chalice local``'s request handler without its access log, which prints every request (the
    heartbeat's URL, secret and all) to stderr; an answer of 5xx still gets one line, secret withheld."""
    from chalice.local import ChaliceRequestHandler

    class ApiRequestHandler(ChaliceRequestHandler):
        def log_request(self, code="-", size="-") -> None:
            try:
                status = int(code)  # an HTTPStatus, or "-" when no answer was sent
            except (TypeError, ValueError):
                return
            if status >= 500:
                path = _HEARTBEAT_SECRET.sub(r"\1…", self.path.split("?", 1)[0])
                log.warning("API answered %d to %s %s", status, self.command, path)

        def log_message(self, format, *args) -> None:  # noqa: A002 - the stdlib's name
            pass  # timeouts and malformed requests from clients: nothing for the app's operator

    return ApiRequestHandler


def _queue_url_for(queue_name: str, physical_names: dict[str, str]) -> str:
    """Handlers name their queue by its suffix; the template names it '<stack>-<suffix>'."""
    wanted = f"/{STACK_NAME}-{queue_name}"  # FIFO names keep their '.fifo' in both
    for value in physical_names.values():
        if value.endswith(wanted):
            return value
    raise ValueError(f"infra/resources.json declares no queue named '${{AWS::StackName}}-{queue_name}'")


def _chalice_config(stage: str):
    from chalice.cli.factory import CLIFactory

    return CLIFactory(str(PROJECT_ROOT)).create_config_obj(chalice_stage_name=stage)


def _other_languages(site_config, port: int) -> str:
    """The page in the site's other languages, as ``make run`` lists them beside the default one."""
    from chalicelib.config import load_site

    others = load_site(site_config).languages[1:]
    return "".join(f"   /{code}/: http://127.0.0.1:{port}/{code}/" for code in others)


def _chalice_stage_environment(stage: str) -> dict[str, str]:
    return dict(_chalice_config(stage).environment_variables)


def _forget_cached_settings() -> None:
    from chalicelib import aws, config, settings

    settings.reset_settings()
    config.reset_site()
    aws.reset_clients()


# Libraries that log routine work at INFO (botocore: every client's endpoint and credentials;
# werkzeug: the emulator's every AWS call): a person follows the app's lines, and theirs only
# when something is wrong.
QUIET_LOGGERS = ("botocore", "boto3", "urllib3", "werkzeug", "moto")


def configure_terminal_logging() -> None:
    """Readable lines on the terminal: the app's own in LOG_FORMAT (``text`` unless set; see
    chalicelib/observability.py), other libraries' from WARNING up, in the same short shape."""
    os.environ.setdefault("LOG_FORMAT", "text")
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def main() -> int:
    configure_terminal_logging()
    interval = os.environ.get("PROBE_INTERVAL_SECONDS")
    from chalicelib.probes.spec import INTERVALS

    if interval and (not interval.isdigit() or int(interval) not in INTERVALS):
        print(f"beacon: PROBE_INTERVAL_SECONDS={interval} does not split the minute into whole probe cycles; use "
              f"one of {', '.join(map(str, INTERVALS))}. Nothing was started.", file=sys.stderr)
        return 1
    publish_interval = os.environ.get("PUBLISH_INTERVAL_SECONDS")
    stack = LocalStack(Ports.from_environ(), int(interval) if interval else None,
                       int(publish_interval) if publish_interval else None)
    try:
        stack.start()
    except PortInUse as exc:
        print(f"beacon: {exc}", file=sys.stderr)
        return 2
    except BadSiteFile as exc:
        print(f"{exc}\nbeacon: nothing was started; fix the file (`beacon check-site <file>` checks it) and run "
              "again", file=sys.stderr)
        return 1
    except Exception:
        stack.stop()
        raise
    ports = stack.ports
    from tools.local.startup import console_links

    console, sign_in = console_links(f"http://127.0.0.1:{ports.page}/", os.environ["BEACON_ADMIN_KEY"])
    print(
        "\nBeacon is running locally. Ctrl-C stops everything.\n"
        f"  status page   http://127.0.0.1:{ports.page}/{_other_languages(stack.site_config, ports.page)}\n"
        f"  console       {console}   (the marketer console; sign in with an API key)\n"
        f"  sign-in link  {sign_in}   (one-time link for the local admin key)\n"
        f"  demo upstream http://127.0.0.1:{os.environ['DEMO_PORT']}/_demo   "
        f"(curl -X POST .../_demo/outage/facebook starts an outage, -X DELETE ends it)\n"
        f"  scheduler     http://127.0.0.1:{os.environ['DEMO_PORT']}/_demo/scheduler   (queued posts; Beacon's "
        f"webhook pauses a platform's posts while it is down)\n"
        f"  outbox        http://127.0.0.1:{ports.page}/_outbox   (local only; `make outbox` prints it)\n"
        f"  chat receiver http://127.0.0.1:{ports.chat}/_messages   (the seeded webhook, Slack, Teams, Discord and "
        f"Telegram subscribers post here)\n"
        f"  site file     {stack.site_config}   (a copy of {stack.site_config.name} with subscriptions."
        f"webhooks_allowed_private_networks: [127.0.0.1/32], telegram_api_url: http://127.0.0.1:{ports.chat} "
        f"and probe locations {_locations_words()})\n"
        f"  API           http://127.0.0.1:{ports.api}/  (GET /health)\n"
        f"  AWS emulator  http://127.0.0.1:{ports.aws}/\n"
        f"  admin API key {os.environ['BEACON_ADMIN_KEY']}   (local only; set BEACON_ADMIN_KEY to change)\n",
        flush=True,
    )
    # A TERM (a process manager, a container stopping) stops as Ctrl-C does: the derived site file goes too.
    signal.signal(signal.SIGTERM, lambda signum, frame: stack.stop_event.set())
    try:
        stack.stop_event.wait()
    except KeyboardInterrupt:
        print("\nbeacon: stopping", file=sys.stderr)
    finally:
        stack.stop()
    return 0
