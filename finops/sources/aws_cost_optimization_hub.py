"""AWS Cost Optimization Hub: its recommendations as savings findings (read-only).

``cost-optimization-hub:ListRecommendations`` (all pages; the hub lives in us-east-1 and answers
for every member account when enrolled at the organization's management account). Each
recommendation becomes a :class:`~finops.sources.recommendations.Recommendation` with source
``aws-coh`` and ``estimatedMonthlySavings`` as the estimate (recommendations with no saving are left
out). Its external id names what it is about, not the recommendation: AWS refreshes the hub daily
and a ``recommendationId`` is valid for at most 24 hours, so the same advice comes back under a
new id. ``accountId|resource ARN (or id)|actionType`` for a resource, ``accountId|
currentResourceType|region`` for a commitment purchase; the day's recommendation id goes into the
finding's notes. Its scope on cost data:

- a resource (rightsize, stop, delete, upgrade, Graviton, scale in): the account and the
  resource, by id and by ARN (the cost export names EC2 instances and EBS volumes by id, RDS and
  Lambda by ARN, so either may match);
- a commitment purchase (Savings Plans, Reserved Instances): the account (and the service and
  region the reservation covers), since the saving shows as lower effective cost of its usage.

By default only the hub's de-duplicated view is read (``includeAllRecommendations`` false: one
recommendation per resource, the hub's pick among overlapping ones), so findings do not count
the same dollar twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from finops.money import cents
from finops.sources.aws_ce import aws_error_reason
from finops.sources.connector import SourceError
from finops.sources.recommendations import Recommendation, natural_key, title_of, words

SOURCE = "aws-coh"
PROVIDER = "AWS"
PAGE_SIZE = 1000
PURCHASES = frozenset({"PurchaseSavingsPlans", "PurchaseReservedInstances"})
# The service (FOCUS ServiceName, as AWS exports spell it) whose usage a commitment discounts;
# compute and EC2-instance Savings Plans span EC2, Fargate and Lambda, so they scope the account.
COMMITMENT_SERVICES = {
    "SageMakerSavingsPlans": "Amazon SageMaker",
    "Ec2ReservedInstances": "Amazon Elastic Compute Cloud",
    "RdsReservedInstances": "Amazon Relational Database Service",
    "OpenSearchReservedInstances": "Amazon OpenSearch Service",
    "RedshiftReservedInstances": "Amazon Redshift",
    "ElastiCacheReservedInstances": "Amazon ElastiCache",
    "MemoryDbReservedInstances": "Amazon MemoryDB",
    "DynamoDbReservedCapacity": "Amazon DynamoDB",
}


def external_id(item: dict[str, Any]) -> str:
    """What a recommendation is about, stable across the hub's daily refreshes (see the module docstring)."""
    account, action = item.get("accountId", ""), item.get("actionType", "")
    if action in PURCHASES:
        return natural_key(account, item.get("currentResourceType", ""), item.get("region", ""))
    return natural_key(account, item.get("resourceArn") or item.get("resourceId", ""), action)


def recommendation_from_item(item: dict[str, Any]) -> Recommendation | None:
    """One ``ListRecommendations`` item as a Recommendation (None when it saves nothing, to the cent)."""
    saving = float(item.get("estimatedMonthlySavings") or 0.0)
    if cents(saving) <= 0:
        return None
    action, kind = item.get("actionType", ""), item.get("currentResourceType", "")
    account, region = item.get("accountId", ""), item.get("region", "")
    resource_id, arn = item.get("resourceId", ""), item.get("resourceArn", "")
    scope: dict[str, list[str]] = {"provider": [PROVIDER], "sub_account_id": [account]}
    service = COMMITMENT_SERVICES.get(kind, "")
    if action in PURCHASES:
        if service:
            scope["service"] = [service]
        if region and region.lower() != "global":
            scope["region"] = [region]
        target = words(kind)
    else:
        scope["resource_id"] = list(dict.fromkeys(r for r in (resource_id, arn) if r))
        target = f"{words(kind)} {resource_id or arn}".strip()
    current, recommended = item.get("currentResourceSummary", ""), item.get("recommendedResourceSummary", "")
    change = f": {current} → {recommended}" if current and recommended else (f": {recommended}" if recommended else "")
    notes = (f"AWS Cost Optimization Hub ({item.get('source', '')}): {words(action)}, effort "
             f"{item.get('implementationEffort', '?')}, restart needed {item.get('restartNeeded', '?')}, "
             f"rollback possible {item.get('rollbackPossible', '?')}; "
             f"{item.get('estimatedSavingsPercentage', '?')} % of {item.get('estimatedMonthlyCost', '?')} "
             f"{item.get('currencyCode', 'USD')} a month")
    notes += f"; recommendation {item.get('recommendationId', '?')} (AWS renews these ids daily)"
    return Recommendation(
        source=SOURCE, external_id=external_id(item), title=title_of(f"{words(action)} {target}{change}"),
        provider=PROVIDER, account=account, scope={k: v for k, v in scope.items() if any(v)},
        estimate_monthly=saving,
        currency=item.get("currencyCode") or "USD", region=region, resource_id=resource_id or arn,
        service=service, tags={t["key"]: t.get("value", "") for t in item.get("tags") or []}, notes=notes)


class CostOptimizationHub:
    """Cost recommendations from AWS Cost Optimization Hub.

    ``client``: a boto3 ``cost-optimization-hub`` client (default: the standard credential chain,
    us-east-1, botocore's standard retries). ``account_ids`` narrows to some member accounts.
    """

    source = SOURCE

    def __init__(self, *, client: Any | None = None, account_ids: Sequence[str] = (),
                 include_all: bool = False) -> None:
        self.client = client if client is not None else boto3.client(
            "cost-optimization-hub", region_name="us-east-1",
            config=Config(retries={"mode": "standard", "max_attempts": 5}))
        self.account_ids = tuple(account_ids)
        self.include_all = include_all

    def recommendations(self) -> list[Recommendation]:
        """Every recommendation with a saving, all pages; SourceError when AWS cannot be read."""
        request: dict[str, Any] = {"includeAllRecommendations": self.include_all,
                                   "PaginationConfig": {"PageSize": PAGE_SIZE}}
        if self.account_ids:
            request["filter"] = {"accountIds": list(self.account_ids)}
        found = []
        try:
            for page in self.client.get_paginator("list_recommendations").paginate(**request):
                found += [r for r in map(recommendation_from_item, page.get("items", [])) if r is not None]
        except (ClientError, BotoCoreError) as error:
            raise SourceError(SOURCE, aws_error_reason(error, "Cost Optimization Hub")) from error
        return found
