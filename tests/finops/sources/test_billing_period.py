"""Rows charged before their billing period are booked on its first day, in every format that
says its billing period; an unreadable billing period is bad input like any other date."""

from __future__ import annotations

import pandas as pd
import pytest

from finops.errors import InputError
from finops.sources.files import read_daily_costs
from tests.finops.sources.cost_file_helpers import write_csv


def booked(frame: pd.DataFrame) -> dict[str, float]:
    days = frame.groupby(frame["ChargePeriodStart"].dt.strftime("%Y-%m-%d"))["BilledCost"].sum()
    return {day: round(cost, 2) for day, cost in days.items()}


def test_a_legacy_cur_line_charged_before_its_billing_period_is_booked_on_the_periods_first_day(tmp_path):
    header = ["bill/BillingPeriodStartDate", "lineItem/UsageStartDate", "lineItem/LineItemType",
              "lineItem/UsageAccountId", "lineItem/ProductCode", "lineItem/UnblendedCost"]
    path = write_csv(tmp_path / "cur.csv", header, [
        ["2024-10-01T00:00:00Z", "2024-10-02T05:00:00Z", "Usage", "111", "AmazonEC2", "2.50"],
        ["2024-10-01T00:00:00Z", "2024-09-28T00:00:00Z", "Credit", "111", "AmazonEC2", "-0.75"]])
    assert booked(read_daily_costs([path])) == {"2024-10-01": -0.75, "2024-10-02": 2.50}


def test_an_azure_row_before_its_billing_period_start_is_booked_on_it(tmp_path):
    header = ["date", "billingPeriodStartDate", "subscriptionId", "meterCategory", "costInBillingCurrency",
              "chargeType"]
    path = write_csv(tmp_path / "azure.csv", header, [
        ["10/03/2024", "10/01/2024", "sub-1", "Virtual Machines", "4.00", "Usage"],
        ["09/29/2024", "10/01/2024", "sub-1", "Virtual Machines", "-1.25", "Refund"]])
    assert booked(read_daily_costs([path])) == {"2024-10-01": -1.25, "2024-10-03": 4.00}


def test_rows_inside_their_billing_period_and_rows_without_one_keep_their_day(tmp_path):
    header = ["ChargePeriodStart", "BillingPeriodStart", "ProviderName", "ChargeCategory", "BilledCost",
              "EffectiveCost"]
    path = write_csv(tmp_path / "focus.csv", header, [
        ["2024-10-05T00:00:00Z", "2024-10-01T00:00:00Z", "AWS", "Usage", "3", "3"],
        ["2024-09-20T00:00:00Z", "", "AWS", "Usage", "2", "2"]])
    assert booked(read_daily_costs([path])) == {"2024-09-20": 2.0, "2024-10-05": 3.0}


def test_an_unreadable_billing_period_is_named_with_its_line_and_column(tmp_path):
    header = ["usage_start_time", "invoice.month", "service.description", "cost"]
    path = write_csv(tmp_path / "gcp.csv", header, [
        ["2024-10-01 00:00:00 UTC", "202410", "Compute Engine", "1"],
        ["2024-10-02 00:00:00 UTC", "Oct 2024", "Compute Engine", "1"]])
    with pytest.raises(InputError) as caught:
        read_daily_costs([path])
    assert (caught.value.file, caught.value.line, caught.value.column) == (str(path), 3, "invoice.month")
    assert "Oct 2024" in str(caught.value)


def test_aws_focus_tags_lose_their_user_prefix_as_cur_tags_do(tmp_path):
    # AWS's FOCUS export keeps the "user:" prefix of user-defined cost allocation tags; a
    # teams.yml rule `tag: {team: payments}` matched none of it. AWS-generated keys stay as they are,
    # and a key present both ways keeps the unprefixed one's value.
    header = ["ChargePeriodStart", "ProviderName", "ChargeCategory", "BilledCost", "EffectiveCost", "Tags"]
    path = write_csv(tmp_path / "focus.csv", header, [
        ["2024-10-05T00:00:00Z", "AWS", "Usage", "3", "3",
         '{"user:team": "payments", "aws:createdBy": "root", "user:env": "x", "env": "prod"}']])
    tags = read_daily_costs([path])["Tags"].tolist()
    assert tags == ['{"aws:createdBy":"root","env":"prod","team":"payments","user:env":"x"}']
