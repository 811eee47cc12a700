"""Create the template's resources on the emulator and say which environment they give.

The resources come from ``infra/resources.json``, the same file ``chalice package``
merges for AWS, so the local stack never drifts from production: each supported
resource type is created with its template properties, names resolved with the local
stack name, and the environment the template's ``Globals`` hand the functions is
resolved to the local resources. ``resolve_without_resources`` resolves a fragment the local
stack reads without creating it (the page's response headers policy).
"""
from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalicelib.settings import PROJECT_ROOT

INFRA_TEMPLATE = PROJECT_ROOT / "infra" / "resources.json"
ACCOUNT_ID = "123456789012"


@dataclass
class Provisioned:
    """Physical ids of the created resources, by logical id, and the resulting environment."""

    names: dict[str, str] = field(default_factory=dict)
    arns: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)


class _Resolver:
    def __init__(self, stack_name: str, region: str, provisioned: Provisioned, parameters: dict[str, str]):
        self.parameters = parameters
        self.pseudo = {"AWS::StackName": stack_name, "AWS::Region": region, "AWS::AccountId": ACCOUNT_ID,
                       "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
        self.done = provisioned

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            (fn, arg), = value.items()
            if fn == "Ref":
                if arg in self.pseudo:
                    return self.pseudo[arg]
                return self.parameters[arg] if arg in self.parameters else self.done.names[arg]
            if fn == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                if logical in self.done.names and self.done.names[logical].startswith("not-emulated-"):
                    return self.done.names[logical]
                if attribute != "Arn":
                    raise ValueError(f"infra/resources.json: Fn::GetAtt {logical}.{attribute} is not supported locally")
                return self.done.arns[logical]
            if fn == "Fn::Sub":
                return re.sub(r"\$\{([^}]+)\}", lambda m: self._sub(m.group(1)), arg)
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        return value

    def _sub(self, name: str) -> str:
        if "." in name:
            return self({"Fn::GetAtt": name})
        return self({"Ref": name})


def load_template(path: Path = INFRA_TEMPLATE) -> dict[str, Any]:
    return json.loads(path.read_text())


def resolve_without_resources(value: Any, parameters: dict[str, str], stand_in: str,
                              stack_name: str = "beacon-local", region: str = "us-east-1") -> Any:
    """Resolve ``value`` (a template fragment) outside a provisioning run: every resource it names,
    and every parameter not in ``parameters``, resolves to ``stand_in``."""
    absent = defaultdict(lambda: stand_in)
    return _Resolver(stack_name, region, Provisioned(names=absent, arns=absent), dict(parameters))(value)


def provision(session, stack_name: str, template: dict[str, Any] | None = None,
              email_sender: str | None = None, parameter_values: dict[str, str] | None = None) -> Provisioned:
    """Create every resource of the template (in dependency order) with ``session``'s clients."""
    template = template or load_template()
    done = Provisioned()
    parameters = {name: spec.get("Default", "") for name, spec in template.get("Parameters", {}).items()}
    parameters.update(parameter_values or {})
    resolve = _Resolver(stack_name, session.region_name, done, parameters)
    for logical, resource in template["Resources"].items():
        if resource.get("Type") in NOT_EMULATED:
            done.names[logical] = done.arns[logical] = f"not-emulated-{logical}"
    pending = dict(template["Resources"])
    while pending:
        progressed = False
        for logical, resource in list(pending.items()):
            # A fragment without a Type amends one of Chalice's own resources (a function's
            # event source, say): the local runner wires those itself.
            if "Type" not in resource or resource["Type"] in NOT_EMULATED:
                del pending[logical]
                progressed = True
                continue
            if resource["Type"] not in _CREATORS:
                raise ValueError(f"infra/resources.json: {logical} has type {resource['Type']}, which the local "
                                 "stack cannot create; add a creator in tools/local/provision.py")
            try:
                properties = resolve(resource.get("Properties", {}))
            except KeyError:
                continue  # refers to a resource not created yet
            _CREATORS[resource["Type"]](session, logical, properties, done)
            del pending[logical]
            progressed = True
        if not progressed:
            raise ValueError(f"infra/resources.json: cannot resolve references of {sorted(pending)}")
    variables = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    done.environment = {name: str(resolve(value)) for name, value in variables.items()}
    if email_sender:
        session.client("ses").verify_email_identity(EmailAddress=email_sender)
    return done


def _table(session, logical, p, done):
    client = session.client("dynamodb")
    client.create_table(
        TableName=p["TableName"],
        BillingMode=p.get("BillingMode", "PAY_PER_REQUEST"),
        AttributeDefinitions=p["AttributeDefinitions"],
        KeySchema=p["KeySchema"],
        **({"GlobalSecondaryIndexes": p["GlobalSecondaryIndexes"]} if "GlobalSecondaryIndexes" in p else {}),
    )
    ttl = p.get("TimeToLiveSpecification")
    if ttl:
        client.update_time_to_live(TableName=p["TableName"], TimeToLiveSpecification=ttl)
    done.names[logical] = p["TableName"]
    done.arns[logical] = client.describe_table(TableName=p["TableName"])["Table"]["TableArn"]


def _bucket(session, logical, p, done):
    s3 = session.client("s3")
    name = p["BucketName"]
    if session.region_name == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": session.region_name})
    if "CorsConfiguration" in p:
        rules = [_cors_rule(rule) for rule in p["CorsConfiguration"]["CorsRules"]]
        s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": rules})
    if "WebsiteConfiguration" in p:
        website = p["WebsiteConfiguration"]
        config = {"IndexDocument": {"Suffix": website["IndexDocument"]}}
        if "ErrorDocument" in website:
            config["ErrorDocument"] = {"Key": website["ErrorDocument"]}
        s3.put_bucket_website(Bucket=name, WebsiteConfiguration=config)
    done.names[logical] = name
    done.arns[logical] = f"arn:aws:s3:::{name}"


def _cors_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation spells two CORS keys differently from the S3 API."""
    renamed = {"MaxAge": "MaxAgeSeconds", "Id": "ID", "ExposedHeaders": "ExposeHeaders"}
    return {renamed.get(key, key): value for key, value in rule.items()}


def _bucket_policy(session, logical, p, done):
    session.client("s3").put_bucket_policy(Bucket=p["Bucket"], Policy=json.dumps(p["PolicyDocument"]))
    done.names[logical] = p["Bucket"]


def _queue(session, logical, p, done):
    sqs = session.client("sqs")
    attributes = {}
    for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds",
                "FifoQueue", "ContentBasedDeduplication"):
        if key in p:
            attributes[key] = str(p[key]).lower() if isinstance(p[key], bool) else str(p[key])
    if "RedrivePolicy" in p:
        attributes["RedrivePolicy"] = json.dumps(p["RedrivePolicy"])
    url = sqs.create_queue(QueueName=p["QueueName"], Attributes=attributes)["QueueUrl"]
    done.names[logical] = url
    done.arns[logical] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _topic(session, logical, p, done):
    arn = session.client("sns").create_topic(Name=p["TopicName"])["TopicArn"]
    done.names[logical] = arn
    done.arns[logical] = arn


# Resources with no local counterpart: the local stack serves the page and alerts without them.
NOT_EMULATED = frozenset({
    "AWS::CloudFront::Distribution",
    "AWS::CloudFront::OriginAccessControl",
    "AWS::CloudFront::ResponseHeadersPolicy",
    "AWS::CloudFront::CachePolicy",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudFront::Function",
    "AWS::SNS::Subscription",
    "AWS::SNS::TopicPolicy",
    "AWS::SQS::QueuePolicy",
    "AWS::Lambda::EventSourceMapping",
})

_CREATORS = {
    "AWS::DynamoDB::Table": _table,
    "AWS::S3::Bucket": _bucket,
    "AWS::S3::BucketPolicy": _bucket_policy,
    "AWS::SQS::Queue": _queue,
    "AWS::SNS::Topic": _topic,
}
