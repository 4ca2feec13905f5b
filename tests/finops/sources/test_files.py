"""Cost files in, daily frames out: detection, streaming in chunks, real-world quirks, bad input."""

from __future__ import annotations

import json
import math
import zipfile
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finops.errors import InputError
from finops.model import DAILY_COLUMNS, conform_daily_frame
from finops.money import cents
from finops.sources.files import CostChunk, cost_files, detect_format, read_cost_files, read_daily_costs
from tests.finops.sources.cost_file_helpers import (
    ANOMALY_BENCH,
    AZURE_SAMPLE,
    CUR_SAMPLE,
    FOCUS_HEADER,
    FOCUS_SAMPLE,
    GCP_SAMPLE,
    column_sum,
    focus_row,
    write_csv,
)

# --- detection ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "expected"), [
    (FOCUS_SAMPLE, "focus"), (CUR_SAMPLE, "aws-cur"), (AZURE_SAMPLE, "azure-export"),
    (GCP_SAMPLE, "gcp-export"), (ANOMALY_BENCH, "focus"),
])
def test_each_shared_sample_is_detected_from_its_header(path, expected):
    assert detect_format(path) == expected


def test_cur_2_0_parquet_header_is_detected(tmp_path):
    path = tmp_path / "cur2.parquet"
    pq.write_table(pa.table({"line_item_usage_start_date": ["2024-01-01"], "line_item_unblended_cost": [1.0]}), path)
    assert detect_format(path) == "aws-cur"


def test_gcp_parquet_with_nested_columns_is_detected_by_flattened_names(tmp_path):
    path = tmp_path / "gcp.parquet"
    pq.write_table(pa.table({"usage_start_time": ["2024-01-01"], "cost": [1.0],
                             "service": [{"id": "A", "description": "Compute Engine"}]}), path)
    assert detect_format(path) == "gcp-export"


def test_an_unknown_header_names_the_file_the_formats_tried_and_the_first_columns(tmp_path):
    path = write_csv(tmp_path / "mystery.csv", ["when", "amount", "who"], [["2024-01-01", "1", "x"]])
    with pytest.raises(InputError) as caught:
        detect_format(path)
    message = str(caught.value)
    assert caught.value.file == str(path) and caught.value.line == 1
    for tried in ("focus", "aws-cur", "azure-export", "gcp-export"):
        assert tried in message
    assert "first columns: when, amount, who" in message


def test_an_oracle_cloud_cost_report_is_named_not_read_as_a_cur_missing_a_column(tmp_path):
    # OCI's cost reports name columns lineItem/... as the AWS CUR does (header of the OCI sample
    # in finopsfoundation/focus_converters); before, the message blamed a missing CUR column.
    columns = ["lineItem/referenceNo", "lineItem/tenantId", "lineItem/intervalUsageStart",
               "lineItem/intervalUsageEnd", "product/service", "cost/myCost", "cost/currencyCode"]
    path = write_csv(tmp_path / "reports_cost-csv_0001.csv", columns,
                     [["r1", "ocid1.tenancy", "2023-11-13T10:00Z", "2023-11-13T11:00Z", "DATABASE",
                       "0.0122", "USD"]])
    with pytest.raises(InputError) as caught:
        detect_format(path)
    assert caught.value.file == str(path) and caught.value.line == 1
    assert "Oracle Cloud (OCI) cost report" in str(caught.value)
    assert "FOCUS reports instead" in str(caught.value)
    assert "UsageStartDate" not in str(caught.value)


def test_an_oracle_cloud_usage_report_is_named_too(tmp_path):
    # OCI's usage reports share the cost reports' lineItem/ columns but carry no cost/ column.
    columns = ["lineItem/referenceNo", "lineItem/tenantId", "lineItem/intervalUsageStart",
               "lineItem/intervalUsageEnd", "product/service", "usage/consumedQuantity", "usage/billedQuantity"]
    path = write_csv(tmp_path / "reports_usage-csv_0001.csv", columns,
                     [["r1", "ocid1.tenancy", "2023-11-13T10:00Z", "2023-11-13T11:00Z", "DATABASE", "2", "2"]])
    with pytest.raises(InputError) as caught:
        detect_format(path)
    assert caught.value.file == str(path) and caught.value.line == 1
    assert "Oracle Cloud (OCI) usage report, which holds no costs" in str(caught.value)
    assert "UsageStartDate" not in str(caught.value)


def test_an_empty_file_is_bad_input(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(InputError, match="empty file"):
        detect_format(path)


# --- the shared samples, to the cent (and the micro) --------------------------------------------


@pytest.mark.parametrize(("path", "column", "expected"), [
    (FOCUS_SAMPLE, "EffectiveCost", "14.976514"),
    (FOCUS_SAMPLE, "BilledCost", "20.520227"),
    (CUR_SAMPLE, "BilledCost", "1.682309"),
    (AZURE_SAMPLE, "EffectiveCost", "1.261369"),
    (GCP_SAMPLE, "BilledCost", "2.398313"),
])
def test_sample_totals_match_the_documented_column_sums(path, column, expected):
    frame = read_daily_costs([path])
    total = frame[column].sum()
    assert cents(total) == cents(Decimal(expected))
    assert round(total, 6) == float(expected)


def test_anomaly_bench_reads_fully_and_its_effective_total_matches_an_independent_sum():
    expected = column_sum(ANOMALY_BENCH, "EffectiveCost")
    chunks = list(read_cost_files([ANOMALY_BENCH], chunk_rows=7_000))
    assert sum(c.rows for c in chunks) == 30_102
    assert [c.first_line for c in chunks] == [2, 7_002, 14_002, 21_002, 28_002]
    total = sum(c.frame["EffectiveCost"].sum() for c in chunks)
    assert cents(total) == cents(expected)
    assert cents(read_daily_costs([ANOMALY_BENCH])["EffectiveCost"].sum()) == cents(expected)


def test_chunk_frames_are_daily_cost_frames_in_the_model_conventions():
    chunk = next(read_cost_files([FOCUS_SAMPLE]))
    assert isinstance(chunk, CostChunk)
    assert (chunk.path, chunk.format, chunk.first_line, chunk.rows) == (FOCUS_SAMPLE, "focus", 2, 1_000)
    assert list(chunk.frame.columns) == list(DAILY_COLUMNS)
    pd.testing.assert_frame_equal(chunk.frame, conform_daily_frame(chunk.frame))
    assert set(chunk.frame["x_Team"]) == {""} and set(chunk.frame["x_AllocationRule"]) == {""}


# --- chunking -----------------------------------------------------------------------------------


def _many_rows(count: int) -> list[list[object]]:
    # 7 days x a few series, with cents that do not add up nicely in binary floating point.
    return [focus_row(f"2024-09-{1 + i % 7:02d}T00:00:00Z", account=str(100 + i % 5),
                      service=["Amazon EC2", "Amazon S3", "AWS Lambda"][i % 3],
                      billed=f"{(i * 37) % 1000 / 100 + 0.01:.2f}", effective=f"{(i * 53) % 900 / 100:.2f}",
                      quantity="" if i % 11 == 0 else str(i % 13),
                      tags=json.dumps({"team": ["a", "b"][i % 2]}))
            for i in range(count)]


def test_chunk_boundaries_do_not_change_any_total(tmp_path):
    rows = _many_rows(5_000)
    path = write_csv(tmp_path / "many.csv", FOCUS_HEADER, rows)
    chunks = list(read_cost_files([path], chunk_rows=700))
    assert [c.rows for c in chunks] == [700] * 7 + [100]
    assert [c.first_line for c in chunks] == [2 + 700 * k for k in range(8)]
    expected_billed = sum(Decimal(r[7]) for r in rows)
    assert cents(sum(c.frame["BilledCost"].sum() for c in chunks)) == cents(expected_billed)

    small, whole = read_daily_costs([path], chunk_rows=700), read_daily_costs([path], chunk_rows=200_000)
    keys = ["ChargePeriodStart", "SubAccountId", "ServiceName", "Tags"]
    small, whole = small.sort_values(keys, ignore_index=True), whole.sort_values(keys, ignore_index=True)
    pd.testing.assert_frame_equal(small, whole, check_exact=False, rtol=1e-12)
    assert len(whole) == 7 * 5 * 3 * 2  # day, account, service and tag cycle with coprime periods


def test_csv_gz_and_parquet_of_the_same_rows_read_the_same(tmp_path):
    rows = _many_rows(300)
    plain = write_csv(tmp_path / "a.csv", FOCUS_HEADER, rows)
    zipped = write_csv(tmp_path / "b.csv.gz", FOCUS_HEADER, rows, compress=True)
    parquet = tmp_path / "c.parquet"
    pq.write_table(pa.Table.from_pandas(pd.read_csv(plain, dtype=str, keep_default_na=False)), parquet)
    frames = [read_daily_costs([p]) for p in (plain, zipped, parquet)]
    pd.testing.assert_frame_equal(frames[0], frames[1])
    pd.testing.assert_frame_equal(frames[0], frames[2])


def test_parquet_text_read_in_its_dictionary_encoding_matches_the_csv_across_row_groups_and_chunks(tmp_path):
    # Parquet text columns are read as dictionaries; each row group has its own, with nulls, the
    # NULL marker, blanks and values only some row groups hold. Same frame as the CSV, any chunking.
    rows = _many_rows(300)
    for i, row in enumerate(rows):
        row[5] = [None, "NULL", "", "eu-west-1", f"region-{i // 100}"][i % 5]   # RegionId
        row[11] = None if i % 7 == 0 else row[11]                               # ConsumedUnit
        row[12] = [None, "NULL", "{}", '{"team":"a"}', '{"env":"p","team":"b"}', '{"team": "b", "env": "p"}',
                   f'{{"team":"t{i // 100}"}}'][i % 7]                               # Tags, as JSON text
    plain = write_csv(tmp_path / "a.csv", FOCUS_HEADER, [["" if v is None else v for v in r] for r in rows])
    parquet = tmp_path / "b.parquet"
    pq.write_table(pa.table({c: pa.array([r[i] for r in rows], pa.string()) for i, c in enumerate(FOCUS_HEADER)}),
                   parquet, row_group_size=64)
    expected = read_daily_costs([plain])
    assert set(expected["RegionId"]) == {"", "eu-west-1", "region-0", "region-1", "region-2"}
    assert set(expected["Tags"]) == {"", '{"team":"a"}', '{"env":"p","team":"b"}', '{"team":"t0"}',
                                     '{"team":"t1"}', '{"team":"t2"}'}
    for chunk_rows in (50, 100, 1_000):
        pd.testing.assert_frame_equal(read_daily_costs([parquet], chunk_rows=chunk_rows), expected)

    rows[150][12] = "team=payments"   # a bad value read through the dictionary is named by its row
    pq.write_table(pa.table({c: pa.array([r[i] for r in rows], pa.string()) for i, c in enumerate(FOCUS_HEADER)}),
                   parquet, row_group_size=64)
    with pytest.raises(InputError) as caught:
        read_daily_costs([parquet], chunk_rows=100)
    assert (caught.value.line, caught.value.column, caught.value.value) == (151, "Tags", "team=payments")


def test_a_directory_means_every_supported_file_in_it_sorted_and_recursive(tmp_path):
    write_csv(tmp_path / "b" / "two.csv.gz", FOCUS_HEADER, [focus_row(billed="2")], compress=True)
    write_csv(tmp_path / "a.csv", FOCUS_HEADER, [focus_row(billed="1")])
    (tmp_path / "b" / "c").mkdir()
    pq.write_table(pa.Table.from_pandas(pd.DataFrame([focus_row(billed="4")], columns=FOCUS_HEADER)),
                   tmp_path / "b" / "c" / "four.parquet")
    (tmp_path / "manifest.json").write_text("{}")
    assert cost_files([tmp_path]) == [tmp_path / "a.csv", tmp_path / "b" / "c" / "four.parquet",
                                      tmp_path / "b" / "two.csv.gz"]
    chunks = list(read_cost_files([tmp_path]))
    assert [c.frame["BilledCost"].sum() for c in chunks] == [1.0, 4.0, 2.0]
    assert read_daily_costs([tmp_path])["BilledCost"].tolist() == [7.0]


def test_a_missing_path_or_an_empty_directory_is_bad_input(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        cost_files([tmp_path / "nope.csv"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no .csv"):
        cost_files([tmp_path / "empty"])


def test_format_can_be_forced_and_an_unknown_one_is_refused(tmp_path):
    path = write_csv(tmp_path / "f.csv", FOCUS_HEADER, [focus_row()])
    assert next(read_cost_files([path], format="focus")).format == "focus"
    with pytest.raises(InputError, match="missing required column 'lineItem/UsageStartDate' .* for an AWS CUR file"):
        list(read_cost_files([path], format="aws-cur"))
    with pytest.raises(ValueError, match="unknown format 'excel'"):
        list(read_cost_files([path], format="excel"))


# --- quirks -------------------------------------------------------------------------------------


def test_null_literals_become_empty_dimensions_zero_money_and_no_quantity(tmp_path):
    path = write_csv(tmp_path / "nulls.csv", FOCUS_HEADER,
                     [focus_row(region="NULL", listed="NULL", quantity="NULL", unit="NULL", tags="NULL")])
    row = read_daily_costs([path]).iloc[0]
    assert (row["RegionId"], row["ConsumedUnit"], row["Tags"]) == ("", "", "")
    assert row["ListCost"] == 0.0 and math.isnan(row["ConsumedQuantity"])
    assert row["BilledCost"] == 1.5


def test_timestamps_with_or_without_t_and_z_and_with_offsets_land_on_their_utc_day(tmp_path):
    stamps = ["2024-09-01 00:00:00", "2024-09-01T05:00:00Z", "2024-09-01T00:00:00.000Z", "2024-09-01",
              "2024-09-01 12:00:00 UTC", "2024-08-31T23:30:00-05:00", "2024-09-02T01:00:00+02:00"]
    path = write_csv(tmp_path / "times.csv", FOCUS_HEADER, [focus_row(s, billed="1") for s in stamps])
    frame = read_daily_costs([path])
    assert frame["ChargePeriodStart"].tolist() == [pd.Timestamp("2024-09-01")]
    assert frame["BilledCost"].tolist() == [7.0]


def test_tags_as_json_strings_in_any_key_order_are_one_series_and_empty_forms_mean_none(tmp_path):
    rows = [focus_row(tags='{"team": "a", "env": "prod"}'), focus_row(tags='{"env":"prod","team":"a"}'),
            focus_row(tags=""), focus_row(tags="{}"), focus_row(tags="NULL")]
    frame = read_daily_costs([write_csv(tmp_path / "tags.csv", FOCUS_HEADER, rows)])
    by_tags = dict(zip(frame["Tags"], frame["BilledCost"], strict=True))
    assert by_tags == {'{"env":"prod","team":"a"}': 3.0, "": 4.5}


def test_a_utf8_byte_order_mark_does_not_hide_the_first_column(tmp_path):
    path = write_csv(tmp_path / "bom.csv", FOCUS_HEADER, [focus_row()], bom=True)
    assert path.read_bytes()[:3] == b"\xef\xbb\xbf"
    assert detect_format(path) == "focus"
    assert read_daily_costs([path])["ChargePeriodStart"].tolist() == [pd.Timestamp("2024-09-01")]


# --- bad input ----------------------------------------------------------------------------------


def test_a_missing_required_column_names_the_file_and_column(tmp_path):
    header = [c for c in FOCUS_HEADER if c != "EffectiveCost"]
    path = write_csv(tmp_path / "short.csv", header, [[v for c, v in zip(FOCUS_HEADER, focus_row(), strict=True)
                                                       if c != "EffectiveCost"]])
    with pytest.raises(InputError) as caught:
        list(read_cost_files([path]))
    assert (caught.value.file, caught.value.line, caught.value.column) == (str(path), 1, "EffectiveCost")


def test_an_unparsable_number_names_file_line_column_and_value_even_in_a_later_chunk(tmp_path):
    rows = _many_rows(1_500)
    rows[1_233][7] = "12,50"
    path = write_csv(tmp_path / "bad_number.csv", FOCUS_HEADER, rows)
    yielded = []
    with pytest.raises(InputError) as caught:
        for chunk in read_cost_files([path], chunk_rows=1_000):
            yielded.append(chunk)
    error = caught.value
    assert (error.file, error.line, error.column, error.value) == (str(path), 1_235, "BilledCost", "12,50")
    assert f"{path}, line 1235, column 'BilledCost'" in str(error)


def test_a_first_chunk_may_be_yielded_before_a_later_error(tmp_path):
    rows = _many_rows(40_000)  # several MB: the reader has not seen the bad row when chunk 1 is out
    rows[35_000][8] = "abc"
    path = write_csv(tmp_path / "late.csv", FOCUS_HEADER, rows)
    stream = read_cost_files([path], chunk_rows=10_000)
    assert next(stream).rows == 10_000
    with pytest.raises(InputError) as caught:
        list(stream)
    assert (caught.value.line, caught.value.column, caught.value.value) == (35_002, "EffectiveCost", "abc")


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity"])
def test_a_non_finite_amount_is_bad_input(tmp_path, value):
    rows = _many_rows(10)
    rows[4][7] = value
    path = write_csv(tmp_path / "nan.csv", FOCUS_HEADER, rows)
    with pytest.raises(InputError) as caught:
        list(read_cost_files([path]))
    assert (caught.value.line, caught.value.column) == (6, "BilledCost")


@pytest.mark.parametrize(("value", "message", "reported"), [
    ("2024-13-45", "not a date", "2024-13-45"), ("yesterday", "not a date", "yesterday"),
    ("", "no date", None), ("NULL", "no date", None),
])
def test_an_unparsable_or_missing_date_names_its_line_and_value(tmp_path, value, message, reported):
    rows = _many_rows(20)
    rows[9][0] = value
    path = write_csv(tmp_path / "bad_date.csv", FOCUS_HEADER, rows)
    with pytest.raises(InputError, match=message) as caught:
        list(read_cost_files([path], chunk_rows=8))
    assert (caught.value.line, caught.value.column, caught.value.value) == (11, "ChargePeriodStart", reported)


def test_error_lines_are_editor_lines_even_after_a_value_with_line_breaks(tmp_path):
    rows = _many_rows(6)
    rows[1][4] = "Amazon\nEC2"  # a quoted service name spanning two lines
    rows[3][0] = "not-a-day"
    path = write_csv(tmp_path / "multiline.csv", FOCUS_HEADER, rows)
    with pytest.raises(InputError) as caught:
        list(read_cost_files([path]))
    assert caught.value.line == 6  # header 1, rows on 2, 3-4, 5, 6


def test_quoted_line_breaks_in_a_multi_megabyte_file_are_read_as_values(tmp_path):
    rows = _many_rows(30_000)
    for row in rows:
        row[4] = row[4].replace(" ", "\n")  # "Amazon\nEC2": every row spans two lines
    path = write_csv(tmp_path / "multiline.csv", FOCUS_HEADER, rows)
    assert path.stat().st_size > 2 * 2**20
    frame = read_daily_costs([path], chunk_rows=7_000)
    assert set(frame["ServiceName"]) == {"Amazon\nEC2", "Amazon\nS3", "AWS\nLambda"}
    assert cents(frame["BilledCost"].sum()) == cents(sum(Decimal(r[7]) for r in rows))


def test_the_first_bad_row_is_named_whichever_column_it_is_in(tmp_path):
    rows = _many_rows(10)
    rows[6][12] = "not tags"  # tags are checked before amounts...
    rows[2][8] = "nan"        # ...but this amount is on an earlier row
    path = write_csv(tmp_path / "two_bad.csv", FOCUS_HEADER, rows)
    with pytest.raises(InputError) as caught:
        list(read_cost_files([path]))
    assert (caught.value.line, caught.value.column) == (4, "EffectiveCost")


def test_tags_that_are_not_an_object_are_bad_input(tmp_path):
    rows = _many_rows(5)
    rows[2][12] = "team=payments"
    path = write_csv(tmp_path / "bad_tags.csv", FOCUS_HEADER, rows)
    with pytest.raises(InputError) as caught:
        list(read_cost_files([path]))
    assert (caught.value.line, caught.value.column, caught.value.value) == (4, "Tags", "team=payments")


def test_a_row_with_the_wrong_number_of_fields_names_its_line(tmp_path):
    path = write_csv(tmp_path / "ragged.csv", FOCUS_HEADER, _many_rows(3))
    with path.open("a") as f:
        f.write("2024-09-01,AWS,only,four\n")
    with pytest.raises(InputError) as caught:
        list(read_cost_files([path]))
    assert caught.value.line == 5 and "4 fields" in str(caught.value)


def test_a_truncated_gzip_file_is_bad_input(tmp_path):
    whole = write_csv(tmp_path / "whole.csv.gz", FOCUS_HEADER, _many_rows(20_000), compress=True)
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(InputError) as caught:
        list(read_cost_files([cut]))
    assert caught.value.file == str(cut)


@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_a_zip_archive_is_named_as_one_and_not_read_as_text(tmp_path, compression):
    # The legacy CUR's ZIP compression: the archive holds a CSV costbot reads once unzipped.
    inner = write_csv(tmp_path / "report.csv", FOCUS_HEADER, _many_rows(3))
    path = tmp_path / "report.csv.zip"
    with zipfile.ZipFile(path, "w", compression) as archive:
        archive.write(inner, "report-00001.csv")
    for read in (detect_format, lambda p: list(read_cost_files([p]))):
        with pytest.raises(InputError) as caught:
            read(path)
        assert caught.value.file == str(path)
        assert "a ZIP archive: unzip it" in str(caught.value)


def test_text_that_is_not_utf8_is_bad_input(tmp_path):
    path = write_csv(tmp_path / "latin1.csv", FOCUS_HEADER, _many_rows(3))
    path.write_bytes(path.read_bytes().replace(b"Amazon S3", b"Amazon S\xe9"))
    with pytest.raises(InputError, match="not UTF-8") as caught:
        list(read_cost_files([path]))
    assert (caught.value.file, caught.value.line, caught.value.value) == (str(path), 3, b"\xe9")


def test_a_bad_value_in_parquet_names_its_row_number(tmp_path):
    frame = pd.DataFrame(_many_rows(8), columns=FOCUS_HEADER)
    frame.loc[6, "BilledCost"] = "twelve"
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pandas(frame), path)
    with pytest.raises(InputError) as caught:
        list(read_cost_files([path], chunk_rows=5))
    assert (caught.value.line, caught.value.column, caught.value.value) == (7, "BilledCost", "twelve")


def test_parquet_chunks_report_their_first_row_number(tmp_path):
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pandas(pd.DataFrame(_many_rows(12), columns=FOCUS_HEADER)), path)
    assert [(c.first_line, c.rows) for c in read_cost_files([path], chunk_rows=5)] == [(1, 5), (6, 5), (11, 2)]


def test_empty_input_gives_an_empty_daily_frame(tmp_path):
    path = write_csv(tmp_path / "header_only.csv", FOCUS_HEADER, [])
    assert list(read_cost_files([path])) == []
    frame = read_daily_costs([path])
    assert frame.empty and list(frame.columns) == list(DAILY_COLUMNS)


# --- currencies ---------------------------------------------------------------------------------

# One row each of FOCUS, an Azure MCA export (camelCase), a GCP export (with a credit) and a CUR,
# with the billing currency as the last field.
_CURRENCY_FORMATS = {
    "focus": (["ChargePeriodStart", "ProviderName", "ChargeCategory", "BilledCost", "EffectiveCost",
               "BillingCurrency"],
              lambda cost, currency: ["2024-09-01T00:00:00Z", "AWS", "Usage", cost, cost, currency]),
    "azure-export": (["subscriptionId", "date", "meterCategory", "costInBillingCurrency", "billingCurrency"],
                     lambda cost, currency: ["sub-1", "09/01/2024", "Storage", cost, currency]),
    "gcp-export": (["usage_start_time", "service.description", "cost", "credits", "currency"],
                   lambda cost, currency: ["2024-09-01 10:00:00 UTC", "Compute Engine", cost,
                                           '[{"name": "SUD", "amount": -0.25}]', currency]),
    "aws-cur": (["lineItem/UsageAccountId", "lineItem/LineItemType", "lineItem/UsageStartDate",
                 "lineItem/ProductCode", "lineItem/UnblendedCost", "lineItem/CurrencyCode"],
                lambda cost, currency: ["111", "Usage", "2024-09-01T00:00:00Z", "AmazonEC2", cost, currency]),
}


@pytest.mark.parametrize("format_name", sorted(_CURRENCY_FORMATS))
def test_a_file_billed_in_two_currencies_is_refused_at_the_first_row_of_the_second(tmp_path, format_name):
    header, row = _CURRENCY_FORMATS[format_name]
    rows = [row("10.00", "EUR"), row("2.50", ""), row("1.25", "EUR"), row("4.00", "USD"), row("1.00", "EUR")]
    path = write_csv(tmp_path / "two_currencies.csv", header, rows)
    for chunk_rows in (1, 2, 1_000):  # the second currency in a later chunk than the first, or in the same
        with pytest.raises(InputError) as caught:
            read_daily_costs([path], chunk_rows=chunk_rows)
        error = caught.value
        assert (error.file, error.line, error.column, error.value) == (str(path), 5, header[-1], "USD")
        assert "EUR" in str(error) and "does not convert currencies" in str(error)


@pytest.mark.parametrize("format_name", sorted(_CURRENCY_FORMATS))
def test_a_file_in_one_currency_reads_with_rows_of_no_currency(tmp_path, format_name):
    header, row = _CURRENCY_FORMATS[format_name]
    rows = [row("10.00", "EUR"), row("2.50", ""), row("1.25", "EUR")]
    frame = read_daily_costs([write_csv(tmp_path / "eur.csv", header, rows)])
    credits = Decimal("-0.75") if format_name == "gcp-export" else Decimal(0)
    assert cents(frame["EffectiveCost"].sum()) == Decimal("13.75") + credits
    assert set(frame["BillingCurrency"]) == {"EUR", ""}
