"""The connector interface's pure parts: which days to fetch, and the frame every connector returns."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from finops.model import DAILY_COLUMNS
from finops.sources.connector import SourceError, daily_frame_from_records, days_to_fetch


def test_first_run_backfills_up_to_yesterday():
    assert days_to_fetch(date(2026, 10, 20), None, 3) == (date(2025, 9, 20), date(2026, 10, 19))  # 395 days
    assert days_to_fetch(date(2026, 10, 20), None, 3, backfill_days=7) == (date(2026, 10, 13), date(2026, 10, 19))


def test_later_runs_reread_only_the_restatable_tail():
    # Complete through the 17th: re-read the 15th-17th (restatable) and the partial 18th-19th.
    assert days_to_fetch(date(2026, 10, 20), date(2026, 10, 17), 3) == (date(2026, 10, 15), date(2026, 10, 19))
    assert days_to_fetch(date(2026, 10, 20), date(2026, 10, 17), 0) == (date(2026, 10, 18), date(2026, 10, 19))


def test_a_long_outage_fetches_the_whole_gap():
    assert days_to_fetch(date(2026, 10, 20), date(2026, 9, 1), 2) == (date(2026, 8, 31), date(2026, 10, 19))


def test_the_previous_month_stays_open_until_its_invoice_closes():
    assert days_to_fetch(date(2026, 11, 3), date(2026, 11, 1), 2) == (date(2026, 10, 1), date(2026, 11, 2))
    assert days_to_fetch(date(2026, 11, 6), date(2026, 11, 4), 2) == (date(2026, 11, 3), date(2026, 11, 5))
    assert days_to_fetch(date(2026, 1, 2), date(2025, 12, 31), 1, month_close_days=2) == (
        date(2025, 12, 1), date(2026, 1, 1))


def test_the_window_never_starts_after_it_ends():
    assert days_to_fetch(date(2026, 10, 20), date(2026, 10, 25), 0) == (date(2026, 10, 19), date(2026, 10, 19))


def test_negative_restate_days_are_refused():
    with pytest.raises(ValueError, match="restate_days"):
        days_to_fetch(date(2026, 10, 20), None, -1)


def test_records_are_summed_to_the_series_key_and_clipped_to_the_window():
    records = [
        {"ChargePeriodStart": date(2026, 10, 1), "ServiceName": "S3", "BilledCost": 1.25, "EffectiveCost": 1.0},
        {"ChargePeriodStart": date(2026, 10, 1), "ServiceName": "S3", "BilledCost": 0.75, "EffectiveCost": 0.5,
         "ConsumedQuantity": 3.0},
        {"ChargePeriodStart": date(2026, 10, 2), "ServiceName": "EC2", "BilledCost": 5.0, "EffectiveCost": 5.0},
        {"ChargePeriodStart": date(2026, 10, 3), "ServiceName": "EC2", "BilledCost": 9.0, "EffectiveCost": 9.0},
    ]
    frame = daily_frame_from_records(records, date(2026, 10, 1), date(2026, 10, 2))

    assert list(frame.columns) == list(DAILY_COLUMNS)
    assert frame[["ServiceName", "BilledCost", "EffectiveCost"]].values.tolist() == [["S3", 2.0, 1.5], ["EC2", 5.0, 5.0]]
    assert frame["ConsumedQuantity"].iloc[0] == 3.0
    assert pd.isna(frame["ConsumedQuantity"].iloc[1])
    assert frame["RegionId"].tolist() == ["", ""]


def test_no_records_give_an_empty_frame_with_the_daily_columns():
    frame = daily_frame_from_records([], date(2026, 10, 1), date(2026, 10, 2))
    assert frame.empty and list(frame.columns) == list(DAILY_COLUMNS)
    assert str(frame["ChargePeriodStart"].dtype) == "datetime64[ns]"


def test_source_error_is_one_line_with_the_source_first():
    error = SourceError("gcp:p.d.t", "BigQuery refused the query (403 Access Denied)")
    assert str(error) == "gcp:p.d.t: BigQuery refused the query (403 Access Denied)"
    assert (error.source, error.reason) == ("gcp:p.d.t", "BigQuery refused the query (403 Access Denied)")
