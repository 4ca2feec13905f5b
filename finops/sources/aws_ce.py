"""AWS Cost Explorer connector: ``ce.get_cost_and_usage``, daily, into the FOCUS daily frame.

Cost Explorer groups by at most two keys per request and bills $0.01 per request (every page is
a request), so the grouping plan is chosen for money that is exact and requests that are few:

1. one query grouped by (LINKED_ACCOUNT, TAG:<team tag>): who pays and which team tag;
2. for every (account, tag value) pair that had any cost, one query filtered to that pair and
   grouped by (SERVICE, USAGE_TYPE). These groups partition the pair's cost, so the frame's
   totals are exactly Cost Explorer's totals and every row carries account, team tag, service
   and usage type;
3. one query grouped by (USAGE_TYPE, REGION) used only as a lookup: AWS usage types carry their
   region (``USE2-BoxUsage:t3.micro`` is us-east-2), so a usage type seen in one region names
   the region of its rows. A usage type seen in several regions leaves ``RegionId`` "" rather
   than guess; money never comes from this query, so it cannot double anything.

That is ``2 + pairs`` requests plus extra pages (e.g. 10 accounts with two tag values each:
22 requests, $0.22 per run). The exact alternative, drilling region per (account, tag, service),
costs one request per service and pair (hundreds of dollars a month for an organization) and is
what the CUR/FOCUS export in S3 gives for free; use that connector when region-level precision
matters. Requests are also bounded in time: the window only re-reads the open tail (see
:meth:`AwsCostExplorer.fetch_window`), never closed months.

Mapping: UnblendedCost -> BilledCost, AmortizedCost -> EffectiveCost (Cost Explorer has no list
cost, so ListCost stays 0), UsageQuantity and its unit -> ConsumedQuantity/ConsumedUnit (one
usage type has one unit), USAGE_TYPE -> SkuId (the finest pricing key Cost Explorer exposes).
Rows are net of credits and refunds (RECORD_TYPE is not grouped, to save a level of requests);
the service "Tax" is ChargeCategory Tax, everything else Usage.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import boto3
import pandas as pd
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from finops.model import canonical_tags
from finops.sources.connector import CostConnector, SourceError, check_window, daily_frame_from_records

COST_METRICS = ("UnblendedCost", "AmortizedCost")
USAGE_METRIC = "UsageQuantity"

_CREDENTIAL_ERRORS = frozenset({
    "ExpiredToken", "ExpiredTokenException", "UnrecognizedClientException", "InvalidClientTokenId",
    "SignatureDoesNotMatch", "InvalidAccessKeyId", "AuthFailure",
})
_PERMISSION_ERRORS = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
_THROTTLING_ERRORS = frozenset({
    "Throttling", "ThrottlingException", "LimitExceededException", "RequestLimitExceeded",
    "TooManyRequestsException", "SlowDown",
})


def aws_error_reason(error: Exception, service: str) -> str:
    """One line saying why an AWS call failed, for :class:`SourceError`."""
    if isinstance(error, NoCredentialsError):
        return "no AWS credentials found (NoCredentialsError): configure the standard AWS credential chain"
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "Unknown")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in _CREDENTIAL_ERRORS:
            return f"AWS rejected the credentials ({code})"
        if code in _PERMISSION_ERRORS:
            return f"AWS denied access to {service} ({code}): check the role's read-only permissions"
        if code in _THROTTLING_ERRORS:
            return f"AWS throttled {service} ({code}); the next run retries"
        if isinstance(status, int) and status >= 500:
            return f"{service} failed on AWS's side (HTTP {status} {code}); the next run retries"
        message = error.response.get("Error", {}).get("Message", "")
        return f"{service} refused the request ({code}{': ' + message if message else ''})"
    if isinstance(error, BotoCoreError):
        return f"could not reach {service} ({type(error).__name__}: {error})"
    raise TypeError(f"not an AWS error: {error!r}")


class AwsCostExplorer(CostConnector):
    """Daily costs of one AWS payer (management) account from Cost Explorer.

    ``client`` is a boto3 ``ce`` client; by default one is made from the standard credential
    chain with botocore's standard retry mode (which backs off on throttling before giving up).
    ``team_tag`` is the cost-allocation tag that names owners (it must be activated in the
    Billing console); None skips it. After each fetch, ``requests_made`` counts the billed
    requests and ``estimated_days`` holds the days AWS marked ``Estimated`` (not final yet).
    """

    lag_days = 1
    restate_days = 3

    def __init__(self, billing_account_id: str, *, team_tag: str | None = "team", client: Any | None = None) -> None:
        self.billing_account_id = billing_account_id
        self.source = f"aws-ce:{billing_account_id}"
        self.team_tag = team_tag
        self.client = client if client is not None else boto3.client(
            "ce", region_name="us-east-1", config=Config(retries={"mode": "standard", "max_attempts": 5}))
        self.requests_made = 0
        self.estimated_days: frozenset[date] = frozenset()

    def fetch_window(self, today: date, complete_through_known: date | None) -> tuple[date, date]:
        """:func:`days_to_fetch`, widened to the start of the open month.

        AWS restates any day of a month until its invoice closes and bills per request, not per
        day, so re-reading month-to-date costs no extra requests beyond a page or two.
        """
        start, end = super().fetch_window(today, complete_through_known)
        return min(start, end.replace(day=1)), end

    def fetch_daily(self, start: date, end: date) -> pd.DataFrame:
        """Daily cost frame for ``[start, end]`` (see the module docstring for the query plan)."""
        check_window(start, end)
        self.requests_made = 0
        period = {"Start": start.isoformat(), "End": (end + timedelta(days=1)).isoformat()}
        owner_keys = [_dimension("LINKED_ACCOUNT")] + ([_tag(self.team_tag)] if self.team_tag else [])
        account_names: dict[str, str] = {}
        estimated: set[date] = set()
        owners: dict[tuple[str, ...], bool] = {}
        for page in self._pages(period, owner_keys, COST_METRICS):
            account_names.update(_account_names(page))
            for result in page.get("ResultsByTime", []):
                if result.get("Estimated"):
                    estimated.add(date.fromisoformat(result["TimePeriod"]["Start"]))
                for group in result.get("Groups", []):
                    keys = tuple(group["Keys"])
                    has_cost = any(float(group["Metrics"][m]["Amount"]) != 0.0 for m in COST_METRICS)
                    owners[keys] = owners.get(keys, False) or has_cost
        self.estimated_days = frozenset(estimated)

        detail_keys = [_dimension("SERVICE"), _dimension("USAGE_TYPE")]
        records: list[dict[str, object]] = []
        for keys, has_cost in owners.items():
            if not has_cost:
                continue
            account, tags = keys[0], _tags_of(keys[1:])
            owner_filter = self._owner_filter(account, tags)
            for page in self._pages(period, detail_keys, (*COST_METRICS, USAGE_METRIC), owner_filter):
                for day, group in _groups(page):
                    service, usage_type = group["Keys"]
                    records.append(_record(day, group["Metrics"], account, account_names.get(account, ""),
                                           service, usage_type, tags, self.billing_account_id))

        region_of = self._usage_type_regions(period) if records else {}
        for record in records:
            record["RegionId"] = region_of.get(str(record["SkuId"]), "")
        return daily_frame_from_records(records, start, end)

    def _owner_filter(self, account: str, tags: Mapping[str, str]) -> dict[str, Any]:
        expressions: list[dict[str, Any]] = [{"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": [account]}}]
        if self.team_tag:
            value = tags.get(self.team_tag, "")
            expressions.append({"Tags": {"Key": self.team_tag, "Values": [value], "MatchOptions": ["EQUALS"]}}
                               if value else {"Tags": {"Key": self.team_tag, "MatchOptions": ["ABSENT"]}})
        return expressions[0] if len(expressions) == 1 else {"And": expressions}

    def _usage_type_regions(self, period: Mapping[str, str]) -> dict[str, str]:
        regions: dict[str, set[str]] = defaultdict(set)
        for page in self._pages(period, [_dimension("USAGE_TYPE"), _dimension("REGION")], ("UnblendedCost",)):
            for _, group in _groups(page):
                usage_type, region = group["Keys"]
                regions[usage_type].add("" if region == "NoRegion" else region)
        return {usage_type: next(iter(found)) for usage_type, found in regions.items() if len(found) == 1}

    def _pages(self, period: Mapping[str, str], group_by: Sequence[Mapping[str, str]],
               metrics: Sequence[str], filter_: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {"TimePeriod": dict(period), "Granularity": "DAILY",
                                  "Metrics": list(metrics), "GroupBy": [dict(g) for g in group_by]}
        if filter_ is not None:
            params["Filter"] = filter_
        while True:
            try:
                page = self.client.get_cost_and_usage(**params)
            except (ClientError, BotoCoreError) as error:
                raise SourceError(self.source, aws_error_reason(error, "Cost Explorer")) from error
            finally:
                self.requests_made += 1
            yield page
            token = page.get("NextPageToken")
            if not token:
                return
            params["NextPageToken"] = token


def _dimension(key: str) -> dict[str, str]:
    return {"Type": "DIMENSION", "Key": key}


def _tag(key: str) -> dict[str, str]:
    return {"Type": "TAG", "Key": key}


def _tags_of(tag_keys: Sequence[str]) -> dict[str, str]:
    """``team$payments`` -> {"team": "payments"}; ``team$`` (untagged) -> {}."""
    tags = {}
    for key in tag_keys:
        name, _, value = key.partition("$")
        if value:
            tags[name] = value
    return tags


def _account_names(page: Mapping[str, Any]) -> dict[str, str]:
    return {item["Value"]: item.get("Attributes", {}).get("description", "")
            for item in page.get("DimensionValueAttributes", [])}


def _groups(page: Mapping[str, Any]) -> Iterator[tuple[date, dict[str, Any]]]:
    for result in page.get("ResultsByTime", []):
        day = date.fromisoformat(result["TimePeriod"]["Start"])
        for group in result.get("Groups", []):
            yield day, group


def _record(day: date, metrics: Mapping[str, Mapping[str, str]], account: str, account_name: str,
            service: str, usage_type: str, tags: Mapping[str, str], billing_account: str) -> dict[str, object]:
    usage = metrics.get(USAGE_METRIC, {})
    unit = usage.get("Unit", "")
    return {
        "ChargePeriodStart": day,
        "ProviderName": "AWS",
        "BillingAccountId": billing_account,
        "BillingCurrency": metrics["UnblendedCost"].get("Unit", ""),
        "SubAccountId": account,
        "SubAccountName": account_name,
        "ServiceName": service,
        "ChargeCategory": "Tax" if service == "Tax" else "Usage",
        "SkuId": usage_type,
        "ConsumedUnit": "" if unit == "N/A" else unit,
        "Tags": canonical_tags(tags),
        "BilledCost": float(metrics["UnblendedCost"]["Amount"]),
        "EffectiveCost": float(metrics["AmortizedCost"]["Amount"]),
        "ConsumedQuantity": float(usage["Amount"]) if usage else float("nan"),
    }
