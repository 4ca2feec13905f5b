"""Small cost files written to a temp dir, and exact sums of files, for the file-ingestion tests."""

from __future__ import annotations

import csv
import gzip
from decimal import Decimal
from pathlib import Path

from tests.conftest import shared_path

SAMPLES = shared_path("data", "samples")
FOCUS_SAMPLE = SAMPLES / "focus-1.0_finops-foundation_focus_sample_1000.csv"
CUR_SAMPLE = SAMPLES / "aws-cur1-legacy_focus-converters_sample-anonymous-aws-export-dataset.csv"
AZURE_SAMPLE = SAMPLES / "azure-ea-actual_focus-converters_sample-anonymous-ea-export-dataset.csv"
GCP_SAMPLE = SAMPLES / "gcp-billing-export-resource_SYNTHETIC_koku-nise_2024-05-01_03.csv"
ANOMALY_BENCH = shared_path("data", "anomaly-bench", "costs.csv.gz")

FOCUS_HEADER = ["ChargePeriodStart", "ProviderName", "BillingAccountId", "SubAccountId", "ServiceName",
                "RegionId", "ChargeCategory", "BilledCost", "EffectiveCost", "ListCost", "ConsumedQuantity",
                "ConsumedUnit", "Tags"]


def write_csv(path: Path, header: list[str], rows: list[list[object]], *, bom: bool = False,
              compress: bool = False) -> Path:
    """A CSV file (optionally with a UTF-8 BOM, optionally gzipped) with every field quoted as needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if compress else open
    with opener(path, "wt", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def focus_row(day: str = "2024-09-01T00:00:00Z", *, provider: str = "AWS", account: str = "111",
              service: str = "Amazon EC2", region: str = "us-east-1", category: str = "Usage",
              billed: object = "1.5", effective: object = "1.25", listed: object = "2.0",
              quantity: object = "3", unit: str = "Hours", tags: str = "") -> list[object]:
    """One FOCUS row in :data:`FOCUS_HEADER` order."""
    return [day, provider, "999", account, service, region, category, billed, effective, listed, quantity,
            unit, tags]


def column_sum(path: Path, column: str) -> Decimal:
    """The exact sum of a column, read with the csv module and Decimal (NULL and "" count 0)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as f:
        return sum((Decimal(row[column]) for row in csv.DictReader(f) if row[column] not in ("", "NULL")),
                   Decimal(0))
