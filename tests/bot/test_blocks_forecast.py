"""Forecast and budget messages stay within Block Kit limits for any number of teams."""

from __future__ import annotations

from datetime import date

from bot.blocks.forecast import (
    basis_text,
    budget_alert_message,
    budget_level_reply,
    budget_message,
    forecast_message,
)
from finops.forecast import ForecastRange, MonthForecast, TeamForecast, budget_status
from tests.slack.fake_slack import check_message


def many_teams(n: int) -> MonthForecast:
    teams = tuple(TeamForecast(f"platform-infrastructure-team-{i:04d}", 1000.0 + i, 990.0 + i, 1010.0 + i, 500.0)
                  for i in range(n))
    return MonthForecast("2026-11", date(2026, 11, 16), date(2026, 11, 15), 0.8, 12,
                         ForecastRange(sum(t.forecast for t in teams), 0.0, 1e9, 1.0), teams)


def test_thousands_of_teams_are_summarised_with_a_pointer_to_the_cli() -> None:
    forecast = many_teams(3000)
    statuses = budget_status(forecast, {t.team: 1500.0 for t in forecast.teams})
    for message in (forecast_message(forecast, statuses), budget_message(forecast, statuses)):
        assert len(message["blocks"]) <= 50
        assert check_message(message) == (None, [])
        more = message["blocks"][-2]["elements"][0]["text"]
        assert more.startswith("…and ") and "`costbot forecast`" in more
        shown = sum(b["text"]["text"].count("\n") + 1 for b in message["blocks"][2:-2] if b["type"] == "section")
        assert shown + int(more.split()[1]) == 3000


def test_the_alert_says_where_the_team_stands() -> None:
    forecast = many_teams(1)
    status = budget_status(forecast, {"platform-infrastructure-team-0000": 800.0})[0]
    message = budget_alert_message(status, forecast, announced_level="over")
    assert message["text"] == ("platform-infrastructure-team-0000 is forecast to go over its November 2026 budget: "
                               "forecast $1,000.00 of $800.00")
    assert message["blocks"][1]["text"]["text"] == (
        ":red_circle: Forecast month-end spend *$1,000.00* (80 % interval $990.00 – $1,010.00) against a budget "
        "of *$800.00*: *125 %*.\nSpent so far: $500.00 through 15 Nov; $300.00 of the budget left.")


def test_a_zero_budget_reads_no_spend_budgeted() -> None:
    forecast = many_teams(1)
    status = budget_status(forecast, {"platform-infrastructure-team-0000": 0.0})[0]
    assert status.level == "over"
    message = budget_alert_message(status, forecast, announced_level="over")
    assert message["text"] == ("platform-infrastructure-team-0000 has no spend budgeted for November 2026 but is "
                               "forecast to spend some: forecast $1,000.00 of $0.00")
    assert message["blocks"][1]["text"]["text"] == (
        ":red_circle: Forecast month-end spend *$1,000.00* (80 % interval $990.00 – $1,010.00) against a budget "
        "of *$0.00*: *no spend budgeted*.\nSpent so far: $500.00 through 15 Nov; already $500.00 over the budget.")
    assert budget_level_reply(status, forecast) == (
        ":red_circle: platform-infrastructure-team-0000 is now forecast *over budget* for November 2026: $1,000.00 "
        "of $0.00 (no spend budgeted).")
    lines = [b["text"]["text"] for m in (budget_message(forecast, [status]), forecast_message(forecast, [status]))
             for b in m["blocks"] if b["type"] == "section"]
    assert ":red_circle: *platform-infrastructure-team-0000*: no spend budgeted: forecast $1,000.00, $500.00 spent" \
        in lines
    assert ("*platform-infrastructure-team-0000*: $1,000.00 ($990.00 – $1,010.00); $500.00 spent · "
            ":red_circle: no spend budgeted") in lines
    assert not any("inf %" in line for line in lines)


def test_the_basis_line_says_why_there_is_no_interval() -> None:
    def forecast(complete_through: date, interval_months: int) -> MonthForecast:
        org = ForecastRange(100.0, 100.0, 100.0, 50.0)
        return MonthForecast("2026-10", date(2026, 10, 31), complete_through, 0.8, interval_months, org, ())

    assert "no interval: the month is complete (final totals)." in basis_text(forecast(date(2026, 10, 31), 0))
    assert "no interval yet (less than two months of history)." in basis_text(forecast(date(2026, 10, 20), 0))
    assert "80% interval learned from 12 past months." in basis_text(forecast(date(2026, 10, 20), 12))
    assert "80% interval learned from 1 past month." in basis_text(forecast(date(2026, 10, 20), 1))


def test_a_share_just_under_a_threshold_never_reads_as_the_threshold() -> None:
    # $1,000.00 of $1,250.50 is 79.97 %: rounded it read "80 %" beside a green dot, counted under
    # 80 %; $1,000.00 of $1,000.50 (99.95 %) read "100 %" while not over. Such a share keeps a decimal.
    forecast = many_teams(1)
    team = "platform-infrastructure-team-0000"
    under, close = (budget_status(forecast, {team: budget})[0] for budget in (1250.50, 1000.50))
    assert (under.level, close.level) == ("ok", "warning")
    lines = [b["text"]["text"] for b in budget_message(forecast, [under])["blocks"] if b["type"] == "section"]
    assert lines == ["0 over budget · 0 at 80 % or more · 1 under 80 %",
                     f":large_green_circle: *{team}*: forecast $1,000.00 of $1,250.50 (79.9 %), $500.00 spent"]
    message = budget_alert_message(close, forecast, announced_level="warning")
    assert message["blocks"][0]["text"]["text"] == f"{team} is forecast to use 99.9 % of its November 2026 budget"
    assert "against a budget of *$1,000.50*: *99.9 %*." in message["blocks"][1]["text"]["text"]
    assert budget_level_reply(close, forecast).endswith("$1,000.00 of $1,000.50 (99.9 %).")
    # Elsewhere whole percents, as before.
    assert "(125 %)" in budget_level_reply(budget_status(forecast, {team: 800.0})[0], forecast)


def test_budget_for_unallocated_says_it_cannot_have_one() -> None:
    forecast = many_teams(1)
    statuses = budget_status(forecast, {"platform-infrastructure-team-0000": 1500.0})
    message = budget_message(forecast, statuses, team="unallocated")
    assert message["text"] == "Budgets for November 2026: none set"
    assert [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"] == [
        "*unallocated* is spend no team owns, so it has no budget: `/cost forecast unallocated` shows its "
        "forecast; allocating it (a match rule in teams.yml) puts it under a team's budget."]
    # A team of teams.yml without a budget is still told where to set one.
    assert budget_message(forecast, statuses, team="ads")["blocks"][1]["text"]["text"] == (
        "No budget set for *ads*: add `budget_monthly` to the team in teams.yml.")


def test_a_budgeted_team_without_spend_is_listed_with_its_budget() -> None:
    forecast = many_teams(1)
    statuses = budget_status(forecast, {"platform-infrastructure-team-0000": 1500.0, "mobile": 500.0})
    lines = [b["text"]["text"] for b in forecast_message(forecast, statuses)["blocks"] if b["type"] == "section"]
    assert lines[1].split("\n") == [
        "*platform-infrastructure-team-0000*: $1,000.00 ($990.00 – $1,010.00); $500.00 spent · "
        ":large_green_circle: 67 % of $1,500.00",
        "*mobile*: no spend this month · :large_green_circle: 0 % of $500.00"]
    one = forecast_message(forecast, statuses, team="mobile")
    assert [b["text"]["text"] for b in one["blocks"] if b["type"] == "section"][1] == (
        "*mobile*: no spend this month · :large_green_circle: 0 % of $500.00")
    assert one["text"] == "Month-end forecast for November 2026: mobile $0.00"


def test_an_alert_on_the_first_days_of_a_month_says_no_day_of_it_is_in_yet() -> None:
    # On 1 Dec the data ends on 15 Nov: December's forecast comes from past months alone, and
    # "Spent so far: $0.00 through 15 Nov" under a December headline read as a month with nothing spent.
    team = TeamForecast("payments", 3943.2, 3900.0, 4000.0, 0.0)
    forecast = MonthForecast("2026-12", date(2026, 12, 1), date(2026, 11, 15), 0.8, 12,
                             ForecastRange(3943.2, 3900.0, 4000.0, 0.0), (team,))
    status = budget_status(forecast, {"payments": 2300.0})[0]
    message = budget_alert_message(status, forecast, announced_level="over")
    assert message["blocks"][1]["text"]["text"] == (
        ":red_circle: Forecast month-end spend *$3,943.20* (80 % interval $3,900.00 – $4,000.00) against a budget "
        "of *$2,300.00*: *171 %*.\nNo day of December 2026 is in the cost data yet (complete through 15 Nov): "
        "the forecast comes from past months.")


def test_a_month_whose_first_days_precede_the_data_is_never_called_final() -> None:
    # Data from 10 October: the month is read to its end, but 1-9 October are estimates.
    org = ForecastRange(4000.0, 4000.0, 4000.0, 3100.0)
    month = MonthForecast("2026-10", date(2026, 11, 2), date(2026, 10, 31), 0.8, 0, org,
                          (TeamForecast("web", 4000.0, 4000.0, 4000.0, 3100.0),), estimated_first_days=9)
    estimated = " 1–9 Oct precede the cost data: estimated at the month's usage rate, fees and taxes not included."
    assert basis_text(month) == ("As of Mon 02 Nov 2026, from data complete through 31 Oct; no interval: every day "
                                 f"since the data began is in.{estimated} Effective cost, all charge categories, "
                                 "shared costs split.")
    status = budget_status(month, {"web": 3000.0})[0]
    closed = budget_alert_message(status, month, announced_level="over")
    assert closed["blocks"][2]["elements"][0]["text"] == f"Not final:{estimated} `/cost why team=web 2026-10`"
    assert budget_level_reply(status, month).endswith("(133 %), with its first days estimated.")


def test_a_budget_alert_says_where_the_months_spend_starts_when_the_data_begins_inside_it() -> None:
    org = ForecastRange(3000.0, 2900.0, 3100.0, 500.0)
    month = MonthForecast("2026-11", date(2026, 11, 16), date(2026, 11, 14), 0.8, 3, org,
                          (TeamForecast("web", 3000.0, 2900.0, 3100.0, 500.0),), estimated_first_days=9)
    status = budget_status(month, {"web": 3000.0})[0]
    body = budget_alert_message(status, month, announced_level="over")["blocks"][1]["text"]["text"]
    assert body.endswith("Spent so far: $500.00 from 10 Nov, the cost data's first day, through 14 Nov; "
                         "$2,500.00 of the budget left.")
