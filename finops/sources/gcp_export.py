"""GCP BigQuery billing export (standard and resource-level tables), as Parquet (nested columns)
or as CSV flattened to dotted names (``service.description``, ``project.id``, ...).

Mapping to FOCUS:

==============================  ================================================================
ChargePeriodStart               ``usage_start_time`` (UTC day; BigQuery's ``... UTC`` text accepted)
BilledCost, EffectiveCost       ``cost`` (before credits; credits are separate rows, below)
ListCost                        ``cost_at_list`` when exported, else ``cost``
ProviderName                    "Google Cloud"
BillingAccountId / -Currency    ``billing_account_id`` / ``currency``
SubAccountId / -Name            ``project.id`` / ``project.name``
ServiceName                     ``service.description``
SkuId                           ``sku.id``
RegionId                        ``location.region``, else ``location.location``
ResourceId                      ``resource.name`` (resource-level export; "" in the standard one)
ChargeCategory                  ``cost_type``: regular -> Usage, tax -> Tax, adjustment and
                                rounding_error -> Adjustment (no column: Usage)
Consumed/PricingQuantity        ``usage.amount`` / ``usage.amount_in_pricing_units`` (usage rows only)
ConsumedUnit / PricingUnit      ``usage.unit`` / ``usage.pricing_unit`` (usage rows only)
Tags                            ``project.labels`` overlaid with the resource's ``labels`` (a
                                resource label wins over its project's). ``system_labels``
                                (machine specs) are not ownership and are not kept.
==============================  ================================================================

Credits: net cost is ``cost + sum(credits.amount)``. Each row with credits gets a companion row
with the same day and dimensions, ChargeCategory "Credit", and the credits' sum (negative) as
both BilledCost and EffectiveCost (credits reduce the invoice too; ListCost 0, no quantity). So
EffectiveCost over all rows is the net cost, the usage rows keep their undiscounted cost and
usage, and anomaly detection and variance see credits as their own series instead of as drops in
usage.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from finops.sources.focus_files import (
    FocusRows,
    ReadPlan,
    booked_day,
    coalesce,
    concat_rows,
    constant,
    day_column,
    focus_rows,
    merge_tags,
    money_column,
    number_column,
    resolve_columns,
    tags_column,
    text_column,
)

NAME = "gcp-export"
SIGNATURE = "usage_start_time and cost columns"

COLUMNS: dict[str, tuple[str, ...]] = {
    "start": ("usage_start_time",),
    "invoice_month": ("invoice.month",),
    "cost": ("cost",),
    "service": ("service.description",),
    "cost_at_list": ("cost_at_list",),
    "credits": ("credits",),
    "cost_type": ("cost_type",),
    "billing_account": ("billing_account_id",),
    "currency": ("currency",),
    "project": ("project.id",),
    "project_name": ("project.name",),
    "project_labels": ("project.labels",),
    "labels": ("labels",),
    "sku": ("sku.id",),
    "region": ("location.region",),
    "location": ("location.location",),
    "resource": ("resource.name",),
    "usage_amount": ("usage.amount",),
    "usage_unit": ("usage.unit",),
    "pricing_amount": ("usage.amount_in_pricing_units",),
    "pricing_unit": ("usage.pricing_unit",),
}
REQUIRED = ("start", "cost", "service")
NUMBERS = ("cost", "cost_at_list", "usage_amount", "pricing_amount")
NESTED = ("credits", "project_labels", "labels")

CHARGE_CATEGORIES: dict[str, str] = {
    "regular": "Usage", "tax": "Tax", "adjustment": "Adjustment", "rounding_error": "Adjustment",
}


def matches(columns: Sequence[str]) -> bool:
    """Whether a header looks like a BigQuery billing export."""
    names = set(columns)
    return "usage_start_time" in names and "cost" in names


def charge_category(cost_type: str) -> str:
    """The FOCUS ChargeCategory of a billing export ``cost_type``."""
    return CHARGE_CATEGORIES.get(cost_type.strip().lower(), "Adjustment") if cost_type else "Usage"


def credit_total(text: object) -> float:
    """The sum of ``amount`` over a credits list written as text (JSON, or a Python literal)."""
    if text is None or str(text).strip() in ("", "NULL", "[]"):
        return 0.0
    try:
        try:
            credits = json.loads(str(text))
        except json.JSONDecodeError:
            credits = ast.literal_eval(str(text))
        total = float(sum(float(c["amount"]) for c in credits))
    except (ValueError, SyntaxError, TypeError, KeyError):
        raise ValueError("not a list of credits with amounts") from None
    if not np.isfinite(total):
        raise ValueError("credit amount is not a finite number")
    return total


def _credits(array: pa.Array | pa.ChunkedArray, *, column: str) -> np.ndarray:
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
        amounts = pc.list_flatten(array).field("amount").to_numpy(zero_copy_only=False)
        amounts = np.nan_to_num(amounts.astype(np.float64))
        parents = pc.list_parent_indices(array).to_numpy(zero_copy_only=False)
        return np.bincount(parents, weights=amounts, minlength=len(array))
    return text_column(array).map(credit_total, column=column).row_values().astype(np.float64)


def plan(columns: Sequence[str], *, file: str) -> ReadPlan:
    """How to read a billing export with this header."""
    found = resolve_columns(columns, COLUMNS, file=file, required=REQUIRED, format_name="GCP billing export")

    def normalize(table: pa.Table) -> FocusRows:
        rows = table.num_rows
        blank = constant("", rows)
        text = {role: text_column(table[found[role]]) for role in
                ("service", "cost_type", "billing_account", "currency", "project", "project_name", "sku",
                 "region", "location", "resource", "usage_unit", "pricing_unit") if role in found}
        numbers = {role: number_column(table[found[role]], column=found[role]) for role in NUMBERS if role in found}
        cost = money_column(table[found["cost"]], column=found["cost"])
        category = text.get("cost_type", blank).map(charge_category, column=found.get("cost_type", ""))
        is_usage = category.is_in(["Usage"])

        label_parts = [tags_column(table[found[r]], column=found[r]) for r in ("project_labels", "labels")
                       if r in found]
        tags = merge_tags(label_parts) if len(label_parts) > 1 else (label_parts[0] if label_parts else blank)
        usage = focus_rows(
            booked_day(day_column(table[found["start"]], column=found["start"]), table, found.get("invoice_month"), month_text=True),
            {
                "ProviderName": constant("Google Cloud", rows),
                "BillingAccountId": text.get("billing_account", blank),
                "BillingCurrency": text.get("currency", blank),
                "SubAccountId": text.get("project", blank),
                "SubAccountName": text.get("project_name", blank),
                "ServiceName": text["service"],
                "RegionId": coalesce([text.get("region", blank), text.get("location", blank)]),
                "ChargeCategory": category,
                "SkuId": text.get("sku", blank),
                "ResourceId": text.get("resource", blank),
                "ConsumedUnit": text.get("usage_unit", blank).only_where(is_usage),
                "PricingUnit": text.get("pricing_unit", blank).only_where(is_usage),
                "Tags": tags,
            },
            {
                "BilledCost": cost,
                "EffectiveCost": cost,
                "ListCost": np.where(np.isnan(numbers["cost_at_list"]), cost, numbers["cost_at_list"])
                if "cost_at_list" in numbers else cost,
            },
            {
                "ConsumedQuantity": np.where(is_usage, numbers.get("usage_amount", np.nan), np.nan),
                "PricingQuantity": np.where(is_usage, numbers.get("pricing_amount", np.nan), np.nan),
            },
        )
        if "credits" not in found:
            return usage
        credit = _credits(table[found["credits"]], column=found["credits"])
        with_credit = np.flatnonzero(credit != 0)
        if not len(with_credit):
            return usage
        credited = usage.take(with_credit)
        count = len(with_credit)
        for unit in ("ConsumedUnit", "PricingUnit"):
            credited.dims[unit] = constant("", count)
        credited.dims["ChargeCategory"] = constant("Credit", count)
        credited.money = {"BilledCost": credit[with_credit], "EffectiveCost": credit[with_credit],
                          "ListCost": np.zeros(count)}
        credited.quantities = {q: np.full(count, np.nan) for q in credited.quantities}
        return concat_rows([usage, credited])

    numbers = tuple(found[r] for r in NUMBERS if r in found)
    nested = tuple(found[r] for r in NESTED if r in found)
    texts = tuple(found[r] for r in found if r not in NUMBERS and r not in NESTED)
    return ReadPlan(numbers=numbers, texts=texts, normalize=normalize, nested=nested,
                    currency=found.get("currency", ""))
