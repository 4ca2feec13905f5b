"""``costbot forecast [--team T] [--as-of DATE] [--json]``: month-end forecast per team and for the org.

``--json`` prints exactly ``{"as_of", "month", "org": {"forecast", "low", "high"}, "teams":
[{"team", "forecast", "low", "high", "budget"}]}``: month-end totals of the default metric
(EffectiveCost), all charge categories, shared pools split, money rounded to cents; ``budget`` is
the team's monthly budget from teams.yml or null. Every team of teams.yml has a line (zeros when
it has no spend this month), and so does ``unallocated`` when it has spend. ``--as-of D``
forecasts the month of D using only the data up to and including D. With less than two months of
history there is no past month to learn the interval from: ``low`` and ``high`` equal
``forecast`` (the table says "interval not available yet"). docs/forecast.md has the method.

The numbers come from bot/services/forecast.py, which every other surface reads too.
"""

from __future__ import annotations

import argparse

from bot.blocks.forecast import budget_share, estimated_days_text, past_months_text
from bot.cli._common import UsageError, open_context, parse_date, print_json, print_table
from bot.services.forecast import (
    budgets_of,
    complete_through,  # noqa: F401  (jobs/detect.py still imports it from here)
    find_team,
    load_forecast,
)
from finops.forecast import MonthForecast, budget_status
from finops.money import format_usd
from finops.teams import TeamsConfig
from storage.costs import CostStore


def listed_teams(forecast: MonthForecast, teams: TeamsConfig) -> list[str]:
    """Every team of teams.yml (at zero when it has no spend this month) and every other owner with
    spend (``unallocated``), by name: the JSON and the table list the same teams."""
    return sorted({*teams.team_names, *(t.team for t in forecast.teams)})


def forecast_document(forecast: MonthForecast, teams: TeamsConfig, team: str | None = None) -> dict:
    """The ``--json`` document: a line for each of :func:`listed_teams` (or only ``team``'s)."""
    budgets = budgets_of(teams)
    document = forecast.to_json(budgets)
    by_team = {line["team"]: line for line in document["teams"]}
    document["teams"] = [
        by_team.get(name) or {"team": name, "forecast": 0.0, "low": 0.0, "high": 0.0,
                              "budget": float(budgets[name]) if name in budgets else None}
        for name in ([team] if team is not None else listed_teams(forecast, teams))]
    return document


# ---------------------------------------------------------------------------------------------
# The command


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("forecast", help="month-end forecast per team and for the org, with budgets")
    parser.add_argument("--team", metavar="NAME", help="only this team (the org total is still shown)")
    parser.add_argument("--as-of", dest="as_of", type=parse_date, metavar="DATE",
                        help="forecast the month of DATE from data up to and including DATE (default: today)")
    parser.add_argument("--teams", metavar="FILE", help="teams.yml (default: $COSTBOT_TEAMS)")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.set_defaults(func=run_forecast)


def run_forecast(args: argparse.Namespace) -> int:
    ctx = open_context(args, json_output=args.json)
    team = resolve_team(ctx.teams, args.team) if args.team is not None else None
    as_of = args.as_of or ctx.today()
    forecast = load_forecast(CostStore(ctx.db), ctx.teams, as_of)
    if args.json:
        print_json(forecast_document(forecast, ctx.teams, team))
        return 0
    print_forecast(forecast, ctx.teams, team)
    return 0


def resolve_team(teams: TeamsConfig, name: str) -> str:
    """The team's name as teams.yml spells it (``unallocated`` too); UsageError naming the teams."""
    found = find_team(teams, name)
    if found is None:
        raise UsageError(teams.no_team_text(name))
    return found


def print_forecast(forecast: MonthForecast, teams: TeamsConfig, team: str | None = None) -> None:
    """A table: month to date, forecast, interval, budget and its share per team, then the org."""
    print(f"Month-end forecast for {forecast.month}, as of {forecast.as_of} (data complete through "
          f"{forecast.complete_through}); {forecast.coverage:.0%} interval"
          + (f" learned from {past_months_text(forecast.interval_months)}" if forecast.interval_months else
             ": none, the month is complete (final totals)" if forecast.totals_final else
             ": none, every day since the data began is in" if forecast.month_complete else
             " not available yet (less than two months of history)")
          + estimated_days_text(forecast))
    budgets = budgets_of(teams)
    statuses = {s.team: s for s in budget_status(forecast, budgets)}
    # Without a learned interval low == high == forecast (the JSON contract), which is no interval:
    # the table says so rather than printing "$X – $X" as if the month were known to the cent.
    def interval_cell(low: float, high: float) -> str:
        return f"{format_usd(low)} – {format_usd(high)}" if forecast.interval_months else "-"

    rows = []
    for name in [team] if team is not None else listed_teams(forecast, teams):
        found = forecast.team(name)
        spent, f, lo, hi = (found.actual_to_date, found.forecast, found.low, found.high) if found else (0, 0, 0, 0)
        status = statuses.get(name)
        rows.append([name, format_usd(spent), format_usd(f), interval_cell(lo, hi),
                     format_usd(budgets[name]) if name in budgets else "-",
                     budget_share(status) if status else "-", status.level if status else "-"])
    org = forecast.org
    rows.append(["(org)", format_usd(org.actual_to_date), format_usd(org.forecast),
                 interval_cell(org.low, org.high), "-", "-", "-"])
    print_table(["team", "to date", "forecast", "80 % interval", "budget", "of budget", "status"], rows,
                right={1, 2, 4, 5})

