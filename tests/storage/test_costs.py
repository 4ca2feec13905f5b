"""CostStore on SQLite and PostgreSQL: exact money, idempotent replacement, atomic writes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from finops import model
from finops.errors import InputError
from storage.costs import CostStore, SourceBatch
from storage.db import Database


def frame(rows: list[dict]) -> pd.DataFrame:
    base = {"ProviderName": "AWS", "BillingAccountId": "999", "BillingCurrency": "USD", "SubAccountId": "111",
            "ServiceName": "Amazon EC2", "RegionId": "us-east-1", "ChargeCategory": "Usage", model.TEAM: "payments"}
    return model.conform_daily_frame(pd.DataFrame([{**base, **r} for r in rows]))


def test_write_then_totals_are_exact_to_the_micro(db: Database) -> None:
    store = CostStore(db)
    data = frame([
        {"ChargePeriodStart": "2026-10-01", "EffectiveCost": 0.1, "BilledCost": 0.2, "ListCost": 0.3},
        {"ChargePeriodStart": "2026-10-01", "EffectiveCost": 0.2, "BilledCost": 0.1, "ServiceName": "Amazon S3"},
        {"ChargePeriodStart": "2026-10-02", "EffectiveCost": 1234.567891, "BilledCost": 1000},
    ])
    result = store.replace_daily_costs("file:focus:AWS:999", data)
    assert (result.rows, result.series, result.start, result.end) == (3, 2, date(2026, 10, 1), date(2026, 10, 2))
    totals = store.totals()
    assert totals["EffectiveCost"] == Decimal("1234.867891")
    assert totals["BilledCost"] == Decimal("1000.300000")
    assert totals["ListCost"] == Decimal("0.300000")


def test_reingest_replaces_only_that_source_and_period(db: Database) -> None:
    store = CostStore(db)
    october = frame([{"ChargePeriodStart": f"2026-10-0{d}", "EffectiveCost": 10.0} for d in range(1, 6)])
    store.replace_daily_costs("aws", october)
    store.replace_daily_costs("azure", frame([{"ChargePeriodStart": "2026-10-03", "EffectiveCost": 7.5,
                                               "ProviderName": "Microsoft"}]))
    # AWS restates days 4-5: only those days of that source change.
    restated = frame([{"ChargePeriodStart": "2026-10-04", "EffectiveCost": 12.25},
                      {"ChargePeriodStart": "2026-10-05", "EffectiveCost": 0.75}])
    store.replace_daily_costs("aws", restated)
    assert store.totals()["EffectiveCost"] == Decimal("50.500000")  # 3*10 + 12.25 + 0.75 + 7.5
    by_day = store.grouped_costs(by=["day"])
    assert dict(zip(by_day[model.DAY].dt.strftime("%d"), by_day["effective_micros"], strict=True)) == {
        "01": 10_000_000, "02": 10_000_000, "03": 17_500_000, "04": 12_250_000, "05": 750_000}


def test_a_failed_write_leaves_the_store_exactly_as_before(db: Database) -> None:
    store = CostStore(db)
    store.replace_daily_costs("aws", frame([{"ChargePeriodStart": "2026-10-01", "EffectiveCost": 5.0}]))
    before = store.totals()
    good = SourceBatch("aws", frame([{"ChargePeriodStart": "2026-10-01", "EffectiveCost": 99.0}]))
    # The second batch fails after the first was written in the same transaction.
    bad = SourceBatch("gcp", frame([{"ChargePeriodStart": "2026-10-01", "EffectiveCost": float("inf")}]))
    with pytest.raises(InputError, match="gcp: non-finite amount"):
        store.replace_sources([good, bad])
    assert store.totals() == before
    assert len(store.series()) == 1


def test_filters_grouping_and_tags(db: Database) -> None:
    store = CostStore(db)
    store.replace_daily_costs("aws", frame([
        {"ChargePeriodStart": "2026-09-30", "EffectiveCost": 1.0, "Tags": model.canonical_tags({"env": "prod"})},
        {"ChargePeriodStart": "2026-10-01", "EffectiveCost": 2.0, "Tags": model.canonical_tags({"env": "prod-eu"})},
        {"ChargePeriodStart": "2026-10-01", "EffectiveCost": 4.0, model.TEAM: "search"},
    ]))
    assert store.totals(filters={"team": ["payments"]})["EffectiveCost"] == Decimal("3")
    assert store.totals(filters={"tag:env": ["prod"]})["EffectiveCost"] == Decimal("1")
    assert store.totals(start=date(2026, 10, 1))["EffectiveCost"] == Decimal("6")
    by_month = store.grouped_costs(by=["month", "team"]).sort_values(["month", model.TEAM])
    assert by_month[["month", model.TEAM, "effective_micros"]].values.tolist() == [
        ["2026-09", "payments", 1_000_000], ["2026-10", "payments", 2_000_000], ["2026-10", "search", 4_000_000]]
    loaded = store.load_daily_costs(filters={"team": ["search"]})
    assert list(loaded.columns) == list(model.DAILY_COLUMNS)
    assert loaded["EffectiveCost"].tolist() == [4.0]


def test_reingest_with_new_owner_moves_the_series(db: Database) -> None:
    store = CostStore(db)
    store.replace_daily_costs("aws", frame([{"ChargePeriodStart": "2026-10-01", "EffectiveCost": 3.0}]))
    store.replace_daily_costs("aws", frame([{"ChargePeriodStart": "2026-10-01", "EffectiveCost": 3.0,
                                             model.TEAM: "search", model.ALLOCATION_RULE: "search: account 111"}]))
    series = store.series()
    assert series[[model.TEAM, model.ALLOCATION_RULE]].values.tolist() == [["search", "search: account 111"]]


def test_freshness_and_complete_through(db: Database) -> None:
    store = CostStore(db)
    assert store.complete_through() is None
    store.set_freshness("aws", last_day=date(2026, 10, 31), complete_through=date(2026, 10, 30))
    store.set_freshness("gcp", last_day=date(2026, 10, 31), complete_through=date(2026, 10, 29))
    store.set_freshness("old-export", last_day=date(2026, 6, 30), complete_through=date(2026, 6, 30))
    assert store.complete_through() == date(2026, 10, 29)  # the silent source does not hold others back


def test_reassign_teams_writes_only_changed_owners_and_records_the_fingerprint(db: Database) -> None:
    store = CostStore(db)
    store.replace_daily_costs("aws", frame([
        {"ChargePeriodStart": "2026-10-01", "EffectiveCost": 1.0, "ServiceName": "Amazon EC2"},
        {"ChargePeriodStart": "2026-10-01", "EffectiveCost": 2.0, "ServiceName": "Amazon S3"}]))
    assert store.allocation_fingerprint() is None
    owners = store.series()[["series_id", "ServiceName"]].sort_values("ServiceName")
    owners[model.TEAM] = ["payments", "search"]          # EC2 stays with payments; S3 moves
    owners[model.ALLOCATION_RULE] = ["", "search: service=Amazon S3 (teams.yml line 9)"]

    assert store.reassign_teams(owners, fingerprint="a" * 64) == 1
    assert store.allocation_fingerprint() == "a" * 64
    assert store.totals(filters={"team": ["search"]})["EffectiveCost"] == Decimal("2")
    # Again with the same owners: nothing to write; a new fingerprint replaces the old one.
    assert store.reassign_teams(owners, fingerprint="b" * 64) == 0
    assert store.allocation_fingerprint() == "b" * 64


def test_every_value_reads_back_as_written_quantities_dimensions_and_all(db: Database) -> None:
    # PostgreSQL bulk-loads with COPY (CSV text): quotes, commas, line breaks, JSON tags, no
    # quantity (NULL) and floats that need 17 digits must all come back exactly.
    store = CostStore(db)
    data = frame([
        {"ChargePeriodStart": "2026-10-01", "EffectiveCost": 1.000001, "BilledCost": 2.5, "ListCost": 3.25,
         "ConsumedQuantity": 0.1 + 0.2, "PricingQuantity": 1e-7,
         "ServiceName": 'Amazon "Elastic", Compute\nCloud', "Tags": '{"cost-center":"a,b","team":"x\\"y"}'},
        {"ChargePeriodStart": "2026-10-02", "EffectiveCost": -0.5, "BilledCost": -0.5, "SkuId": "NULL",
         "ConsumedQuantity": float("nan"), "PricingQuantity": 123456789.12345679},
    ])
    store.replace_daily_costs("file:focus:AWS:999, \"quoted\"", data)
    back = store.load_daily_costs().sort_values(model.DAY, ignore_index=True)
    assert back["ServiceName"].tolist() == ['Amazon "Elastic", Compute\nCloud', "Amazon EC2"]
    assert back["Tags"].tolist() == ['{"cost-center":"a,b","team":"x\\"y"}', ""]
    assert back["SkuId"].tolist() == ["", "NULL"]
    assert back["ConsumedQuantity"].tolist()[0] == 0.1 + 0.2 and pd.isna(back["ConsumedQuantity"][1])
    assert back["PricingQuantity"].tolist() == [1e-7, 123456789.12345679]
    by_day = store.grouped_costs(by=["day"]).sort_values(model.DAY)
    assert by_day["effective_micros"].tolist() == [1_000_001, -500_000]
    assert store.totals()["BilledCost"] == Decimal("2")


def test_several_sources_in_one_write_each_replace_their_own_window(db: Database) -> None:
    store = CostStore(db)
    store.replace_sources([
        SourceBatch("aws", frame([{"ChargePeriodStart": f"2026-10-0{d}", "EffectiveCost": 10.0} for d in (1, 2, 3)])),
        SourceBatch("azure", frame([{"ChargePeriodStart": "2026-10-02", "EffectiveCost": 4.0,
                                     "ProviderName": "Microsoft"}]))])
    results = store.replace_sources([
        SourceBatch("aws", frame([{"ChargePeriodStart": "2026-10-03", "EffectiveCost": 1.5}])),
        SourceBatch("azure", frame([]), start=date(2026, 10, 1), end=date(2026, 10, 2)),   # nothing left
        SourceBatch("gcp", frame([{"ChargePeriodStart": "2026-10-03", "EffectiveCost": 2.25,
                                   "ProviderName": "Google Cloud"}]))])
    assert [(r.source, r.rows, r.effective_micros, r.replaced_rows, r.replaced_effective_micros, r.missing_series)
            for r in results] == [("aws", 1, 1_500_000, 1, 10_000_000, 0), ("azure", 0, 0, 1, 4_000_000, 1),
                                  ("gcp", 1, 2_250_000, 0, 0, 0)]
    assert store.totals()["EffectiveCost"] == Decimal("23.75")   # 10 + 10 + 1.5 + 2.25
    with pytest.raises(ValueError, match="one batch per source"):
        store.replace_sources([SourceBatch("aws", frame([])), SourceBatch("aws", frame([]))])
