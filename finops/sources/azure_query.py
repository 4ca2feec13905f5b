"""Azure connector: the Cost Management Query API (``CostManagementClient.query.usage``), daily.

A query groups by at most two columns, so the plan keeps money exact with few queries (the API
is free but throttled per scope and tenant):

1. which subscriptions have cost in the window: grouped by (SubscriptionId, SubscriptionName);
2. per subscription and cost type (ActualCost -> BilledCost, AmortizedCost -> EffectiveCost):
   grouped by (MeterId, TagKey <team tag>). These rows partition the subscription's cost, so
   the frame's totals are exactly Azure's, with subscription, meter (SkuId) and team tag on
   every row, and UsageQuantity is meaningful (one meter has one unit);
3. two lookups, grouped by (MeterId, ServiceName) and (MeterId, ResourceLocation): a meter
   belongs to one service, and Azure meters are regional, so a meter names the service and
   region of its rows. A meter seen with several values (global meters such as bandwidth
   zones) leaves that column "" rather than guess; money never comes from a lookup.

That is ``2 + 2 x subscriptions + 2`` queries plus pages: 6 for a subscription scope. For a
billing account with hundreds of subscriptions the cost exports (FOCUS files) scale better.
Tags are only grouped, never filtered on: the API has no "tag absent" filter, so filtering by
tag value would drop untagged cost.

Paging: ``query.usage`` returns one page and a ``next_link``; the next page is the same POST
with the link's query parameters (``$skiptoken``). Throttling: azure-core does not retry a POST
on 429, so the connector waits out ``Retry-After`` (or Cost Management's
``x-ms-ratelimit-*-retry-after`` headers) up to ``max_throttle_wait`` seconds, a few times, then
raises :class:`SourceError`.

The Query API returns pre-tax cost without credits; purchases are not told apart from usage in
this grouping, so every row is ChargeCategory Usage. Quantities come from ActualCost rows only
(AmortizedCost repeats them), without a unit (the API does not group by unit).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pandas as pd
from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError
from azure.mgmt.costmanagement import CostManagementClient
from azure.mgmt.costmanagement import models as cm

from finops.model import canonical_tags
from finops.sources.connector import CostConnector, SourceError, check_window, daily_frame_from_records

COST_TYPES = {"ActualCost": "BilledCost", "AmortizedCost": "EffectiveCost"}
COST_ALIAS, QUANTITY_ALIAS = "totalCost", "totalQuantity"
_RETRY_AFTER_HEADERS = (
    "retry-after",
    "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after",
    "x-ms-ratelimit-microsoft.costmanagement-entity-retry-after",
    "x-ms-ratelimit-microsoft.costmanagement-tenant-retry-after",
    "x-ms-ratelimit-microsoft.costmanagement-clienttype-retry-after",
)


class AzureCostManagement(CostConnector):
    """Daily costs of one Azure scope (subscription, management group, billing account, ...).

    ``scope`` as Azure writes it, e.g. ``subscriptions/<id>`` or
    ``providers/Microsoft.Billing/billingAccounts/<id>``. ``client`` is a
    ``CostManagementClient`` (default: ``DefaultAzureCredential``, public cloud).
    ``cost_column`` is the aggregated column: ``PreTaxCost`` (EA, pay-as-you-go) or ``Cost``
    (MCA). ``allow_http`` lets the bearer token go over plain HTTP: only for a local test server.
    """

    # Azure loads usage 8-24 hours late, sometimes up to 72.
    lag_days = 1
    restate_days = 3

    def __init__(self, scope: str, *, client: CostManagementClient | None = None, team_tag: str | None = "team",
                 cost_column: str = "PreTaxCost", allow_http: bool = False, throttle_retries: int = 3,
                 max_throttle_wait: float = 60.0) -> None:
        self.scope = scope.strip("/")
        self.source = f"azure:{self.scope}"
        if client is None:
            from azure.identity import DefaultAzureCredential

            client = CostManagementClient(DefaultAzureCredential())
        self.client = client
        self.team_tag = team_tag
        self.cost_column = cost_column
        self.allow_http = allow_http
        self.throttle_retries = throttle_retries
        self.max_throttle_wait = max_throttle_wait
        self.queries_made = 0

    def fetch_daily(self, start: date, end: date) -> pd.DataFrame:
        """Daily cost frame for ``[start, end]`` (see the module docstring for the query plan)."""
        check_window(start, end)
        self.queries_made = 0
        subscriptions: dict[str, str] = {}
        for cost_type in COST_TYPES:
            for row in self._rows(cost_type, start, end, [_dimension("SubscriptionId"), _dimension("SubscriptionName")]):
                subscriptions[row["SubscriptionId"]] = row["SubscriptionName"] or ""

        detail = [_dimension("MeterId")] + ([cm.QueryGrouping(type="TagKey", name=self.team_tag)] if self.team_tag else [])
        records: list[dict[str, object]] = []
        for cost_type, column in COST_TYPES.items():
            for subscription, name in subscriptions.items():
                only_subscription = cm.QueryFilter(dimensions=cm.QueryComparisonExpression(
                    name="SubscriptionId", operator="In", values_property=[subscription]))
                for row in self._rows(cost_type, start, end, detail, only_subscription,
                                      with_quantity=cost_type == "ActualCost"):
                    records.append(self._record(row, column, subscription, name))

        service_of = self._meter_lookup(start, end, "ServiceName")
        region_of = self._meter_lookup(start, end, "ResourceLocation")
        for record in records:
            record["ServiceName"] = service_of.get(str(record["SkuId"]), "")
            record["RegionId"] = region_of.get(str(record["SkuId"]), "")
        return daily_frame_from_records(records, start, end)

    def _record(self, row: Mapping[str, Any], column: str, subscription: str, name: str) -> dict[str, object]:
        tags = {}
        if self.team_tag and (row.get("TagKey") or "").lower() == self.team_tag.lower() and row.get("TagValue"):
            tags[self.team_tag] = row["TagValue"]
        return {
            "ChargePeriodStart": row["UsageDate"],
            "ProviderName": "Microsoft",
            "BillingAccountId": _billing_account(self.scope),
            "BillingCurrency": row.get("Currency") or "",
            "SubAccountId": subscription,
            "SubAccountName": name,
            "ChargeCategory": "Usage",
            "SkuId": row.get("MeterId") or "",
            "Tags": canonical_tags(tags),
            column: row["cost"],
            "ConsumedQuantity": row.get("quantity"),
        }

    def _meter_lookup(self, start: date, end: date, dimension: str) -> dict[str, str]:
        seen: dict[str, set[str]] = defaultdict(set)
        for row in self._rows("AmortizedCost", start, end, [_dimension("MeterId"), _dimension(dimension)]):
            seen[row["MeterId"] or ""].add(row[dimension] or "")
        return {meter: next(iter(values)) for meter, values in seen.items() if len(values) == 1}

    def _rows(self, cost_type: str, start: date, end: date, grouping: Sequence[cm.QueryGrouping],
              filter_: cm.QueryFilter | None = None, *, with_quantity: bool = False) -> Iterator[dict[str, Any]]:
        """Every row of one query, all pages, as dicts keyed by column name (cost as ``cost``)."""
        aggregation = {COST_ALIAS: cm.QueryAggregation(name=self.cost_column, function="Sum")}
        if with_quantity:
            aggregation[QUANTITY_ALIAS] = cm.QueryAggregation(name="UsageQuantity", function="Sum")
        definition = cm.QueryDefinition(
            type=cost_type, timeframe="Custom",
            time_period=cm.QueryTimePeriod(
                from_property=datetime(start.year, start.month, start.day, tzinfo=UTC),
                to=datetime(end.year, end.month, end.day, 23, 59, 59, tzinfo=UTC)),
            dataset=cm.QueryDataset(granularity="Daily", aggregation=aggregation, grouping=list(grouping),
                                    filter=filter_))
        params: dict[str, str] = {}
        while True:
            page = self._usage(definition, params)
            if page is None:
                return
            names = [column.name for column in page.columns or []]
            try:
                cost_at = _column(names, (COST_ALIAS, self.cost_column))
                quantity_at = _column(names, (QUANTITY_ALIAS, "UsageQuantity")) if with_quantity else None
            except KeyError as error:
                raise SourceError(self.source, f"unexpected query result: {error.args[0]}") from error
            for values in page.rows or []:
                row = dict(zip(names, values, strict=True))
                row["UsageDate"] = _usage_date(row["UsageDate"])
                row["cost"] = float(values[cost_at] or 0.0)
                if quantity_at is not None:
                    row["quantity"] = float(values[quantity_at] or 0.0)
                yield row
            if not page.next_link:
                return
            params = {k: v for k, v in parse_qsl(urlsplit(page.next_link).query) if k.lower() != "api-version"}

    def _usage(self, definition: cm.QueryDefinition, params: Mapping[str, str]) -> cm.QueryResult | None:
        attempt = 0
        while True:
            self.queries_made += 1
            try:
                return self.client.query.usage(self.scope, definition, params=dict(params),
                                               enforce_https=not self.allow_http)
            except HttpResponseError as error:
                wait = _retry_after(error) if error.status_code == 429 else None
                if wait is None or attempt >= self.throttle_retries or wait > self.max_throttle_wait:
                    raise SourceError(self.source, _reason(error, wait)) from error
            except AzureError as error:
                raise SourceError(self.source, f"the request to Azure failed ({type(error).__name__}: "
                                               f"{_first_line(error)})") from error
            time.sleep(wait)
            attempt += 1


def _dimension(name: str) -> cm.QueryGrouping:
    return cm.QueryGrouping(type="Dimension", name=name)


def _column(names: Sequence[str], candidates: Sequence[str]) -> int:
    for candidate in candidates:
        if candidate in names:
            return names.index(candidate)
    raise KeyError(f"none of the columns {', '.join(candidates)} in the query result ({', '.join(names)})")


def _usage_date(value: object) -> date:
    """``UsageDate`` is a number like 20261015 (sometimes an ISO string in other API versions)."""
    if isinstance(value, str) and "-" in value:
        return date.fromisoformat(value[:10])
    number = int(float(value))  # type: ignore[arg-type]
    return date(number // 10000, number // 100 % 100, number % 100)


def _billing_account(scope: str) -> str:
    parts = scope.split("/")
    for key in ("billingAccounts", "subscriptions"):
        if key in parts and parts.index(key) + 1 < len(parts):
            return parts[parts.index(key) + 1]
    return ""


def _retry_after(error: HttpResponseError) -> float | None:
    """Seconds Azure asks to wait (the largest of its retry-after headers); None when it does not say."""
    if error.response is None:
        return None
    headers = {k.lower(): v for k, v in error.response.headers.items()}
    waits = []
    for name in _RETRY_AFTER_HEADERS:
        if name in headers:
            value = headers[name]
            try:
                waits.append(float(value))
            except ValueError:
                moment = parsedate_to_datetime(value)
                waits.append((moment - datetime.now(moment.tzinfo)).total_seconds())
    return max(0.0, *waits) if waits else None


def _reason(error: HttpResponseError, wait: float | None) -> str:
    status = error.status_code
    code = getattr(error.error, "code", None) or error.reason or ""
    detail = f"{status} {code}".strip()
    if isinstance(error, ClientAuthenticationError) or status == 401:
        return f"Azure rejected the credentials ({detail})"
    if status == 403:
        return f"Azure denied access to the scope ({detail}): it needs Cost Management Reader"
    if status == 429:
        after = f"; Azure asks to wait {wait:g}s" if wait is not None else ""
        return f"Azure throttled the cost query ({detail}{after}); the next run retries"
    if status is not None and status >= 500:
        return f"Azure Cost Management failed on Azure's side ({detail}); the next run retries"
    return f"Azure Cost Management refused the query ({detail}: {_first_line(error.message)})"


def _first_line(error: object) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""

