"""The cost model every part of costbot speaks: FOCUS column names, daily granularity.

A *daily cost frame* is a pandas DataFrame with one row per (day, series) where a series is one
combination of the dimension columns below. Connectors produce it, storage saves and loads it,
analyses read it. Conventions that keep group-bys honest:

- dimension columns are strings and a missing value is the empty string "", never NaN
  (pandas drops NaN keys in group-bys, which silently loses money);
- ``ChargePeriodStart`` is a tz-naive ``datetime64[ns]`` at midnight UTC of the charge day;
- money columns are float64 in the billing currency; storage keeps them as integer micro-units
  so sums in SQL are exact, and anything that promises cents rounds at the edge
  (see :mod:`finops.money`);
- quantities are float64 and NaN where the source has none;
- ``Tags`` is canonical JSON (sorted keys, no spaces) or "" when the row has no tags.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

DAY = "ChargePeriodStart"

# The dimensions a daily series is keyed by, in FOCUS names (1.0-1.2).
DIMENSIONS: tuple[str, ...] = (
    "ProviderName",
    "BillingAccountId",
    "BillingCurrency",
    "SubAccountId",
    "SubAccountName",
    "ServiceName",
    "ServiceCategory",
    "RegionId",
    "ChargeCategory",
    "SkuId",
    "ResourceId",
    "ConsumedUnit",
    "PricingUnit",
    "Tags",
)

MONEY: tuple[str, ...] = ("BilledCost", "EffectiveCost", "ListCost")
QUANTITIES: tuple[str, ...] = ("ConsumedQuantity", "PricingQuantity")

# Added by allocation (x_ is FOCUS's prefix for custom columns).
TEAM = "x_Team"
ALLOCATION_RULE = "x_AllocationRule"
OWNERSHIP: tuple[str, ...] = (TEAM, ALLOCATION_RULE)

DAILY_COLUMNS: tuple[str, ...] = (DAY, *DIMENSIONS, *MONEY, *QUANTITIES, *OWNERSHIP)

# FOCUS ChargeCategory values (1.0-1.2).
CHARGE_CATEGORIES: tuple[str, ...] = ("Usage", "Purchase", "Tax", "Credit", "Adjustment")

# The metric names the CLI and Slack accept, and the column each reads.
METRICS: dict[str, str] = {"effective": "EffectiveCost", "billed": "BilledCost", "list": "ListCost"}
DEFAULT_METRIC = "effective"

UNALLOCATED = "unallocated"


def metric_column(metric: str) -> str:
    """The frame column for a metric name (`effective`, `billed`, `list`)."""
    try:
        return METRICS[metric]
    except KeyError:
        raise ValueError(f"unknown metric {metric!r}: use one of {', '.join(METRICS)}") from None


def canonical_tags(tags: Mapping[str, object] | None) -> str:
    """Tags as canonical JSON: sorted keys, string values, "" for no tags."""
    if not tags:
        return ""
    return json.dumps({str(k): "" if v is None else str(v) for k, v in sorted(tags.items())},
                      separators=(",", ":"), sort_keys=True)


def parse_tags(text: str) -> dict[str, str]:
    """The inverse of :func:`canonical_tags`."""
    return json.loads(text) if text else {}


def empty_daily_frame() -> pd.DataFrame:
    """A daily cost frame with no rows and the right dtypes."""
    return conform_daily_frame(pd.DataFrame({c: [] for c in DAILY_COLUMNS}))


def conform_daily_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with exactly the daily columns, in order, with the conventional dtypes.

    Missing dimension or ownership columns become "", missing money becomes 0.0, missing
    quantities NaN. Extra columns are dropped.
    """
    out = pd.DataFrame(index=frame.index)
    out[DAY] = pd.to_datetime(frame[DAY]).dt.normalize() if DAY in frame else pd.NaT
    if DAY in out and isinstance(out[DAY].dtype, pd.DatetimeTZDtype):
        out[DAY] = out[DAY].dt.tz_convert("UTC").dt.tz_localize(None)
    out[DAY] = out[DAY].astype("datetime64[ns]")
    for col in (*DIMENSIONS, *OWNERSHIP):
        if col in frame:
            out[col] = frame[col].fillna("").astype(str)
        else:
            out[col] = ""
        out[col] = out[col].astype(object)
    for col in MONEY:
        out[col] = pd.to_numeric(frame[col], errors="raise").fillna(0.0).astype(np.float64) if col in frame else 0.0
    for col in QUANTITIES:
        out[col] = pd.to_numeric(frame[col], errors="raise").astype(np.float64) if col in frame else np.nan
    return out[list(DAILY_COLUMNS)].reset_index(drop=True)


def aggregate_daily(frame: pd.DataFrame, keys: Iterable[str] = (DAY, *DIMENSIONS, *OWNERSHIP)) -> pd.DataFrame:
    """Sum money and quantities over ``keys`` (default: the full daily series key).

    Quantities sum with ``min_count=1`` so a group with no quantity stays NaN instead of 0.
    """
    keys = list(keys)
    if frame.empty:
        return conform_daily_frame(frame)
    agg = {c: "sum" for c in MONEY}
    grouped = frame.groupby(keys, sort=False, dropna=False)
    out = grouped.agg(agg)
    for q in QUANTITIES:
        if q in frame:
            out[q] = grouped[q].sum(min_count=1)
    return out.reset_index()
