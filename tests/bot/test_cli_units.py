"""``costbot units ingest FILE`` (line-numbered errors, nothing written on a bad line) and
``costbot units show`` (cost per unit with shared costs included), on both backends."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from storage.db import Database
from storage.units import UnitStore
from tests.bot.cli_runner import cli_runner
from tests.jobs.digest_data import TEAMS_YAML, flat_history, teams_config


@pytest.fixture
def cli(db: Database, monkeypatch, capsys, tmp_path: Path):
    monkeypatch.setattr("bot.context.AppContext.today", lambda self: date(2026, 11, 16))
    return cli_runner(db.url, TEAMS_YAML, monkeypatch, capsys, tmp_path)


def test_ingest_then_show_the_cost_per_unit(db: Database, cli, tmp_path: Path) -> None:
    flat_history(db, teams_config())
    good = tmp_path / "orders.csv"
    good.write_text("team,metric,period,value\npayments,orders,2026-09,19800\npayments,orders,2026-10,20460\n")
    code, out, _ = cli("units", "ingest", str(good))
    assert (code, out.strip()) == (0, f"{good}: 2 values read, 2 new or changed")
    code, out, _ = cli("units", "show", "--json")
    # Payments: $60 direct + $6 of the support pool a day: $1,980 in September, $2,046 in October.
    assert json.loads(out) == {"period": "month", "rows": [
        {"team": "payments", "metric": "orders", "period": "2026-09", "start": "2026-09-01", "end": "2026-09-30",
         "cost": 1980.0, "units": 19800.0, "cost_per_unit": 0.1, "change_pct": None},
        {"team": "payments", "metric": "orders", "period": "2026-10", "start": "2026-10-01", "end": "2026-10-31",
         "cost": 2046.0, "units": 20460.0, "cost_per_unit": 0.1, "change_pct": 0.0}]}
    code, out, _ = cli("units", "show")
    assert "payments  orders  2026-10  $2,046.00  20,460        $0.1000  +0.0 %" in out.splitlines()[-1]


def test_a_bad_line_names_the_line_and_nothing_is_written(db: Database, cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("team,metric,period,value\npayments,orders,2026-10,20460\npayments,orders,2026-10-32,5\n")
    code, _, err = cli("units", "ingest", str(bad))
    assert code == 1
    assert err.strip() == (f"costbot: {bad}, line 3, column 'period': '2026-10-32' is not a date in the calendar: "
                           "use a day (2026-11-03), an ISO week (2026-W45) or a month (2026-11)")
    assert UnitStore(db).values() == []
    code, _, err = cli("units", "ingest", str(tmp_path / "missing.csv"))
    assert code == 1 and "cannot read the file" in err


def test_a_value_that_is_not_a_plain_number_stops_the_file(db: Database, cli, tmp_path: Path) -> None:
    # "1,5" was stored as 15: a decimal comma or a thousands separator is refused, not guessed.
    bad = tmp_path / "orders.csv"
    bad.write_text('team,metric,period,value\npayments,orders,2026-09,19800\npayments,orders,2026-10,"1,5"\n')
    code, out, err = cli("units", "ingest", str(bad))
    assert (code, out) == (1, "")
    assert err.strip() == (f"costbot: {bad}, line 3, column 'value': '1,5' is not a plain number "
                           "(use a dot for decimals and no thousands separators)")
    assert UnitStore(db).values() == []


def test_show_rounds_prorated_units_and_refuses_an_unknown_team(db: Database, cli, tmp_path: Path) -> None:
    flat_history(db, teams_config())
    # Spread over its 30 days and summed back, 10,000,000 is 10000000.000000002 in floating point.
    orders = tmp_path / "orders.csv"
    orders.write_text("team,metric,period,value\npayments,orders,2026-09,10000000\n")
    assert cli("units", "ingest", str(orders))[0] == 0
    code, out, _ = cli("units", "show", "--json")
    assert code == 0
    assert json.loads(out)["rows"] == [
        {"team": "payments", "metric": "orders", "period": "2026-09", "start": "2026-09-01", "end": "2026-09-30",
         "cost": 1980.0, "units": 10000000.0, "cost_per_unit": 0.000198, "change_pct": None}]
    assert '"units": 10000000.0,' in out
    code, out, err = cli("units", "show", "--team", "PAYMENTS", "--json")
    assert code == 0 and [r["team"] for r in json.loads(out)["rows"]] == ["payments"]
    code, out, err = cli("units", "show", "--team", "nosuch")
    assert (code, out) == (2, "")
    assert "no team 'nosuch'" in err and "teams: payments, search" in err


def test_a_weeks_share_of_a_monthly_value_shows_its_decimals(db: Database, cli, tmp_path: Path) -> None:
    flat_history(db, teams_config())  # payments: $60 a day and $6 of the support pool
    orders = tmp_path / "orders.csv"
    orders.write_text("team,metric,period,value\npayments,orders,2026-10,30000\n")
    assert cli("units", "ingest", str(orders))[0] == 0
    code, out, _ = cli("units", "show", "--period", "week")
    # W41 (5-11 Oct) holds 7/31 of October's 30,000 orders: 6,774.194, not "6,774" beside a cost
    # per unit ($462.00 / 6,774.194 = $0.0682) that the rounded count would not give.
    (w41,) = [line.split() for line in out.splitlines() if "2026-W41" in line]
    assert w41 == ["payments", "orders", "2026-W41", "$462.00", "6,774.194", "$0.0682", "-"]  # W40 has no value


def test_values_recorded_but_no_whole_month_yet_is_said_not_record_values(db: Database, cli, tmp_path: Path) -> None:
    flat_history(db, teams_config())  # cost data complete through 15 Nov
    orders = tmp_path / "orders.csv"
    orders.write_text("team,metric,period,value\npayments,orders,2026-11,31000\npayments,orders,2026-W46,7000\n")
    assert cli("units", "ingest", str(orders))[0] == 0
    # It said "record values with `costbot units ingest FILE`" to someone who just had.
    code, out, _ = cli("units", "show")
    assert (code, out.strip()) == (0, (
        "no unit cost yet: 2 values are recorded, but no month from 2026-05-01 to 2026-11-15 (the last complete day "
        "of cost data) has values for every one of its days: a month shows once its values cover it and its cost "
        "data is complete"))
    # The weeks of November are whole: they show.
    code, out, _ = cli("units", "show", "--period", "week")
    assert [line.split()[2] for line in out.splitlines()[2:]] == ["2026-W45", "2026-W46"]
    # search declares no unit metric: values for it would be refused, so "record values" is no answer.
    code, out, _ = cli("units", "show", "--team", "search")
    assert (code, out.strip()) == (0, "no unit cost yet: search declares no unit metric: add `unit_metrics` to it "
                                      "in teams.yml, then record values with `costbot units ingest FILE`")


def test_a_unit_cost_of_a_dollar_or_more_is_shown_in_cents_as_everywhere_else(db: Database, cli,
                                                                             tmp_path: Path) -> None:
    flat_history(db, teams_config())
    orders = tmp_path / "orders.csv"
    orders.write_text("team,metric,period,value\npayments,orders,2026-10,1600\n")  # $2,046.00 / 1,600 = $1.27875
    assert cli("units", "ingest", str(orders))[0] == 0
    code, out, _ = cli("units", "show")
    # The digest, App Home and the scorecard print $1.28 (docs/units.md: cents from $1 up); this printed $1.2788.
    assert out.splitlines()[-1].split() == ["payments", "orders", "2026-10", "$2,046.00", "1,600", "$1.28", "-"]


def test_a_week_begun_before_the_six_months_shown_is_left_out_not_costed_for_its_last_days(
        db: Database, cli, tmp_path: Path) -> None:
    flat_history(db, teams_config())  # payments $66 a day, complete through 15 Nov: costs read from 1 May
    orders = tmp_path / "orders.csv"
    orders.write_text("team,metric,period,value\npayments,orders,2026-W18,700\npayments,orders,2026-W19,700\n")
    assert cli("units", "ingest", str(orders))[0] == 0
    code, out, _ = cli("units", "show", "--period", "week", "--json")
    # W18 runs 27 April to 3 May: it read $198.00 (1-3 May) over the week's 700 orders, $0.2829 an
    # order, and W19's $0.66 then read as +133.3 %.
    assert (code, json.loads(out)["rows"]) == (0, [
        {"team": "payments", "metric": "orders", "period": "2026-W19", "start": "2026-05-04", "end": "2026-05-10",
         "cost": 462.0, "units": 700.0, "cost_per_unit": 0.66, "change_pct": None}])
