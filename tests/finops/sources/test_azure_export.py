"""Azure EA / MCA cost exports to FOCUS: the sample, dates, tags, services, commitments."""

from __future__ import annotations

import csv
import math

import pytest

from finops.errors import InputError
from finops.money import cents
from finops.sources.azure_export import charge_category, region_id, resource_type, service_of
from finops.sources.files import detect_format, read_daily_costs
from tests.finops.sources.cost_file_helpers import AZURE_SAMPLE, column_sum, write_csv

EA_HEADER = ["SubscriptionId", "SubscriptionName", "ResourceLocation", "Date", "MeterCategory", "MeterId",
             "UnitOfMeasure", "Quantity", "CostInBillingCurrency", "ConsumedService", "ResourceId", "Tags",
             "ChargeType", "PricingModel", "BillingAccountId", "BillingCurrencyCode", "PayGPrice"]
VM_ID = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"


def _ea_row(cost: str, *, charge: str = "Usage", model: str = "OnDemand", quantity: str = "2",
            date: str = "9/2/2023", tags: str = '"team": "web"', location: str = "East US 2") -> list[str]:
    return ["sub-1", "prod", location, date, "Virtual Machines", "meter-1", "1 Hour", quantity, cost,
            "Microsoft.Compute", VM_ID, tags, charge, model, "12345678", "EUR", "0.5"]


def test_sample_reads_to_its_cost_in_billing_currency():
    frame = read_daily_costs([AZURE_SAMPLE])
    expected = column_sum(AZURE_SAMPLE, "CostInBillingCurrency")
    assert cents(frame["EffectiveCost"].sum()) == cents(expected)
    assert round(frame["EffectiveCost"].sum(), 6) == 1.261369 == round(float(expected), 6)
    # All on-demand or spot usage: billed equals effective.
    assert round(frame["BilledCost"].sum(), 6) == 1.261369
    assert set(frame["ProviderName"]) == {"Microsoft"} and set(frame["BillingCurrency"]) == {"CAD"}
    assert set(frame["ChargePeriodStart"].astype(str)) == {"2023-09-02"}
    assert set(frame["RegionId"]) == {"centralus", "westus2", "westus", "eastus2"}
    assert set(frame["Tags"]) == {'{"tagA":"valueA","tagB":"valueB","tagC":"valueC"}'}
    assert "e18e1552-c6dd-45d1-973c-999999999999" in set(frame["SubAccountId"])


def test_sample_services_come_from_the_toolkit_map_or_the_meter_category():
    frame = read_daily_costs([AZURE_SAMPLE])
    services = set(zip(frame["ServiceName"], frame["ServiceCategory"], strict=True))
    # The sample's resource ids are placeholders, so only the consumed service is known: one
    # service for Microsoft.Storage, several for Microsoft.Compute (the meter category decides).
    assert services == {("Virtual Machines", "Compute"), ("Storage Accounts", "Storage"),
                        ("Azure Data Factory", "Integration"), ("Event Hubs", "Integration"),
                        ("Virtual Network", "Networking")}


def test_sample_list_cost_is_pay_as_you_go_price_times_quantity():
    frame = read_daily_costs([AZURE_SAMPLE])
    with AZURE_SAMPLE.open(encoding="utf-8-sig", newline="") as f:
        expected = sum(float(r["PayGPrice"]) * float(r["Quantity"]) for r in csv.DictReader(f))
    assert math.isclose(frame["ListCost"].sum(), expected, rel_tol=1e-12)


def test_mca_lower_camel_case_columns_and_iso_dates(tmp_path):
    header = ["subscriptionId", "date", "costInBillingCurrency", "paygCostInBillingCurrency", "meterCategory",
              "chargeType", "quantity", "unitOfMeasure", "resourceLocation", "billingCurrency", "tags"]
    rows = [["sub-2", "2024-01-31", "3.5", "4.0", "Storage", "Usage", "10", "1 GB/Month", "westeurope", "USD",
             '{"team": "data"}']]
    path = write_csv(tmp_path / "mca.csv", header, rows)
    assert detect_format(path) == "azure-export"
    row = read_daily_costs([path]).iloc[0]
    assert (str(row["ChargePeriodStart"].date()), row["SubAccountId"], row["EffectiveCost"], row["ListCost"],
            row["ConsumedQuantity"], row["Tags"]) == ("2024-01-31", "sub-2", 3.5, 4.0, 10.0, '{"team":"data"}')


def test_amortized_export_covered_usage_is_effective_but_not_billed(tmp_path):
    rows = [_ea_row("10"),                                        # pay as you go
            _ea_row("6", model="Reservation"),                    # covered usage, amortized share
            _ea_row("1.5", charge="UnusedReservation", model="Reservation", quantity="3"),
            _ea_row("0.8", charge="Tax", quantity="")]
    frame = read_daily_costs([write_csv(tmp_path / "amortized.csv", EA_HEADER, rows)])
    assert frame["EffectiveCost"].sum() == 18.3
    assert frame["BilledCost"].sum() == 10.8
    usage = frame[frame["ChargeCategory"] == "Usage"]
    # Quantities on usage rows only: unused reservation hours are not consumption.
    assert usage["ConsumedQuantity"].sum() == 4.0


def test_actual_export_purchases_stay_in_effective_cost(tmp_path):
    rows = [_ea_row("0", model="Reservation"), _ea_row("365", charge="Purchase", model="Reservation", quantity="1"),
            _ea_row("-20", charge="Refund", quantity="")]
    frame = read_daily_costs([write_csv(tmp_path / "actual.csv", EA_HEADER, rows)])
    by_category = frame.groupby("ChargeCategory")[["BilledCost", "EffectiveCost"]].sum()
    assert by_category.loc["Purchase"].tolist() == [365.0, 365.0]
    assert by_category.loc["Credit"].tolist() == [-20.0, -20.0]


@pytest.mark.parametrize(("charge_type", "category"), [
    ("Usage", "Usage"), ("UnusedReservation", "Usage"), ("UnusedSavingsPlan", "Usage"), ("Purchase", "Purchase"),
    ("Tax", "Tax"), ("Refund", "Credit"), ("Credit", "Credit"), ("RoundingAdjustment", "Adjustment"), ("", "Usage"),
])
def test_charge_types_map_to_focus_charge_categories(charge_type, category):
    assert charge_category(charge_type) == category


def test_resource_types_regions_and_services():
    assert resource_type(VM_ID) == "microsoft.compute/virtualmachines"
    assert resource_type("/subscriptions/s/resourceGroups/r/providers/Microsoft.Sql/servers/a/databases/b") == \
        "microsoft.sql/servers/databases"
    assert resource_type("not-an-arm-id") == ""
    assert region_id("East US 2") == region_id("EastUS2") == "eastus2"
    assert service_of("Microsoft.Compute", VM_ID, "Virtual Machines") == ("Virtual Machines", "Compute")
    assert service_of("Microsoft.Web", "/subscriptions/s/providers/Microsoft.Web/sites/x", "Azure App Service") == \
        ("Azure App Service", "Web")
    assert service_of("Contoso.Unknown", "", "Contoso Meter") == ("Contoso Meter", "")


def test_a_us_date_that_does_not_exist_is_bad_input(tmp_path):
    path = write_csv(tmp_path / "bad.csv", EA_HEADER, [_ea_row("1"), _ea_row("1", date="2/30/2023")])
    with pytest.raises(InputError) as caught:
        read_daily_costs([path])
    assert (caught.value.line, caught.value.column, caught.value.value) == (3, "Date", "2/30/2023")


def test_older_pay_as_you_go_export_with_usage_date_time_and_pre_tax_cost(tmp_path):
    header = ["SubscriptionGuid", "ResourceGroup", "ResourceLocation", "UsageDateTime", "MeterCategory", "MeterId",
              "UnitOfMeasure", "UsageQuantity", "ResourceRate", "PreTaxCost", "ConsumedService", "InstanceId", "Tags",
              "Currency"]
    account = "/subscriptions/sub-3/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa"
    rows = [["sub-3", "rg", "EastUS", "2019-08-01", "Storage", "m-1", "1 GB/Month", "4", "0.05", "0.21",
             "Microsoft.Storage", account, '{"team": "data"}', "USD"],
            ["sub-3", "rg", "EastUS", "2019-08-01T00:00:00.0000000Z", "Storage", "m-1", "1 GB/Month", "2", "0.05",
             "0.12", "Microsoft.Storage", account, '{"team": "data"}', "USD"],
            ["sub-3", "rg", "EastUS", "2019-08-02T00:00:00.0000000", "Storage", "m-1", "1 GB/Month", "", "0.05", "",
             "Microsoft.Storage", account, "", "USD"]]
    path = write_csv(tmp_path / "payg.csv", header, rows)
    assert detect_format(path) == "azure-export"
    frame = read_daily_costs([path])
    assert cents(frame["EffectiveCost"].sum()) == cents(frame["BilledCost"].sum()) == cents("0.33")
    first = frame[frame["ChargePeriodStart"] == "2019-08-01"].iloc[0]
    assert (first["SubAccountId"], first["ResourceId"], first["ServiceName"], first["RegionId"],
            first["ConsumedQuantity"], first["BillingCurrency"], first["Tags"]) == (
        "sub-3", account, "Storage Accounts", "eastus", 6.0, "USD", '{"team":"data"}')
    assert set(frame["ChargePeriodStart"].astype(str)) == {"2019-08-01", "2019-08-02"}


def test_ea_usage_details_csv_with_extended_cost_and_consumed_quantity(tmp_path):
    # The EA usage file's names (ExtendedCost, ConsumedQuantity), which cost details renamed.
    header = ["AccountName", "SubscriptionGuid", "Date", "Product", "MeterId", "MeterCategory", "ConsumedQuantity",
              "ResourceRate", "ExtendedCost", "ResourceLocation", "ConsumedService", "InstanceId", "Tags"]
    rows = [["acct", "sub-4", "08/01/2019", "P", "m-1", "Virtual Machines", "24", "0.1", "2.40", "EastUS",
             "Microsoft.Compute", VM_ID, '"team": "web"'],
            ["acct", "sub-4", "08/02/2019", "P", "m-1", "Virtual Machines", "12.5", "0.1", "1.25", "EastUS",
             "Microsoft.Compute", VM_ID, '"team": "web"']]
    frame = read_daily_costs([write_csv(tmp_path / "ea_usage.csv", header, rows)])
    assert cents(frame["EffectiveCost"].sum()) == cents(frame["BilledCost"].sum()) == cents("3.65")
    assert frame["ConsumedQuantity"].sum() == 36.5
    assert set(frame["Tags"]) == {'{"team":"web"}'} and set(frame["SubAccountId"]) == {"sub-4"}
