"""The operator hears of a page that could not be published whole."""
import json

from tests.conftest import ROOT


def test_a_withheld_incident_page_raises_an_alarm_to_the_operators():
    # GIVEN the stack's resources
    resources = json.loads((ROOT / "infra/resources.json").read_text())["Resources"]
    # THEN an alarm watches the metric the publish counts when it withholds a page, and tells the operators
    alarm = resources["PageObjectsWithheldAlarm"]["Properties"]
    assert resources["PageObjectsWithheldAlarm"]["Type"] == "AWS::CloudWatch::Alarm"
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("Beacon", "PageObjectsWithheld", "Sum")
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm["AlarmActions"] == [{"Ref": "OperatorAlertsTopic"}]
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "beacon"}]
