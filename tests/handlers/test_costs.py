"""/cost teams and /cost coverage through the real app over HTTP: what the asker sees, within Slack's limits."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from finops.model import canonical_tags
from jobs.ingest import ingest_cost_files
from storage.costs import CostStore
from storage.db import Database
from tests.finops.sources.cost_file_helpers import FOCUS_HEADER, focus_row, write_csv
from tests.handlers.test_commands import wait_for
from tests.harness import RunningBot, start_bot
from tests.slack.fake_slack import check_message

NOW = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
TEAMS_YAML = """\
default_channel: "#finops"
mandatory_tags: [team, env]
teams:
  - name: payments
    channel: "#team-payments"
    owners: [U_PAY_OWNER]
    members: [U_PAY_DEV]
    budget_monthly: 1000
    match:
      - tag: {team: payments}
      - sub_account_id: "111222330440"
  - name: search
    channel: C0SEARCH01
    mandatory_tags: [team]
    match:
      - sub_account_id: "222"
shared_costs:
  - name: support
    match:
      - service: AWS Support
"""


def ingest(db: Database, bot: RunningBot, rows: list[list[object]], tmp_path: Path) -> None:
    path = write_csv(tmp_path / f"costs-{len(rows)}.csv", FOCUS_HEADER, rows)
    ingest_cost_files(CostStore(db), bot.ctx.teams, [path], today=NOW.date())


@pytest.fixture
def org(sqlite_db: Database, fake_slack, tmp_path):
    running = start_bot(sqlite_db, fake_slack, teams_yaml=TEAMS_YAML, now=lambda: NOW)
    rows = []
    for day in ("2026-10-30", "2026-11-01", "2026-11-14", "2026-11-15"):
        rows += [focus_row(day, account="111222330440", service="Amazon EC2", effective="60.00",
                           tags=canonical_tags({"team": "payments", "env": "prod"})),
                 focus_row(day, account="222", service="Amazon S3", effective="30.00"),
                 focus_row(day, account="555", service="AWS Support", effective="9.00"),
                 focus_row(day, account="999", service="Amazon EC2", effective="1.00")]
    ingest(sqlite_db, running, rows, tmp_path)
    try:
        yield running
    finally:
        running.stop()


def ask(bot: RunningBot, text: str, user: str = "U_ANYONE") -> dict:
    """The answer to a slow /cost subcommand: acked at once, then posted to the response_url."""
    url = bot.slack.response_url()
    ack = bot.client.slash(text, user_id=user, response_url=url)
    assert ack.status == 200 and ack.elapsed < 3.0
    assert ack.json()["response_type"] == "ephemeral"
    (answer,) = wait_for(lambda: bot.slack.response_url_calls(url))
    assert bot.slack.violations == []
    return answer


def texts(message: dict) -> list[str]:
    out = []
    for block in message["blocks"]:
        if block["type"] in ("header", "section") and "text" in block:
            out.append(block["text"]["text"])
        out += [f["text"] for f in block.get("fields", [])]
        out += [e["text"] for e in block.get("elements", []) if "text" in e]
    return out


def test_teams_lists_each_team_with_channel_owners_and_this_months_spend(org):
    answer = ask(org, "teams")
    assert answer["response_type"] == "ephemeral"
    assert answer["text"] == "2 teams; unallocated this month $3.00"
    header, teams, tail, context = texts(answer)
    assert header == "Teams · November 2026 to date (effective cost)"
    # November: 3 days of payments 60 + 6 of the support pool (split 60:30), search 30 + 3.
    assert teams.splitlines() == [
        "*payments* → #team-payments · <@U_PAY_OWNER> · *$198.00* (19.8 % of $1,000.00) · 2 rules",
        "*search* → <#C0SEARCH01> · no owners · *$99.00* (no budget) · 1 rule"]
    assert tail.splitlines() == ["*unallocated* → #finops · *$3.00*",
                                 "shared pool *support*: proportional across 2 teams"]
    assert context.startswith("`/cost teams NAME` shows a team's rules.")
    # How far the figures go, not today's date: the data lags a day or two.
    assert context.endswith("spend through 2026-11-15 (complete through 2026-11-14; 2026-11-15 still loading).")


def test_one_team_shows_its_rules_people_budget_and_tags(org):
    answer = ask(org, "teams Payments")
    header, *fields, rules, through = texts(answer)
    assert header == "Team payments"
    assert through == "November to date: spend through 2026-11-15 (complete through 2026-11-14; 2026-11-15 still loading)."
    assert fields == ["*Channel*\n#team-payments", "*Owners*\n<@U_PAY_OWNER>",
                      "*Members*\n<@U_PAY_DEV> + channel members", "*Budget*\n$1,000.00 a month (19.8 % used)",
                      "*November to date*\n$198.00 (direct $180.00, shared $18.00)",
                      "*Alerts from*\n$100.00 and 30 %", "*Mandatory tags*\nteam, env"]
    assert rules.splitlines() == ["*Rules* (the most specific wins: resource > tag > account)",
                                  "• tag team=payments _(line 10)_", "• sub_account_id=111222330440 _(line 11)_"]


def test_an_unknown_team_gets_a_correction_not_a_stack_trace(org):
    answer = ask(org, "teams paymnts")
    assert answer["text"].splitlines() == [
        ":warning: No team called `paymnts` in teams.yml. Did you mean `payments`?",
        "For example: `/cost teams payments` · `/cost teams search`",
        "Usage: `/cost teams [NAME]`"]


def test_coverage_shows_attribution_per_month_tags_drivers_and_freshness(org):
    answer = ask(org, "coverage")
    assert answer["text"] == "Attribution coverage 99.0 %; $4.00 unallocated"
    header, attribution, months, tags, drivers, freshness = texts(answer)
    assert header == "Cost coverage · 2026-10-30 to 2026-11-15"  # the data held, up to 3 months
    assert attribution == ("*Attribution:* 99.0 % of $400.00 has an owner (direct $360.00, shared pools $36.00); "
                           "*$4.00* unallocated.")
    assert months.splitlines() == ["*By month*", "`2026-10` 99.0 % of $100.00 · shared $9.00",
                                   "`2026-11` 99.0 % of $300.00 · shared $27.00"]
    assert tags.splitlines() == ["*Tag coverage*", "`team` 60.0 % of taggable usage · required by all teams",
                                 "`env` 89.6 % of taggable usage · required by payments"]
    assert drivers.splitlines() == [
        "*Top untagged cost drivers* (3 of 3)",
        "$120.00 · AWS 222 · Amazon S3 · `(no resource)` · missing team · owner search",
        "$36.00 · AWS 555 · AWS Support · `(no resource)` · missing team, env · owner payments, search",
        "$4.00 · AWS 999 · Amazon EC2 · `(no resource)` · missing team, env · owner unallocated"]
    assert freshness == ("Data complete through 2026-11-14. Partial (still loading): 2026-11-15. "
                         "`costbot coverage` has the full lists.")


def test_coverage_takes_no_options(org):
    answer = ask(org, "coverage last year")
    assert answer["text"].splitlines()[0] == ":warning: `/cost coverage` takes no options (got `last year`)."


def test_coverage_with_no_data_says_so(sqlite_db: Database, fake_slack):
    running = start_bot(sqlite_db, fake_slack, teams_yaml=TEAMS_YAML, now=lambda: NOW)
    try:
        answer = ask(running, "coverage")
    finally:
        running.stop()
    assert answer["text"] == "Attribution coverage –; $0.00 unallocated"
    assert texts(answer)[-1] == "No cost data yet. `costbot coverage` has the full lists."


def many_teams_yaml(count: int, owners: int, accounts: int) -> str:
    lines = ['default_channel: "#finops"', "mandatory_tags: [team, env, cost-center]", "teams:"]
    for i in range(count):
        lines += [f"  - name: platform-infrastructure-{i:03d}", f'    channel: "#team-platform-infrastructure-{i:03d}"',
                  f"    owners: [{', '.join(f'U{i:03d}OWNER{chr(65 + k)}' for k in range(owners))}]",
                  "    budget_monthly: 123456.78", "    match:", f"      - tag: {{team: platform-infrastructure-{i:03d}}}",
                  *[f'      - sub_account_id: "{i:03d}{k:09d}"' for k in range(accounts)]]
    return "\n".join(lines) + "\n"


def test_sixty_teams_fit_slacks_limits(sqlite_db: Database, fake_slack, tmp_path):
    count, owners, accounts = 60, 3, 12
    running = start_bot(sqlite_db, fake_slack, teams_yaml=many_teams_yaml(count, owners, accounts), now=lambda: NOW)
    try:
        team_rows = [focus_row("2026-11-02", account=f"{i:03d}{0:09d}", effective="1234.56", service=f"Service {i}",
                               tags=canonical_tags({"env": "prod", "team": f"platform-infrastructure-{i:03d}"}))
                     + [""] for i in range(count)]
        # Untagged resources with IDs far longer than a Slack line.
        long_ids = [focus_row("2026-11-02", account="none", effective=f"{i + 1}.00")
                    + ["arn:aws:ec2:" + "x" * 2_000 + str(i)] for i in range(40)]
        path = write_csv(tmp_path / "many.csv", [*FOCUS_HEADER, "ResourceId"], team_rows + long_ids)
        ingest_cost_files(CostStore(sqlite_db), running.ctx.teams, [path], today=NOW.date())
        teams = ask(running, "teams")
        coverage = ask(running, "coverage")
        one = ask(running, "teams platform-infrastructure-007")
    finally:
        running.stop()
    for message in (teams, coverage, one):
        assert check_message(message) == (None, []) and len(message["blocks"]) <= 50
    listed = [line for text in texts(teams) for line in text.splitlines() if line.startswith("*platform-")]
    owners_text = " ".join(f"<@U000OWNER{chr(65 + k)}>" for k in range(owners))
    assert listed[0] == (f"*platform-infrastructure-000* → #team-platform-infrastructure-000 · {owners_text} · "
                         f"*$1,234.56* (1.0 % of $123,456.78) · {accounts + 1} rule" + ("s" if accounts else ""))
    assert len(listed) == 60
    assert "*Top untagged cost drivers* (10 of 20)" in texts(coverage)[-2]
    assert len([line for line in texts(one)[-2].splitlines() if line.startswith("• ")]) == accounts + 1


def test_thousands_of_teams_are_summarised_within_the_limits():
    from bot.blocks.costs import teams_message
    from bot.services.ownership import MonthSpend, TeamSpend
    from finops.teams import Team, TeamsConfig

    teams = tuple(Team(f"platform-infrastructure-{i:04d}", f"#team-platform-infrastructure-{i:04d}",
                       owners=tuple(f"U{i:04d}OWNER{k}" for k in range(5)), budget_monthly=50_000.0)
                  for i in range(2_000))
    spend = MonthSpend(date(2026, 11, 1), date(2026, 11, 16), "effective",
                       {t.name: TeamSpend(t.name, Decimal("1234.56"), Decimal(0)) for t in teams})
    message = teams_message(TeamsConfig(default_channel="#finops", teams=teams), spend)
    assert check_message(message) == (None, [])
    assert len(message["blocks"]) == 50
    shown = sum(text.count("\n*platform-") + text.startswith("*platform-") for text in texts(message))
    assert 500 < shown < 2_000
    assert message["blocks"][-1]["elements"][0]["text"].startswith(
        f"{2_000 - shown} more teams not shown: `costbot teams` lists all.")


def test_long_lists_are_packed_into_full_sections_and_the_rest_counted():
    from bot.blocks.costs import packed_sections

    lines = [f"line {i:02d} " + "x" * 500 for i in range(100)]  # 508 characters: 5 fit in a section
    sections, left = packed_sections(lines, title="*T*", max_sections=3)
    shown = [text.splitlines() for text in (s["text"]["text"] for s in sections)]
    assert shown == [["*T*", *lines[:5]], lines[5:10], lines[10:15]]
    assert left == 85
