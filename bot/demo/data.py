"""The demo's cost data: a small, deterministic multi-cloud organisation with a story in it.

Generated (seeded) at demo time as a FOCUS 1.0 CSV, then ingested through the real file path.
About 40 series over 15 months, so it stays small. What is planted (the demo shows each):

- steady spend with weekly seasonality and gentle trends, a support fee and a commitment fee on
  the 1st of each month, tax on the last day, an occasional credit;
- anomalies near the end: a level shift on payments' EC2 (a resource left running), a spike on
  ml's SageMaker training, new OpenSearch spend in a new region for search;
- savings: payments' RDS rightsized on 2026-10-09 (a real, lasting step down); data-platform's
  "idle snapshot cleanup" marked implemented on 2026-10-22 with no effect on the bill;
- a quarter with causes: ml's usage growth, web's Azure price increase from 2026-07-01, and one
  more day in Q3 than in Q2;
- untagged shared spend (support, tax, a shared NAT gateway) to exercise coverage and pools.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

DEMO_TODAY = date(2026, 11, 16)  # the demo's "today": data is complete through the day before
DEMO_START = date(2025, 8, 1)
DEMO_END = DEMO_TODAY - timedelta(days=1)
BILLING_ACCOUNT = "900000000001"

TEAMS_YAML = """\
# costbot demo: who owns what (see docs/teams.md for every key)
default_channel: "#finops"
finance_approvers: [U_FINANCE_LEAD]
mandatory_tags: [team, env]
defaults:
  thresholds: {min_impact_usd: 100, min_pct: 0.2}
teams:
  - name: payments
    channel: "#team-payments"
    owners: [U_PAYMENTS_LEAD]
    budget_monthly: 75000
    unit_metrics:
      - {name: orders, description: "orders checked out"}
    match:
      - tag: {team: payments}
      - sub_account_id: "111100000001"
  - name: search
    channel: "#team-search"
    owners: [U_SEARCH_LEAD]
    budget_monthly: 50000
    match:
      - tag: {team: search}
      - sub_account_id: "111100000002"
  - name: data-platform
    channel: "#team-data"
    owners: [U_DATA_LEAD]
    budget_monthly: 42000
    match:
      - tag: {team: data-platform}
      - sub_account_id: "data-platform-prod"
  - name: ml
    channel: "#team-ml"
    owners: [U_ML_LEAD]
    budget_monthly: 95000
    match:
      - tag: {team: ml}
      - sub_account_id: "111100000003"
  - name: web
    channel: "#team-web"
    owners: [U_WEB_LEAD]
    budget_monthly: 20000
    unit_metrics:
      - {name: active_users, description: "monthly active users"}
    match:
      - tag: {team: web}
      - sub_account_id: "5f1c0de0-0000-4000-8000-000000000001"
shared_costs:
  - name: support-and-shared-network
    split: proportional
    match:
      - service: "AWS Support (Business)"
      - resource_id: "nat-shared-*"
"""


@dataclass(frozen=True)
class Series:
    provider: str
    account: str
    account_name: str
    service: str
    category: str
    region: str
    sku: str
    resource: str
    unit: str
    unit_price: float
    base_daily: float  # cost per day at the start
    growth_per_year: float = 0.08
    weekend_factor: float = 1.0  # < 1: weekend dip (compute used by people)
    tags: tuple[tuple[str, str], ...] = ()
    noise: float = 0.04


AWS, AZURE, GCP = "AWS", "Microsoft", "Google Cloud"


def _series() -> list[Series]:
    pay = (("team", "payments"), ("env", "prod"))
    search = (("team", "search"), ("env", "prod"))
    data = (("team", "data-platform"), ("env", "prod"))
    ml = (("team", "ml"), ("env", "prod"))
    web = (("team", "web"), ("env", "prod"))
    return [
        Series(AWS, "111100000001", "payments-prod", "Amazon Elastic Compute Cloud", "Compute", "us-east-1",
               "BoxUsage:m6i.2xlarge", "i-0a1b2c3d4e5f60001", "Hrs", 0.384, 1150, weekend_factor=0.8, tags=pay),
        Series(AWS, "111100000001", "payments-prod", "Amazon Relational Database Service", "Databases", "us-east-1",
               "InstanceUsage:db.r6g.4xlarge", "arn:aws:rds:us-east-1:111100000001:db:payments-main", "Hrs",
               1.92, 420, tags=pay, noise=0.02),
        Series(AWS, "111100000001", "payments-prod", "Amazon DynamoDB", "Databases", "eu-west-1",
               "ReadRequestUnits", "payments-ledger", "ReadRequestUnits", 0.00025, 160, tags=pay),
        Series(AWS, "111100000001", "payments-prod", "Amazon Simple Storage Service", "Storage", "us-east-1",
               "TimedStorage-ByteHrs", "payments-receipts", "GB-Mo", 0.023, 55, growth_per_year=0.25, tags=pay,
               noise=0.01),
        Series(AWS, "111100000002", "search-prod", "Amazon OpenSearch Service", "Analytics", "us-east-1",
               "ESInstance:r6g.2xlarge", "search-main", "Hrs", 0.835, 610, tags=search, noise=0.02),
        Series(AWS, "111100000002", "search-prod", "Amazon Elastic Compute Cloud", "Compute", "us-east-1",
               "BoxUsage:c6i.4xlarge", "i-0b2c3d4e5f6a70002", "Hrs", 0.68, 380, weekend_factor=0.85, tags=search),
        Series(AWS, "111100000002", "search-prod", "AWS Lambda", "Compute", "us-east-1",
               "Lambda-GB-Second", "search-indexer", "Lambda-GB-Second", 0.0000166667, 45, tags=search),
        Series(GCP, "data-platform-prod", "data-platform-prod", "BigQuery", "Analytics", "us-central1",
               "Analysis", "", "TiB", 6.25, 520, weekend_factor=0.7, tags=data, noise=0.08),
        Series(GCP, "data-platform-prod", "data-platform-prod", "Cloud Storage", "Storage", "us-central1",
               "Standard Storage US Multi-region", "gs://dp-lake", "GiB-Mo", 0.026, 210, growth_per_year=0.3,
               tags=data, noise=0.01),
        Series(AWS, "111100000002", "search-prod", "Amazon Elastic Block Store", "Storage", "us-east-1",
               "EBS:SnapshotUsage", "snap-dp-archive", "GB-Mo", 0.05, 130, tags=data, noise=0.01),
        Series(AWS, "111100000003", "ml-prod", "Amazon SageMaker", "AI and Machine Learning", "us-west-2",
               "ml.p4d.24xlarge-Training", "training-cluster", "Hrs", 37.69, 900, growth_per_year=0.45,
               weekend_factor=0.9, tags=ml, noise=0.07),
        Series(AWS, "111100000003", "ml-prod", "Amazon Elastic Compute Cloud", "Compute", "us-west-2",
               "BoxUsage:g5.2xlarge", "i-0c3d4e5f6a7b80003", "Hrs", 1.212, 300, tags=ml),
        Series(AZURE, "5f1c0de0-0000-4000-8000-000000000001", "web-prod", "Azure App Service", "Compute",
               "westeurope", "P2v3", "/subscriptions/5f1c0de0/resourceGroups/web/providers/Microsoft.Web/sites/shop",
               "Hours", 0.45, 260, tags=web),
        Series(AZURE, "5f1c0de0-0000-4000-8000-000000000001", "web-prod", "Azure Front Door", "Networking",
               "global", "Standard Data Transfer", "/subscriptions/5f1c0de0/resourceGroups/web/providers/Microsoft.Cdn/profiles/edge",
               "GB", 0.08, 95, weekend_factor=1.15, tags=web),
        # Shared and untagged: the NAT gateway serves everyone; a legacy box nobody tagged.
        Series(AWS, "111100000004", "shared-network", "Amazon Virtual Private Cloud", "Networking", "us-east-1",
               "NatGateway-Hours", "nat-shared-use1", "Hrs", 0.045, 140, growth_per_year=0.0, noise=0.01),
        Series(AWS, "111100000004", "shared-network", "Amazon Elastic Compute Cloud", "Compute", "us-east-1",
               "BoxUsage:t3.xlarge", "i-0legacy00000000005", "Hrs", 0.1664, 70, growth_per_year=0.0, noise=0.01),
    ]


def _days() -> pd.DatetimeIndex:
    return pd.date_range(DEMO_START, DEMO_END, freq="D")


def _story_factor(s: Series, day: pd.Timestamp) -> tuple[float, float]:
    """(usage multiplier, price multiplier) the story applies to a series on a day."""
    usage, price = 1.0, 1.0
    d = day.date()
    if s.service == "Amazon Relational Database Service" and d >= date(2026, 10, 9):
        usage *= 0.62  # rightsized: db.r6g.4xlarge -> smaller instances
    if s.service == "Amazon Elastic Compute Cloud" and s.account == "111100000001" and d >= date(2026, 11, 11):
        usage *= 1.85  # a load-test fleet left running
    if s.service == "Amazon SageMaker" and d in (date(2026, 11, 13), date(2026, 11, 14)):
        usage *= 3.1  # a hyper-parameter sweep
    if s.service == "Amazon SageMaker" and d >= date(2026, 7, 1):
        usage *= 1.25  # ml's new models: usage growth in Q3
    if s.provider == AZURE and s.service == "Azure App Service" and d >= date(2026, 7, 1):
        price *= 1.15  # Azure price change: same usage, higher rate
    if s.provider == AWS and d in (date(2025, 12, 25), date(2026, 1, 1)):
        usage *= 0.75
    return usage, price


def generate_demo_costs(seed: int = 20261116) -> pd.DataFrame:
    """The demo's FOCUS rows (one per series and day, plus fees, tax and credits)."""
    rng = np.random.default_rng(seed)
    days = _days()
    rows: list[dict] = []
    series = _series()
    for s in series:
        years = (days - days[0]).days / 365.25
        weekday = np.where(days.day_of_week >= 5, s.weekend_factor, 1.0)
        noise = rng.normal(0.0, s.noise, len(days))
        for i, day in enumerate(days):
            usage_factor, price_factor = _story_factor(s, day)
            cost = s.base_daily * (1 + s.growth_per_year * years[i]) * weekday[i] * usage_factor * (1 + noise[i])
            price = s.unit_price * price_factor
            rows.append(_row(s, day, cost * price_factor, cost / s.unit_price if s.unit_price else None, price))
    # New spend: search's OpenSearch in a new region from 2026-11-12.
    new_region = Series(AWS, "111100000002", "search-prod", "Amazon OpenSearch Service", "Analytics", "eu-west-1",
                        "ESInstance:r6g.2xlarge", "search-eu", "Hrs", 0.912, 470,
                        tags=(("team", "search"), ("env", "prod")), noise=0.02)
    for day in pd.date_range("2026-11-12", DEMO_END, freq="D"):
        cost = new_region.base_daily * (1 + rng.normal(0, 0.02))
        rows.append(_row(new_region, day, cost, cost / new_region.unit_price, new_region.unit_price))
    rows += _monthly_charges(rows, days, rng)
    frame = pd.DataFrame(rows)
    return frame


def _row(s: Series, day: pd.Timestamp, cost: float, quantity: float | None, price: float,
         category: str = "Usage", list_factor: float = 1.18) -> dict:
    end = day + pd.Timedelta(days=1)
    month_start = day.replace(day=1)
    next_month = (month_start + pd.offsets.MonthBegin(1))
    cost = round(float(cost), 4)
    return {
        "BillingAccountId": BILLING_ACCOUNT if s.provider == AWS else f"{s.provider.lower().replace(' ', '-')}-billing",
        "BillingAccountName": "Demo Corp",
        "BillingCurrency": "USD",
        "BillingPeriodStart": month_start.strftime("%Y-%m-%dT00:00:00Z"),
        "BillingPeriodEnd": next_month.strftime("%Y-%m-%dT00:00:00Z"),
        "ChargePeriodStart": day.strftime("%Y-%m-%dT00:00:00Z"),
        "ChargePeriodEnd": end.strftime("%Y-%m-%dT00:00:00Z"),
        "ChargeCategory": category,
        "ChargeFrequency": "Usage-Based" if category == "Usage" else "One-Time",
        "BilledCost": cost,
        "EffectiveCost": cost,
        "ListCost": round(cost * list_factor, 4) if category == "Usage" else cost,
        "ContractedCost": cost,
        "ConsumedQuantity": round(quantity, 4) if quantity is not None else None,
        "ConsumedUnit": s.unit if quantity is not None else None,
        "PricingQuantity": round(quantity, 4) if quantity is not None else None,
        "PricingUnit": s.unit if quantity is not None else None,
        "ProviderName": s.provider,
        "PublisherName": s.provider,
        "InvoiceIssuerName": s.provider,
        "RegionId": s.region,
        "RegionName": s.region,
        "ServiceName": s.service,
        "ServiceCategory": s.category,
        "SubAccountId": s.account,
        "SubAccountName": s.account_name,
        "ResourceId": s.resource or None,
        "SkuId": s.sku,
        "Tags": json.dumps(dict(s.tags)) if s.tags else None,
    }


def _monthly_charges(usage_rows: list[dict], days: pd.DatetimeIndex, rng: np.random.Generator) -> list[dict]:
    """Support fee and commitment fee on the 1st, tax on the last day, a credit now and then."""
    support = Series(AWS, "111100000004", "shared-network", "AWS Support (Business)", "Management and Governance",
                     "global", "Business Support", "", "", 0.0, 0.0)
    commitment = Series(AWS, "111100000001", "payments-prod", "Savings Plans for AWS Compute usage", "Compute",
                        "global", "ComputeSavingsPlans", "sp-payments-1yr", "", 0.0, 0.0,
                        tags=(("team", "payments"), ("env", "prod")))
    tax = Series(AWS, "111100000004", "shared-network", "Tax", "Other", "global", "Tax", "", "", 0.0, 0.0)
    usage = pd.DataFrame(usage_rows)
    usage["month"] = usage["ChargePeriodStart"].str[:7]
    aws_usage_by_month = usage[usage["ProviderName"] == AWS].groupby("month")["EffectiveCost"].sum()
    extra = []
    for day in days:
        if day.day == 1:
            previous = (day - pd.Timedelta(days=1)).strftime("%Y-%m")
            support_fee = 0.1 * aws_usage_by_month.get(previous, aws_usage_by_month.iloc[0])
            extra.append(_row(support, day, support_fee, None, 0.0, category="Purchase"))
            extra.append(_row(commitment, day, 6000.0, None, 0.0, category="Purchase"))
        if (day + pd.Timedelta(days=1)).day == 1:
            month = day.strftime("%Y-%m")
            extra.append(_row(tax, day, 0.07 * aws_usage_by_month.get(month, 0.0), None, 0.0, category="Tax"))
        if day.day == 18 and day.month % 4 == 0:
            credit = Series(AWS, "111100000003", "ml-prod", "Amazon SageMaker", "AI and Machine Learning",
                            "us-west-2", "Promotional credit", "", "", 0.0, 0.0,
                            tags=(("team", "ml"), ("env", "prod")))
            extra.append(_row(credit, day, -round(float(rng.uniform(800, 1500)), 2), None, 0.0, category="Credit"))
    return extra


def write_demo_files(directory: Path) -> tuple[Path, Path]:
    """Write the demo's FOCUS CSV and teams.yml into ``directory``; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    costs = directory / "demo-focus-costs.csv.gz"
    generate_demo_costs().to_csv(costs, index=False, compression="gzip")
    teams = directory / "teams.yml"
    teams.write_text(TEAMS_YAML)
    return costs, teams
