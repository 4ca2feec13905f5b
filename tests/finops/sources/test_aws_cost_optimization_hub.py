"""AWS Cost Optimization Hub import, on a real boto3 client answered by botocore's Stubber: pages,
the mapping to a finding's scope and estimate, owners from teams.yml, errors, and imports that
never open the same recommendation twice."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from bot.config import Settings
from bot.context import build_context
from bot.delivery import TerminalTransport
from bot.services.findings import import_recommendations
from finops.sources.aws_cost_optimization_hub import CostOptimizationHub, recommendation_from_item
from finops.sources.connector import SourceError
from finops.sources.recommendations import owner_teams
from finops.teams import parse_teams
from storage.db import Database
from storage.findings import FindingStore
from tests.harness import TEAMS_YAML

NOW = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
RIGHTSIZE = {
    "recommendationId": "rec-ec2-1", "accountId": "111222330440", "region": "us-east-1",
    "resourceId": "i-0a1b2c3d4e5f60001", "resourceArn": "arn:aws:ec2:us-east-1:111222330440:instance/i-0a1b2c3d4e5f60001",
    "currentResourceType": "Ec2Instance", "recommendedResourceType": "Ec2Instance",
    "estimatedMonthlySavings": 140.16, "estimatedSavingsPercentage": 50.0, "estimatedMonthlyCost": 280.32,
    "currencyCode": "USD", "implementationEffort": "Medium", "restartNeeded": True, "actionType": "Rightsize",
    "rollbackPossible": True, "currentResourceSummary": "m6i.2xlarge", "recommendedResourceSummary": "m6i.xlarge",
    "source": "ComputeOptimizer", "tags": [{"key": "team", "value": "search"}],
}
RESERVE = {
    "recommendationId": "rec-rds-ri", "accountId": "111222330440", "region": "eu-west-1",
    "resourceId": "111222330440", "currentResourceType": "RdsReservedInstances", "actionType":
        "PurchaseReservedInstances", "estimatedMonthlySavings": 612.5, "currencyCode": "USD",
    "recommendedResourceSummary": "3 db.r6g.large, 1 year, no upfront", "source": "CostExplorer",
}
NOTHING = {**RIGHTSIZE, "recommendationId": "rec-zero", "estimatedMonthlySavings": 0.0}
DELETE = {"recommendationId": "rec-ebs", "accountId": "111222331441", "region": "us-east-1", "resourceId": "vol-09",
          "currentResourceType": "EbsVolume", "actionType": "Delete", "estimatedMonthlySavings": 8.001,
          "currencyCode": "USD", "currentResourceSummary": "500 GB gp2", "recommendedResourceSummary": "",
          "source": "ComputeOptimizer"}


def stubbed(pages: list[list[dict]], *, request: dict | None = None) -> tuple[CostOptimizationHub, Stubber]:
    client = boto3.client("cost-optimization-hub", region_name="us-east-1", aws_access_key_id="test",
                          aws_secret_access_key="test")
    stubber = Stubber(client)
    expected = {"includeAllRecommendations": False, "maxResults": 1000, **(request or {})}
    for n, items in enumerate(pages):
        response = {"items": items}
        if n + 1 < len(pages):
            response["nextToken"] = f"page-{n + 2}"
        stubber.add_response("list_recommendations", response,
                             {**expected, **({"nextToken": f"page-{n + 1}"} if n else {})})
    stubber.activate()
    return CostOptimizationHub(client=client, account_ids=(request or {}).get("filter", {}).get("accountIds", ())), \
        stubber


def test_every_page_is_read_and_mapped_to_a_scope_and_an_estimate():
    hub, stubber = stubbed([[RIGHTSIZE, NOTHING], [RESERVE]])
    rightsize, reserve = hub.recommendations()
    stubber.assert_no_pending_responses()
    assert (rightsize.source, rightsize.external_id, rightsize.estimate_monthly) == (
        "aws-coh", "111222330440|arn:aws:ec2:us-east-1:111222330440:instance/i-0a1b2c3d4e5f60001|Rightsize", 140.16)
    assert rightsize.title == "Rightsize Ec2 Instance i-0a1b2c3d4e5f60001: m6i.2xlarge → m6i.xlarge"
    assert rightsize.scope == {"provider": ["AWS"], "sub_account_id": ["111222330440"], "resource_id": [
        "i-0a1b2c3d4e5f60001", "arn:aws:ec2:us-east-1:111222330440:instance/i-0a1b2c3d4e5f60001"]}
    assert rightsize.tags == {"team": "search"}
    assert rightsize.notes.startswith("AWS Cost Optimization Hub (ComputeOptimizer): Rightsize, effort Medium, "
                                      "restart needed True")
    assert reserve.title == "Purchase Reserved Instances Rds Reserved Instances: 3 db.r6g.large, 1 year, no upfront"
    assert reserve.scope == {"provider": ["AWS"], "sub_account_id": ["111222330440"],
                             "service": ["Amazon Relational Database Service"], "region": ["eu-west-1"]}
    assert reserve.external_id == "111222330440|RdsReservedInstances|eu-west-1"
    assert reserve.notes.endswith("; recommendation rec-rds-ri (AWS renews these ids daily)")


def test_the_account_filter_goes_to_aws():
    hub, stubber = stubbed([[DELETE]], request={"filter": {"accountIds": ["111222331441"]}})
    (delete,) = hub.recommendations()
    stubber.assert_no_pending_responses()
    assert delete.title == "Delete Ebs Volume vol-09"
    assert recommendation_from_item(NOTHING) is None


def test_owners_come_from_teams_yml_like_a_cost_row():
    teams = parse_teams(TEAMS_YAML)
    found = [recommendation_from_item(item) for item in (RIGHTSIZE, RESERVE, DELETE)]
    other = recommendation_from_item({**DELETE, "accountId": "999", "recommendationId": "x"})
    # The tag names search and beats the payments account; the others follow their account.
    assert owner_teams([*found, other], teams) == ["search", "payments", "search", "unallocated"]


@pytest.mark.parametrize(("code", "status", "reason"), [
    ("AccessDeniedException", 403, "AWS denied access to Cost Optimization Hub (AccessDeniedException): check the "
                                   "role's read-only permissions"),
    ("ThrottlingException", 400, "AWS throttled Cost Optimization Hub (ThrottlingException); the next run retries"),
])
def test_aws_errors_are_one_line(code, status, reason):
    client = boto3.client("cost-optimization-hub", region_name="us-east-1", aws_access_key_id="test",
                          aws_secret_access_key="test")
    stubber = Stubber(client)
    stubber.add_client_error("list_recommendations", service_error_code=code, http_status_code=status)
    stubber.activate()
    with pytest.raises(SourceError) as error:
        CostOptimizationHub(client=client).recommendations()
    assert str(error.value) == f"aws-coh: {reason}"


def test_importing_twice_opens_each_recommendation_once(sqlite_db: Database):
    ctx = build_context(Settings(database_url=sqlite_db.url), teams=parse_teams(TEAMS_YAML), upgrade=False,
                        transport=TerminalTransport(stream=io.StringIO()), now=lambda: NOW)
    first = import_recommendations(ctx, stubbed([[RIGHTSIZE], [RESERVE]])[0], by="cli:ops")
    assert [(f.external_id, f.team, f.assignee, str(f.estimate_monthly), f.source) for f in first.created] == [
        ("111222330440|arn:aws:ec2:us-east-1:111222330440:instance/i-0a1b2c3d4e5f60001|Rightsize", "search", "U_SEARCH_OWNER", "140.16", "aws-coh"),
        ("111222330440|RdsReservedInstances|eu-west-1", "payments", "U_PAY_OWNER", "612.50", "aws-coh")]
    again = import_recommendations(ctx, stubbed([[RESERVE, DELETE, RIGHTSIZE]])[0], by="cli:ops")
    assert [f.external_id for f in again.created] == ["111222331441|vol-09|Delete"]
    assert str(again.created[0].estimate_monthly) == "8.00"
    assert sorted(f.external_id for f in again.existing) == [
        "111222330440|RdsReservedInstances|eu-west-1", "111222330440|arn:aws:ec2:us-east-1:111222330440:instance/i-0a1b2c3d4e5f60001|Rightsize"]
    assert len(FindingStore(sqlite_db).list_findings()) == 3
    assert "SAVINGS FINDING #3" in ctx.delivery.transport.stream.getvalue()


def test_recommendations_a_finding_cannot_hold_are_left_out_and_the_others_imported(sqlite_db: Database):
    ctx = build_context(Settings(database_url=sqlite_db.url), teams=parse_teams(TEAMS_YAML), upgrade=False,
                        transport=TerminalTransport(stream=io.StringIO()), now=lambda: NOW)
    half_a_cent = {**DELETE, "recommendationId": "rec-tiny", "resourceId": "vol-1", "estimatedMonthlySavings": 0.004}
    absurd = {**DELETE, "recommendationId": "rec-huge", "resourceId": "vol-2", "estimatedMonthlySavings": 2e9}
    assert recommendation_from_item(half_a_cent) is None  # saves nothing, to the cent
    result = import_recommendations(ctx, stubbed([[half_a_cent, RIGHTSIZE, absurd]])[0], by="cli:ops")
    assert [f.title for f in result.created] == [recommendation_from_item(RIGHTSIZE).title]
    assert len(FindingStore(sqlite_db).list_findings()) == 1


def test_the_next_days_import_finds_the_same_advice_under_its_new_recommendation_id(sqlite_db: Database):
    # AWS refreshes the hub daily: a recommendation id is valid for at most 24 hours.
    ctx = build_context(Settings(database_url=sqlite_db.url), teams=parse_teams(TEAMS_YAML), upgrade=False,
                        transport=TerminalTransport(stream=io.StringIO()), now=lambda: NOW)
    first = import_recommendations(ctx, stubbed([[RIGHTSIZE, RESERVE, DELETE]])[0], by="cli:ops")
    renewed = [{**item, "recommendationId": f"{item['recommendationId']}-next-day"} for item in (RIGHTSIZE, RESERVE, DELETE)]
    again = import_recommendations(ctx, stubbed([renewed])[0], by="cli:ops")
    assert again.created == []
    assert sorted(f.id for f in again.existing) == sorted(f.id for f in first.created)
    # Other advice on the same instance is another finding.
    graviton = {**RIGHTSIZE, "recommendationId": "rec-grav", "actionType": "MigrateToGraviton"}
    (created,) = import_recommendations(ctx, stubbed([[graviton]])[0], by="cli:ops").created
    assert created.external_id.endswith("|MigrateToGraviton")
    assert len(FindingStore(sqlite_db).list_findings()) == 4


def test_a_saving_in_another_currency_is_left_out_with_the_reason(sqlite_db: Database):
    ctx = build_context(Settings(database_url=sqlite_db.url), teams=parse_teams(TEAMS_YAML), upgrade=False,
                        transport=TerminalTransport(stream=io.StringIO()), now=lambda: NOW)
    in_euros = {**DELETE, "currencyCode": "EUR"}
    result = import_recommendations(ctx, stubbed([[in_euros, RIGHTSIZE]])[0], by="cli:ops")
    assert [f.external_id for f in result.created] == [recommendation_from_item(RIGHTSIZE).external_id]
    ((left_out, why),) = result.left_out
    assert left_out.external_id == "111222331441|vol-09|Delete"
    assert why == "its saving is in EUR; costbot's ledger is in USD and does not convert"
