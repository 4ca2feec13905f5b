"""Unit costs: periods, CSV input with line-numbered errors, prorating, coverage and trends."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest

from finops.errors import InputError
from finops.model import ALLOCATION_RULE, DAY, TEAM
from finops.ownership import allocate_costs, split_shared_costs
from finops.teams import parse_teams
from finops.units import (
    UnitValue,
    parse_unit_period,
    read_unit_csv,
    unit_costs,
    unit_trends,
    unit_value,
    values_frame,
)

TEAMS = parse_teams("""\
default_channel: "#finops"
teams:
  - name: shop
    channel: "#team-shop"
    unit_metrics: [orders]
    match:
      - sub_account_id: "111"
  - name: web
    channel: "#team-web"
    unit_metrics: [{name: active_users, description: monthly active users}]
    match:
      - sub_account_id: "222"
shared_costs:
  - name: support
    split: fixed
    teams: {shop: 50, web: 50}
    match:
      - service: Support
""")


def daily_costs(team: str, start: str, end: str, per_day: float) -> pd.DataFrame:
    days = pd.date_range(start, end, freq="D")
    return pd.DataFrame({DAY: days, TEAM: team, "EffectiveCost": per_day})


def test_periods_are_a_day_an_iso_week_or_a_month() -> None:
    assert parse_unit_period("2026-11-03") == (date(2026, 11, 3), date(2026, 11, 3))
    assert parse_unit_period("2026-W45") == (date(2026, 11, 2), date(2026, 11, 8))
    assert parse_unit_period("2026-w53") == (date(2026, 12, 28), date(2027, 1, 3))
    assert parse_unit_period("2026-02") == (date(2026, 2, 1), date(2026, 2, 28))
    assert parse_unit_period("2024-02") == (date(2024, 2, 1), date(2024, 2, 29))
    with pytest.raises(ValueError, match="not a date in the calendar"):
        parse_unit_period("2025-W53")  # 2025 has 52 ISO weeks
    with pytest.raises(ValueError, match="not a period"):
        parse_unit_period("November")


def test_a_period_at_the_calendars_end_is_read_or_refused_not_a_crash() -> None:
    # Finding where December 9999 ends, and the Sunday of 9999-W52 (in the year 10000),
    # overflowed: a stack trace for the CLI and Slack, a 500 for the HTTP endpoint.
    assert parse_unit_period("9999-12") == (date(9999, 12, 1), date(9999, 12, 31))
    with pytest.raises(ValueError, match="^'9999-W52' is not a date in the calendar: use a day"):
        parse_unit_period("9999-W52")
    assert csv_error(HEADER + "shop,orders,9999-W52,5\n") == (
        "units.csv, line 2, column 'period': '9999-W52' is not a date in the calendar: use a day (2026-11-03), "
        "an ISO week (2026-W45) or a month (2026-11)")


def test_a_value_must_name_a_declared_metric_of_a_known_team() -> None:
    assert unit_value(TEAMS, "Shop", "orders", "2026-10", " 31000 ") == UnitValue(
        "shop", "orders", date(2026, 10, 1), date(2026, 10, 31), 31000.0)
    # The metric in any case, as the team: stored under its declared name.
    assert unit_value(TEAMS, "shop", " Orders", "2026-10", "1").metric == "orders"
    with pytest.raises(ValueError, match=r"no team 'shp' in teams.yml \(teams: shop, web\)"):
        unit_value(TEAMS, "shp", "orders", "2026-10", 1)
    with pytest.raises(ValueError, match=r"team web has no unit metric 'orders' \(declared: active_users\)"):
        unit_value(TEAMS, "web", "orders", "2026-10", 1)
    with pytest.raises(ValueError, match="must be a number of units, 0 or more"):
        unit_value(TEAMS, "shop", "orders", "2026-10", "-5")
    with pytest.raises(ValueError, match="is not a number"):
        unit_value(TEAMS, "shop", "orders", "2026-10", "lots")
    with pytest.raises(ValueError, match=r"^value '1000000000000000000…0000000' \(402 characters\) is too large$"):
        unit_value(TEAMS, "shop", "orders", "2026-10", "1" + "0" * 399)
    # "-0" is zero units, not a negative zero stored and echoed back as "Recorded -0 orders".
    for zero in ("-0", -0.0):
        assert math.copysign(1.0, unit_value(TEAMS, "shop", "orders", "2026-10", zero).value) == 1.0


def test_csv_is_read_whole_or_refused_with_the_line_and_column() -> None:
    text = "period,team,metric,value\n2026-10,shop,orders,31000\n\n2026-W45,web,active_users,1200\n"
    values = read_unit_csv(text, TEAMS, file="units.csv")
    assert [(v.team, v.metric, v.start, v.end, v.value) for v in values] == [
        ("shop", "orders", date(2026, 10, 1), date(2026, 10, 31), 31000.0),
        ("web", "active_users", date(2026, 11, 2), date(2026, 11, 8), 1200.0),
    ]
    cases = {
        "team,metric,period,value\n2026-10,shop,orders,1\n": (2, "team", "no team '2026-10'"),
        "team,metric,period,value\nshop,orders,2026-10,1\nshop,users,2026-11,1\n": (3, "metric", "no unit metric"),
        "team,metric,period,value\nshop,orders,2026-13,1\n": (2, "period", "not a date in the calendar"),
        "team,metric,period,value\nshop,orders,2026-10,-1\n": (2, "value", "0 or more"),
        "team,metric,period,value\nshop,orders,2026-10,1\nshop,orders,2026-10,2\n": (3, "period", "already on line 2"),
        "team,metric,value\nshop,orders,1\n": (1, None, "missing column(s) period"),
        "team,metric,period,value\nshop,orders\n": (2, None, "2 fields where the header has 4"),
        "team,metric,period,value\nshop\n": (2, None, "1 field where the header has 4"),
        "": (1, None, "the file is empty"),
        "\n\r\n  \n": (1, None, "the file is empty"),  # not "missing column(s) team, metric, ..."
        "team,metric,period,value\n": (2, None, "no values after the header"),
        "team,metric,period,value\n\n\n": (2, None, "no values after the header"),
    }
    for text, (line, column, message) in cases.items():
        with pytest.raises(InputError) as caught:
            read_unit_csv(text, TEAMS, file="units.csv")
        assert (caught.value.file, caught.value.line, caught.value.column) == ("units.csv", line, column), text
        assert message in str(caught.value)


def csv_error(text: str) -> str:
    with pytest.raises(InputError) as caught:
        read_unit_csv(text, TEAMS, file="units.csv")
    return str(caught.value)


HEADER = "team,metric,period,value\n"


def test_a_value_is_a_plain_number_or_refused_with_line_column_and_value() -> None:
    read = read_unit_csv(HEADER + "shop,orders,2026-10,1.5\nshop,orders,2026-11,+2e3\n"
                                  "shop,orders,2026-12,.5\n", TEAMS)
    assert [v.value for v in read] == [1.5, 2000.0, 0.5]
    separators = "(use a dot for decimals and no thousands separators)"
    # "1,5" was read as 15, "1.234,5" as 1.2345 and "١٢" as 12: each one a guess stored silently.
    assert csv_error(HEADER + "shop,orders,2026-09,7\nshop,orders,2026-10,\"1,5\"\n") == (
        f"units.csv, line 3, column 'value': '1,5' is not a plain number {separators}")
    assert csv_error(HEADER + "shop,orders,2026-10,\"1.234,5\"\n") == (
        f"units.csv, line 2, column 'value': '1.234,5' is not a plain number {separators}")
    assert csv_error(HEADER + "shop,orders,2026-10,1_000\n") == (
        f"units.csv, line 2, column 'value': '1_000' is not a plain number {separators}")
    assert csv_error(HEADER + "shop,orders,2026-10,\u0661\u0662\n") == (
        "units.csv, line 2, column 'value': '\u0661\u0662' is not a plain number (use the digits 0-9)")
    assert csv_error(HEADER + "shop,orders,2026-10,nan\n") == (
        "units.csv, line 2, column 'value': 'nan' is not a number")
    assert csv_error(HEADER + "shop,orders,2026-10,1e999\n") == (
        "units.csv, line 2, column 'value': value '1e999' is too large")
    with pytest.raises(ValueError, match=r"^'31,000' is not a plain number \(use a dot"):
        unit_value(TEAMS, "shop", "orders", "2026-10", "31,000")


def test_malformed_csv_is_refused_with_its_line() -> None:
    assert csv_error(HEADER + "shop,orders,2026-10,1,5\n") == (
        "units.csv, line 2: 5 fields where the header has 4")
    assert csv_error("team,metric,period,value,Team\nshop,orders,2026-10,1,web\n") == (
        "units.csv, line 1, column 'team': the header names column 'team' twice (fields 1 and 5)")
    # Read loosely, the open quote swallowed line 3 into one field: "line 2: 3 fields where the header has 4".
    assert csv_error(HEADER + "shop,orders,2026-10,1\nshop,\"orders,2026-11,1\nshop,orders,2026-12,1\n") == (
        'units.csv, line 3: a quote (") in the record that starts on line 3 is never closed')
    assert csv_error('team,metric,period,value,"note\nshop,orders,2026-10,1,""quoted"" on line 1\n') == (
        'units.csv, line 1: a quote (") in the record that starts on line 1 is never closed')


def test_a_header_not_understood_is_quoted_or_its_unknown_columns_named() -> None:
    assert csv_error("team;metric;period;value\nshop;orders;2026-10;1\n") == (
        "units.csv, line 1: the header 'team;metric;period;value' is separated by semicolons: "
        "the file must be comma-separated (columns team, metric, period, value)")
    assert csv_error("team\tmetric\tperiod\tvalue\n") == (
        "units.csv, line 1: the header 'team\\tmetric\\tperiod\\tvalue' is separated by tabs: "
        "the file must be comma-separated (columns team, metric, period, value)")
    assert csv_error("team,metric,month,value\nshop,orders,2026-10,1\n") == (
        "units.csv, line 1: unknown column 'month'; missing column(s) period "
        "(expected columns: team, metric, period, value)")
    assert csv_error("Team,Month,Qty,metric\n") == (
        "units.csv, line 1: unknown columns 'Month', 'Qty'; missing column(s) period, value "
        "(expected columns: team, metric, period, value)")


def test_monthly_unit_cost_with_its_change() -> None:
    costs = pd.concat([daily_costs("shop", "2026-10-01", "2026-10-31", 100.0),
                       daily_costs("shop", "2026-11-01", "2026-11-30", 120.0)])
    values = values_frame([UnitValue("shop", "orders", date(2026, 10, 1), date(2026, 10, 31), 31000.0)]
                          + [UnitValue("shop", "orders", day.date(), day.date(), 1000.0)
                             for day in pd.date_range("2026-11-01", "2026-11-30")])
    table = unit_costs(costs, values, period="month", through=date(2026, 11, 30))
    assert list(table["period"]) == ["2026-10", "2026-11"]
    assert list(table["cost"]) == [3100.0, 3600.0]
    assert list(table["units"]) == pytest.approx([31000.0, 30000.0])
    assert list(table["cost_per_unit"]) == pytest.approx([0.10, 0.12])
    assert table["change_pct"].iloc[0] is None
    assert table["change_pct"].iloc[1] == pytest.approx(20.0)


def test_a_teams_month_costs_the_cents_costbot_costs_prints_for_it() -> None:
    # October: shop $100.006, web $200.006, ml $300.006; $600.02 in all. `costbot costs --by team`
    # splits the total by largest remainder (finops.money.split_named_to_cents): ml $300.01,
    # web $200.01, shop $100.00. Rounded alone, shop's month read $100.01 here, a cent apart.
    costs = pd.DataFrame({DAY: pd.Timestamp("2026-10-05"), TEAM: ["shop", "web", "ml"],
                          "EffectiveCost": [100.006, 200.006, 300.006]})
    values = values_frame([UnitValue("shop", "orders", date(2026, 10, 1), date(2026, 10, 31), 1000.0),
                           UnitValue("web", "active_users", date(2026, 10, 1), date(2026, 10, 31), 100.0)])
    table = unit_costs(costs, values, period="month", through=date(2026, 10, 31))
    assert list(zip(table["team"], table["cost"], strict=True)) == [("shop", 100.0), ("web", 200.01)]
    assert list(table["cost_per_unit"]) == pytest.approx([0.1, 2.0001], abs=1e-12)  # the printed cost over the units


def test_weeks_prorate_a_monthly_value_and_need_every_day_covered() -> None:
    costs = daily_costs("shop", "2026-09-28", "2026-11-08", 100.0)
    values = values_frame([UnitValue("shop", "orders", date(2026, 10, 1), date(2026, 10, 31), 31000.0)])
    table = unit_costs(costs, values, period="week", through=date(2026, 11, 8))
    # W40 (Sep 28 - Oct 4) and W44 (Oct 26 - Nov 1) are only partly covered by October's value.
    assert list(table["period"]) == ["2026-W41", "2026-W42", "2026-W43"]
    assert list(table["units"]) == pytest.approx([7000.0] * 3)
    assert list(table["cost_per_unit"]) == pytest.approx([0.10] * 3)
    assert list(table["change_pct"]) == pytest.approx([None, 0.0, 0.0])


def test_a_monthly_fee_and_tax_count_a_share_in_every_week_of_their_month() -> None:
    # $100 a day of usage, a $310 fee on October 1 and $155 of tax on October 31: $15 a day of
    # October once spread, so every October week costs $805 for its 7,000 orders. Booked as they
    # come, W40 (with the 1st) and W44 (with the 31st) would jump and the weeks between drop.
    usage = daily_costs("shop", "2026-09-28", "2026-11-08", 100.0).assign(ChargeCategory="Usage")
    fee = pd.DataFrame({DAY: [pd.Timestamp("2026-10-01")], TEAM: "shop", "EffectiveCost": 310.0,
                        "ChargeCategory": "Purchase"})
    tax = pd.DataFrame({DAY: [pd.Timestamp("2026-10-31")], TEAM: "shop", "EffectiveCost": 155.0,
                        "ChargeCategory": "Tax"})
    costs = pd.concat([usage, fee, tax], ignore_index=True)
    values = values_frame([UnitValue("shop", "orders", date(2026, 9, 28), date(2026, 11, 8), 42000.0)])
    weeks = unit_costs(costs, values, period="week", through=date(2026, 11, 8))
    # W40: Sep 28-30 at $100 and Oct 1-4 at $115; W44: Oct 26-31 at $115 and Nov 1 at $100.
    assert list(zip(weeks["period"], weeks["cost"], strict=True)) == [
        ("2026-W40", pytest.approx(760.0)), ("2026-W41", pytest.approx(805.0)), ("2026-W42", pytest.approx(805.0)),
        ("2026-W43", pytest.approx(805.0)), ("2026-W44", pytest.approx(790.0)), ("2026-W45", pytest.approx(700.0))]
    month = unit_costs(costs, values, period="month", through=date(2026, 10, 31))
    assert list(zip(month["period"], month["cost"], strict=True)) == [("2026-10", pytest.approx(3565.0))]


def test_where_a_week_and_a_month_overlap_the_week_counts_once() -> None:
    costs = daily_costs("shop", "2026-10-01", "2026-11-01", 100.0)
    values = values_frame([UnitValue("shop", "orders", date(2026, 10, 1), date(2026, 10, 31), 31000.0),
                           UnitValue("shop", "orders", date(2026, 10, 26), date(2026, 11, 1), 14000.0)])
    month = unit_costs(costs, values, period="month", through=date(2026, 11, 1))
    # October: 25 days of the month's value (25,000) and 6 of the week's (12,000).
    assert list(month["units"]) == pytest.approx([37000.0])
    week = unit_costs(costs, values, period="week", through=date(2026, 11, 1))
    assert list(zip(week["period"], week["units"], strict=True)) == [
        ("2026-W41", pytest.approx(7000.0)), ("2026-W42", pytest.approx(7000.0)),
        ("2026-W43", pytest.approx(7000.0)), ("2026-W44", pytest.approx(14000.0))]


def test_periods_after_the_complete_data_are_left_out() -> None:
    costs = daily_costs("shop", "2026-10-01", "2026-11-15", 100.0)
    values = values_frame([UnitValue("shop", "orders", date(2026, 10, 1), date(2026, 10, 31), 31000.0),
                           UnitValue("shop", "orders", date(2026, 11, 1), date(2026, 11, 30), 30000.0)])
    table = unit_costs(costs, values, period="month", through=date(2026, 11, 15))
    assert list(table["period"]) == ["2026-10"]


def test_shared_pool_costs_count_in_the_unit_cost() -> None:
    rows = pd.DataFrame({
        DAY: pd.to_datetime(["2026-10-01"] * 3), "SubAccountId": ["111", "222", "999"],
        "ServiceName": ["EC2", "EC2", "Support"], "Tags": "", "EffectiveCost": [60.0, 30.0, 20.0],
        "BilledCost": [60.0, 30.0, 20.0], "ListCost": [60.0, 30.0, 20.0],
    })
    owned = split_shared_costs(allocate_costs(rows, TEAMS), TEAMS)
    assert sorted(owned[ALLOCATION_RULE].str.startswith("shared pool").tolist()) == [False, False, True, True]
    values = values_frame([UnitValue("shop", "orders", date(2026, 10, 1), date(2026, 10, 1), 140.0)])
    assert unit_costs(owned, values, period="week", through=date(2026, 10, 1)).empty  # a day is not a week
    day_values = values_frame([UnitValue("shop", "orders", date(2026, 9, 28), date(2026, 10, 4), 700.0)])
    week_costs = pd.concat([owned, daily_costs("shop", "2026-09-28", "2026-09-30", 0.0),
                            daily_costs("shop", "2026-10-02", "2026-10-04", 0.0)])
    table = unit_costs(week_costs, day_values, period="week", through=date(2026, 10, 4))
    # shop: its own $60 plus half of the $20 support pool = $70 over 700 orders.
    assert list(table["cost"]) == pytest.approx([70.0])
    assert list(table["cost_per_unit"]) == pytest.approx([0.10])


def test_trend_counts_consecutive_periods_and_a_gap_restarts_it() -> None:
    table = pd.DataFrame({
        "team": ["shop"] * 4 + ["web"] * 2, "metric": ["orders"] * 4 + ["active_users"] * 2,
        "period": ["2026-07", "2026-08", "2026-09", "2026-10", "2026-08", "2026-10"],
        "start": [date(2026, m, 1) for m in (7, 8, 9, 10, 8, 10)],
        "end": [date(2026, 7, 31), date(2026, 8, 31), date(2026, 9, 30), date(2026, 10, 31),
                date(2026, 8, 31), date(2026, 10, 31)],
        "cost": [1.0] * 6, "units": [1.0] * 6,
        "cost_per_unit": [0.10, 0.11, 0.12, 0.15, 2.0, 2.5],
        "change_pct": [None, 10.0, 9.09, 25.0, None, None],
    })
    shop, web = unit_trends(table)
    assert (shop.period, shop.cost_per_unit, shop.previous, shop.periods, shop.has_trend) == (
        "2026-10", 0.15, 0.12, 4, True)
    assert shop.change_pct == pytest.approx(25.0)
    assert shop.history == (("2026-07", 0.10), ("2026-08", 0.11), ("2026-09", 0.12), ("2026-10", 0.15))
    assert (web.period, web.previous, web.change_pct, web.periods, web.has_trend) == ("2026-10", None, None, 1, False)


def test_a_period_begun_before_the_cost_window_is_left_out() -> None:
    costs = daily_costs("shop", "2026-10-01", "2026-10-18", 100.0)  # read from Thursday 1 October
    values = values_frame([UnitValue("shop", "orders", date(2026, 9, 28), date(2026, 10, 18), 2100.0)])
    table = unit_costs(costs, values, period="week", through=date(2026, 10, 18), since=date(2026, 10, 1))
    # W40 (28 Sep - 4 Oct) has costs only from 1 October: $400 over its 700 orders was $0.5714.
    assert list(table["period"]) == ["2026-W41", "2026-W42"]
    assert list(table["cost"]) == [700.0, 700.0]
    assert list(table["change_pct"]) == pytest.approx([None, 0.0])
