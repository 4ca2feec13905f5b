"""The Home view as a pure function: a viewer on more teams than the view shows is told so; findings
past their due date are marked and listed first."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal

from bot.blocks.home import MAX_TEAMS, MAX_VIEW_BLOCKS, TeamHome, home_view, org_text
from finops.forecast import ForecastRange, MonthForecast
from finops.savings import FindingState
from finops.units import UnitTrend
from storage.findings import FindingRecord

TODAY = date(2026, 11, 16)


def home(team: str, findings: list[FindingRecord] | None = None) -> TeamHome:
    return TeamHome(team=team, channel=f"#team-{team}", month="2026-11", month_to_date=100.0,
                    complete_through=date(2026, 11, 15), forecast=200.0, budget=None, anomalies=[],
                    findings=findings or [], units=[], today=TODAY)


def finding(finding_id: int, title: str, estimate: str, state: FindingState, due_on: date | None) -> FindingRecord:
    blank = FindingRecord(**{f.name: None for f in dataclasses.fields(FindingRecord)})
    return dataclasses.replace(blank, id=finding_id, title=title, team="payments", estimate_monthly=Decimal(estimate),
                               state=state, due_on=due_on, version=1, regressed=False, scope={"service": ["Amazon EC2"]},
                               source="manual", identified_on=date(2026, 11, 1), created_by="U1",
                               created_at=datetime(2026, 11, 1, tzinfo=UTC),
                               updated_at=datetime(2026, 11, 1, tzinfo=UTC))


def headers(view: dict) -> list[str]:
    return [b["text"]["text"] for b in view["blocks"] if b["type"] == "header"]


def test_a_viewer_on_more_teams_than_shown_is_told_how_many_are_left_out() -> None:
    # The handler loads only the first MAX_TEAMS teams and passes how many the viewer is on.
    names = ["a", "b", "c", "d", "e"]
    view = home_view([home(n) for n in names[:MAX_TEAMS]], viewer_has_team=True, team_count=len(names))
    assert headers(view) == ["a · cost dashboard", "b · cost dashboard", "c · cost dashboard"]
    assert view["blocks"][-1]["elements"][0]["text"] == (
        "You are on 5 teams; the first 3 are shown. `/cost budget` covers every team.")
    assert len(view["blocks"]) <= MAX_VIEW_BLOCKS
    # Given all of them, it shows the first MAX_TEAMS and says the same.
    assert home_view([home(n) for n in names], viewer_has_team=True) == view


def test_a_viewer_on_as_many_teams_as_shown_gets_no_note() -> None:
    view = home_view([home("a"), home("b")], viewer_has_team=True, team_count=2)
    assert headers(view) == ["a · cost dashboard", "b · cost dashboard"]
    assert not any("You are on" in str(b) for b in view["blocks"])
    assert view["blocks"][1]["text"]["text"] == ("*November 2026*: $100.00 spent through 15 Nov (no budget)\n"
                                                 "Month-end forecast $200.00")


def test_a_finance_approvers_budgets_stay_within_the_view_for_any_number_of_teams() -> None:
    lines = [f":large_green_circle: *platform-infrastructure-team-{i:04d}*: forecast $1,000.00 of $1,500.00 (67 %), "
             "$500.00 spent" for i in range(3000)]
    view = home_view([], viewer_has_team=False, org_line="*Organisation, November 2026*: $1.00 spent",
                     budget_lines=lines)
    blocks = view["blocks"]
    assert len(blocks) <= MAX_VIEW_BLOCKS
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    shown = sum(b["text"]["text"].count("platform-infrastructure") for b in blocks if b["type"] == "section")
    more = blocks[-2]["elements"][0]["text"]
    assert more == f"…and {3000 - shown} more teams: `costbot forecast` lists them all."
    assert blocks[-1]["elements"][0]["text"].startswith("`/cost budget` shows the same")
    # No budget anywhere: said, not an empty heading.
    empty = home_view([], viewer_has_team=False, budget_lines=[])
    assert empty["blocks"][1]["text"]["text"] == (
        "*Budgets*\nNo team has a budget: add `budget_monthly` to teams in teams.yml.")


def finding_lines(view: dict) -> list[str]:
    return [b["text"]["text"] for b in view["blocks"] if b["type"] == "section" and b["text"]["text"].startswith("*#")]


def test_findings_past_their_due_date_are_marked_and_listed_first() -> None:
    # Biggest first, as the handler passes them; two are past due on 16 Nov, one is due that very day.
    findings = [
        finding(1, "Rightsize RDS", "900.00", FindingState.IN_PROGRESS, date(2026, 11, 30)),
        finding(2, "Savings plan", "700.00", FindingState.IMPLEMENTED, date(2026, 11, 1)),  # done: no nag
        finding(3, "Stop dev at night", "300.00", FindingState.ACCEPTED, date(2026, 11, 16)),  # due today
        finding(4, "Delete idle volumes", "120.50", FindingState.IDENTIFIED, date(2026, 11, 12)),
        finding(5, "Old snapshots", "40.25", FindingState.ACCEPTED, date(2026, 11, 15)),
        finding(6, "gp2 to gp3", "10.00", FindingState.IDENTIFIED, None),
    ]
    view = home_view([home("payments", findings)], viewer_has_team=True)
    texts = [b["text"]["text"] for b in view["blocks"] if b["type"] == "section"]
    assert "*Open findings* (6, $2,070.75/month identified; 2 past their due date, listed first)" in texts
    assert finding_lines(view) == [
        "*#4 Delete idle volumes* · $120.50/month · :mag: identified · :warning: past its due date 12 Nov (4 days)",
        "*#5 Old snapshots* · $40.25/month · :thumbsup: accepted · :warning: past its due date 15 Nov (1 day)",
        "*#1 Rightsize RDS* · $900.00/month · :construction: in progress · due 30 Nov",
        "*#2 Savings plan* · $700.00/month · :hammer_and_wrench: implemented",
        "*#3 Stop dev at night* · $300.00/month · :thumbsup: accepted · due 16 Nov",
        "*#6 gp2 to gp3* · $10.00/month · :mag: identified",
    ]
    # The same findings a day earlier: only #4 is past due, and said in the singular.
    earlier = home_view([dataclasses.replace(home("payments", findings), today=date(2026, 11, 15))],
                        viewer_has_team=True)
    assert "*Open findings* (6, $2,070.75/month identified; 1 past its due date, listed first)" in [
        b["text"]["text"] for b in earlier["blocks"] if b["type"] == "section"]
    assert [line.split(" ·")[0] for line in finding_lines(earlier)] == [
        "*#4 Delete idle volumes*", "*#1 Rightsize RDS*", "*#2 Savings plan*", "*#3 Stop dev at night*",
        "*#5 Old snapshots*", "*#6 gp2 to gp3*"]


def test_the_organisation_line_says_how_far_its_data_goes_and_the_forecasts_interval() -> None:
    forecast = MonthForecast(month="2026-11", as_of=date(2026, 11, 28), complete_through=date(2026, 11, 14),
                             coverage=0.8, interval_months=6,
                             org=ForecastRange(forecast=3000.0, low=2812.4, high=3190.06, actual_to_date=1400.5),
                             teams=())
    assert org_text(forecast) == ("*Organisation, November 2026*: $1,400.50 spent through 14 Nov; month-end "
                                  "forecast $3,000.00 ($2,812.40 – $3,190.06)")


def test_a_month_whose_first_days_precede_the_cost_data_says_where_its_spend_starts() -> None:
    # A first ingest from 10 Nov: "$1,400.50 spent through 14 Nov" read as the whole month's spend.
    forecast = MonthForecast(month="2026-11", as_of=date(2026, 11, 16), complete_through=date(2026, 11, 14),
                             coverage=0.8, interval_months=0,
                             org=ForecastRange(forecast=9000.0, low=9000.0, high=9000.0, actual_to_date=1400.5),
                             teams=(), estimated_first_days=9)
    assert org_text(forecast) == ("*Organisation, November 2026*: $1,400.50 spent from 10 Nov, the cost data's first "
                                  "day, through 14 Nov; month-end forecast $9,000.00")
    late = dataclasses.replace(home("search"), complete_through=date(2026, 11, 14), data_from=date(2026, 11, 10))
    assert home_view([late], viewer_has_team=True)["blocks"][1]["text"]["text"] == (
        "*November 2026*: $100.00 spent from 10 Nov, the cost data's first day, through 14 Nov (no budget)\n"
        "Month-end forecast $200.00")


def test_a_team_without_a_budget_on_the_first_day_of_a_month_is_told_none_of_it_is_in_yet() -> None:
    december = dataclasses.replace(home("search"), month="2026-12", month_to_date=0.0,
                                   complete_through=date(2026, 11, 30), today=date(2026, 12, 1))
    view = home_view([december], viewer_has_team=True)
    assert view["blocks"][1]["text"]["text"] == ("*December 2026*: no day of it in the cost data yet (complete "
                                                 "through 30 Nov); no budget\nMonth-end forecast $200.00")


def test_unit_costs_past_the_five_shown_are_counted_not_dropped() -> None:
    trends = [UnitTrend("payments", f"metric_{i}", "2026-10", 0.5, None, None, 1, (("2026-10", 0.5),))
              for i in range(7)]
    view = home_view([dataclasses.replace(home("payments"), units=trends)], viewer_has_team=True)
    (units,) = [b["text"]["text"] for b in view["blocks"] if b["type"] == "section"
                and b["text"]["text"].startswith("*Unit cost*")]
    lines = units.splitlines()
    assert len(lines) == 1 + 5 + 1
    assert lines[-1] == "…and 2 more: `costbot units show --team payments`"
