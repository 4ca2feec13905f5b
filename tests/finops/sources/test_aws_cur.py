"""AWS CUR (legacy and 2.0) to FOCUS: the sample, amortized cost, charge categories, tags."""

from __future__ import annotations

import json
import math

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finops.errors import InputError
from finops.money import cents
from finops.sources.aws_cur import charge_category
from finops.sources.files import detect_format, read_daily_costs
from tests.finops.sources.cost_file_helpers import CUR_SAMPLE, column_sum, write_csv

LEGACY_HEADER = [
    "bill/PayerAccountId", "lineItem/UsageAccountId", "lineItem/LineItemType", "lineItem/UsageStartDate",
    "lineItem/ProductCode", "lineItem/UsageType", "lineItem/ResourceId", "lineItem/UsageAmount",
    "lineItem/CurrencyCode", "lineItem/UnblendedCost", "product/ProductName", "product/region",
    "pricing/publicOnDemandCost", "pricing/unit", "reservation/EffectiveCost",
    "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod", "reservation/UnusedRecurringFee",
    "reservation/ReservationARN", "savingsPlan/SavingsPlanEffectiveCost", "savingsPlan/TotalCommitmentToDate",
    "savingsPlan/UsedCommitment", "resourceTags/user:team", "resourceTags/aws:createdBy",
]


def _line(kind: str, unblended: str, *, ri_effective="", unused_upfront="", unused_recurring="", arn="",
          sp_effective="", commitment="", used="", team="payments", amount="2") -> list[str]:
    return ["999988887777", "111122223333", kind, "2024-03-05T10:00:00Z", "AmazonEC2", "USE1-BoxUsage:m5.large",
            "i-0abc", amount, "USD", unblended, "Amazon Elastic Compute Cloud", "us-east-1", "9.5", "Hrs",
            ri_effective, unused_upfront, unused_recurring, arn, sp_effective, commitment, used, team, "alice"]


COMMITMENT_LINES = [
    _line("Usage", "10"),
    _line("SavingsPlanCoveredUsage", "8", sp_effective="5"),
    _line("SavingsPlanNegation", "-8"),
    _line("SavingsPlanRecurringFee", "100", commitment="100", used="70"),
    _line("SavingsPlanUpfrontFee", "500"),
    _line("DiscountedUsage", "0", ri_effective="3"),
    _line("RIFee", "20", unused_upfront="2", unused_recurring="1"),
    _line("Fee", "300", arn="arn:aws:ec2:us-east-1:111122223333:reserved-instances/abc"),
    _line("Fee", "7"),
    _line("Tax", "1.5"),
    _line("Credit", "-2"),
    _line("Refund", "-1"),
    _line("EdpDiscount", "-0.5"),
]


def test_sample_reads_with_unblended_cost_billed_and_public_on_demand_cost_listed():
    frame = read_daily_costs([CUR_SAMPLE])
    assert cents(frame["BilledCost"].sum()) == cents(column_sum(CUR_SAMPLE, "lineItem/UnblendedCost"))
    assert round(frame["BilledCost"].sum(), 6) == 1.682309
    # No reservation or Savings Plan line items in the sample: amortized equals unblended.
    assert round(frame["EffectiveCost"].sum(), 6) == 1.682309
    listed = column_sum(CUR_SAMPLE, "pricing/publicOnDemandCost")
    assert cents(frame["ListCost"].sum()) == cents(listed)
    assert round(frame["ListCost"].sum(), 8) == round(float(listed), 8)
    by_category = frame.groupby("ChargeCategory")["BilledCost"].sum().round(6).to_dict()
    assert by_category == {"Tax": 0.08, "Usage": 1.602309}
    assert set(frame["ProviderName"]) == {"AWS"} and set(frame["SubAccountId"]) == {"123412340534"}
    assert set(frame["BillingAccountId"]) == {"123412340534"} and set(frame["BillingCurrency"]) == {"USD"}
    assert "AWS CloudTrail" in set(frame["ServiceName"])


def test_sample_regions_fall_back_from_region_to_region_code_and_tax_has_no_quantity():
    frame = read_daily_costs([CUR_SAMPLE])
    transfer = frame[frame["SkuId"] == "USE1-DataTransfer-xAZ-In-Bytes"]
    assert set(transfer["RegionId"]) == {"us-east-1"}
    tax = frame[frame["ChargeCategory"] == "Tax"]
    assert tax["ConsumedQuantity"].isna().all() and set(tax["ConsumedUnit"]) == {""}
    usage = frame[frame["ChargeCategory"] == "Usage"]
    assert usage["ConsumedQuantity"].notna().all()


def test_effective_cost_is_the_amortized_cost_of_reservations_and_savings_plans(tmp_path):
    path = write_csv(tmp_path / "cur.csv", LEGACY_HEADER, COMMITMENT_LINES)
    frame = read_daily_costs([path])
    assert frame["BilledCost"].sum() == 935.0
    assert frame["EffectiveCost"].sum() == 56.0
    by_category = frame.groupby("ChargeCategory")[["BilledCost", "EffectiveCost"]].sum()
    assert by_category.loc["Usage"].tolist() == [10.0, 18.0]       # 10 + 5 + 0 + 3
    assert by_category.loc["Purchase"].tolist() == [927.0, 40.0]   # 30 + 0 + 3 + 0 + 7
    assert by_category.loc["Tax"].tolist() == [1.5, 1.5]
    assert by_category.loc["Credit"].tolist() == [-3.5, -3.5]
    assert set(frame["SkuId"]) == {"USE1-BoxUsage:m5.large"} and set(frame["ResourceId"]) == {"i-0abc"}


def test_usage_lines_carry_quantities_and_fees_do_not(tmp_path):
    frame = read_daily_costs([write_csv(tmp_path / "cur.csv", LEGACY_HEADER, COMMITMENT_LINES)])
    usage = frame[frame["ChargeCategory"] == "Usage"]
    # Usage, SavingsPlanCoveredUsage and DiscountedUsage carry 2 hours each; the negation keeps
    # the unit (so it offsets its covered usage in one series) but counts no hours.
    assert usage["ConsumedQuantity"].tolist() == [6.0] and usage["ConsumedUnit"].tolist() == ["Hrs"]
    purchase = frame[frame["ChargeCategory"] == "Purchase"]
    assert purchase["ConsumedQuantity"].isna().all()


@pytest.mark.parametrize(("line_type", "category"), [
    ("Usage", "Usage"), ("DiscountedUsage", "Usage"), ("SavingsPlanCoveredUsage", "Usage"),
    ("SavingsPlanNegation", "Usage"), ("Fee", "Purchase"), ("RIFee", "Purchase"),
    ("SavingsPlanRecurringFee", "Purchase"), ("SavingsPlanUpfrontFee", "Purchase"), ("Tax", "Tax"),
    ("Credit", "Credit"), ("Refund", "Credit"), ("BundledDiscount", "Credit"), ("PrivateRateDiscount", "Credit"),
    ("SomethingNew", "Adjustment"),
])
def test_line_item_types_map_to_focus_charge_categories(line_type, category):
    assert charge_category(line_type) == category


def test_user_tags_become_tags_and_aws_generated_ones_do_not(tmp_path):
    lines = [_line("Usage", "1", team="payments"), _line("Usage", "2", team=""), _line("Usage", "4", team="search")]
    frame = read_daily_costs([write_csv(tmp_path / "cur.csv", LEGACY_HEADER, lines)])
    assert dict(zip(frame["Tags"], frame["BilledCost"], strict=True)) == {
        '{"team":"payments"}': 1.0, "": 2.0, '{"team":"search"}': 4.0}


def test_cur_2_0_parquet_reads_product_and_tag_maps(tmp_path):
    string_map = pa.map_(pa.string(), pa.string())
    table = pa.table({
        "bill_payer_account_id": ["999988887777"] * 2,
        "line_item_usage_account_id": ["111122223333"] * 2,
        "line_item_usage_account_name": ["payments-prod"] * 2,
        "line_item_line_item_type": ["Usage", "Usage"],
        "line_item_usage_start_date": pa.array([1_709_632_800_000, 1_709_640_000_000], pa.timestamp("ms")),
        "line_item_product_code": ["AmazonS3", "AmazonS3"],
        "line_item_usage_type": ["TimedStorage-ByteHrs", "TimedStorage-ByteHrs"],
        "line_item_usage_amount": [10.0, 5.0],
        "line_item_unblended_cost": [0.23, 0.115],
        "pricing_public_on_demand_cost": [0.23, 0.115],
        "pricing_unit": ["GB-Mo", "GB-Mo"],
        "product": pa.array([[("product_name", "Amazon Simple Storage Service"), ("region", "eu-west-1")]] * 2,
                            string_map),
        "product_region_code": ["eu-west-1", "eu-west-1"],
        "resource_tags": pa.array([[("user_team", "data"), ("aws_createdBy", "bob")], [("user_team", "data")]],
                                  string_map),
    })
    path = tmp_path / "cur2.parquet"
    pq.write_table(table, path)
    assert detect_format(path) == "aws-cur"
    row = read_daily_costs([path]).iloc[0]
    assert (row["ServiceName"], row["RegionId"], row["SubAccountName"], row["Tags"]) == (
        "Amazon Simple Storage Service", "eu-west-1", "payments-prod", '{"team":"data"}')
    assert math.isclose(row["BilledCost"], 0.345) and row["ConsumedQuantity"] == 15.0


def test_cur_2_0_csv_reads_maps_written_as_json(tmp_path):
    header = ["line_item_usage_account_id", "line_item_line_item_type", "line_item_usage_start_date",
              "line_item_product_code", "line_item_unblended_cost", "product", "resource_tags"]
    rows = [["111122223333", "Usage", "2024-03-05T00:00:00Z", "AWSLambda", "0.5",
             json.dumps({"product_name": "AWS Lambda", "region": "us-west-2"}), json.dumps({"user_team": "web"})]]
    row = read_daily_costs([write_csv(tmp_path / "cur2.csv", header, rows)]).iloc[0]
    assert (row["ServiceName"], row["RegionId"], row["Tags"]) == ("AWS Lambda", "us-west-2", '{"team":"web"}')


def test_product_code_names_the_service_when_there_is_no_product_name(tmp_path):
    header = ["lineItem/UsageAccountId", "lineItem/LineItemType", "lineItem/UsageStartDate",
              "lineItem/ProductCode", "lineItem/UnblendedCost"]
    path = write_csv(tmp_path / "cur.csv", header, [["1", "Usage", "2024-03-05 00:00:00", "AmazonEC2", "1"]])
    assert read_daily_costs([path])["ServiceName"].tolist() == ["AmazonEC2"]


def test_a_cur_without_unblended_cost_is_refused_naming_the_column(tmp_path):
    header = ["lineItem/UsageAccountId", "lineItem/LineItemType", "lineItem/UsageStartDate", "lineItem/ProductCode"]
    path = write_csv(tmp_path / "cur.csv", header, [["1", "Usage", "2024-03-05", "AmazonEC2"]])
    with pytest.raises(InputError) as caught:
        read_daily_costs([path])
    assert caught.value.column == "lineItem/UnblendedCost" and caught.value.line == 1


def test_a_bad_cur_date_names_the_cur_column(tmp_path):
    lines = [_line("Usage", "1"), _line("Usage", "1")]
    lines[1][3] = "05/03/24 10h"
    path = write_csv(tmp_path / "cur.csv", LEGACY_HEADER, lines)
    with pytest.raises(InputError) as caught:
        read_daily_costs([path])
    assert (caught.value.line, caught.value.column, caught.value.value) == (3, "lineItem/UsageStartDate",
                                                                           "05/03/24 10h")


def test_empty_and_scientific_notation_costs_read_to_the_cent(tmp_path):
    # CUR writes small amounts in scientific notation, and some lines (e.g. free tier) with no cost.
    lines = [_line("Usage", "1.0E-2"), _line("Usage", "2.5e+1"), _line("Usage", ""),
             _line("SavingsPlanCoveredUsage", "0.8", sp_effective=""), _line("Tax", "1.7E0")]
    frame = read_daily_costs([write_csv(tmp_path / "cur.csv", LEGACY_HEADER, lines)])
    assert cents(frame["BilledCost"].sum()) == cents("27.51")
    assert cents(frame["EffectiveCost"].sum()) == cents("26.71")   # the covered line's empty effective cost is 0
