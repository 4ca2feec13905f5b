"""AWS S3 export connector (CUR 2.0, FOCUS export, legacy CUR) against moto's S3."""

from __future__ import annotations

import csv
import gzip
import io
import json
import time
from datetime import date
from decimal import Decimal

import boto3
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto import mock_aws

from finops.money import cents, to_micros
from finops.sources.aws_s3 import AwsS3Export
from finops.sources.connector import SourceError
from finops.sources.files import read_daily_costs
from tests.conftest import shared_path

BUCKET = "acme-billing"
CUR_SAMPLE = shared_path("data", "samples", "aws-cur1-legacy_focus-converters_sample-anonymous-aws-export-dataset.csv")


def gzipped(text: bytes) -> bytes:
    return gzip.compress(text)


def csv_bytes(header: list[str], rows: list[list[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def focus_parquet(rows: list[tuple[str, str, str, float, float]]) -> bytes:
    """A FOCUS export file: (day, account, service, billed, effective) per row."""
    table = pa.table({
        "ChargePeriodStart": pa.array([pd.Timestamp(r[0]) for r in rows], pa.timestamp("ms", tz="UTC")),
        "ChargePeriodEnd": pa.array([pd.Timestamp(r[0]) + pd.Timedelta(hours=1) for r in rows],
                                    pa.timestamp("ms", tz="UTC")),
        "ProviderName": ["AWS"] * len(rows), "BillingAccountId": ["999900001111"] * len(rows),
        "SubAccountId": [r[1] for r in rows], "ServiceName": [r[2] for r in rows],
        "ChargeCategory": ["Usage"] * len(rows), "BilledCost": [r[3] for r in rows],
        "EffectiveCost": [r[4] for r in rows], "Tags": ['{"team":"payments"}'] * len(rows),
    })
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


CUR2_HEADER = ["line_item_usage_start_date", "line_item_unblended_cost", "line_item_line_item_type",
               "line_item_usage_account_id", "line_item_product_code", "bill_payer_account_id",
               "line_item_currency_code", "line_item_usage_type", "product_region_code"]


def cur2_csv_gz(rows: list[tuple[str, str, str]]) -> bytes:
    """A CUR 2.0 CSV.gz: (usage start, unblended cost, product code) per row."""
    return gzipped(csv_bytes(CUR2_HEADER, [[start, cost, "Usage", "111111111111", product, "999900001111", "USD",
                                            "USE2-BoxUsage:m5.large", "us-east-2"] for start, cost, product in rows]))


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def put(s3, key: str, body: bytes | str) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode() if isinstance(body, str) else body)


def test_legacy_cur_reads_only_the_manifests_assembly(s3):
    report = "cur/acme-daily/20231101-20231201"
    sample = CUR_SAMPLE.read_bytes()
    put(s3, f"{report}/aaaa-old/acme-daily-1.csv.gz", gzipped(sample))   # an earlier assembly
    put(s3, f"{report}/aaaa-old/acme-daily-Manifest.json", json.dumps({"reportKeys": []}))
    put(s3, f"{report}/bbbb-new/acme-daily-1.csv.gz", gzipped(sample))
    put(s3, f"{report}/acme-daily-Manifest.json", json.dumps({
        "assemblyId": "bbbb-new", "bucket": BUCKET, "reportKeys": [f"{report}/bbbb-new/acme-daily-1.csv.gz"],
        "billingPeriod": {"start": "20231101T000000.000Z", "end": "20231201T000000.000Z"}}))

    connector = AwsS3Export(BUCKET, "cur/acme-daily", client=s3)
    frame = connector.fetch_daily(date(2023, 11, 1), date(2023, 11, 30))

    assert connector.files_read == [f"{report}/bbbb-new/acme-daily-1.csv.gz"]
    assert connector.source == f"aws-cur:s3://{BUCKET}/cur/acme-daily"
    # Exactly what the file reader makes of the sample on disk: no assembly counted twice.
    pd.testing.assert_frame_equal(frame, read_daily_costs([CUR_SAMPLE]))
    raw = pd.read_csv(CUR_SAMPLE, dtype=str)
    expected = sum((Decimal(v) for v in raw["lineItem/UnblendedCost"]), Decimal(0))
    assert cents(frame["BilledCost"].sum()) == cents(expected) == Decimal("1.68")


def test_legacy_cur_keeps_only_the_days_asked_for(s3):
    report = "cur/acme-daily/20231101-20231201"
    put(s3, f"{report}/acme-daily-1.csv.gz", gzipped(CUR_SAMPLE.read_bytes()))
    frame = AwsS3Export(BUCKET, "cur", client=s3).fetch_daily(date(2023, 11, 3), date(2023, 11, 5))

    raw = pd.read_csv(CUR_SAMPLE, dtype=str)
    in_window = raw[raw["lineItem/UsageStartDate"].str[:10].between("2023-11-03", "2023-11-05")]
    expected = sum((Decimal(v) for v in in_window["lineItem/UnblendedCost"]), Decimal(0))
    assert sorted(frame["ChargePeriodStart"].dt.day.unique()) == [3, 4, 5]
    assert to_micros(frame["BilledCost"].sum()) == int(expected.scaleb(6).quantize(Decimal(1)))


def test_focus_export_reads_the_manifests_data_files_not_the_earlier_execution(s3):
    root = "exports/acme-focus"
    period = "BILLING_PERIOD=2026-10"
    put(s3, f"{root}/data/{period}/exec-1/acme-focus-00001.snappy.parquet",
        focus_parquet([("2026-10-01T00:00:00Z", "111111111111", "Amazon EC2", 99.0, 99.0)]))
    put(s3, f"{root}/data/{period}/exec-2/acme-focus-00001.snappy.parquet",
        focus_parquet([("2026-10-01T00:00:00Z", "111111111111", "Amazon EC2", 10.01, 9.01),
                       ("2026-10-01T05:00:00Z", "111111111111", "Amazon EC2", 0.99, 0.99)]))
    put(s3, f"{root}/data/{period}/exec-2/acme-focus-00002.snappy.parquet",
        focus_parquet([("2026-10-02T00:00:00Z", "222222222222", "Amazon S3", 3.33, 3.33)]))
    put(s3, f"{root}/metadata/{period}/acme-focus-Manifest.json", json.dumps({
        "executionId": "exec-2", "billingPeriod": {"start": "2026-10-01T00:00:00.000Z"},
        "dataFiles": [f"s3://{BUCKET}/{root}/data/{period}/exec-2/acme-focus-00001.snappy.parquet",
                      f"s3://{BUCKET}/{root}/data/{period}/exec-2/acme-focus-00002.snappy.parquet"]}))

    frame = AwsS3Export(BUCKET, root, client=s3).fetch_daily(date(2026, 10, 1), date(2026, 10, 31))

    assert cents(frame["BilledCost"].sum()) == Decimal("14.33")
    assert cents(frame["EffectiveCost"].sum()) == Decimal("13.33")
    ec2 = frame[frame["ServiceName"] == "Amazon EC2"]
    assert len(ec2) == 1 and cents(ec2["BilledCost"].iloc[0]) == Decimal("11.00")
    assert set(frame["Tags"]) == {'{"team":"payments"}'}


def test_cur2_without_a_manifest_reads_the_latest_folder_and_spans_two_periods(s3):
    root = "exports/acme-cur2"
    put(s3, f"{root}/data/BILLING_PERIOD=2026-09/run-a/acme-cur2-00001.csv.gz",
        cur2_csv_gz([("2026-09-30T10:00:00Z", "5.00", "AmazonEC2"), ("2026-09-29T10:00:00Z", "7.00", "AmazonEC2")]))
    put(s3, f"{root}/data/BILLING_PERIOD=2026-10/run-a/acme-cur2-00001.csv.gz",
        cur2_csv_gz([("2026-10-01T10:00:00Z", "50.00", "AmazonEC2")]))
    time.sleep(1.1)  # S3 reports LastModified to the second
    put(s3, f"{root}/data/BILLING_PERIOD=2026-10/run-b/acme-cur2-00001.csv.gz",
        cur2_csv_gz([("2026-10-01T10:00:00Z", "1.25", "AmazonEC2"), ("2026-10-01T11:00:00Z", "0.50", "AmazonS3")]))

    connector = AwsS3Export(BUCKET, root, client=s3)
    frame = connector.fetch_daily(date(2026, 9, 30), date(2026, 10, 1))

    assert connector.files_read == [f"{root}/data/BILLING_PERIOD=2026-09/run-a/acme-cur2-00001.csv.gz",
                                    f"{root}/data/BILLING_PERIOD=2026-10/run-b/acme-cur2-00001.csv.gz"]
    by_day = {d.day: cents(v) for d, v in frame.groupby("ChargePeriodStart")["BilledCost"].sum().items()}
    assert by_day == {30: Decimal("5.00"), 1: Decimal("1.75")}


def test_two_exports_under_one_prefix_are_refused_rather_than_doubled(s3):
    for export in ("acme-cur2", "acme-focus"):
        put(s3, f"exports/{export}/metadata/BILLING_PERIOD=2026-10/{export}-Manifest.json",
            json.dumps({"dataFiles": []}))
    with pytest.raises(SourceError) as raised:
        AwsS3Export(BUCKET, "exports", client=s3).fetch_daily(date(2026, 10, 1), date(2026, 10, 2))
    assert str(raised.value) == (f"aws-cur:s3://{BUCKET}/exports: several exports under the prefix for 2026-10 "
                                 "(exports/acme-cur2, exports/acme-focus): point the prefix at one export")


def test_a_file_in_an_unknown_format_names_its_s3_key(s3):
    key = "exports/x/data/BILLING_PERIOD=2026-10/x-00001.csv.gz"
    put(s3, key, gzipped(b"when,amount\n2026-10-01,1.00\n"))
    with pytest.raises(SourceError) as raised:
        AwsS3Export(BUCKET, "exports/x", client=s3).fetch_daily(date(2026, 10, 1), date(2026, 10, 2))
    assert str(raised.value).startswith(f"aws-cur:s3://{BUCKET}/exports/x: s3://{BUCKET}/{key}, line 1: "
                                        "not a known cost export format")


def test_a_missing_bucket_is_a_source_error(s3):
    with pytest.raises(SourceError) as raised:
        AwsS3Export("no-such-bucket", "cur", client=s3).fetch_daily(date(2026, 10, 1), date(2026, 10, 2))
    assert str(raised.value).startswith("aws-cur:s3://no-such-bucket/cur: S3 refused the request (NoSuchBucket")


def test_a_period_with_no_files_gives_an_empty_frame(s3):
    frame = AwsS3Export(BUCKET, "cur", client=s3).fetch_daily(date(2026, 10, 1), date(2026, 10, 2))
    assert frame.empty and "EffectiveCost" in frame.columns
