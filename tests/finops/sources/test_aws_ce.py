"""AWS Cost Explorer connector against moto's Cost Explorer (results queue), and its failures against a
local endpoint answering as Cost Explorer answers errors."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import boto3
import pytest
import requests
from botocore.config import Config
from moto import mock_aws
from moto.ce.models import ce_backends
from moto.core import DEFAULT_ACCOUNT_ID

from finops.money import cents
from finops.sources.aws_ce import AwsCostExplorer
from finops.sources.connector import SourceError
from tests.finops.sources.failing_endpoints import failing_cost_explorer

QUEUE_URL = "http://motoapi.amazonaws.com/moto-api/static/ce/cost-and-usage-results"
PAYER = "999900001111"


def money(amount: str) -> dict[str, str]:
    return {"Amount": amount, "Unit": "USD"}


def usage(amount: str, unit: str) -> dict[str, str]:
    return {"Amount": amount, "Unit": unit}


def day(start: str, end: str, groups: list[dict], *, estimated: bool = False) -> dict:
    return {"TimePeriod": {"Start": start, "End": end}, "Total": {}, "Groups": groups, "Estimated": estimated}


def group(keys: list[str], unblended: str, amortized: str, quantity: tuple[str, str] | None = None) -> dict:
    metrics = {"UnblendedCost": money(unblended), "AmortizedCost": money(amortized)}
    if quantity:
        metrics["UsageQuantity"] = usage(*quantity)
    return {"Keys": keys, "Metrics": metrics}


# The results moto hands out, in the order the connector asks (one result per distinct request).
OWNERS_PAGE_1 = {
    "ResultsByTime": [
        day("2026-10-01", "2026-10-02", [group(["111111111111", "team$payments"], "10.00", "9.00"),
                                         group(["111111111111", "team$"], "2.50", "2.50")]),
        day("2026-10-02", "2026-10-03", [group(["111111111111", "team$payments"], "11.00", "10.00")]),
    ],
    "DimensionValueAttributes": [{"Value": "111111111111", "Attributes": {"description": "payments-prod"}}],
    "NextPageToken": "owners-page-2",
}
OWNERS_PAGE_2 = {
    "ResultsByTime": [
        day("2026-10-03", "2026-10-04", [group(["222222222222", "team$search"], "4.20", "4.20"),
                                         group(["333333333333", "team$"], "0", "0")], estimated=True),
    ],
    "DimensionValueAttributes": [{"Value": "222222222222", "Attributes": {"description": "search-prod"}}],
}
PAYMENTS_PAGE_1 = {
    "ResultsByTime": [
        day("2026-10-01", "2026-10-02", [
            group(["Amazon Elastic Compute Cloud - Compute", "USE2-BoxUsage:m5.large"], "9.60", "8.60", ("100", "Hrs")),
            group(["Tax", "Tax"], "0.40", "0.40", ("0", "N/A"))]),
    ],
    "NextPageToken": "payments-page-2",
}
PAYMENTS_PAGE_2 = {
    "ResultsByTime": [
        day("2026-10-02", "2026-10-03", [
            group(["Amazon Elastic Compute Cloud - Compute", "USE2-BoxUsage:m5.large"], "10.56", "9.56", ("110", "Hrs")),
            group(["AWS Data Transfer", "DataTransfer-Out-Bytes"], "0.44", "0.44", ("4.4", "GB"))]),
    ],
}
UNTAGGED = {
    "ResultsByTime": [
        day("2026-10-01", "2026-10-02", [
            group(["Amazon Simple Storage Service", "EUW1-TimedStorage-ByteHrs"], "2.50", "2.50", ("108.7", "GB-Mo"))]),
    ],
}
SEARCH = {
    "ResultsByTime": [
        day("2026-10-03", "2026-10-04", [
            group(["Amazon OpenSearch Service", "USE2-ESInstance:r6g.large"], "4.20", "4.20", ("24", "Hrs"))],
            estimated=True),
    ],
}
REGIONS = {
    "ResultsByTime": [
        day("2026-10-01", "2026-10-02", [
            group(["USE2-BoxUsage:m5.large", "us-east-2"], "9.60", "9.60"),
            group(["Tax", "NoRegion"], "0.40", "0.40"),
            group(["EUW1-TimedStorage-ByteHrs", "eu-west-1"], "2.50", "2.50"),
            group(["DataTransfer-Out-Bytes", "us-east-1"], "0.20", "0.20"),
            group(["DataTransfer-Out-Bytes", "eu-west-1"], "0.24", "0.24")]),
        day("2026-10-03", "2026-10-04", [group(["USE2-ESInstance:r6g.large", "us-east-2"], "4.20", "4.20")]),
    ],
}


def queue(*results: dict) -> None:
    response = requests.post(QUEUE_URL, json={"results": list(results)})
    assert response.status_code == 201


def sent_requests() -> list[dict]:
    """The request bodies moto received, in order (moto keys its answers by request body)."""
    backend = next(b for b in ce_backends[DEFAULT_ACCOUNT_ID].values() if b.cost_usage_results)
    return [json.loads(body) for body in backend.cost_usage_results]


@pytest.fixture
def explorer():
    with mock_aws():
        queue(OWNERS_PAGE_1, OWNERS_PAGE_2, PAYMENTS_PAGE_1, PAYMENTS_PAGE_2, UNTAGGED, SEARCH, REGIONS)
        yield AwsCostExplorer(PAYER, client=boto3.client("ce", region_name="us-east-1"))


def test_daily_frame_totals_equal_what_cost_explorer_served(explorer):
    frame = explorer.fetch_daily(date(2026, 10, 1), date(2026, 10, 3))

    assert cents(frame["BilledCost"].sum()) == Decimal("27.70")
    assert cents(frame["EffectiveCost"].sum()) == Decimal("25.70")
    by_day = frame.groupby("ChargePeriodStart")["BilledCost"].sum()
    assert [cents(v) for v in by_day] == [Decimal("12.50"), Decimal("11.00"), Decimal("4.20")]
    assert set(frame["ProviderName"]) == {"AWS"}
    assert set(frame["BillingAccountId"]) == {PAYER}
    assert set(frame["x_Team"]) == {""}


def test_rows_carry_account_team_tag_service_usage_type_and_region(explorer):
    frame = explorer.fetch_daily(date(2026, 10, 1), date(2026, 10, 3))
    rows = {(r.ChargePeriodStart.day, r.SubAccountId, r.SkuId): r for r in frame.itertuples()}

    compute = rows[(2, "111111111111", "USE2-BoxUsage:m5.large")]
    assert compute.SubAccountName == "payments-prod"
    assert compute.ServiceName == "Amazon Elastic Compute Cloud - Compute"
    assert compute.RegionId == "us-east-2"
    assert compute.Tags == '{"team":"payments"}'
    assert compute.ChargeCategory == "Usage"
    assert (compute.BilledCost, compute.EffectiveCost) == (10.56, 9.56)
    assert (compute.ConsumedQuantity, compute.ConsumedUnit) == (110.0, "Hrs")

    storage = rows[(1, "111111111111", "EUW1-TimedStorage-ByteHrs")]
    assert (storage.Tags, storage.RegionId, storage.ConsumedUnit) == ("", "eu-west-1", "GB-Mo")

    tax = rows[(1, "111111111111", "Tax")]
    assert (tax.ChargeCategory, tax.RegionId, tax.ConsumedUnit) == ("Tax", "", "")
    # Seen in two regions: left unnamed rather than guessed.
    assert rows[(2, "111111111111", "DataTransfer-Out-Bytes")].RegionId == ""
    assert rows[(3, "222222222222", "USE2-ESInstance:r6g.large")].SubAccountName == "search-prod"


def test_request_plan_is_owners_then_one_drill_down_per_owner_with_cost_then_regions(explorer):
    explorer.fetch_daily(date(2026, 10, 1), date(2026, 10, 3))
    sent = sent_requests()

    # 2 owner pages + 3 owners with cost (2 pages for payments) + 1 region lookup; the
    # zero-cost owner (333...) is not drilled into: each request costs $0.01.
    assert explorer.requests_made == len(sent) == 7
    assert sent[0]["TimePeriod"] == {"Start": "2026-10-01", "End": "2026-10-04"}
    assert sent[0]["Granularity"] == "DAILY"
    assert sent[0]["GroupBy"] == [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}, {"Type": "TAG", "Key": "team"}]
    assert sent[1]["NextPageToken"] == "owners-page-2"
    assert sent[2]["Filter"] == {"And": [
        {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": ["111111111111"]}},
        {"Tags": {"Key": "team", "Values": ["payments"], "MatchOptions": ["EQUALS"]}}]}
    assert sent[2]["GroupBy"] == [{"Type": "DIMENSION", "Key": "SERVICE"}, {"Type": "DIMENSION", "Key": "USAGE_TYPE"}]
    assert sent[2]["Metrics"] == ["UnblendedCost", "AmortizedCost", "UsageQuantity"]
    assert sent[3]["NextPageToken"] == "payments-page-2"
    assert sent[4]["Filter"]["And"][1] == {"Tags": {"Key": "team", "MatchOptions": ["ABSENT"]}}
    assert sent[5]["Filter"]["And"][0]["Dimensions"]["Values"] == ["222222222222"]
    assert sent[6]["GroupBy"] == [{"Type": "DIMENSION", "Key": "USAGE_TYPE"}, {"Type": "DIMENSION", "Key": "REGION"}]


def test_days_aws_marks_estimated_are_reported(explorer):
    explorer.fetch_daily(date(2026, 10, 1), date(2026, 10, 3))
    assert explorer.estimated_days == frozenset({date(2026, 10, 3)})


def test_window_reopens_the_month_to_date_but_not_closed_months():
    explorer = AwsCostExplorer(PAYER, client=boto3.client("ce", region_name="us-east-1"))
    assert explorer.fetch_window(date(2026, 10, 20), date(2026, 10, 17)) == (date(2026, 10, 1), date(2026, 10, 19))
    # Early in a month the previous month is still open (invoice not closed); older ones are not.
    assert explorer.fetch_window(date(2026, 11, 3), date(2026, 11, 1)) == (date(2026, 10, 1), date(2026, 11, 2))
    assert explorer.fetch_window(date(2026, 11, 12), date(2026, 11, 9)) == (date(2026, 11, 1), date(2026, 11, 11))


@pytest.mark.parametrize(("code", "status", "reason"), [
    ("LimitExceededException", 400, "AWS throttled Cost Explorer (LimitExceededException); the next run retries"),
    ("ExpiredTokenException", 400, "AWS rejected the credentials (ExpiredTokenException)"),
    ("AccessDeniedException", 400,
     "AWS denied access to Cost Explorer (AccessDeniedException): check the role's read-only permissions"),
    ("ServiceUnavailable", 503, "Cost Explorer failed on AWS's side (HTTP 503 ServiceUnavailable); the next run retries"),
])
def test_failures_raise_a_source_error_naming_the_source_and_reason(code, status, reason):
    with failing_cost_explorer(status, code, "no") as url:
        with pytest.raises(SourceError) as raised:
            AwsCostExplorer(PAYER, client=_client(url)).fetch_daily(date(2026, 10, 1), date(2026, 10, 3))
    assert str(raised.value) == f"aws-ce:{PAYER}: {reason}"
    assert raised.value.source == f"aws-ce:{PAYER}"


def test_a_failure_on_a_later_page_raises_instead_of_returning_part_of_the_data():
    with failing_cost_explorer(400, "ThrottlingException", "Rate exceeded", pages_first=[OWNERS_PAGE_1]) as url:
        connector = AwsCostExplorer(PAYER, client=_client(url))
        with pytest.raises(SourceError, match="ThrottlingException"):
            connector.fetch_daily(date(2026, 10, 1), date(2026, 10, 3))
    assert connector.requests_made == 2


def _client(url: str):
    """The real boto3 client pointed at a local endpoint answering as Cost Explorer answers errors."""
    return boto3.client("ce", region_name="us-east-1", endpoint_url=url, aws_access_key_id="x",
                        aws_secret_access_key="y", config=Config(retries={"mode": "standard", "max_attempts": 1}))
