"""Deploy a packaged stage to AWS: `make deploy STAGE=prod` runs this after `make package`.

1. upload build/<stage>/deployment.zip (named by its SHA-256) and the template to the
   artifacts bucket, pointing every function's CodeUri at the uploaded zip;
2. create a CloudFormation change set for stack ``beacon-<stage>`` and execute it (a stack
   with no changes is left alone);
3. on the first deploy, when no ``ApiUrl`` was given, set it to the API Gateway URL the
   stack reports, so links in emails and the subscribe form point at the API;
4. invoke the publish function once, so the page is live at the URL printed at the end.

Needs the operator's AWS credentials (the usual boto3 environment or profile) and an
artifacts bucket in the stack's region (``ARTIFACTS_BUCKET``).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import boto3
from botocore.exceptions import ClientError, WaiterError

PARAMETERS = ("DomainName", "CertificateArn", "OperatorEmail", "ApiUrl")
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]


def with_code_uri(template: dict, code_uri: str) -> dict:
    """The template with every function's code taken from ``code_uri`` (s3://bucket/key)."""
    rewritten = json.loads(json.dumps(template))
    for resource in rewritten["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = code_uri
    return rewritten


def parameter_list(given: dict[str, str | None], stack_exists: bool) -> list[dict]:
    """Given values win; on an existing stack, parameters not given keep their previous value."""
    parameters = []
    for name in PARAMETERS:
        value = given.get(name)
        if value is not None:
            parameters.append({"ParameterKey": name, "ParameterValue": value})
        elif stack_exists:
            parameters.append({"ParameterKey": name, "UsePreviousValue": True})
    return parameters


def deploy(stage: str, build_dir: Path, artifacts_bucket: str, given: dict[str, str | None], session=None) -> dict:
    session = session or boto3.session.Session()
    s3, cfn = session.client("s3"), session.client("cloudformation")
    stack = f"beacon-{stage}"
    zip_bytes = (build_dir / "deployment.zip").read_bytes()
    key = f"{stack}/{hashlib.sha256(zip_bytes).hexdigest()}.zip"
    s3.put_object(Bucket=artifacts_bucket, Key=key, Body=zip_bytes)
    template = with_code_uri(json.loads((build_dir / "sam.json").read_text()), f"s3://{artifacts_bucket}/{key}")
    template_key = f"{stack}/{hashlib.sha256(json.dumps(template).encode()).hexdigest()}.json"
    s3.put_object(Bucket=artifacts_bucket, Key=template_key, Body=json.dumps(template).encode())
    template_url = f"https://{artifacts_bucket}.s3.{session.region_name}.amazonaws.com/{template_key}"

    exists = _stack_exists(cfn, stack)
    _apply(cfn, stack, {"TemplateURL": template_url}, parameter_list(given, exists), exists)
    outputs = _outputs(cfn, stack)
    if not given.get("ApiUrl") and not _parameter(cfn, stack, "ApiUrl"):
        print(f"setting ApiUrl to {outputs['EndpointURL']}")
        _apply(cfn, stack, {"UsePreviousTemplate": True},
               parameter_list({**given, "ApiUrl": outputs["EndpointURL"].rstrip("/")}, True), True)
        outputs = _outputs(cfn, stack)
    publisher = cfn.describe_stack_resource(StackName=stack, LogicalResourceId="PublishSite")
    session.client("lambda").invoke(FunctionName=publisher["StackResourceDetail"]["PhysicalResourceId"],
                                    InvocationType="RequestResponse", Payload=b"{}")
    return outputs


def _apply(cfn, stack: str, template_source: dict, parameters: list[dict], exists: bool) -> None:
    name = f"{stack}-{hashlib.sha256(json.dumps([template_source, parameters]).encode()).hexdigest()[:12]}"
    cfn.create_change_set(StackName=stack, ChangeSetName=name, ChangeSetType="UPDATE" if exists else "CREATE",
                          Parameters=parameters, Capabilities=CAPABILITIES, **template_source)
    try:
        cfn.get_waiter("change_set_create_complete").wait(StackName=stack, ChangeSetName=name)
    except WaiterError:
        reason = cfn.describe_change_set(StackName=stack, ChangeSetName=name).get("StatusReason", "")
        if "didn't contain changes" in reason or "No updates" in reason:
            print(f"{stack}: no changes")
            cfn.delete_change_set(StackName=stack, ChangeSetName=name)
            return
        raise SystemExit(f"{stack}: change set failed: {reason}")
    cfn.execute_change_set(StackName=stack, ChangeSetName=name)
    waiter = "stack_update_complete" if exists else "stack_create_complete"
    cfn.get_waiter(waiter).wait(StackName=stack, WaiterConfig={"Delay": 15, "MaxAttempts": 240})
    print(f"{stack}: {'updated' if exists else 'created'}")


def _stack_exists(cfn, stack: str) -> bool:
    try:
        status = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
    except ClientError:
        return False
    return status != "REVIEW_IN_PROGRESS"


def _outputs(cfn, stack: str) -> dict[str, str]:
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def _parameter(cfn, stack: str, name: str) -> str:
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return next((p["ParameterValue"] for p in described.get("Parameters", []) if p["ParameterKey"] == name), "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Deploy a packaged Beacon stage with CloudFormation.")
    parser.add_argument("--stage", required=True, choices=["dev", "prod"])
    parser.add_argument("--build-dir", type=Path)
    parser.add_argument("--artifacts-bucket", required=True)
    for name in PARAMETERS:
        parser.add_argument(f"--{name}", default=None)
    args = parser.parse_args(argv)
    build_dir = args.build_dir or Path("build") / args.stage
    if not (build_dir / "sam.json").exists():
        print(f"{build_dir}/sam.json is missing: run `make package STAGE={args.stage}` first", file=sys.stderr)
        return 1
    outputs = deploy(args.stage, build_dir, args.artifacts_bucket, {n: getattr(args, n) for n in PARAMETERS})
    print(f"status page: {outputs.get('PageURL')}\nAPI: {outputs.get('EndpointURL')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
