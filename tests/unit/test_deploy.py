"""The offline half of `make deploy`: code location and parameters of the change set."""
import sys

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "infra"))
from deploy import parameter_list, with_code_uri  # noqa: E402


def test_every_function_takes_its_code_from_the_uploaded_zip():
    template = {"Resources": {
        "APIHandler": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "./deployment.zip"}},
        "PublishSite": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "./deployment.zip"}},
        "StateTable": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
    }}
    rewritten = with_code_uri(template, "s3://artifacts/beacon-prod/abc.zip")
    assert {r["Properties"].get("CodeUri") for r in rewritten["Resources"].values()} == {
        "s3://artifacts/beacon-prod/abc.zip", None}
    assert template["Resources"]["APIHandler"]["Properties"]["CodeUri"] == "./deployment.zip"


def test_parameters_not_given_keep_their_previous_values_on_update():
    assert parameter_list({"DomainName": "status.example.com"}, stack_exists=False) == [
        {"ParameterKey": "DomainName", "ParameterValue": "status.example.com"}]
    updated = parameter_list({"DomainName": None, "OperatorEmail": "ops@example.com"}, stack_exists=True)
    assert {"ParameterKey": "OperatorEmail", "ParameterValue": "ops@example.com"} in updated
    assert {"ParameterKey": "DomainName", "UsePreviousValue": True} in updated
