"""AWS Cost and Usage Reports: legacy CUR (``lineItem/UsageStartDate`` CSV columns, or the
``line_item_usage_start_date`` spelling of its Parquet/Athena form) and CUR 2.0 (same snake_case
names, with ``product`` and ``resource_tags`` as maps), CSV, CSV.gz or Parquet.

Mapping to FOCUS:

================================  ===============================================================
ChargePeriodStart                 ``lineItem/UsageStartDate`` (UTC day)
BilledCost                        ``lineItem/UnblendedCost``
EffectiveCost                     amortized cost, below
ListCost                          ``pricing/publicOnDemandCost``
ProviderName                      "AWS"
BillingAccountId                  ``bill/PayerAccountId``
SubAccountId / SubAccountName     ``lineItem/UsageAccountId`` / ``line_item_usage_account_name`` (2.0)
ServiceName                       ``product/ProductName`` (2.0: ``product['product_name']``), else ``lineItem/ProductCode``
RegionId                          ``product/region``, else ``product/regionCode``
SkuId                             ``lineItem/UsageType`` (the usage type is what AWS prices and analysts read)
ResourceId                        ``lineItem/ResourceId``
ChargeCategory                    from ``lineItem/LineItemType``, below
Consumed/PricingQuantity, -Unit   ``lineItem/UsageAmount``, ``pricing/unit`` (usage line items only)
Tags                              ``resourceTags/user:*`` columns (legacy), ``resource_tags_user_*``
                                  (Athena), or the ``resource_tags`` map (2.0, keys ``user_*``);
                                  the ``user:`` / ``user_`` prefix is dropped, AWS-generated tags are not kept
================================  ===============================================================

EffectiveCost is AWS's amortized cost, the rule AWS documents for CUR queries: usage covered by a
Savings Plan costs ``savingsPlan/SavingsPlanEffectiveCost``, by a reservation
``reservation/EffectiveCost``; a Savings Plan's recurring fee counts only its unused commitment
(``TotalCommitmentToDate - UsedCommitment``), a reservation's fee only its unused part
(``UnusedAmortizedUpfrontFeeForBillingPeriod + UnusedRecurringFee``); Savings Plan negations,
Savings Plan upfront fees and reservation upfront fees (``Fee`` with a reservation ARN) count 0,
since their cost is already spread over the covered usage. Every other line item counts its
unblended cost. Each adjustment applies only when its columns are in the file.

ChargeCategory: Usage, DiscountedUsage, SavingsPlanCoveredUsage, SavingsPlanNegation -> Usage;
Fee, RIFee, SavingsPlanRecurringFee, SavingsPlanUpfrontFee -> Purchase; Tax -> Tax; Credit, Refund
and the discounts (EdpDiscount, PrivateRateDiscount, BundledDiscount, ...) -> Credit (a refund's
original category is not on its line, and like a credit it gives money back); anything else ->
Adjustment.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from finops.model import canonical_tags
from finops.sources.focus_files import (
    Coded,
    FocusRows,
    ReadPlan,
    booked_day,
    coalesce,
    constant,
    day_column,
    focus_rows,
    merge_tags,
    number_column,
    resolve_columns,
    tags_column,
    tags_from_text,
    text_column,
)

NAME = "aws-cur"
SIGNATURE = "lineItem/... or line_item_... columns"

# role -> (legacy CSV name, snake_case name used by CUR 2.0 and legacy Parquet/Athena)
COLUMNS: dict[str, tuple[str, ...]] = {
    "start": ("lineItem/UsageStartDate", "line_item_usage_start_date"),
    "period_start": ("bill/BillingPeriodStartDate", "bill_billing_period_start_date"),
    "unblended": ("lineItem/UnblendedCost", "line_item_unblended_cost"),
    "type": ("lineItem/LineItemType", "line_item_line_item_type"),
    "account": ("lineItem/UsageAccountId", "line_item_usage_account_id"),
    "product_code": ("lineItem/ProductCode", "line_item_product_code"),
    "account_name": ("lineItem/UsageAccountName", "line_item_usage_account_name"),
    "payer": ("bill/PayerAccountId", "bill_payer_account_id"),
    "currency": ("lineItem/CurrencyCode", "line_item_currency_code"),
    "product_name": ("product/ProductName", "product_product_name"),
    "region": ("product/region", "product_region"),
    "region_code": ("product/regionCode", "product_region_code"),
    "usage_type": ("lineItem/UsageType", "line_item_usage_type"),
    "resource": ("lineItem/ResourceId", "line_item_resource_id"),
    "usage_amount": ("lineItem/UsageAmount", "line_item_usage_amount"),
    "unit": ("pricing/unit", "pricing_unit"),
    "list": ("pricing/publicOnDemandCost", "pricing_public_on_demand_cost"),
    "sp_effective": ("savingsPlan/SavingsPlanEffectiveCost", "savings_plan_savings_plan_effective_cost"),
    "sp_commitment": ("savingsPlan/TotalCommitmentToDate", "savings_plan_total_commitment_to_date"),
    "sp_used": ("savingsPlan/UsedCommitment", "savings_plan_used_commitment"),
    "ri_effective": ("reservation/EffectiveCost", "reservation_effective_cost"),
    "ri_unused_upfront": ("reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
                          "reservation_unused_amortized_upfront_fee_for_billing_period"),
    "ri_unused_recurring": ("reservation/UnusedRecurringFee", "reservation_unused_recurring_fee"),
    "ri_arn": ("reservation/ReservationARN", "reservation_reservation_a_r_n"),
    "product_map": ("product",),
    "tags_map": ("resource_tags",),
}
REQUIRED = ("start", "unblended", "type", "account", "product_code")
NUMBERS = ("unblended", "usage_amount", "list", "sp_effective", "sp_commitment", "sp_used",
           "ri_effective", "ri_unused_upfront", "ri_unused_recurring")
TAG_PREFIXES = ("resourceTags/user:", "resource_tags_user_")

USAGE_TYPES = ("Usage", "DiscountedUsage", "SavingsPlanCoveredUsage")
CHARGE_CATEGORIES: dict[str, str] = {
    "Usage": "Usage", "DiscountedUsage": "Usage", "SavingsPlanCoveredUsage": "Usage",
    "SavingsPlanNegation": "Usage",
    "Fee": "Purchase", "RIFee": "Purchase", "SavingsPlanRecurringFee": "Purchase",
    "SavingsPlanUpfrontFee": "Purchase",
    "Tax": "Tax", "Credit": "Credit", "Refund": "Credit",
}


def matches(columns: Sequence[str]) -> bool:
    """Whether a header looks like a CUR (legacy or 2.0)."""
    return any(c.startswith(("lineItem/", "line_item_")) for c in columns)


def charge_category(line_item_type: str) -> str:
    """The FOCUS ChargeCategory of a CUR ``lineItem/LineItemType``."""
    if line_item_type in CHARGE_CATEGORIES:
        return CHARGE_CATEGORIES[line_item_type]
    return "Credit" if line_item_type.endswith("Discount") else "Adjustment"


def plan(columns: Sequence[str], *, file: str) -> ReadPlan:
    """How to read a CUR file with this header."""
    found = resolve_columns(columns, COLUMNS, file=file, required=REQUIRED, format_name="AWS CUR")
    tag_columns = {c: c.split(prefix, 1)[1] for c in columns for prefix in TAG_PREFIXES if c.startswith(prefix)}

    def normalize(table: pa.Table) -> FocusRows:
        rows = table.num_rows
        text = {role: text_column(table[found[role]]) for role in
                ("type", "account", "product_code", "account_name", "payer", "currency", "product_name",
                 "region", "region_code", "usage_type", "resource", "unit", "ri_arn") if role in found}
        numbers = {role: number_column(table[found[role]], column=found[role]) for role in NUMBERS if role in found}
        unblended = np.nan_to_num(numbers["unblended"])
        line_type = text["type"]
        category = line_type.map(charge_category, column=found["type"])
        # Quantities on usage line items only: a Savings Plan negation repeats the covered usage's
        # amount, and fees, taxes and credits count no usage. The negation keeps the unit so it
        # sums into the same series as the usage it offsets; FOCUS leaves other units empty.
        quantity = np.where(line_type.is_in(USAGE_TYPES), numbers.get("usage_amount", np.nan), np.nan)
        unit = text.get("unit", constant("", rows)).only_where(category.is_in(["Usage"]))

        product_map = table[found["product_map"]] if "product_map" in found else None
        service = coalesce([c for c in (text.get("product_name"), _map_value(product_map, "product_name"),
                                         text["product_code"]) if c is not None])
        region = coalesce([c for c in (text.get("region"), _map_value(product_map, "region"),
                                       text.get("region_code"), constant("", rows)) if c is not None])
        tags = _tags(table, found, tag_columns, rows)
        return focus_rows(
            booked_day(day_column(table[found["start"]], column=found["start"]), table, found.get("period_start")),
            {
                "ProviderName": constant("AWS", rows),
                "BillingAccountId": text.get("payer", constant("", rows)),
                "BillingCurrency": text.get("currency", constant("", rows)),
                "SubAccountId": text["account"],
                "SubAccountName": text.get("account_name", constant("", rows)),
                "ServiceName": service,
                "RegionId": region,
                "ChargeCategory": category,
                "SkuId": text.get("usage_type", constant("", rows)),
                "ResourceId": text.get("resource", constant("", rows)),
                "ConsumedUnit": unit,
                "PricingUnit": unit,
                "Tags": tags,
            },
            {
                "BilledCost": unblended,
                "EffectiveCost": amortized_cost(line_type, unblended, numbers, text.get("ri_arn")),
                "ListCost": np.nan_to_num(numbers.get("list", np.zeros(rows))),
            },
            {"ConsumedQuantity": quantity, "PricingQuantity": quantity},
        )

    numbers = tuple(found[r] for r in NUMBERS if r in found)
    nested = tuple(found[r] for r in ("product_map", "tags_map") if r in found)
    texts = tuple(found[r] for r in found if r not in NUMBERS and r not in ("product_map", "tags_map"))
    return ReadPlan(numbers=numbers, texts=(*texts, *tag_columns), normalize=normalize, nested=nested,
                    currency=found.get("currency", ""))


def amortized_cost(line_type: Coded, unblended: np.ndarray, numbers: dict[str, np.ndarray],
                   reservation_arn: Coded | None) -> np.ndarray:
    """EffectiveCost per line item (the rule in the module docstring)."""
    cost = unblended.copy()

    def amount(role: str) -> np.ndarray:
        return np.nan_to_num(numbers[role])

    def replace(kind: str, value: np.ndarray | float, *needs: str) -> None:
        if all(n in numbers for n in needs):
            rows = line_type.is_in([kind])
            cost[rows] = value[rows] if isinstance(value, np.ndarray) else value

    if "sp_effective" in numbers:
        replace("SavingsPlanCoveredUsage", amount("sp_effective"), "sp_effective")
        replace("SavingsPlanNegation", 0.0)
        replace("SavingsPlanUpfrontFee", 0.0)
    if "sp_commitment" in numbers and "sp_used" in numbers:
        replace("SavingsPlanRecurringFee", amount("sp_commitment") - amount("sp_used"))
    if "ri_effective" in numbers:
        replace("DiscountedUsage", amount("ri_effective"))
    if "ri_unused_upfront" in numbers and "ri_unused_recurring" in numbers:
        replace("RIFee", amount("ri_unused_upfront") + amount("ri_unused_recurring"))
    if reservation_arn is not None:
        upfront = line_type.is_in(["Fee"]) & (reservation_arn.row_values() != "")
        cost[upfront] = 0.0
    return cost


def _map_value(column: pa.Array | pa.ChunkedArray | None, key: str) -> Coded | None:
    """One key of CUR 2.0's ``product`` map (a Parquet map, or JSON text in CSV)."""
    if column is None:
        return None
    if pa.types.is_map(column.type):
        return text_column(pc.map_lookup(column, key, "first"))
    return text_column(column).map(lambda text: str(tags_from_text(text).get(key) or ""), column="product")


def _tags(table: pa.Table, found: dict[str, str], tag_columns: dict[str, str], rows: int) -> Coded:
    parts = []
    for column, key in tag_columns.items():
        parts.append(text_column(table[column]).map(
            lambda value, key=key: canonical_tags({key: value}) if value else "", column=column))
    if "tags_map" in found:
        parts.append(tags_column(table[found["tags_map"]], column=found["tags_map"]).map(
            _user_tags_only, column=found["tags_map"]))
    if not parts:
        return constant("", rows)
    return merge_tags(parts) if len(parts) > 1 else parts[0]


def _user_tags_only(text: object) -> str:
    # CUR 2.0 names user tags user_<key>; AWS-generated ones (aws_createdBy, ...) are not kept.
    tags = tags_from_text(text)
    return canonical_tags({k[len("user_"):]: v for k, v in tags.items() if k.startswith("user_")})
