"""Runtime settings, read from the environment once per container.

Deployed, the resource names come from the CloudFormation template (infra/resources.json
maps each one to an environment variable); locally the embedded stack sets the same
variables for the resources it creates on the emulator. The endpoint URL is boto3's own
``AWS_ENDPOINT_URL``: nothing in the app knows whether it talks to AWS or to the emulator.
"""
from __future__ import annotations

import os
from pathlib import Path

import msgspec

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# A first publish of ~1,100 objects 20 ms away is bound by boto3's CPU: 64 uploads in flight
# took 0.15-0.3 s less than 32 in most runs, 128 no less than 64 (bench/bench_publish.py
# measures 64 and 32 side by side).
PUBLISH_CONCURRENCY = 64


class Settings(msgspec.Struct, frozen=True):
    stage: str
    table_name: str
    bucket_name: str
    notify_queue_url: str
    publish_queue_url: str
    probe_shard_queue_url: str
    feedback_topic_arn: str
    site_config: Path
    templates_dir: Path
    api_url: str
    email_sender: str
    probe_interval_seconds: int
    publish_interval_seconds: int
    # A file that points probes at other targets (the local stack's demo upstream); unset when deployed.
    probe_overrides: Path | None
    # Account-wide send quotas (per second) and the reserved concurrency of deliver_notifications:
    # each consumer paces itself to quota / consumers.
    email_send_rate: float
    sms_send_rate: float
    notify_consumers: int
    page_url: str
    # Uploads a publish keeps in flight at once; the bucket's client keeps as many connections open.
    publish_concurrency: int = PUBLISH_CONCURRENCY
    # Where this function probes from (one of probe_settings.locations; empty: the home location),
    # and the region of the table when it is another region's (the regional probe stack).
    probe_location: str = ""
    table_region: str = ""

    @classmethod
    def from_environ(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        return cls(
            stage=env.get("BEACON_STAGE", "dev"),
            table_name=env.get("TABLE_NAME", ""),
            bucket_name=env.get("BUCKET_NAME", ""),
            notify_queue_url=env.get("NOTIFY_QUEUE_URL", ""),
            publish_queue_url=env.get("PUBLISH_QUEUE_URL", ""),
            probe_shard_queue_url=env.get("PROBE_SHARD_QUEUE_URL", ""),
            feedback_topic_arn=env.get("FEEDBACK_TOPIC_ARN", ""),
            site_config=project_path(env.get("SITE_CONFIG", "site.yml")),
            templates_dir=project_path(env.get("TEMPLATES_DIR", "templates")),
            api_url=env.get("API_URL", "").rstrip("/"),
            email_sender=env.get("EMAIL_SENDER", ""),
            probe_interval_seconds=int(env.get("PROBE_INTERVAL_SECONDS", "60")),
            publish_interval_seconds=int(env.get("PUBLISH_INTERVAL_SECONDS", "300")),
            probe_overrides=project_path(env["PROBE_OVERRIDES"]) if env.get("PROBE_OVERRIDES") else None,
            email_send_rate=float(env.get("EMAIL_SEND_RATE", "14")),
            sms_send_rate=float(env.get("SMS_SEND_RATE", "20")),
            notify_consumers=max(1, int(env.get("NOTIFY_CONSUMERS", "2"))),
            page_url=env.get("PAGE_URL", "").rstrip("/"),
            publish_concurrency=max(1, int(env.get("PUBLISH_CONCURRENCY", PUBLISH_CONCURRENCY))),
            probe_location=env.get("PROBE_LOCATION", ""),
            table_region=env.get("TABLE_REGION", ""),
        )


def project_path(value: str) -> Path:
    """Relative paths are taken from the project root, which is /var/task in Lambda."""
    path = Path(value)
    return path if path.is_absolute() else PROJECT_ROOT / path


_settings: Settings | None = None


def get_settings() -> Settings:
    global _settings
    if _settings is None:
        _settings = Settings.from_environ()
    return _settings


def reset_settings() -> None:
    """Forget the cached settings (the local stack and tests change the environment)."""
    global _settings
    _settings = None
