"""The emulator gets the resources infra/resources.json declares, and the functions' environment."""
import json

import boto3

from tools.local.provision import load_template


def test_every_resource_of_the_template_exists_on_the_emulator(aws):
    # GIVEN the template the CloudFormation stack is built from
    template = load_template()
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    # THEN each variable the functions get names a resource that now exists
    assert set(aws.environment) == set(variables)
    table = boto3.client("dynamodb").describe_table(TableName=aws.environment["TABLE_NAME"])["Table"]
    assert {k["AttributeName"] for k in table["KeySchema"]} == {"pk", "sk"}
    ttl = boto3.client("dynamodb").describe_time_to_live(TableName=aws.environment["TABLE_NAME"])
    assert ttl["TimeToLiveDescription"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}

    sqs = boto3.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=aws.environment["NOTIFY_QUEUE_URL"], AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["maxReceiveCount"] == 5 and redrive["deadLetterTargetArn"].endswith("beacon-test-notifications-dlq")
    assert int(attributes["VisibilityTimeout"]) == template["Resources"]["NotificationQueue"]["Properties"]["VisibilityTimeout"]

    topics = [t["TopicArn"] for t in boto3.client("sns").list_topics()["Topics"]]
    assert aws.environment["FEEDBACK_TOPIC_ARN"] in topics
    assert boto3.client("ses").list_verified_email_addresses()["VerifiedEmailAddresses"] == ["status@beacon.test"]


def test_page_bucket_is_readable_by_the_cdn_only(aws):
    bucket = aws.environment["BUCKET_NAME"]
    policy = json.loads(boto3.client("s3").get_bucket_policy(Bucket=bucket)["Policy"])
    (cdn,) = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert cdn["Principal"] == {"Service": "cloudfront.amazonaws.com"} and cdn["Action"] == "s3:GetObject"
    cors = boto3.client("s3").get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert cors[0]["AllowedOrigins"] == ["*"]
    assert aws.environment["API_URL"] == "https://api.beacon.test"
