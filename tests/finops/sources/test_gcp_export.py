"""GCP BigQuery billing export (flattened CSV or nested Parquet) to FOCUS: credits, labels, cost types."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finops.errors import InputError
from finops.money import cents
from finops.sources.files import read_daily_costs
from finops.sources.gcp_export import charge_category, credit_total
from tests.finops.sources.cost_file_helpers import GCP_SAMPLE, column_sum, write_csv

HEADER = ["billing_account_id", "service.id", "service.description", "sku.id", "usage_start_time", "project.id",
          "project.name", "project.labels", "labels", "location.region", "cost", "currency", "usage.amount",
          "usage.unit", "credits", "cost_type", "resource.name"]


def _row(cost: str, credits: list[dict] | str = "[]", *, cost_type: str = "regular", labels: str = "[]",
         start: str = "2024-05-01 10:00:00 UTC") -> list[str]:
    return ["0123-4567", "6F81", "Compute Engine", "sku-1", start, "proj-a", "Project A",
            '[{"key": "team", "value": "web"}]', labels, "europe-west1", cost, "USD", "3600", "seconds",
            credits if isinstance(credits, str) else json.dumps(credits), cost_type, "projects/proj-a/instances/vm"]


def test_sample_reads_to_its_cost_column():
    frame = read_daily_costs([GCP_SAMPLE])
    expected = column_sum(GCP_SAMPLE, "cost")
    assert cents(frame["BilledCost"].sum()) == cents(expected)
    assert round(frame["BilledCost"].sum(), 6) == round(frame["EffectiveCost"].sum(), 6) == 2.398313
    assert set(frame["ProviderName"]) == {"Google Cloud"}
    assert set(frame["SubAccountId"]) == {"worry-executive-themselves"}
    assert set(frame["RegionId"]) == {"us-central1"}
    assert set(frame["ChargePeriodStart"].astype(str)) == {"2024-05-01", "2024-05-02"}  # 48 hourly starts
    assert set(frame["ChargeCategory"]) == {"Usage"}


def test_sample_tags_are_project_labels_overlaid_with_resource_labels():
    tags = set(read_daily_costs([GCP_SAMPLE])["Tags"])
    assert '{"foo":"bar"}' in tags
    assert '{"foo":"bar","test_storage_key":"test_storage_label"}' in tags
    assert not any("compute.googleapis.com" in t for t in tags)  # system labels are not kept


def test_credits_become_credit_rows_so_effective_cost_is_net(tmp_path):
    rows = [_row("10.0", [{"name": "SUD", "amount": -1.5, "type": "SUSTAINED_USAGE_DISCOUNT"},
                          {"name": "Promo", "amount": -0.25, "type": "PROMOTION"}]),
            _row("4.0"),
            _row("0.7", cost_type="tax")]
    frame = read_daily_costs([write_csv(tmp_path / "gcp.csv", HEADER, rows)])
    by_category = frame.groupby("ChargeCategory")[["BilledCost", "EffectiveCost", "ListCost"]].sum()
    assert by_category.loc["Usage"].tolist() == [14.0, 14.0, 14.0]
    assert by_category.loc["Credit"].tolist() == [-1.75, -1.75, 0.0]
    assert by_category.loc["Tax"].tolist() == [0.7, 0.7, 0.7]
    assert frame["EffectiveCost"].sum() == pytest.approx(12.95, abs=1e-12)
    credit = frame[frame["ChargeCategory"] == "Credit"].iloc[0]
    usage = frame[frame["ChargeCategory"] == "Usage"].iloc[0]
    same = ["ChargePeriodStart", "SubAccountId", "ServiceName", "SkuId", "RegionId", "ResourceId", "Tags"]
    assert credit[same].tolist() == usage[same].tolist()
    assert credit["ConsumedQuantity"] != credit["ConsumedQuantity"]  # NaN: credits count no usage
    assert usage["ConsumedQuantity"] == 7200.0 and usage["ConsumedUnit"] == "seconds"
    tax = frame[frame["ChargeCategory"] == "Tax"].iloc[0]
    assert tax["ConsumedUnit"] == "" and tax["ConsumedQuantity"] != tax["ConsumedQuantity"]


def test_credit_lists_written_as_python_literals_are_read_too():
    assert credit_total("[{'name': 'x', 'amount': -0.5}, {'name': 'y', 'amount': -0.25}]") == -0.75
    assert credit_total("[]") == 0.0 and credit_total("") == 0.0 and credit_total(None) == 0.0
    with pytest.raises(ValueError):
        credit_total("[{'name': 'no amount'}]")


def test_unreadable_credits_are_bad_input_with_their_line(tmp_path):
    path = write_csv(tmp_path / "gcp.csv", HEADER, [_row("1"), _row("1", "-0.5 off")])
    with pytest.raises(InputError) as caught:
        read_daily_costs([path])
    assert (caught.value.line, caught.value.column, caught.value.value) == (3, "credits", "-0.5 off")


@pytest.mark.parametrize(("cost_type", "category"), [("regular", "Usage"), ("tax", "Tax"),
                                                      ("adjustment", "Adjustment"),
                                                      ("rounding_error", "Adjustment"), ("", "Usage")])
def test_cost_types_map_to_focus_charge_categories(cost_type, category):
    assert charge_category(cost_type) == category


def test_nested_parquet_export(tmp_path):
    pair = pa.struct([("key", pa.string()), ("value", pa.string())])
    credit = pa.struct([("name", pa.string()), ("amount", pa.float64()), ("type", pa.string())])
    table = pa.table({
        "billing_account_id": ["0123-4567"] * 3,
        "service": [{"id": "6F81", "description": "Compute Engine"}] * 3,
        "sku": [{"id": "sku-1", "description": "N2 core"}] * 3,
        "usage_start_time": pa.array([1_714_557_600_000_000, 1_714_600_800_000_000, 1_714_640_400_000_000],
                                     pa.timestamp("us", tz="UTC")),
        "project": [{"id": "proj-a", "name": "Project A", "labels": [{"key": "team", "value": "web"}]}] * 3,
        "labels": pa.array([[{"key": "team", "value": "api"}], [], None], pa.list_(pair)),
        "location": [{"region": "us-east1", "location": "us-east1"}] * 3,
        "cost": [2.0, 3.0, 5.0],
        "currency": ["USD"] * 3,
        "usage": [{"amount": 1.0, "unit": "seconds"}] * 3,
        "credits": pa.array([[{"name": "SUD", "amount": -0.5, "type": "SUSTAINED_USAGE_DISCOUNT"}], [], None],
                            pa.list_(credit)),
    })
    path = tmp_path / "gcp.parquet"
    pq.write_table(table, path)
    frame = read_daily_costs([path])
    assert frame["BilledCost"].sum() == 9.5 and frame["EffectiveCost"].sum() == 9.5
    by_tags = frame[frame["ChargeCategory"] == "Usage"].groupby("Tags")["BilledCost"].sum().to_dict()
    assert by_tags == {'{"team":"api"}': 2.0, '{"team":"web"}': 8.0}
    assert set(frame["ChargePeriodStart"].astype(str)) == {"2024-05-01", "2024-05-02"}
    assert set(frame["SkuId"]) == {"sku-1"} and set(frame["ResourceId"]) == {""}


def test_an_export_without_a_service_is_refused(tmp_path):
    header = [c for c in HEADER if c != "service.description"]
    path = write_csv(tmp_path / "gcp.csv", header, [])
    with pytest.raises(InputError) as caught:
        read_daily_costs([path])
    assert caught.value.column == "service.description"


def test_list_cost_is_cost_at_list_where_exported(tmp_path):
    header = ["usage_start_time", "service.description", "cost", "cost_at_list"]
    rows = [["2024-05-01T00:00:00Z", "BigQuery", "8", "10"], ["2024-05-01T01:00:00Z", "BigQuery", "3", ""]]
    frame = read_daily_costs([write_csv(tmp_path / "gcp.csv", header, rows)])
    assert frame[["BilledCost", "ListCost"]].values.tolist() == [[11.0, 13.0]]
