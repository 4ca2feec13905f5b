"""``costbot maturity`` on the small organisation of tests/jobs/digest_data.py: the scorecard's figures
read from the bot's own data (coverage, findings, variance answer, unit values), hand-computed."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.services.maturity import last_complete_month, load_maturity_inputs, load_scorecard
from bot.services.records import load_alert_timings
from bot.variance_service import answer_question
from finops.units import UnitValue
from storage.db import Database
from storage.findings import FindingStore, NewFinding
from storage.units import UnitStore
from tests.bot.cli_runner import cli_runner
from tests.jobs.digest_data import TEAMS_YAML, cost_rows, flat_history, store_costs, teams_config

TODAY = date(2026, 11, 16)
AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def org(db: Database) -> Database:
    teams = teams_config()
    flat_history(db, teams)  # Jan 1 .. Nov 15 2026
    FindingStore(db).create(NewFinding("Delete old index snapshots", "search", {"service": "Amazon S3"}, 500),
                            by="U_SEARCH_OWNER", at=AT)
    # Payments' orders: August 10,230; September 19,800; October 20,460 -> $0.20, $0.10, $0.10 per order.
    UnitStore(db).record([UnitValue("payments", "orders", date(2026, 8, 1), date(2026, 8, 31), 10_230.0),
                          UnitValue("payments", "orders", date(2026, 9, 1), date(2026, 9, 30), 19_800.0),
                          UnitValue("payments", "orders", date(2026, 10, 1), date(2026, 10, 31), 20_460.0)],
                         source="csv", by="test", at=AT)
    return db


def test_last_complete_month() -> None:
    assert last_complete_month(date(2026, 11, 15)) == (date(2026, 10, 1), date(2026, 10, 31))
    assert last_complete_month(date(2026, 10, 31)) == (date(2026, 10, 1), date(2026, 10, 31))


def test_inputs_and_scorecard_from_the_stores(org: Database, monkeypatch) -> None:
    # Anomaly timelines are covered by tests/finops/test_maturity.py; here: none recorded.
    inputs = load_maturity_inputs(org, teams_config(), TODAY)
    # October: $100 a day for 31 days; $90 direct + $9 shared support + $1 unallocated a day.
    cov = inputs.coverage
    assert (inputs.attribution_period, cov.total, cov.allocated_direct, cov.allocated_shared, cov.unallocated) == (
        "2026-10", 3100, 2790, 279, 31)
    # Tagged with team: payments' $60 of $100 a day; env: payments' $60 and the stray $1.
    assert inputs.tag_coverage == {"team": pytest.approx(0.60), "env": pytest.approx(0.61)}
    assert inputs.untagged_drivers[["SubAccountId", "ServiceName", "cost", "missing_tags"]].values.tolist() == [
        ["222", "Amazon S3", 930.0, "team, env"], ["555", "AWS Support", 279.0, "team, env"],
        ["999", "Amazon EC2", 31.0, "team"]]
    # The support pool's $279 is split between the teams: only the stray instance has no owner.
    assert inputs.unowned_drivers.values.tolist() == [["AWS", "999", "Amazon EC2", "i-stray", 31.0]]
    assert inputs.team_spend == {"payments": pytest.approx(2046.0), "search": pytest.approx(1023.0),
                                 "unallocated": pytest.approx(31.0)}
    assert [(f.id, f.team, f.state, f.estimate_monthly) for f in inputs.findings] == [
        (1, "search", "identified", 500.0)]
    expected = answer_question(org, "last quarter", today=TODAY)
    assert (inputs.variance.period_a, inputs.variance.period_b) == ("Q3 2026", "Q2 2026")
    assert inputs.variance.explained_share == expected.explained_share
    assert inputs.variance.delta == expected.delta == 100  # one more day in Q3 at $100 a day
    [trend] = inputs.unit_trends
    assert (trend.team, trend.metric, trend.period, trend.periods) == ("payments", "orders", "2026-10", 3)
    assert trend.cost_per_unit == pytest.approx(0.10) and trend.change_pct == pytest.approx(0.0)

    card = load_scorecard(org, teams_config(), TODAY)
    ratings = {line.dimension: line.rating for line in card.lines}
    assert ratings["attribution"] == "Run"  # 99 % with the support pool split
    # Run, but the stray instance's $31.00 has no owner: the step is to own it, not "Keep it".
    assert card.line(1).next_step == (
        "Own the rest: $31.00 of 2026-10 still has no owner; the biggest: Amazon EC2 in 999 (i-stray) $31.00, "
        "missing team. Give it one with a match rule in teams.yml (a tag or an account), or a `shared_costs` pool "
        "for spend no resource carries (tax, support). The other 99.0 % has an owner, shared costs split.")
    assert ratings["implementation"] == "Crawl"  # $0 of $500 implemented
    assert ratings["unit cost"] == "Run"  # three months of a cost per order
    # Implementation has $500/month at stake; an unmeasured routing line has nothing to weigh.
    assert ratings["anomaly routing"] == "Crawl"
    assert card.line(card.weakest).dimension == "implementation"
    assert card.next_step.startswith("Fix the implementation rate: follow the identified savings through. "
                                     "Biggest open findings: #1 search \u201cDelete old index snapshots\u201d "
                                     "$500.00/month (identified since 02 Nov)")


def test_the_command_prints_the_card_and_its_json(org: Database, monkeypatch, capsys, tmp_path: Path) -> None:
    teams_file = tmp_path / "teams.yml"
    teams_file.write_text(TEAMS_YAML)
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COSTBOT_DATABASE_URL", org.url)
    monkeypatch.setenv("COSTBOT_TEAMS", str(teams_file))
    monkeypatch.setattr("bot.context.AppContext.today", lambda self: TODAY)
    assert main(["maturity", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["as_of"] == "2026-11-16"
    first = document["lines"][0]
    assert (first["dimension"], first["rating"], first["value"], first["at_stake"]) == ("attribution", "Run", 0.99, 31.0)
    assert first["figure"] == ("99.0 % of 2026-10's $3,100.00 allocated ($2,790.00 direct, $279.00 shared); "
                               "$31.00 unallocated")
    assert main(["maturity"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("FinOps maturity as of 2026-11-16: Crawl")
    assert "\nNext step (" in out


def save_alerted_anomaly(db: Database, *, team: str = "payments", start: date = date(2026, 11, 9)) -> int:
    """One anomaly as the detection job leaves it: detected, posted in the owner's channel."""
    from finops.anomaly_model import Anomaly, DetectionResult
    from storage.anomalies import AnomalyStore

    anomaly = Anomaly(key=f"{team}|Amazon EC2|{start}", detected_on=start + timedelta(days=2), start=start, end=None,
                      last_seen=start + timedelta(days=1), level="series",
                      dimensions={"service": "Amazon EC2", "sub_account_id": "111"}, team=team, kind="spike",
                      direction="increase", expected_cost=132.0, actual_cost=254.4, impact=122.4, impact_pct=0.93,
                      alert=True)
    store = AnomalyStore(db)
    saved = store.save_detection(DetectionResult(new=(anomaly,)), through=start + timedelta(days=1),
                                 at=datetime(2026, 11, 11, 7, 0, tzinfo=UTC))
    anomaly_id = saved.new[0].id
    store.mark_posted(anomaly_id, channel="#team-payments", message_key=f"anomaly:{anomaly_id}",
                      at=datetime(2026, 11, 11, 7, 30, tzinfo=UTC), step=100, routed_to_owner=True)
    store.acknowledge(anomaly_id, by="U_PAY_DEV", at=datetime(2026, 11, 11, 9, 30, tzinfo=UTC))
    return anomaly_id


def test_alert_timings_come_from_the_anomaly_store(org: Database) -> None:
    anomaly_id = save_alerted_anomaly(org)
    [timing] = load_alert_timings(org)
    assert (timing.anomaly_id, timing.team, timing.cost_day, timing.routed_to_owner) == (
        anomaly_id, "payments", date(2026, 11, 9), True)
    # The cost day ended Nov 10 00:00 UTC; posted Nov 11 07:30 (31.5 h); acknowledged 2 h later.
    assert (timing.hours_to_alert, timing.hours_to_response) == (31.5, 2.0)
    line = load_scorecard(org, teams_config(), TODAY).line(2)
    assert (line.rating, line.value) == ("Run", 31.5)
    assert line.figure == ("median 32 h from cost to alert over 1 alert; 100 % posted in the owning team's channel; "
                           "first human response after a median 2 h (from 1 response)")
    assert (line.detail["median_response_hours"], line.detail["responses"]) == (2.0, 1)


def test_team_spend_in_the_next_step_is_in_the_cents_of_costbot_costs(db: Database, monkeypatch, capsys,
                                                                       tmp_path: Path) -> None:
    # October at fractions of a cent a day: each team's month rounded alone ($1,860.16 + $930.16 +
    # $0.16) makes a cent more than the month's $2,790.46 each; the step reads what
    # `costbot costs --by team` prints for the month, split from the total.
    teams = teams_config()
    store_costs(db, teams, cost_rows(date(2026, 10, 1), date(2026, 10, 31), payments=60.005, search=30.005,
                                     support=0.0, stray=0.005), complete_through=date(2026, 10, 31))
    run = cli_runner(db.url, TEAMS_YAML, monkeypatch, capsys, tmp_path)
    code, out, err = run("costs", "--json", "--by", "team", "--from", "2026-10-01", "--to", "2026-10-31")
    assert code == 0, err
    printed = {row["team"]: row["cost"] for row in json.loads(out)["rows"]}
    assert printed == {"payments": 1860.16, "search": 930.15, "unallocated": 0.15}
    assert load_maturity_inputs(db, teams, TODAY).team_spend == printed
    step = load_scorecard(db, teams, TODAY).line(5).next_step
    assert "payments's orders ($1,860.16 in 2026-10)" in step and "search ($930.15 in 2026-10)" in step


def test_with_less_than_a_month_of_data_attribution_reads_the_days_held_not_ingest_first(db: Database) -> None:
    # A first install: 1-15 Nov ingested ($100 a day: $90 direct, $9 the support pool, $1 the
    # stray instance), no complete month yet. "No spend recorded, ingest cost data first" was
    # the scorecard's next step though `costbot coverage` already shows 99.0 % allocated.
    teams = teams_config()
    flat_history(db, teams, start=date(2026, 11, 1), through=date(2026, 11, 15))
    inputs = load_maturity_inputs(db, teams, TODAY)
    cov = inputs.coverage
    assert (inputs.attribution_period, cov.total, cov.allocated_direct, cov.allocated_shared, cov.unallocated) == (
        "2026-11-01..2026-11-15", 1500, 1350, 135, 15)
    assert inputs.team_spend == {"payments": 990.0, "search": 495.0, "unallocated": 15.0}
    line = load_scorecard(db, teams, TODAY).line(1)
    assert (line.rating, line.value, line.at_stake) == ("Run", 0.99, 15.0)
    assert line.figure == ("99.0 % of 2026-11-01..2026-11-15's $1,500.00 allocated ($1,350.00 direct, $135.00 shared); "
                           "$15.00 unallocated")
    assert line.next_step.startswith("Own the rest: $15.00 of 2026-11-01..2026-11-15 still has no owner; "
                                     "the biggest: Amazon EC2 in 999 (i-stray) $15.00, missing team.")


def test_with_no_team_defined_the_attribution_step_asks_for_teams_first(db: Database) -> None:
    # No teams.yml (COSTBOT_TEAMS unset): every dollar is unallocated. The step was "Fix tagging
    # first ... Tag the biggest spend no team owns", with no team whose tag or account to use.
    from bot.context import EMPTY_TEAMS_YAML

    flat_history(db, teams_config())
    none = teams_config(EMPTY_TEAMS_YAML)
    card = load_scorecard(db, none, TODAY)
    line = card.line(1)
    assert (line.rating, line.value, line.at_stake) == ("Crawl", 0.0, 3100.0)
    assert line.next_step.startswith(
        "Define your teams first: teams.yml names no team (`COSTBOT_TEAMS` or `--teams` points to it), so no spend "
        "can have an owner. Name each team with its channel and match rules (a tag such as team=NAME, or its "
        "accounts). Then fix tagging. Define 4 mandatory tags (teams.yml has 0) and enforce them in account policy. ")
    assert card.weakest == 1 and card.next_step == line.next_step
    # With teams defined the Crawl step is unchanged: tagging first.
    starved = teams_config(TEAMS_YAML.replace("mandatory_tags: [team, env]", "mandatory_tags: [team]"))
    assert not load_scorecard(db, starved, TODAY).line(1).next_step.startswith("Define your teams first")


def test_a_crawl_step_on_less_than_a_month_does_not_call_its_unowned_spend_a_month(db: Database) -> None:
    # 1-15 Nov held and no team: $1,500 of 15 days has no owner, not "$1,500.00 a month".
    from bot.context import EMPTY_TEAMS_YAML

    flat_history(db, teams_config(), start=date(2026, 11, 1), through=date(2026, 11, 15))
    line = load_scorecard(db, teams_config(EMPTY_TEAMS_YAML), TODAY).line(1)
    assert (line.rating, line.at_stake) == ("Crawl", 1500.0)
    assert line.next_step.endswith(" $1,500.00 of 2026-11-01..2026-11-15 has no owner today.")
