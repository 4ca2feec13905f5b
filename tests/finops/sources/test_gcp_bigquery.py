"""GCP billing-export connector against bqemulator (a local BigQuery REST server backed by DuckDB)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from finops.money import cents
from finops.sources.connector import SourceError
from finops.sources.gcp_bigquery import GcpBillingExport

from .bigquery_emulator import running_emulator

PROJECT = "billing-admin"
STANDARD = f"{PROJECT}.billing.gcp_billing_export_v1_0A1B2C_3D4E5F"
RESOURCE = f"{PROJECT}.billing.gcp_billing_export_resource_v1_0A1B2C_3D4E5F"

F = bigquery.SchemaField


def record(name: str, *fields: F, mode: str = "NULLABLE") -> F:
    return F(name, "RECORD", mode=mode, fields=fields)


SCHEMA = [
    F("billing_account_id", "STRING"),
    record("service", F("id", "STRING"), F("description", "STRING")),
    record("sku", F("id", "STRING"), F("description", "STRING")),
    F("usage_start_time", "TIMESTAMP"),
    F("usage_end_time", "TIMESTAMP"),
    record("project", F("id", "STRING"), F("name", "STRING")),
    record("labels", F("key", "STRING"), F("value", "STRING"), mode="REPEATED"),
    record("location", F("location", "STRING"), F("region", "STRING")),
    F("cost", "FLOAT"),
    F("currency", "STRING"),
    record("usage", F("amount", "FLOAT"), F("unit", "STRING"), F("amount_in_pricing_units", "FLOAT"),
           F("pricing_unit", "STRING")),
    record("credits", F("name", "STRING"), F("amount", "FLOAT"), F("type", "STRING"), mode="REPEATED"),
    F("cost_type", "STRING"),
    F("cost_at_list", "FLOAT"),
]
RESOURCE_SCHEMA = [*SCHEMA, record("resource", F("name", "STRING"), F("global_name", "STRING"))]

COMPUTE = {"id": "6F81-5844-456A", "description": "Compute Engine"}
STORAGE = {"id": "95FF-2EF5-5EA1", "description": "Cloud Storage"}
PAYMENTS = {"id": "payments-prod", "name": "Payments"}
SEARCH = {"id": "search-prod", "name": "Search"}


def line_item(when: str, project: dict, service: dict, sku: str, cost: float, *, labels=(), credits=(),
              region: str | None = "us-central1", usage=(0.0, None, 0.0, None), cost_type="regular",
              list_cost: float | None = None, resource: dict | None = None) -> dict:
    item = {
        "billing_account_id": "0A1B2C-3D4E5F-6A7B8C", "service": service, "sku": {"id": sku, "description": sku},
        "usage_start_time": when, "usage_end_time": when, "project": project,
        "labels": [{"key": k, "value": v} for k, v in labels], "location": {"location": region, "region": region},
        "cost": cost, "currency": "USD",
        "usage": {"amount": usage[0], "unit": usage[1], "amount_in_pricing_units": usage[2], "pricing_unit": usage[3]},
        "credits": [{"name": n, "amount": a, "type": t} for n, a, t in credits],
        "cost_type": cost_type, "cost_at_list": cost if list_cost is None else list_cost,
    }
    if resource is not None:
        item["resource"] = resource
    return item


STANDARD_ROWS = [
    line_item("2024-05-01T03:00:00Z", PAYMENTS, COMPUTE, "E2-CORE", 10.00, list_cost=12.00,
              labels=[("team", "payments"), ("env", "prod")],
              credits=[("Sustained use", -1.50, "SUSTAINED_USAGE_DISCOUNT"), ("Free tier", -0.25, "FREE_TIER")],
              usage=(3600.0, "seconds", 1.0, "hour")),
    # Same labels in another order: the same series.
    line_item("2024-05-01T05:00:00Z", PAYMENTS, COMPUTE, "E2-CORE", 5.00, list_cost=6.00,
              labels=[("env", "prod"), ("team", "payments")], usage=(1800.0, "seconds", 0.5, "hour")),
    line_item("2024-05-01T07:00:00Z", SEARCH, STORAGE, "STD-STORAGE", 0.33, region=None,
              credits=[("Trial", -0.33, "PROMOTION")], usage=(10.0, "gibibyte month", 10.0, "gibibyte month")),
    line_item("2024-05-02T00:00:00Z", SEARCH, {"id": "TAX", "description": "Invoice"}, "TAX", 1.07,
              region=None, cost_type="tax"),
    line_item("2024-05-02T23:30:00Z", PAYMENTS, COMPUTE, "E2-CORE", 2.10, list_cost=2.50,
              labels=[("team", "payments"), ("env", "prod"), ("goog-k8s-cluster-name", "blue")],
              credits=[("Sustained use", -0.10, "SUSTAINED_USAGE_DISCOUNT")], usage=(720.0, "seconds", 0.2, "hour")),
    # Outside the window on either side, by a minute.
    line_item("2024-04-30T23:59:00Z", PAYMENTS, COMPUTE, "E2-CORE", 100.00),
    line_item("2024-05-03T00:00:00Z", PAYMENTS, COMPUTE, "E2-CORE", 200.00),
]
VM_A = {"name": "vm-a", "global_name": "//compute.googleapis.com/projects/payments-prod/zones/us-central1-a/instances/1"}
VM_B = {"name": "vm-b", "global_name": "//compute.googleapis.com/projects/payments-prod/zones/us-central1-a/instances/2"}
RESOURCE_ROWS = [
    line_item("2024-05-01T01:00:00Z", PAYMENTS, COMPUTE, "E2-CORE", 4.00, resource=VM_A,
              labels=[("team", "payments")], credits=[("Sustained use", -0.40, "SUSTAINED_USAGE_DISCOUNT")]),
    line_item("2024-05-01T02:00:00Z", PAYMENTS, COMPUTE, "E2-CORE", 3.00, resource=VM_B, labels=[("team", "payments")]),
    line_item("2024-05-01T03:00:00Z", PAYMENTS, COMPUTE, "E2-CORE", 1.50, resource=VM_A, labels=[("team", "payments")]),
]

WINDOW = (date(2024, 5, 1), date(2024, 5, 2))


@pytest.fixture(scope="module")
def client():
    with running_emulator(PROJECT) as url:
        client = bigquery.Client(project=PROJECT, credentials=AnonymousCredentials(),
                                 client_options=ClientOptions(api_endpoint=url))
        client.create_dataset("billing")
        standard = client.create_table(bigquery.Table(STANDARD, schema=SCHEMA))
        assert client.insert_rows_json(standard, STANDARD_ROWS) == []
        # Like the real exports: partitioned by ingestion time.
        resource = bigquery.Table(RESOURCE, schema=RESOURCE_SCHEMA)
        resource.time_partitioning = bigquery.TimePartitioning(type_=bigquery.TimePartitioningType.DAY)
        assert client.insert_rows_json(client.create_table(resource), RESOURCE_ROWS) == []
        yield client


def total(frame: pd.DataFrame, column: str = "BilledCost", **where: str) -> Decimal:
    mask = pd.Series(True, index=frame.index)
    for key, value in where.items():
        mask &= frame[key] == value
    return cents(frame.loc[mask, column].sum())


def test_net_cost_includes_credits_to_the_cent(client):
    frame = GcpBillingExport(STANDARD, client=client).fetch_daily(*WINDOW)

    assert total(frame) == Decimal("16.32")          # 18.50 charged - 2.18 credits
    assert total(frame, "EffectiveCost") == Decimal("16.32")
    assert total(frame, ChargeCategory="Credit") == Decimal("-2.18")
    assert total(frame, ChargeCategory="Tax") == Decimal("1.07")
    assert total(frame, ChargeCategory="Usage") == Decimal("17.43")
    assert total(frame, "ListCost") == Decimal("21.90")
    assert [cents(v) for v in frame.groupby("ChargePeriodStart")["BilledCost"].sum()] == [
        Decimal("13.25"), Decimal("3.07")]
    assert set(frame["ProviderName"]) == {"Google Cloud"}
    assert set(frame["BillingAccountId"]) == {"0A1B2C-3D4E5F-6A7B8C"}
    assert set(frame["x_Team"]) == {""}


def test_line_items_with_the_same_labels_in_any_order_are_one_series(client):
    frame = GcpBillingExport(STANDARD, client=client).fetch_daily(*WINDOW)
    compute = frame[(frame["ChargePeriodStart"] == "2024-05-01") & (frame["SkuId"] == "E2-CORE")]

    usage = compute[compute["ChargeCategory"] == "Usage"].iloc[0]
    assert len(compute) == 2
    assert (usage.SubAccountId, usage.SubAccountName, usage.ServiceName, usage.RegionId) == (
        "payments-prod", "Payments", "Compute Engine", "us-central1")
    assert usage.Tags == '{"env":"prod","team":"payments"}'
    assert (usage.BilledCost, usage.ListCost) == (15.0, 18.0)
    assert (usage.ConsumedQuantity, usage.ConsumedUnit, usage.PricingQuantity, usage.PricingUnit) == (
        5400.0, "seconds", 1.5, "hour")
    credit = compute[compute["ChargeCategory"] == "Credit"].iloc[0]
    assert (credit.BilledCost, credit.Tags, credit.ListCost) == (-1.75, usage.Tags, 0.0)


def test_label_keys_keep_only_the_labels_allocation_needs(client):
    frame = GcpBillingExport(STANDARD, client=client, label_keys=["team"]).fetch_daily(*WINDOW)
    assert set(frame["Tags"]) == {'{"team":"payments"}', ""}
    assert total(frame, Tags='{"team":"payments"}') == Decimal("15.25")   # 15.00 + 2.10 - 1.75 - 0.10


def test_regionless_and_unlabelled_items_have_empty_dimensions_not_nulls(client):
    frame = GcpBillingExport(STANDARD, client=client).fetch_daily(*WINDOW)
    storage = frame[frame["ServiceName"] == "Cloud Storage"]
    assert storage[["RegionId", "Tags", "ResourceId"]].values.tolist() == [["", "", ""], ["", "", ""]]
    assert sorted(storage["BilledCost"]) == [-0.33, 0.33]


def test_resource_level_export_keeps_resources(client):
    frame = GcpBillingExport(RESOURCE, client=client).fetch_daily(*WINDOW)
    by_resource = {rid: cents(v) for rid, v in frame.groupby("ResourceId")["BilledCost"].sum().items()}
    assert by_resource == {VM_A["global_name"]: Decimal("5.10"), VM_B["global_name"]: Decimal("3.00")}
    assert total(frame, ChargeCategory="Credit", ResourceId=VM_A["global_name"]) == Decimal("-0.40")


def test_a_missing_table_is_a_source_error(client):
    connector = GcpBillingExport(f"{PROJECT}.billing.gcp_billing_export_v1_NOPE", client=client)
    with pytest.raises(SourceError) as raised:
        connector.fetch_daily(*WINDOW)
    assert str(raised.value).startswith(
        f"gcp:{PROJECT}.billing.gcp_billing_export_v1_NOPE: BigQuery has no such table or dataset (404 ")


def test_a_table_that_is_not_a_billing_export_is_refused_by_name(client):
    other = client.create_table(bigquery.Table(f"{PROJECT}.billing.other", schema=SCHEMA[:4]))
    with pytest.raises(SourceError) as raised:
        GcpBillingExport(f"{PROJECT}.billing.other", client=client).fetch_daily(*WINDOW)
    assert str(raised.value) == (f"gcp:{other.project}.billing.other: not a Cloud Billing export table "
                                 "(no column cost, currency, project.id, credits.amount, labels.key, labels.value)")


def test_table_names_that_could_inject_sql_are_refused():
    with pytest.raises(ValueError, match="not a BigQuery table name"):
        GcpBillingExport("p.d.t` WHERE 1=1 --", client=object())
