"""FOCUS files and the row toolkit every format uses: dates, tags, coded columns, aggregation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finops.errors import InputError
from finops.model import aggregate_daily, canonical_tags, conform_daily_frame
from finops.sources.files import read_daily_costs
from finops.sources.focus_files import (
    BadValue,
    Coded,
    aggregate_rows,
    coalesce,
    combine,
    concat_coded,
    daily_frame,
    day_column,
    merge_tags,
    number_column,
    parse_days,
    tags_column,
    tags_from_text,
    text_column,
)
from finops.sources.focus_files import plan as focus_plan
from tests.finops.sources.cost_file_helpers import FOCUS_HEADER, FOCUS_SAMPLE, focus_row, write_csv


def test_parse_days_reads_the_timestamp_forms_exports_write_as_utc_days():
    texts = ["2024-09-18 22:00:00", "2024-09-18T22:00:00Z", "2024-09-18T22:00:00.0000000Z",
             "2024-09-18T20:30:00-05:00", "2024-09-18", "2024-05-01 00:00:00 UTC", "9/2/2023", "09/02/2023",
             "12/31/2023 00:00:00", "2024-02-30", "02/30/2024", "soon", None]
    days = [None if np.isnat(d) else str(d) for d in parse_days(texts)]
    assert days == ["2024-09-18", "2024-09-18", "2024-09-18", "2024-09-19", "2024-09-18", "2024-05-01",
                    "2023-09-02", "2023-09-02", "2023-12-31", None, None, None, None]


def test_day_column_reads_typed_parquet_timestamps_in_utc():
    stamps = pa.array([1_725_231_600_000, 1_725_148_800_000], pa.timestamp("ms", tz="America/New_York"))
    coded = day_column(stamps, column="ChargePeriodStart")
    assert [str(d) for d in coded.row_values()] == ["2024-09-01", "2024-09-01"]
    assert len(coded.values) == 1


@pytest.mark.parametrize(("text", "tags"), [
    ('{"team": "a", "env": "prod"}', {"team": "a", "env": "prod"}),
    ('"tagA": "valueA","tagB": "valueB"', {"tagA": "valueA", "tagB": "valueB"}),
    ('[{"key": "team", "value": "a"}]', {"team": "a"}),
    ("[{'key': 'foo', 'value': 'bar'}]", {"foo": "bar"}),
    ("", {}), ("NULL", {}), ("{}", {}), ("[]", {}), (None, {}),
])
def test_tags_from_text_understands_each_export_form(text, tags):
    assert tags_from_text(text) == tags


@pytest.mark.parametrize("text", ["team=a", "[1, 2]", '"just a string"', "{broken"])
def test_tags_from_text_refuses_what_is_not_a_tag_object(text):
    with pytest.raises(ValueError):
        tags_from_text(text)


def test_tags_from_a_parquet_map_are_canonical():
    maps = pa.array([[("team", "a"), ("env", "prod")], [("env", "prod"), ("team", "a")], None],
                    type=pa.map_(pa.string(), pa.string()))
    coded = tags_column(maps, column="Tags")
    assert list(coded.row_values()) == ['{"env":"prod","team":"a"}'] * 2 + [""]
    assert len(coded.values) == 2


def test_coded_columns_merge_and_combine_without_duplicate_values():
    a = text_column(pa.array(["x", None, "NULL", "y", "x"]))
    assert list(a.row_values()) == ["x", "", "", "y", "x"] and len(a.values) == 3
    merged = concat_coded([a, text_column(pa.array(["y", "z"]))])
    assert list(merged.row_values()) == ["x", "", "", "y", "x", "y", "z"] and len(merged.values) == 4
    ids, first = combine([a, text_column(pa.array(["1", "1", "1", "2", "1"]))])
    assert ids.tolist() == [0, 1, 1, 2, 0] and first.tolist() == [0, 1, 3]
    assert list(coalesce([a, text_column(pa.array(["p", "q", "r", "s", "t"]))]).row_values()) == \
        ["x", "q", "r", "y", "x"]


def test_combine_survives_more_distinct_values_than_one_int64_key_can_pack():
    rows = 5_000
    parts = [Coded(np.arange(rows) % (97 + k), np.arange(97 + k).astype(object)) for k in range(12)]
    ids, first = combine(parts)
    expected = pd.DataFrame({k: p.codes for k, p in enumerate(parts)}).drop_duplicates()
    assert len(first) == len(expected) and first.tolist() == expected.index.tolist()


def test_merge_tags_lets_later_columns_win():
    project = tags_column(pa.array(['{"team": "a", "env": "prod"}', ""]), column="p")
    resource = tags_column(pa.array(['{"team": "b"}', '{"app": "x"}']), column="r")
    assert list(merge_tags([project, resource]).row_values()) == [
        canonical_tags({"env": "prod", "team": "b"}), canonical_tags({"app": "x"})]


def test_number_column_reads_text_numbers_and_names_the_first_bad_row():
    assert number_column(pa.array([" 1.5", "NULL", "", "2e-3", None]), column="c")[[0, 3]].tolist() == [1.5, 0.002]
    with pytest.raises(BadValue) as caught:
        number_column(pa.array(["1", "2", "3,5", "x"]), column="cost")
    assert (caught.value.row, caught.value.value, caught.value.column) == (2, "3,5", "cost")


def test_aggregation_equals_the_models_aggregate_daily_on_the_focus_sample():
    raw = pd.read_csv(FOCUS_SAMPLE, dtype=str, keep_default_na=False).replace("NULL", "")
    raw["Tags"] = [canonical_tags(json.loads(t)) if t else "" for t in raw["Tags"]]
    raw["ChargePeriodStart"] = pd.to_datetime(raw["ChargePeriodStart"])
    # A row charged before its billing period is booked on the period's first day: in the sample,
    # one row charged at 2024-09-30T22:00Z in the October 2024 billing period.
    period_start = pd.to_datetime(raw["BillingPeriodStart"])
    early = raw["ChargePeriodStart"] < period_start
    assert early.sum() == 1 and str(period_start[early].iloc[0].date()) == "2024-10-01"
    raw["ChargePeriodStart"] = raw["ChargePeriodStart"].where(~early, period_start)
    for column in ("BilledCost", "EffectiveCost", "ListCost", "ConsumedQuantity", "PricingQuantity"):
        raw[column] = pd.to_numeric(raw[column].replace("", np.nan))
    expected = conform_daily_frame(aggregate_daily(conform_daily_frame(raw)))
    ours = read_daily_costs([FOCUS_SAMPLE], chunk_rows=300)
    keys = list(expected.columns[:15])
    pd.testing.assert_frame_equal(ours.sort_values(keys, ignore_index=True),
                                  expected.sort_values(keys, ignore_index=True), check_exact=False, rtol=1e-9)


def test_aggregate_rows_keeps_a_group_without_quantities_as_no_quantity():
    rows = pd.DataFrame([focus_row(quantity=""), focus_row(quantity=""), focus_row(account="2", quantity="4"),
                         focus_row(account="2", quantity="")], columns=FOCUS_HEADER)
    table = pa.Table.from_pandas(rows)
    plan = focus_plan(FOCUS_HEADER, file="x.csv")
    frame = daily_frame(aggregate_rows(plan.normalize(table)))
    assert frame["SubAccountId"].tolist() == ["111", "2"]
    assert np.isnan(frame["ConsumedQuantity"][0]) and frame["ConsumedQuantity"][1] == 4.0
    assert frame["BilledCost"].tolist() == [3.0, 3.0]


def test_focus_sample_dimensions_are_read_as_written():
    frame = read_daily_costs([FOCUS_SAMPLE])
    assert set(frame["ProviderName"]) == {"AWS", "Microsoft", "Oracle"}
    assert set(frame["ChargeCategory"]) == {"Usage", "Credit", "Adjustment"}
    assert "1234567890123" in set(frame["BillingAccountId"])
    tagged = frame[frame["Tags"] != ""]["Tags"].iloc[0]
    assert json.loads(tagged) == dict(sorted(json.loads(tagged).items()))


def test_older_focus_names_are_accepted(tmp_path):
    header = ["ChargePeriodStart", "ProviderName", "ChargeType", "BilledCost", "AmortizedCost", "UsageQuantity",
              "UsageUnit", "Region"]
    path = write_csv(tmp_path / "preview.csv", header,
                     [["2023-11-01T00:00:00Z", "AWS", "usage", "2.5", "2.0", "10", "Hours", "us-east-1"]])
    row = read_daily_costs([path]).iloc[0]
    assert (row["ChargeCategory"], row["EffectiveCost"], row["ConsumedQuantity"], row["ConsumedUnit"],
            row["RegionId"]) == ("Usage", 2.0, 10.0, "Hours", "us-east-1")


@pytest.mark.parametrize("missing", ["ChargePeriodStart", "ChargeCategory", "BilledCost", "EffectiveCost",
                                     "ProviderName"])
def test_each_required_focus_column_is_required(tmp_path, missing):
    header = [c for c in FOCUS_HEADER if c != missing]
    if missing in ("ChargePeriodStart", "BilledCost"):
        header.append("x_Other")  # keep something in the header; detection then fails instead
    path = write_csv(tmp_path / "f.csv", header, [])
    with pytest.raises(InputError) as caught:
        read_daily_costs([path], format="focus")
    assert caught.value.column == missing and caught.value.line == 1


def test_focus_parquet_with_map_tags_and_typed_timestamps(tmp_path):
    table = pa.table({
        "ChargePeriodStart": pa.array([1_725_148_800_000, 1_725_152_400_000], pa.timestamp("ms", tz="UTC")),
        "ProviderName": ["AWS", "AWS"], "ChargeCategory": ["Usage", "Usage"],
        "BilledCost": pa.array([1.25, 2.5]), "EffectiveCost": pa.array([1.0, 2.0]),
        "SubAccountId": pa.array([111222333444, 111222333444], pa.int64()),
        "Tags": pa.array([[("team", "a")], [("team", "a")]], pa.map_(pa.string(), pa.string())),
    })
    path = tmp_path / "focus.parquet"
    pq.write_table(table, path)
    frame = read_daily_costs([path])
    assert frame[["SubAccountId", "Tags", "BilledCost"]].values.tolist() == [["111222333444", '{"team":"a"}', 3.75]]
