"""``costbot why``: cost files ingested through the real path, answers checked by hand to the cent.

Every test writes a FOCUS file, ingests it (allocation by teams.yml, freshness recorded) and asks
the question through the CLI entry point (JSON on stdout), on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.cli import main
from finops.savings import SYSTEM_ACTOR, Actor
from finops.teams import parse_teams
from finops.variance import PARTS
from finops.verification import verify_saving
from jobs.ingest import ingest_cost_files
from storage.costs import CostStore
from storage.db import Database
from storage.findings import FindingRecord, FindingStore, NewFinding

TEAMS = parse_teams("""\
default_channel: "#finops"
teams:
  - name: payments
    channel: "#team-payments"
    match:
      - tag: {team: payments}
  - name: search
    channel: "#team-search"
    match:
      - tag: {team: search}
""", file="teams.yml")


def rows(start: str, end: str, *, cost: float, quantity: float | None = None, team: str | None = "payments",
         service: str = "Amazon EC2", category: str = "Usage", unit: str = "Hrs") -> list[dict]:
    """One FOCUS row a day from start to end (both included), the same cost every day."""
    return [{
        "ChargePeriodStart": f"{day:%Y-%m-%d}T00:00:00Z", "ChargePeriodEnd": f"{day + pd.Timedelta(days=1):%Y-%m-%d}T00:00:00Z",
        "ChargeCategory": category, "BilledCost": cost, "EffectiveCost": cost, "ListCost": cost,
        "ProviderName": "AWS", "BillingAccountId": "999999999999", "BillingCurrency": "USD",
        "SubAccountId": "111100000001", "SubAccountName": "prod", "ServiceName": service, "RegionId": "us-east-1",
        "SkuId": f"{service} SKU", "ResourceId": "",
        "PricingQuantity": quantity, "PricingUnit": unit if quantity is not None else None,
        "ConsumedQuantity": quantity, "ConsumedUnit": unit if quantity is not None else None,
        "Tags": json.dumps({"team": team}) if team else None,
    } for day in pd.date_range(start, end)]


def ingest(db: Database, tmp_path: Path, *parts: list[dict], today: date = date(2026, 11, 16)) -> None:
    path = tmp_path / "focus.csv"
    pd.DataFrame([row for part in parts for row in part]).to_csv(path, index=False)
    ingest_cost_files(CostStore(db), TEAMS, [path], today=today)


def why(db: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, question: str, *,
        as_of: str = "2026-11-16", json_output: bool = True) -> dict | str:
    monkeypatch.setenv("COSTBOT_DATABASE_URL", db.url)
    capsys.readouterr()
    code = main(["why", question, "--as-of", as_of, *(["--json"] if json_output else [])])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out) if json_output else captured.out


def parts_of(contributor: dict) -> dict[str, float]:
    return {name: contributor[name] for name in PARTS if contributor[name]}


def test_a_month_over_month_change_driven_by_one_teams_usage(db, tmp_path, monkeypatch, capsys) -> None:
    ingest(db, tmp_path,
           rows("2026-07-01", "2026-07-31", cost=50.0, quantity=100.0),  # 100 h a day at $0.50
           rows("2026-08-01", "2026-08-31", cost=75.0, quantity=150.0),  # 150 h a day at $0.50
           rows("2026-07-01", "2026-08-31", cost=20.0, quantity=10.0, team="search", service="Amazon OpenSearch"))
    answer = why(db, monkeypatch, capsys, "last month", as_of="2026-09-05")
    assert answer["period_a"] == {"label": "August 2026", "kind": "month", "start": "2026-08-01",
                                  "end": "2026-08-31", "days": 31, "total": 2945.0}  # (75 + 20) x 31
    assert answer["period_b"] == {"label": "July 2026", "kind": "month", "start": "2026-07-01",
                                  "end": "2026-07-31", "days": 31, "total": 2170.0}  # (50 + 20) x 31
    assert (answer["delta"], answer["delta_pct"]) == (775.0, 35.71)
    payments, unchanged = answer["contributors"]
    assert payments["dimensions"] == {"team": "payments", "service": "Amazon EC2"}
    assert (payments["b"], payments["a"], payments["delta"]) == (1550.0, 2325.0, 775.0)
    assert parts_of(payments) == {"usage": 775.0}  # 50 h more a day x 31 days x $0.50
    assert (unchanged["label"], unchanged["kind"], unchanged["delta"], unchanged["a"]) == ("1 other team", "other",
                                                                                          0.0, 620.0)
    assert answer["explained_by"] == [] and answer["note"] is None


def test_a_31_day_month_against_a_30_day_one_with_no_real_change_is_day_count(db, tmp_path, monkeypatch,
                                                                              capsys) -> None:
    ingest(db, tmp_path,
           rows("2026-09-01", "2026-10-31", cost=100.0, quantity=10.0),
           # The same fee on the 1st and tax on the last day of each month: no day count in them.
           rows("2026-09-01", "2026-09-01", cost=6000.0, service="Savings Plans", category="Purchase"),
           rows("2026-10-01", "2026-10-01", cost=6000.0, service="Savings Plans", category="Purchase"),
           rows("2026-09-30", "2026-09-30", cost=210.0, team=None, service="Tax", category="Tax"),
           rows("2026-10-31", "2026-10-31", cost=210.0, team=None, service="Tax", category="Tax"))
    answer = why(db, monkeypatch, capsys, "2026-10")
    assert (answer["period_b"]["total"], answer["period_a"]["total"], answer["delta"]) == (9210.0, 9310.0, 100.0)
    assert [parts_of(c) for c in answer["contributors"]] == [{"days": 100.0}, {}]
    assert answer["contributors"][0]["dimensions"] == {"team": "payments", "service": "Amazon EC2"}
    text = why(db, monkeypatch, capsys, "2026-10", json_output=False)
    assert "Mostly day count: October 2026 has 31 days and September 2026 30; at the same daily spend " \
           "that is +$100.00." in text


def test_a_price_increase_with_flat_usage_and_new_and_gone_services(db, tmp_path, monkeypatch, capsys) -> None:
    ingest(db, tmp_path,
           rows("2026-07-01", "2026-07-31", cost=40.0, quantity=100.0),  # $0.40 an hour with a discount
           rows("2026-08-01", "2026-08-31", cost=50.0, quantity=100.0),  # $0.50 on demand: rate
           rows("2026-07-01", "2026-07-31", cost=10.0, service="Amazon S3"),  # gone in August
           rows("2026-08-01", "2026-08-31", cost=20.0, service="Amazon SageMaker"))  # new in August
    answer = why(db, monkeypatch, capsys, "2026-08 vs 2026-07")
    assert (answer["period_b"]["total"], answer["period_a"]["total"], answer["delta"]) == (1550.0, 2170.0, 620.0)
    assert [(c["dimensions"]["service"], c["delta"], parts_of(c)) for c in answer["contributors"]] == [
        ("Amazon SageMaker", 620.0, {"new": 620.0}),
        ("Amazon EC2", 310.0, {"rate": 310.0}),
        ("Amazon S3", -310.0, {"gone": -310.0})]


def test_an_account_is_found_by_its_name_as_by_its_id(db, tmp_path, monkeypatch, capsys) -> None:
    ingest(db, tmp_path,
           rows("2026-07-01", "2026-07-31", cost=50.0, quantity=100.0),
           rows("2026-08-01", "2026-08-31", cost=75.0, quantity=150.0))
    by_name = why(db, monkeypatch, capsys, "account=PROD last month", as_of="2026-09-05")
    by_id = why(db, monkeypatch, capsys, "account=111100000001 last month", as_of="2026-09-05")
    assert (by_name["period_b"]["total"], by_name["period_a"]["total"], by_name["delta"]) == (1550.0, 2325.0, 775.0)
    assert by_name["contributors"] == by_id["contributors"]
    assert by_name["scope"] == {"account": ["PROD"]}


def test_a_service_asked_by_its_short_name_is_found_by_the_name_the_bill_uses(db, tmp_path, monkeypatch,
                                                                              capsys) -> None:
    # SPEC's example `service="Amazon EC2" 2026-10 vs 2026-09` on a bill that says "Amazon Elastic
    # Compute Cloud" was refused: "did you mean Amazon SageMaker?".
    ingest(db, tmp_path,
           rows("2026-09-01", "2026-09-30", cost=40.0, service="Amazon Elastic Compute Cloud"),
           rows("2026-10-01", "2026-10-31", cost=50.0, service="Amazon Elastic Compute Cloud"),
           rows("2026-09-01", "2026-10-31", cost=5.0, service="Amazon SageMaker"))
    answer = why(db, monkeypatch, capsys, 'service="Amazon EC2" 2026-10 vs 2026-09')
    assert answer["scope"] == {"service": ["Amazon Elastic Compute Cloud"]}
    assert (answer["period_b"]["total"], answer["period_a"]["total"], answer["delta"]) == (1200.0, 1550.0, 350.0)


def test_the_metric_is_an_option_too(db, tmp_path, monkeypatch, capsys) -> None:
    july, august = rows("2026-07-01", "2026-07-31", cost=50.0), rows("2026-08-01", "2026-08-31", cost=75.0)
    for row in july + august:
        row["BilledCost"] = row["EffectiveCost"] * 2  # before an amortized commitment, say
    ingest(db, tmp_path, july, august)
    monkeypatch.setenv("COSTBOT_DATABASE_URL", db.url)
    for options in (["--billed"], ["--metric", "billed"], ["--metric=billed"]):
        capsys.readouterr()
        assert main(["why", "last month", "--as-of", "2026-09-05", "--json", *options]) == 0
        answer = json.loads(capsys.readouterr().out)
        assert (answer["metric"], answer["period_b"]["total"], answer["period_a"]["total"]) == ("billed", 3100.0, 4650.0)
    assert why(db, monkeypatch, capsys, "last month", as_of="2026-09-05")["period_a"]["total"] == 2325.0
    assert main(["why", "last month --effective", "--as-of", "2026-09-05", "--billed"]) == 1
    assert "the question says effective but the option says billed" in capsys.readouterr().err


def test_an_incomplete_month_is_compared_like_for_like_and_says_so(db, tmp_path, monkeypatch, capsys) -> None:
    # Data through 15 November, ingested on the 16th: the 15th is still partial (complete through the 14th).
    ingest(db, tmp_path, rows("2026-10-01", "2026-10-31", cost=10.0, quantity=1.0),
           rows("2026-11-01", "2026-11-15", cost=12.0, quantity=1.2))
    answer = why(db, monkeypatch, capsys, "this month")
    assert (answer["period_a"]["start"], answer["period_a"]["end"], answer["period_a"]["total"]) == \
        ("2026-11-01", "2026-11-14", 168.0)
    assert (answer["period_b"]["start"], answer["period_b"]["end"], answer["period_b"]["total"]) == \
        ("2026-10-01", "2026-10-14", 140.0)
    assert answer["delta"] == 28.0
    assert answer["note"] == ("November 2026 has 14 complete days (data complete through 2026-11-14); "
                              "compared with the first 14 days of October 2026.")


def verified_finding(db: Database, scope_costs: pd.Series, *, implemented_on: date) -> FindingRecord:
    """A finding moved through its whole life in the finding store, verified on ``scope_costs``."""
    store = FindingStore(db)
    at = datetime(2026, 6, 20, 9, 0, tzinfo=UTC)
    owner = Actor("U_SEARCH_OWNER", on_team=True)
    finding = store.create(NewFinding(title="Rightsize the search cluster", team="search",
                                      scope={"service": "Amazon OpenSearch"}, estimate_monthly="300"),
                           by="U_SEARCH_OWNER", at=at)
    store.move(finding.id, "accept", actor=owner, at=at)
    store.move(finding.id, "start", actor=owner, at=at)
    done = datetime(2026, 7, 2, 9, 0, tzinfo=UTC)
    store.move(finding.id, "implemented", actor=owner, at=done, implemented_on=implemented_on)
    store.move(finding.id, "begin_verification", actor=SYSTEM_ACTOR, at=done)
    result = verify_saving(scope_costs, implemented_on=implemented_on, estimate_monthly=300.0, as_of=date(2026, 9, 30))
    return store.conclude_verification(finding.id, result, chart=None, as_of=date(2026, 9, 30),
                                       at=datetime(2026, 10, 1, 9, 0, tzinfo=UTC))


def test_a_quarter_against_a_quarter_with_an_anomaly_and_a_verified_finding(db, tmp_path, monkeypatch,
                                                                             capsys) -> None:
    ingest(db, tmp_path,
           rows("2026-04-01", "2026-09-30", cost=100.0, quantity=100.0),  # EC2 at $1 an hour
           rows("2026-09-21", "2026-09-30", cost=150.0, quantity=150.0),  # the anomaly: 150 h more a day
           rows("2026-04-01", "2026-06-30", cost=50.0, quantity=10.0, team="search", service="Amazon OpenSearch"),
           # the finding, implemented on 1 July: 8 instances instead of 10 at $5 each
           rows("2026-07-01", "2026-09-30", cost=40.0, quantity=8.0, team="search", service="Amazon OpenSearch"))
    search_daily = pd.Series(np.where(pd.date_range("2026-04-01", "2026-09-30") < "2026-07-01", 50.0, 40.0),
                             index=pd.date_range("2026-04-01", "2026-09-30"))
    finding = verified_finding(db, search_daily, implemented_on=date(2026, 7, 1))
    assert finding.realized_monthly == Decimal("304.38")  # $10 a day over the average month of 30.4375 days

    # The CLI names the verified finding from the store: $304.38 / 30.4375 x 92 days of Q3 = $920.0151.
    document = why(db, monkeypatch, capsys, "last quarter")
    assert (document["period_b"]["total"], document["period_a"]["total"], document["delta"]) == \
        (13650.0, 14380.0, 730.0)
    ec2, search = document["contributors"]
    # Q3 has 92 days, Q2 91: EC2 went from $100.00 to $116.30 a day (10,700 h against 9,100 h at $1).
    assert (ec2["dimensions"], ec2["delta"], parts_of(ec2)) == (
        {"team": "payments", "service": "Amazon EC2"}, 1600.0, {"usage": 1491.85, "days": 108.15})
    assert (search["delta"], parts_of(search)) == (-870.0, {"usage": -915.0, "days": 45.0})
    (item,) = document["explained_by"]
    assert (item["kind"], item["id"], item["state"], item["in_a"], item["in_b"], item["amount"]) == (
        "finding", finding.id, "verified", -920.02, 0.0, -920.02)
    assert item["dimensions"] == {"team": "search", "service": "Amazon OpenSearch"}

    # The daily detection of 1 October raises EC2's extra 150 h a day since 21 September; the
    # answer names it from the anomaly store, next to the finding.
    monkeypatch.setenv("COSTBOT_DATABASE_URL", db.url)
    assert main(["detect", "--as-of", "2026-10-01"]) == 0
    document = why(db, monkeypatch, capsys, "last quarter")
    anomaly, item = document["explained_by"]
    assert (anomaly["kind"], anomaly["state"], anomaly["start"], anomaly["end"], anomaly["in_a"], anomaly["in_b"],
            anomaly["amount"]) == ("anomaly", "open", "2026-09-21", "2026-09-30", 1500.0, 0.0, 1500.0)
    assert (anomaly["dimensions"]["team"], anomaly["dimensions"]["service"]) == ("payments", "Amazon EC2")
    assert (item["kind"], item["amount"]) == ("finding", -920.02)
    assert document["explained_share"] == 1.0
    text = why(db, monkeypatch, capsys, "last quarter", json_output=False)
    assert (f"$1,500.00 of the increase is anomaly #{anomaly['id']} (open): shift in Amazon EC2 in 111100000001 "
            "(us-east-1).") in text
    assert (f"$920.02 of the decrease in search / Amazon OpenSearch is finding #{finding.id} (verified): "
            "Rightsize the search cluster.") in text

    text = why(db, monkeypatch, capsys, "team=payments last quarter", json_output=False)
    assert f"anomaly #{anomaly['id']} (open)" in text
    assert "finding #" not in text  # the search team's finding is outside the payments question


def test_a_question_it_cannot_parse_exits_1_with_the_correction_on_stderr(tmp_path: Path) -> None:
    costbot = Path(sys.executable).parent / "costbot"
    env = {"PATH": "/usr/bin:/bin", "COSTBOT_DATABASE_URL": f"sqlite:///{tmp_path}/costbot.db"}
    for extra in ([], ["--json"]):
        result = subprocess.run([str(costbot), "why", "last fortnight", "--as-of", "2026-11-16", *extra],
                                capture_output=True, text=True, env=env, timeout=120)
        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr == ("costbot: I didn't understand 'fortnight' in 'last fortnight': say last month, "
                                 "quarter, week, year or last N days. Try: `last month` or `Q3 2026 vs Q2 2026`\n")


def test_a_typo_or_a_period_before_the_data_is_corrected_not_answered_with_zero(db, tmp_path, monkeypatch,
                                                                                capsys) -> None:
    ingest(db, tmp_path, rows("2026-06-01", "2026-08-31", cost=50.0, quantity=100.0),
           rows("2026-06-01", "2026-08-31", cost=20.0, team="search", service="Amazon OpenSearch"))
    monkeypatch.setenv("COSTBOT_DATABASE_URL", db.url)
    for question, error in (
            ("team=paymnts last month", "costbot: I don't know team 'paymnts' in 'team=paymnts last month' (did you "
                                        "mean payments?). Try: `team=payments last month` or `team=payments Q2 2026 "
                                        "vs Q1 2026`\n"),
            ("team=payments,search last month", "costbot: I don't know team 'payments,search' in 'team=payments,search "
                                                "last month' (to ask about several, repeat the filter: team=payments "
                                                "team=search). Try: `team=payments team=search last month` or "
                                                "`team=payments team=search Q2 2026 vs Q1 2026`\n"),
            ("2026-06", "costbot: Cost data starts on 2026-06-01, so there is none for May 2026 (the comparison in "
                        "'2026-06'). Ask about periods from 2026-06-01 on. Try: `last month` or `Q2 2026 vs Q1 2026`\n")):
        capsys.readouterr()
        assert main(["why", question, "--as-of", "2026-09-05", "--json"]) == 1
        assert capsys.readouterr() == ("", error)
    answer = why(db, monkeypatch, capsys, "team=payments team=search last month", as_of="2026-09-05")
    assert answer["period_a"]["total"] == 2170.0


def test_a_month_with_no_cost_held_inside_the_data_is_refused_not_called_all_new(db, tmp_path, monkeypatch,
                                                                                 capsys) -> None:
    # July and September ingested, August never was.
    ingest(db, tmp_path, rows("2026-07-01", "2026-07-31", cost=50.0, quantity=100.0),
           rows("2026-09-01", "2026-09-30", cost=50.0, quantity=100.0))
    monkeypatch.setenv("COSTBOT_DATABASE_URL", db.url)
    capsys.readouterr()
    assert main(["why", "2026-09", "--as-of", "2026-10-05", "--json"]) == 1
    assert capsys.readouterr() == ("", "costbot: No cost data is held for August 2026 (2026-08-01 to 2026-08-31, the "
                                       "comparison in '2026-09'): were its costs ingested? Try: `last month` or "
                                       "`Q3 2026 vs Q2 2026`\n")
    answer = why(db, monkeypatch, capsys, "2026-09 vs 2026-07", as_of="2026-10-05")
    assert (answer["period_b"]["total"], answer["period_a"]["total"], answer["delta"]) == (1550.0, 1500.0, -50.0)
    assert [parts_of(c) for c in answer["contributors"]] == [{"days": -50.0}]


def test_the_demo_quarter_is_explained_by_ml_usage_web_prices_and_one_more_day(sqlite_db, tmp_path, monkeypatch,
                                                                               capsys) -> None:
    from bot.demo.data import DEMO_TODAY, TEAMS_YAML, write_demo_files

    costs_file, _ = write_demo_files(tmp_path)
    ingest_cost_files(CostStore(sqlite_db), parse_teams(TEAMS_YAML, file="teams.yml"), [costs_file], today=DEMO_TODAY)
    answer = why(sqlite_db, monkeypatch, capsys, "last quarter", as_of=DEMO_TODAY.isoformat())
    assert (answer["period_a"]["label"], answer["period_b"]["label"]) == ("Q3 2026", "Q2 2026")
    lines = answer["contributors"]
    assert sum(c["delta"] for c in lines) == pytest.approx(answer["delta"], abs=0.001)
    # ml's new models: the largest line, and it is usage.
    top = lines[0]
    assert (top["dimensions"]["team"], top["dimensions"]["service"]) == ("ml", "Amazon SageMaker")
    assert top["usage"] > 0.9 * top["delta"]
    # web's Azure price increase from 1 July: the largest rate change, on flat usage.
    by_rate = max(lines, key=lambda c: abs(c["rate"]))
    assert by_rate["dimensions"] == {"team": "web", "service": "Azure App Service"}
    assert by_rate["rate"] > 5 * abs(by_rate["usage"])
    # Q3 has 92 days, Q2 91: every line with daily spend has a day-count part, fees have none.
    assert sum(c["days"] for c in lines) > 0.05 * answer["delta"]
    assert all(c["days"] > 0 for c in lines if c["dimensions"].get("service") in ("Amazon SageMaker",
                                                                                  "Azure App Service"))
