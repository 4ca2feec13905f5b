"""A local copy of an AWS export (``aws s3 sync``) keeps every delivery of a billing period; its
manifest says which files are current, and only those are read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from finops.errors import InputError
from finops.sources.files import cost_files, read_daily_costs
from tests.finops.sources.cost_file_helpers import write_csv

CUR_HEADER = ["bill/BillingPeriodStartDate", "lineItem/UsageStartDate", "lineItem/LineItemType",
              "lineItem/UsageAccountId", "lineItem/ProductCode", "lineItem/UnblendedCost"]


def cur_file(path: Path, cost: str) -> Path:
    return write_csv(path, CUR_HEADER, [["2024-10-01T00:00:00Z", "2024-10-02T00:00:00Z", "Usage", "111", "AmazonEC2",
                                         cost]])


def legacy_copy(root: Path) -> Path:
    """report/20241001-20241101 with two assemblies (the old $10.00, the current $12.00), a copy of the
    manifest inside each, and September's period without a manifest."""
    period = root / "exports" / "report" / "20241001-20241101"
    cur_file(period / "old-assembly" / "report-00001.csv", "10")
    cur_file(period / "new-assembly" / "report-00001.csv", "7")
    cur_file(period / "new-assembly" / "report-00002.csv", "5")
    keys = [f"exports/report/20241001-20241101/new-assembly/report-0000{i}.csv" for i in (1, 2)]
    for where in (period, period / "old-assembly", period / "new-assembly"):
        (where / "report-Manifest.json").write_text(json.dumps({"reportKeys": keys}))
    (period / "old-assembly" / "report-Manifest.json").write_text(json.dumps({"reportKeys": ["x/old.csv"]}))
    cur_file(root / "exports" / "report" / "20240901-20241001" / "a" / "report-00001.csv", "3")
    return root / "exports"


def test_a_synced_legacy_cur_reads_only_the_current_assembly_of_a_period(tmp_path):
    # Every assembly was read: October came to $22.00 instead of $12.00.
    exports = legacy_copy(tmp_path)
    names = [p.relative_to(exports).as_posix() for p in cost_files([exports])]
    assert names == ["report/20240901-20241001/a/report-00001.csv",
                     "report/20241001-20241101/new-assembly/report-00001.csv",
                     "report/20241001-20241101/new-assembly/report-00002.csv"]
    assert round(read_daily_costs([exports])["BilledCost"].sum(), 2) == 15.00


def test_a_data_export_copy_reads_the_files_its_manifest_names(tmp_path):
    export = tmp_path / "focus-export"
    data = export / "data" / "BILLING_PERIOD=2024-10"
    cur_file(data / "old-run" / "part-0.csv", "10")
    cur_file(data / "new-run" / "part-0.csv", "4")
    manifest = export / "metadata" / "BILLING_PERIOD=2024-10" / "focus-export-Manifest.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"dataFiles": [
        "s3://bucket/focus-export/data/BILLING_PERIOD=2024-10/new-run/part-0.csv"]}))
    assert [p.relative_to(export).as_posix() for p in cost_files([export])] == [
        "data/BILLING_PERIOD=2024-10/new-run/part-0.csv"]


def test_a_copy_missing_a_file_its_manifest_names_is_refused_by_name(tmp_path):
    exports = legacy_copy(tmp_path)
    (exports / "report" / "20241001-20241101" / "new-assembly" / "report-00002.csv").unlink()
    with pytest.raises(InputError) as caught:
        cost_files([exports])
    assert caught.value.file == str(exports / "report" / "20241001-20241101" / "report-Manifest.json")
    assert "names new-assembly/report-00002.csv, which is not in this copy of the export" in str(caught.value)


def test_a_broken_manifest_is_named(tmp_path):
    exports = legacy_copy(tmp_path)
    manifest = exports / "report" / "20241001-20241101" / "report-Manifest.json"
    manifest.write_text("{not json")
    with pytest.raises(InputError) as caught:
        cost_files([exports])
    assert caught.value.file == str(manifest) and "not JSON" in str(caught.value)
