"""AWS Cost Anomaly Detection import and feedback, against a real boto3 client with botocore's Stubber."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import boto3
import pytest
from botocore.stub import Stubber

from finops.money import cents
from finops.sources.aws_anomalies import fetch_aws_anomalies, send_aws_feedback
from finops.sources.connector import SourceError

MONITOR = "arn:aws:ce::123456789012:anomalymonitor/11111111-2222-3333-4444-555555555555"


@pytest.fixture
def ce():
    client = boto3.client("ce", region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def aws_anomaly(anomaly_id: str, start: str, end: str, impact: dict, causes: list[dict], **extra) -> dict:
    return {"AnomalyId": anomaly_id, "AnomalyStartDate": start, "AnomalyEndDate": end,
            "RootCauses": causes, "AnomalyScore": {"MaxScore": 0.9, "CurrentScore": 0.7},
            "Impact": impact, "MonitorArn": MONITOR, **extra}


EC2_SPIKE = aws_anomaly(
    "a-ec2", "2026-10-03", "2026-10-05",
    {"MaxImpact": 410.0, "TotalImpact": 812.5, "TotalActualSpend": 1712.5, "TotalExpectedSpend": 900.0,
     "TotalImpactPercentage": 90.28},
    [{"Service": "Amazon Elastic Compute Cloud - Compute", "Region": "us-east-1", "LinkedAccount": "111122223333",
      "LinkedAccountName": "payments-prod", "UsageType": "BoxUsage:m5.xlarge", "Impact": {"Contribution": 600.0}},
     {"Service": "Amazon Elastic Compute Cloud - Compute", "Region": "eu-west-1", "LinkedAccount": "111122223333",
      "LinkedAccountName": "payments-prod", "UsageType": "EU-BoxUsage:m5.xlarge", "Impact": {"Contribution": 200.0}}],
)
S3_OPEN = aws_anomaly(
    "a-s3", "2026-10-06", "",
    {"MaxImpact": 150.0, "TotalImpact": 150.0, "TotalActualSpend": 450.0, "TotalExpectedSpend": 300.0,
     "TotalImpactPercentage": 50.0},
    [{"Service": "Amazon Simple Storage Service", "Region": "us-east-1", "LinkedAccount": "444455556666",
      "Impact": {"Contribution": 150.0}}],
)
del S3_OPEN["AnomalyEndDate"]


def test_import_follows_next_page_token_and_maps_every_field(ce):
    client, stubber = ce
    window = {"DateInterval": {"StartDate": "2026-10-01", "EndDate": "2026-10-07"}, "MonitorArn": MONITOR}
    stubber.add_response("get_anomalies", {"Anomalies": [EC2_SPIKE], "NextPageToken": "page-2"}, window)
    stubber.add_response("get_anomalies", {"Anomalies": [S3_OPEN]}, {**window, "NextPageToken": "page-2"})

    ec2, s3 = fetch_aws_anomalies(client, date(2026, 10, 1), date(2026, 10, 7), monitor_arn=MONITOR)

    assert ec2.key == "aws:a-ec2" and ec2.source_id == "a-ec2" and ec2.kind == "aws"
    assert (ec2.start, ec2.end, ec2.detected_on, ec2.last_seen) == (
        date(2026, 10, 3), date(2026, 10, 5), date(2026, 10, 3), date(2026, 10, 5))
    assert (cents(ec2.expected_cost), cents(ec2.actual_cost), cents(ec2.impact)) == (
        Decimal("900.00"), Decimal("1712.50"), Decimal("812.50"))
    assert ec2.impact_pct == pytest.approx(0.9028)
    assert ec2.direction == "increase" and ec2.alert is True and ec2.team == "unallocated"
    # the scope names what every root cause agrees on; the region differs, so it is left out
    assert ec2.dimensions == {"provider": "AWS", "sub_account_id": "111122223333",
                              "service": "Amazon Elastic Compute Cloud - Compute"}
    regions = [(c.value, c.impact, c.share) for c in ec2.root_cause if c.dimension == "RegionId"]
    assert regions == [("us-east-1", 600.0, 0.75), ("eu-west-1", 200.0, 0.25)]
    usage = {c.value: c.share for c in ec2.root_cause if c.dimension == "UsageType"}
    assert usage == {"BoxUsage:m5.xlarge": 0.75, "EU-BoxUsage:m5.xlarge": 0.25}
    assert [(c.value, c.share) for c in ec2.root_cause if c.dimension == "SubAccountId"] == [("111122223333", 1.0)]

    assert s3.key == "aws:a-s3" and s3.end is None and s3.is_open
    assert s3.dimensions["region"] == "us-east-1" and s3.dimensions["sub_account_id"] == "444455556666"
    assert cents(s3.impact) == Decimal("150.00") and s3.impact_pct == pytest.approx(0.5)


def test_import_without_monitor_asks_for_the_whole_window(ce):
    client, stubber = ce
    stubber.add_response("get_anomalies", {"Anomalies": []},
                         {"DateInterval": {"StartDate": "2026-09-01", "EndDate": "2026-09-30"}})
    assert fetch_aws_anomalies(client, date(2026, 9, 1), date(2026, 9, 30)) == []


def test_import_refused_by_aws_is_a_source_error_saying_why(ce):
    client, stubber = ce
    stubber.add_client_error("get_anomalies", service_error_code="AccessDeniedException",
                             service_message="not allowed", http_status_code=400)
    with pytest.raises(SourceError) as raised:
        fetch_aws_anomalies(client, date(2026, 10, 1), date(2026, 10, 7))
    assert str(raised.value) == ("aws-anomalies: AWS denied access to Cost Anomaly Detection "
                                 "(AccessDeniedException): check the role's read-only permissions")


@pytest.mark.parametrize(("button", "aws_value"), [
    ("acknowledge", "YES"), ("not_ours", "NO"), ("expected", "PLANNED_ACTIVITY"),
])
def test_feedback_buttons_map_to_aws_values(ce, button, aws_value):
    client, stubber = ce
    stubber.add_response("provide_anomaly_feedback", {"AnomalyId": "a-ec2"},
                         {"AnomalyId": "a-ec2", "Feedback": aws_value})
    assert send_aws_feedback(client, "aws:a-ec2", button) == "a-ec2"


def test_unknown_feedback_is_refused_before_calling_aws(ce):
    client, _ = ce
    with pytest.raises(ValueError, match="unknown feedback 'snooze'"):
        send_aws_feedback(client, "a-ec2", "snooze")  # type: ignore[arg-type]


def test_feedback_throttled_is_a_source_error(ce):
    client, stubber = ce
    stubber.add_client_error("provide_anomaly_feedback", service_error_code="LimitExceededException",
                             http_status_code=400)
    with pytest.raises(SourceError, match="throttled Cost Anomaly Detection"):
        send_aws_feedback(client, "a-ec2", "acknowledge")
