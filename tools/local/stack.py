"""Start the whole local stack in one process and stop it on Ctrl-C.

1. the AWS emulator (moto, server mode) on 127.0.0.1:AWS_PORT;
2. the resources of infra/resources.json created on it, and their names exported the way
   the template hands them to the Lambda functions;
3. the Chalice app, served as ``chalice local`` would on API_PORT;
4. the scheduler and the queue poller that ``chalice local`` does not have;
5. the page server (the bucket as S3 website hosting serves it, plus /_outbox) on PAGE_PORT;
6. the demo upstream the probes check (tools/local/demo.py) on DEMO_PORT, pointed at
   through PROBE_OVERRIDES=tools/local/demo-targets.yml.

Only endpoint URLs and names differ from a deployed stage; the app has no local branch.
"""
from __future__ import annotations

import importlib
import logging
import os
import socket
import sys
import threading
from dataclasses import dataclass, field

import boto3

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

    @classmethod
    def from_environ(cls, env=os.environ) -> "Ports":
        return cls(int(env.get("AWS_PORT", 5000)), int(env.get("API_PORT", 8000)), int(env.get("PAGE_PORT", 8080)))


def check_port_free(port: int, variable: str, host: str = "127.0.0.1") -> None:
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            raise PortInUse(
                f"port {port} on {host} is in use ({variable}); stop what holds it or choose another, "
                f"e.g. {variable}={port + 1} make run"
            ) from None


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
        # The terminal shows JSON logs; metric documents only mean something to CloudWatch.
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

    def start_emulator(self) -> str:
        from moto.server import ThreadedMotoServer

        self.emulator = ThreadedMotoServer(ip_address="127.0.0.1", port=self.ports.aws, verbose=False)
        self.emulator.start()
        host, port = self.emulator.get_host_and_port()
        self.ports = Ports(port, self.ports.api, self.ports.page)
        return f"http://{host}:{port}"

    def start(self) -> "LocalStack":
        check_port_free(self.ports.aws, "AWS_PORT")
        check_port_free(self.ports.api, "API_PORT")
        check_port_free(self.ports.page, "PAGE_PORT")
        endpoint = self.start_emulator()
        os.environ.update(_chalice_stage_environment("dev"))
        os.environ.update(local_environment(endpoint, self.ports))
        if self.probe_interval:
            os.environ["PROBE_INTERVAL_SECONDS"] = str(self.probe_interval)
        if self.publish_interval:
            os.environ["PUBLISH_INTERVAL_SECONDS"] = str(self.publish_interval)

        from tools.local.provision import provision

        provisioned = provision(boto3.session.Session(), STACK_NAME, email_sender=os.environ["EMAIL_SENDER"],
                                parameter_values={"ApiUrl": os.environ["API_URL"]})
        os.environ.update(provisioned.environment)
        _forget_cached_settings()

        self.app = importlib.import_module("app").app
        self._run_startup_hooks()
        self._serve_api()
        self._start_demo()
        self._run_event_sources(provisioned.names)
        self._serve_page(endpoint)
        return self

    def _run_startup_hooks(self) -> None:
        from tools.local import startup

        startup.run_all(self.app)

    def _serve_api(self) -> None:
        config = _chalice_config("dev")
        server = local_api_server(self.app, config, "127.0.0.1", self.ports.api)
        self.ports = Ports(self.ports.aws, server.server.server_address[1], self.ports.page)
        os.environ["API_URL"] = f"http://127.0.0.1:{self.ports.api}"
        self._thread("api", server.server.serve_forever)
        self.servers.append(server.server)

    def _start_demo(self) -> None:
        """The demo upstream the probes point at (tools/local/demo.py, via PROBE_OVERRIDES)."""
        from tools.local.demo import start_demo
        from tools.local.startup import heartbeat_urls

        port = int(os.environ.get("DEMO_PORT", 8090))
        try:
            check_port_free(port, "DEMO_PORT")
        except PortInUse:
            if "DEMO_PORT" in os.environ:
                raise
            log.warning("port %d (DEMO_PORT) is in use; the demo upstream takes a free port instead", port)
            port = 0
        server = start_demo(port, heartbeat_urls(os.environ["API_URL"]))
        os.environ["DEMO_PORT"], os.environ["DEMO_SMTP_PORT"] = str(server.server_address[1]), str(server.mail.port)
        os.environ.setdefault("PROBE_OVERRIDES", "tools/local/demo-targets.yml")
        _forget_cached_settings()
        self.demo = server
        self.servers.append(server)

    def _run_event_sources(self, physical_names: dict[str, str]) -> None:
        from tools.local.runner import QueuePoller, Scheduler, run_forever

        intervals = {}
        if self.probe_interval:
            intervals["probe_cycle"] = self.probe_interval
        if self.publish_interval:
            intervals["publish_site"] = self.publish_interval
        scheduler = Scheduler(self.app, intervals)

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
                            settings.templates_dir)
        self.ports = Ports(self.ports.aws, self.ports.api, server.server_address[1])
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
        # The scheduler and poller finish their current step before the emulator goes away.
        for thread in self.threads:
            thread.join(timeout=15)
        if self.emulator is not None:
            self.emulator.stop()


def local_api_server(app, config, host: str, port: int):
    """``chalice local``'s server for ``app``; safe to call twice in one process (tests start several).

    ``create_local_server`` rebases the app's class onto its local subclass, and a second call
    on the same app would make that class its own base.
    """
    from chalice.local import CustomLocalChalice, LocalDevServer, create_local_server

    if isinstance(app, CustomLocalChalice):
        return LocalDevServer(app, config, host, port)
    return create_local_server(app, config, host, port)


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


def _chalice_stage_environment(stage: str) -> dict[str, str]:
    return dict(_chalice_config(stage).environment_variables)


def _forget_cached_settings() -> None:
    from chalicelib import aws, config, settings

    settings.reset_settings()
    config.reset_site()
    aws.reset_clients()


def main() -> int:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(name)s %(message)s")
    # The emulator's web server logs every AWS call; the app's own logs are what a person follows.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    interval = os.environ.get("PROBE_INTERVAL_SECONDS")
    publish_interval = os.environ.get("PUBLISH_INTERVAL_SECONDS")
    stack = LocalStack(Ports.from_environ(), int(interval) if interval else None,
                       int(publish_interval) if publish_interval else None)
    try:
        stack.start()
    except PortInUse as exc:
        print(f"beacon: {exc}", file=sys.stderr)
        return 2
    except Exception:
        stack.stop()
        raise
    ports = stack.ports
    print(
        "\nBeacon is running locally. Ctrl-C stops everything.\n"
        f"  status page   http://127.0.0.1:{ports.page}/\n"
        f"  demo upstream http://127.0.0.1:{os.environ['DEMO_PORT']}/_demo   "
        f"(curl -X POST .../_demo/outage/facebook starts an outage, -X DELETE ends it)\n"
        f"  outbox        http://127.0.0.1:{ports.page}/_outbox   (local only; `make outbox` prints it)\n"
        f"  API           http://127.0.0.1:{ports.api}/  (GET /health)\n"
        f"  AWS emulator  http://127.0.0.1:{ports.aws}/\n"
        f"  admin API key {os.environ['BEACON_ADMIN_KEY']}   (local only; set BEACON_ADMIN_KEY to change)\n",
        flush=True,
    )
    try:
        stack.stop_event.wait()
    except KeyboardInterrupt:
        print("\nbeacon: stopping", file=sys.stderr)
    finally:
        stack.stop()
    return 0
