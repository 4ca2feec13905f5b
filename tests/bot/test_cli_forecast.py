"""``costbot forecast``: the JSON contract, exact month-end totals of a flat organisation (shared
pool split included), --as-of ignoring later data, --team, and one-line errors."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from storage.db import Database
from tests.bot.cli_runner import cli_runner
from tests.jobs.digest_data import TEAMS_YAML, cost_rows, flat_history, store_costs, teams_config


@pytest.fixture
def cli(db: Database, monkeypatch, capsys, tmp_path: Path):
    return cli_runner(db.url, TEAMS_YAML, monkeypatch, capsys, tmp_path)


def test_json_is_exactly_the_contract_with_shared_costs_split(db: Database, cli) -> None:
    flat_history(db, teams_config())
    code, out, err = cli("forecast", "--as-of", "2026-11-15", "--json")
    assert code == 0, err
    assert json.loads(out) == {
        "as_of": "2026-11-15",
        "month": "2026-11",
        # $100 a day for 30 days; the interval is the point because the past months were exact.
        "org": {"forecast": 3000.0, "low": 3000.0, "high": 3000.0},
        "teams": [
            {"team": "payments", "forecast": 1980.0, "low": 1980.0, "high": 1980.0, "budget": 2300.0},
            {"team": "search", "forecast": 990.0, "low": 990.0, "high": 990.0, "budget": 1500.0},
            {"team": "unallocated", "forecast": 30.0, "low": 30.0, "high": 30.0, "budget": None},
        ],
    }


def test_as_of_uses_only_data_up_to_that_day(db: Database, cli) -> None:
    teams = teams_config()
    flat_history(db, teams)
    # Payments triples from November 11: invisible to a forecast as of November 10.
    store_costs(db, teams, cost_rows(date(2026, 11, 11), date(2026, 11, 15), payments=180.0),
                complete_through=date(2026, 11, 15))
    _, before, _ = cli("forecast", "--as-of", "2026-11-10", "--json", "--team", "payments")
    assert json.loads(before)["teams"] == [
        {"team": "payments", "forecast": 1980.0, "low": 1980.0, "high": 1980.0, "budget": 2300.0}]
    _, after, _ = cli("forecast", "--as-of", "2026-11-15", "--json", "--team", "PAYMENTS")
    # From Nov 11 payments' direct spend is $180 and it takes 180/210 of the $9 pool: $187.71.../day,
    # a new level after 5 days; 10 days at $66 + 20 at $187.714285 = $4,414.29.
    payments = json.loads(after)["teams"][0]
    assert (payments["team"], payments["forecast"]) == ("payments", 4414.29)
    assert json.loads(after)["org"]["forecast"] == 3000.0 + 20 * 120.0


def test_terminal_table_and_errors(db: Database, cli) -> None:
    code, _, err = cli("forecast")
    assert code == 1 and err.strip() == "costbot: no cost data yet: ingest some first (costbot ingest file PATH)"
    flat_history(db, teams_config())
    code, out, _ = cli("forecast", "--as-of", "2026-11-15")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("Month-end forecast for 2026-11, as of 2026-11-15 (data complete through 2026-11-15)")
    # The header says where the interval comes from, as the Slack basis line does, not a bare "80% interval".
    assert lines[0].endswith("; 80% interval learned from 9 past months")
    payments = next(line for line in lines if line.startswith("payments"))
    assert payments.split() == ["payments", "$990.00", "$1,980.00", "$1,980.00", "–", "$1,980.00", "$2,300.00",
                                "86", "%", "warning"]
    assert any(line.startswith("(org)") and "$3,000.00" in line for line in lines)
    code, _, err = cli("forecast", "--team", "payment")
    assert code == 2 and "no team 'payment' in" in err and "teams: payments, search" in err
    code, out, err = cli("forecast", "--team", "")  # an empty name is no team, not "every team"
    assert (code, out) == (2, "") and "no team '' in" in err


def test_a_complete_month_and_an_as_of_long_after_the_data(db: Database, cli) -> None:
    flat_history(db, teams_config())  # $100 a day, complete through 15 Nov 2026
    code, out, _ = cli("forecast", "--as-of", "2026-10-31")
    assert code == 0 and out.splitlines()[0] == (
        "Month-end forecast for 2026-10, as of 2026-10-31 (data complete through 2026-10-31); 80% interval: none, "
        "the month is complete (final totals)")
    # December, with the data weeks late: forecast from the months it covers (31 days at $100).
    code, out, err = cli("forecast", "--as-of", "2026-12-20", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert (document["month"], document["org"]["forecast"]) == ("2026-12", 3100.0)
    # Three years on, the data says nothing about the month any more: one line, no figures.
    code, out, err = cli("forecast", "--as-of", "2030-01-01", "--json")
    assert (code, out) == (1, "")
    assert err == ("costbot: the cost data is complete through 2026-11-15, before December 2029: too old to "
                   "forecast January 2030 from: ingest newer cost data first\n")


def test_a_zero_budget_is_no_spend_budgeted(db: Database, cli, tmp_path: Path, monkeypatch) -> None:
    # Named teams.yml like the file the costs were allocated with (pool rows are matched by its name).
    (tmp_path / "zero").mkdir()
    teams_file = tmp_path / "zero" / "teams.yml"
    teams_file.write_text(TEAMS_YAML.replace("budget_monthly: 1500", "budget_monthly: 0"))
    monkeypatch.setenv("COSTBOT_TEAMS", str(teams_file))
    flat_history(db, teams_config())
    code, out, _ = cli("forecast", "--as-of", "2026-11-15")
    assert code == 0
    search = next(line for line in out.splitlines() if line.startswith("search"))
    assert search.split() == ["search", "$495.00", "$990.00", "$990.00", "–", "$990.00", "$0.00", "no", "spend",
                              "budgeted", "over"]


def test_every_team_of_teams_yml_is_listed_even_without_spend(db: Database, cli, tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "more").mkdir()
    teams_file = tmp_path / "more" / "teams.yml"
    text = TEAMS_YAML.replace("shared_costs:", """\
  - name: mobile
    channel: "#team-mobile"
    budget_monthly: 500
    match:
      - sub_account_id: "333"
  - name: ads
    channel: "#team-ads"
    match:
      - sub_account_id: "444"
shared_costs:""")
    teams_file.write_text(text)
    monkeypatch.setenv("COSTBOT_TEAMS", str(teams_file))
    flat_history(db, teams_config(text))
    code, out, err = cli("forecast", "--as-of", "2026-11-15", "--json")
    assert code == 0, err
    assert json.loads(out)["teams"] == [
        {"team": "ads", "forecast": 0.0, "low": 0.0, "high": 0.0, "budget": None},
        {"team": "mobile", "forecast": 0.0, "low": 0.0, "high": 0.0, "budget": 500.0},
        {"team": "payments", "forecast": 1980.0, "low": 1980.0, "high": 1980.0, "budget": 2300.0},
        {"team": "search", "forecast": 990.0, "low": 990.0, "high": 990.0, "budget": 1500.0},
        {"team": "unallocated", "forecast": 30.0, "low": 30.0, "high": 30.0, "budget": None},
    ]
    code, out, _ = cli("forecast", "--as-of", "2026-11-15")
    table = [line.split()[0] for line in out.splitlines()[3:]]
    assert table == ["ads", "mobile", "payments", "search", "unallocated", "(org)"]
    code, out, _ = cli("forecast", "--as-of", "2026-11-15", "--json", "--team", "ads")
    assert json.loads(out)["teams"] == [{"team": "ads", "forecast": 0.0, "low": 0.0, "high": 0.0, "budget": None}]


def test_without_teams_yml_an_unknown_team_says_none_is_configured(db: Database, cli, monkeypatch,
                                                                   tmp_path: Path) -> None:
    flat_history(db, teams_config())  # stored with owners from teams.yml
    monkeypatch.delenv("COSTBOT_TEAMS")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # no ./teams.yml either
    code, _, err = cli("forecast", "--team", "payments")
    assert (code, err.strip()) == (
        2, "costbot: no team 'payments': no teams.yml is configured (set COSTBOT_TEAMS or pass --teams)")


def test_without_an_interval_the_table_says_so_and_the_json_keeps_low_equal_high(db: Database, cli) -> None:
    # One month and a half of history: no past month to learn the interval from.
    flat_history(db, teams_config(), start=date(2026, 10, 1))
    code, out, _ = cli("forecast", "--as-of", "2026-11-15")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].endswith("80% interval not available yet (less than two months of history)")
    payments = next(line for line in lines if line.startswith("payments"))
    assert payments.split() == ["payments", "$990.00", "$1,980.00", "-", "$2,300.00", "86", "%", "warning"]
    org = next(line for line in lines if line.startswith("(org)"))
    assert org.split() == ["(org)", "$1,500.00", "$3,000.00", "-", "-", "-", "-"]
    _, out, _ = cli("forecast", "--as-of", "2026-11-15", "--json", "--team", "payments")
    assert json.loads(out)["teams"] == [
        {"team": "payments", "forecast": 1980.0, "low": 1980.0, "high": 1980.0, "budget": 2300.0}]
    # A complete month has final totals, no interval either.
    code, out, _ = cli("forecast", "--as-of", "2026-10-31")
    search = next(line for line in out.splitlines() if line.startswith("search"))
    assert search.split() == ["search", "$1,023.00", "$1,023.00", "-", "$1,500.00", "68", "%", "ok"]
