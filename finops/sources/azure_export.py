"""Azure cost details exports (EA and MCA, actual or amortized cost), CSV, CSV.gz or Parquet.

Column names are matched without regard to case (EA writes ``CostInBillingCurrency``, MCA
``costInBillingCurrency``); older EA names are accepted where they differ (``UsageDate``,
``PreTaxCost``, ``SubscriptionGuid``, ``InstanceId``, ``UsageQuantity``, and the EA usage file's
``ExtendedCost`` and ``ConsumedQuantity``).

Mapping to FOCUS:

==============================  ==================================================================
ChargePeriodStart               ``Date`` / ``UsageDate`` (Azure writes US dates, ``M/D/YYYY``, or ISO)
EffectiveCost                   ``CostInBillingCurrency`` (``Cost``, ``PreTaxCost``, ``ExtendedCost``)
BilledCost                      the same, except 0 on usage covered by a reservation or savings plan
                                and on ``UnusedReservation`` / ``UnusedSavingsPlan`` rows
ListCost                        ``PayGCostInBillingCurrency`` (MCA), else ``PayGPrice * Quantity``, else 0
ProviderName                    "Microsoft"
BillingAccountId / -Currency    ``BillingAccountId`` / ``BillingCurrencyCode`` (``BillingCurrency``, ``Currency``)
SubAccountId / -Name            ``SubscriptionId`` / ``SubscriptionName``
ServiceName, ServiceCategory    the FinOps toolkit's service map (``data/azure_services.csv``, from
                                microsoft/finops-toolkit ``src/open-data/Services.csv``, MIT) by
                                ``ConsumedService`` and the resource type in ``ResourceId``; when it
                                has no single answer, ``MeterCategory`` (see :func:`service_of`)
RegionId                        ``ResourceLocation``, lower case without spaces ("East US 2" -> "eastus2")
SkuId                           ``MeterId``
ResourceId                      ``ResourceId`` (``InstanceId``)
ChargeCategory                  ``ChargeType``: Usage, UnusedReservation, UnusedSavingsPlan -> Usage;
                                Purchase -> Purchase; Tax -> Tax; Credit, Refund -> Credit;
                                anything else (RoundingAdjustment, ...) -> Adjustment
Consumed/PricingQuantity, Unit  ``Quantity``, ``UnitOfMeasure`` (usage rows only)
Tags                            ``Tags``, as JSON or as Azure's JSON without braces (``"a": "b","c": "d"``)
==============================  ==================================================================

Actual and amortized exports share their columns, so one rule reads both: in an amortized export
covered usage carries its share of the commitment (EffectiveCost) and was not billed itself; in
an actual export those rows are already 0. Amortized exports have no purchase rows. An actual
export's purchases stay in EffectiveCost as billed, because one file alone cannot spread them.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from functools import cache
from importlib import resources

import numpy as np
import pyarrow as pa

from finops.sources.focus_files import (
    FocusRows,
    ReadPlan,
    booked_day,
    constant,
    day_column,
    derive,
    focus_rows,
    money_column,
    number_column,
    resolve_columns,
    tags_column,
    text_column,
)

NAME = "azure-export"
SIGNATURE = "MeterCategory, MeterId or CostInBillingCurrency columns"

COLUMNS: dict[str, tuple[str, ...]] = {
    "date": ("Date", "UsageDate", "UsageDateTime"),
    "period_start": ("BillingPeriodStartDate",),
    "cost": ("CostInBillingCurrency", "Cost", "PreTaxCost", "ExtendedCost"),
    "payg_cost": ("PayGCostInBillingCurrency",),
    "payg_price": ("PayGPrice",),
    "quantity": ("Quantity", "UsageQuantity", "ConsumedQuantity"),
    "subscription": ("SubscriptionId", "SubscriptionGuid"),
    "subscription_name": ("SubscriptionName",),
    "billing_account": ("BillingAccountId",),
    "currency": ("BillingCurrencyCode", "BillingCurrency", "Currency"),
    "meter_category": ("MeterCategory",),
    "consumed_service": ("ConsumedService",),
    "location": ("ResourceLocation",),
    "meter": ("MeterId",),
    "resource": ("ResourceId", "InstanceId"),
    "charge_type": ("ChargeType",),
    "pricing_model": ("PricingModel",),
    "unit": ("UnitOfMeasure",),
    "tags": ("Tags",),
}
REQUIRED = ("date", "cost", "subscription")
NUMBERS = ("cost", "payg_cost", "payg_price", "quantity")
_SIGNATURE_COLUMNS = {"metercategory", "meterid", "costinbillingcurrency", "pretaxcost"}

CHARGE_CATEGORIES: dict[str, str] = {
    "usage": "Usage", "unusedreservation": "Usage", "unusedsavingsplan": "Usage",
    "purchase": "Purchase", "tax": "Tax", "credit": "Credit", "refund": "Credit",
}
_COMMITMENT_MODELS = {"reservation", "savingsplan", "savings plan"}
_UNUSED_COMMITMENT = {"unusedreservation", "unusedsavingsplan"}


def matches(columns: Sequence[str]) -> bool:
    """Whether a header looks like an Azure cost details export."""
    return bool(_SIGNATURE_COLUMNS & {c.lower() for c in columns})


def charge_category(charge_type: str) -> str:
    """The FOCUS ChargeCategory of an Azure ``ChargeType``."""
    return CHARGE_CATEGORIES.get(charge_type.strip().lower(), "Adjustment") if charge_type else "Usage"


def region_id(location: str) -> str:
    """Azure's resource location as a region id: ``East US 2`` and ``EastUS2`` are ``eastus2``."""
    return re.sub(r"\s+", "", location).lower()


def resource_type(resource_id: str) -> str:
    """The ARM resource type of a resource id, lower case: ``.../providers/Microsoft.Sql/servers/s/
    databases/d`` is ``microsoft.sql/servers/databases`` ("" when the id has no provider)."""
    parts = [p for p in resource_id.split("/") if p]
    lowered = [p.lower() for p in parts]
    if "providers" not in lowered:
        return ""
    last_provider = len(lowered) - 1 - lowered[::-1].index("providers")
    segments = lowered[last_provider + 1:]
    return "/".join([segments[0], *segments[1::2]]) if segments else ""


@cache
def _service_map() -> tuple[dict, dict, dict, dict]:
    pairs: dict[tuple[str, str], tuple[str, str]] = {}
    by_type: dict[str, set[tuple[str, str]]] = {}
    by_service: dict[str, set[tuple[str, str]]] = {}
    by_name: dict[str, set[str]] = {}
    with resources.files("finops.sources").joinpath("data/azure_services.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            service, kind = row["ConsumedService"].lower(), row["ResourceType"].lower()
            answer = (row["ServiceName"], row["ServiceCategory"])
            pairs.setdefault((service, kind), answer)
            by_type.setdefault(kind, set()).add(answer)
            if service:
                by_service.setdefault(service, set()).add(answer)
            by_name.setdefault(row["ServiceName"].lower(), set()).add(row["ServiceCategory"])
    return pairs, by_type, by_service, by_name


def _only(values: set[str]) -> str | None:
    return next(iter(values)) if len(values) == 1 else None


def service_of(consumed_service: str, resource_id: str, meter_category: str) -> tuple[str, str]:
    """(ServiceName, ServiceCategory) from the toolkit's map: by consumed service and resource
    type, else by resource type, else by consumed service when it has one answer; otherwise the
    meter category names the service, and its category is the map's for that name, if any."""
    pairs, by_type, by_service, by_name = _service_map()
    service, kind = consumed_service.lower(), resource_type(resource_id)
    if (service, kind) in pairs:
        return pairs[service, kind]
    answer = _only(by_type.get(kind, set())) or _only(by_service.get(service, set()))
    if answer:
        return answer
    name = meter_category or consumed_service
    category = _only(by_name.get(name.lower(), set()))
    if category is None:
        category = _only({c for _, c in by_service.get(service, set())}) or ""
    return name, category


def plan(columns: Sequence[str], *, file: str) -> ReadPlan:
    """How to read an Azure cost export with this header."""
    found = resolve_columns(columns, COLUMNS, file=file, required=REQUIRED, format_name="Azure cost export",
                            case_insensitive=True)

    def normalize(table: pa.Table) -> FocusRows:
        rows = table.num_rows
        blank = constant("", rows)
        text = {role: text_column(table[found[role]]) for role in
                ("subscription", "subscription_name", "billing_account", "currency", "meter_category",
                 "consumed_service", "location", "meter", "resource", "charge_type", "pricing_model", "unit")
                if role in found}
        numbers = {role: number_column(table[found[role]], column=found[role]) for role in NUMBERS if role in found}
        cost = money_column(table[found["cost"]], column=found["cost"])
        charge_type = text.get("charge_type", constant("Usage", rows))
        lowered_type = charge_type.map(str.lower, column=found.get("charge_type", ""))
        is_usage = lowered_type.is_in(["usage"])
        covered = is_usage & text.get("pricing_model", blank).map(str.lower, column="").is_in(_COMMITMENT_MODELS)
        covered |= lowered_type.is_in(_UNUSED_COMMITMENT)
        quantity = np.where(is_usage, numbers.get("quantity", np.nan), np.nan)
        unit = text.get("unit", blank).only_where(is_usage)
        service_name, service_category = derive(
            [text.get(r, blank) for r in ("consumed_service", "resource", "meter_category")], service_of, 2)
        return focus_rows(
            booked_day(day_column(table[found["date"]], column=found["date"]), table, found.get("period_start")),
            {
                "ProviderName": constant("Microsoft", rows),
                "BillingAccountId": text.get("billing_account", blank),
                "BillingCurrency": text.get("currency", blank),
                "SubAccountId": text["subscription"],
                "SubAccountName": text.get("subscription_name", blank),
                "ServiceName": service_name,
                "ServiceCategory": service_category,
                "RegionId": text.get("location", blank).map(region_id, column=found.get("location", "")),
                "ChargeCategory": charge_type.map(charge_category, column=found.get("charge_type", "")),
                "SkuId": text.get("meter", blank),
                "ResourceId": text.get("resource", blank),
                "ConsumedUnit": unit,
                "PricingUnit": unit,
                "Tags": tags_column(table[found["tags"]], column=found["tags"]) if "tags" in found else blank,
            },
            {
                "BilledCost": np.where(covered, 0.0, cost),
                "EffectiveCost": cost,
                "ListCost": _list_cost(numbers, rows),
            },
            {"ConsumedQuantity": quantity, "PricingQuantity": quantity},
        )

    numbers = tuple(found[r] for r in NUMBERS if r in found)
    texts = tuple(found[r] for r in found if r not in NUMBERS and r != "tags")
    nested = (found["tags"],) if "tags" in found else ()
    return ReadPlan(numbers=numbers, texts=texts, normalize=normalize, nested=nested,
                    currency=found.get("currency", ""))


def _list_cost(numbers: dict[str, np.ndarray], rows: int) -> np.ndarray:
    if "payg_cost" in numbers:
        return np.nan_to_num(numbers["payg_cost"])
    if "payg_price" in numbers and "quantity" in numbers:
        return np.nan_to_num(numbers["payg_price"] * numbers["quantity"])
    return np.zeros(rows)
