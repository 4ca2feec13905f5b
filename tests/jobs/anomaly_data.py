"""A small organisation with flat, noise-free spend and planted anomalies whose figures are exact.

Teams as in tests/harness.py (payments owns account 111222330440, search 111222331441); account
999999999999 is owned by nobody (its spend goes to the default channel, #finops). Every day from
2026-09-01:

- payments' EC2: instance i-aaa $600 and i-bbb $400 ($1,000 a day);
  from 2026-11-12 i-bbb runs at $2,000 (+$1,600 a day: a shift carried by i-bbb alone);
- search's OpenSearch $500 a day; from 2026-11-13 $100 (a drop: recorded, never alerted);
- unallocated S3 in 999999999999: $300 a day; on 2026-11-14 and 2026-11-15 $1,200 (+$900 a day).

With no noise and no weekly pattern the detector's expected cost is the old level exactly, so the
impacts are hand-computable: payments +$1,600 per day from the 12th, S3 +$900 per day of the spike.
``ingest_through(ctx, day)`` writes the costs up to ``day`` as one FOCUS file (re-ingesting replaces
the days it covers, as a restated export would) and makes ``day`` the last complete one.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from bot.context import AppContext
from jobs.ingest import ingest_cost_files
from storage.costs import CostStore
from tests.finops.sources.cost_file_helpers import write_csv

FIRST_DAY = date(2026, 9, 1)
SHIFT_FROM = date(2026, 11, 12)
DROP_FROM = date(2026, 11, 13)
SPIKE_DAYS = (date(2026, 11, 14), date(2026, 11, 15))
PAYMENTS_ACCOUNT, SEARCH_ACCOUNT, NOBODY = "111222330440", "111222331441", "999999999999"
HEADER = ["ChargePeriodStart", "ProviderName", "BillingAccountId", "SubAccountId", "ServiceName", "RegionId",
          "ChargeCategory", "SkuId", "ResourceId", "BilledCost", "EffectiveCost", "ListCost", "Tags"]


def focus_row(day: date, account: str, service: str, sku: str, resource: str, cost: float,
              region: str = "us-east-1") -> list[object]:
    """One row in :data:`HEADER` order."""
    amount = f"{cost:.2f}"
    return [f"{day.isoformat()}T00:00:00Z", "AWS", "999000999000", account, service, region, "Usage", sku,
            resource, amount, amount, amount, ""]


def cost_rows(through: date, *, spike_days: tuple[date, ...] = SPIKE_DAYS) -> list[list[object]]:
    """Every cost row from FIRST_DAY to ``through`` (see the module docstring)."""
    rows = []
    day = FIRST_DAY
    while day <= through:
        rows.append(focus_row(day, PAYMENTS_ACCOUNT, "Amazon EC2", "BoxUsage:m6i.xlarge", "i-aaa", 600.0))
        rows.append(focus_row(day, PAYMENTS_ACCOUNT, "Amazon EC2", "BoxUsage:m6i.xlarge", "i-bbb",
                         2000.0 if day >= SHIFT_FROM else 400.0))
        rows.append(focus_row(day, SEARCH_ACCOUNT, "Amazon OpenSearch Service", "ESInstance", "search-main",
                         100.0 if day >= DROP_FROM else 500.0))
        rows.append(focus_row(day, NOBODY, "Amazon S3", "TimedStorage", "bucket-x", 1200.0 if day in spike_days else 300.0))
        day += timedelta(days=1)
    return rows


def ingest_through(ctx: AppContext, through: date, directory: Path, *,
                   spike_days: tuple[date, ...] = SPIKE_DAYS) -> None:
    """Ingest the costs up to ``through`` (complete through ``through``)."""
    path = write_csv(directory / f"costs-{through.isoformat()}.csv", HEADER, cost_rows(through, spike_days=spike_days))
    # files are complete through their last day once two more days have passed (finops/freshness.py)
    ingest_cost_files(CostStore(ctx.db), ctx.teams, [path], today=through + timedelta(days=2))
