"""GCP connector: the Cloud Billing export in BigQuery, aggregated in BigQuery to daily rows.

Works on both export tables: standard (``gcp_billing_export_v1_<account>``) and resource-level
(``gcp_billing_export_resource_v1_<account>``, which adds ``resource.*``). The table's schema
is read first, so columns that only some exports have (``cost_at_list``, the pricing-unit usage
fields, ``resource.global_name``) are used when present.

The GROUP BY runs in BigQuery: one row per day x project x service x SKU x region x cost type x
units x label set (x resource), never the raw line items. Details:

- the day is ``DATE(usage_start_time)`` in UTC, as FOCUS's ChargePeriodStart;
- labels become Tags; they are sorted by key before ``TO_JSON_STRING`` so the same set in a
  different order is one group. ``label_keys`` keeps only the labels allocation needs, which
  stops high-cardinality automatic labels (``goog-k8s-*``) from multiplying rows;
- net cost includes credits: each group's ``SUM(cost)`` becomes a row with the line items'
  charge category (``cost_type`` regular -> Usage, tax -> Tax, adjustment and rounding error ->
  Adjustment) and the sum of its ``credits`` (``UNNEST(credits)``, negative amounts) a second
  row with ChargeCategory Credit, so totals are net and a credit that ends is visible as such;
- the window is parameterized; on exports partitioned by ingestion time (``_PARTITIONTIME``)
  the query also prunes partitions older than the window, with a day's margin because a
  partition's date and a usage day's UTC date may differ by a time zone. Line items are exported
  after they happen, so no partition before that bound can hold the window's usage.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import pandas as pd
from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions
from google.cloud import bigquery

from finops.model import canonical_tags
from finops.sources.connector import CostConnector, SourceError, check_window, daily_frame_from_records

# Letters, digits, _ - : . in the project (domain-scoped projects have "example.com:p"),
# then dataset and table. The name is spliced into SQL, so nothing else is accepted.
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.:-]+\.[A-Za-z0-9_]+\.[A-Za-z0-9_$-]+$")

_REQUIRED = ("usage_start_time", "cost", "currency", "project.id", "service.description", "sku.id",
             "credits.amount", "labels.key", "labels.value")

# How long one pull retries BigQuery's transient failures (5xx, rate limits) before giving up.
DEFAULT_RETRY_SECONDS = 120.0

CHARGE_CATEGORIES = {"regular": "Usage", "tax": "Tax", "adjustment": "Adjustment", "rounding error": "Adjustment"}


class GcpBillingExport(CostConnector):
    """Daily costs from a Cloud Billing export table ``project.dataset.table`` in BigQuery.

    ``client`` is a ``google.cloud.bigquery.Client`` (default: Application Default Credentials,
    jobs run in the table's project). ``label_keys`` limits the labels kept as Tags (None keeps
    all). ``location`` is the dataset's location when it is not the client's default.
    """

    lag_days = 1
    # Credits and late usage keep arriving for a few days after a day is first exported.
    restate_days = 3

    def __init__(self, table: str, *, client: bigquery.Client | None = None,
                 label_keys: Sequence[str] | None = None, location: str | None = None,
                 retry_seconds: float = DEFAULT_RETRY_SECONDS) -> None:
        if not _TABLE_NAME.match(table):
            raise ValueError(f"{table!r} is not a BigQuery table name like project.dataset.gcp_billing_export_v1_X")
        self.table = table
        self.source = f"gcp:{table}"
        self.client = client if client is not None else bigquery.Client(project=table.rsplit(".", 2)[0])
        self.label_keys = list(label_keys) if label_keys is not None else None
        self.location = location
        # The SDK retries 5xx and rate limits for up to 10 minutes by default, then raises a
        # RetryError; bounded here, a failing BigQuery becomes a failed run the next run retries.
        self.retry = bigquery.DEFAULT_RETRY.with_deadline(retry_seconds)

    def fetch_daily(self, start: date, end: date) -> pd.DataFrame:
        """Daily cost frame for ``[start, end]``: usage/tax/adjustment rows plus their credits."""
        check_window(start, end)
        try:
            table = self.client.get_table(self.table, retry=self.retry)
            sql = self.daily_query(_field_paths(table.schema), ingestion_partitioned=_ingestion_partitioned(table))
            parameters = [bigquery.ScalarQueryParameter("start", "DATE", start),
                          bigquery.ScalarQueryParameter("end", "DATE", end)]
            if self.label_keys is not None:
                parameters.append(bigquery.ArrayQueryParameter("label_keys", "STRING", self.label_keys))
            job = self.client.query(sql, job_config=bigquery.QueryJobConfig(query_parameters=parameters),
                                    location=self.location, retry=self.retry)
            rows = list(job.result(retry=self.retry))
        except (api_exceptions.GoogleAPICallError, auth_exceptions.GoogleAuthError) as error:
            raise SourceError(self.source, _reason(error)) from error
        except api_exceptions.RetryError as error:  # retried until the deadline: the last error says why
            cause = error.cause
            reason = _reason(cause) if isinstance(cause, api_exceptions.GoogleAPICallError) else _first_line(cause)
            raise SourceError(self.source, f"{reason} (still failing after {self.retry.deadline:g} s of retries)") \
                from error
        return daily_frame_from_records(_records(rows), start, end)

    def daily_query(self, fields: Iterable[str], *, ingestion_partitioned: bool) -> str:
        """The aggregation SQL for a table with these column paths (``usage.unit``, ...)."""
        fields = set(fields)
        missing = [f for f in _REQUIRED if f not in fields]
        if missing:
            raise SourceError(self.source, f"not a Cloud Billing export table (no column {', '.join(missing)})")

        def column(path: str, default: str = "''") -> str:
            return f"IFNULL({path}, {default})" if path in fields else default

        resource = "''"
        if "resource.global_name" in fields or "resource.name" in fields:
            names = [p for p in ("resource.global_name", "resource.name") if p in fields]
            resource = f"COALESCE({', '.join(names)}, '')"
        label_filter = " WHERE l.key IN UNNEST(@label_keys)" if self.label_keys is not None else ""
        partition_filter = (" AND _PARTITIONTIME >= TIMESTAMP(DATE_SUB(@start, INTERVAL 1 DAY))"
                            if ingestion_partitioned else "")
        list_cost = "cost_at_list" if "cost_at_list" in fields else "CAST(NULL AS FLOAT64)"
        pricing_amount = ("usage.amount_in_pricing_units" if "usage.amount_in_pricing_units" in fields
                          else "CAST(NULL AS FLOAT64)")
        return f"""
WITH line_items AS (
  SELECT
    DATE(usage_start_time) AS day,
    {column("billing_account_id")} AS billing_account_id,
    currency,
    {column("project.id")} AS project_id,
    {column("project.name")} AS project_name,
    {column("service.description")} AS service,
    {column("sku.id")} AS sku_id,
    {column("location.region")} AS region,
    {resource} AS resource_id,
    {column("cost_type", "'regular'")} AS cost_type,
    {column("usage.unit")} AS usage_unit,
    {column("usage.pricing_unit")} AS pricing_unit,
    TO_JSON_STRING(ARRAY(SELECT AS STRUCT l.key, l.value FROM UNNEST(labels) AS l{label_filter}
                         ORDER BY l.key)) AS labels,
    cost,
    {list_cost} AS list_cost,
    IFNULL((SELECT SUM(c.amount) FROM UNNEST(credits) AS c), 0) AS credits,
    usage.amount AS usage_amount,
    {pricing_amount} AS pricing_amount
  FROM `{self.table}`
  WHERE usage_start_time >= TIMESTAMP(@start)
    AND usage_start_time < TIMESTAMP(DATE_ADD(@end, INTERVAL 1 DAY)){partition_filter}
)
SELECT day, billing_account_id, currency, project_id, project_name, service, sku_id, region, resource_id,
       cost_type, usage_unit, pricing_unit, labels,
       SUM(cost) AS cost, SUM(list_cost) AS list_cost, SUM(credits) AS credits,
       SUM(usage_amount) AS usage_amount, SUM(pricing_amount) AS pricing_amount
FROM line_items
GROUP BY day, billing_account_id, currency, project_id, project_name, service, sku_id, region, resource_id,
         cost_type, usage_unit, pricing_unit, labels
"""


def _field_paths(schema: Sequence[bigquery.SchemaField], prefix: str = "") -> set[str]:
    paths = set()
    for field in schema:
        path = f"{prefix}{field.name}"
        paths.add(path)
        paths |= _field_paths(field.fields, f"{path}.")
    return paths


def _ingestion_partitioned(table: bigquery.Table) -> bool:
    return table.time_partitioning is not None and table.time_partitioning.field is None


def _records(rows: Iterable[Any]) -> Iterable[dict[str, object]]:
    """Two records per aggregated row: the charge itself and, when non-zero, its credits."""
    for row in rows:
        labels = {item["key"]: item["value"] for item in json.loads(row["labels"] or "[]")}
        dims = {
            "ChargePeriodStart": row["day"],
            "ProviderName": "Google Cloud",
            "BillingAccountId": row["billing_account_id"],
            "BillingCurrency": row["currency"] or "",
            "SubAccountId": row["project_id"],
            "SubAccountName": row["project_name"],
            "ServiceName": row["service"],
            "SkuId": row["sku_id"],
            "RegionId": row["region"],
            "ResourceId": row["resource_id"],
            "Tags": canonical_tags(labels),
        }
        cost = row["cost"] or 0.0
        yield {
            **dims,
            "ChargeCategory": CHARGE_CATEGORIES.get(row["cost_type"], "Usage"),
            "BilledCost": cost,
            "EffectiveCost": cost,
            "ListCost": row["list_cost"] if row["list_cost"] is not None else 0.0,
            "ConsumedQuantity": row["usage_amount"],
            "ConsumedUnit": row["usage_unit"],
            "PricingQuantity": row["pricing_amount"],
            "PricingUnit": row["pricing_unit"],
        }
        if row["credits"]:
            yield {**dims, "ChargeCategory": "Credit", "BilledCost": row["credits"], "EffectiveCost": row["credits"]}


def _reason(error: Exception) -> str:
    if isinstance(error, auth_exceptions.GoogleAuthError):
        return f"Google rejected the credentials ({type(error).__name__}: {_first_line(error)})"
    if isinstance(error, api_exceptions.Unauthorized):
        return f"Google rejected the credentials (401 {_first_line(error.message)})"
    if isinstance(error, api_exceptions.TooManyRequests) or (
            isinstance(error, api_exceptions.Forbidden) and _reasons(error) & {"rateLimitExceeded", "quotaExceeded"}):
        return f"BigQuery throttled the query ({error.code} {_first_line(error.message)}); the next run retries"
    if isinstance(error, api_exceptions.Forbidden):
        return f"BigQuery denied access ({error.code} {_first_line(error.message)}): check the read-only roles"
    if isinstance(error, api_exceptions.NotFound):
        return f"BigQuery has no such table or dataset ({error.code} {_first_line(error.message)})"
    if isinstance(error, api_exceptions.ServerError):
        return f"BigQuery failed on Google's side ({error.code} {_first_line(error.message)}); the next run retries"
    return f"BigQuery refused the query ({error.code} {_first_line(error.message)})"


def _reasons(error: api_exceptions.GoogleAPICallError) -> set[str]:
    return {e.get("reason", "") for e in (error.errors or []) if isinstance(e, dict)}


def _first_line(message: object) -> str:
    return str(message).strip().splitlines()[0] if str(message).strip() else ""
