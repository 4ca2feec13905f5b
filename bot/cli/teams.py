"""``costbot teams``: every team of teams.yml (channel, owners, rules in precedence order, budget)
with this month's spend, direct and from shared pools; the unallocated spend; the pools.

The spend comes from :func:`bot.services.ownership.load_team_spend`, which ``/cost teams``
answers from too.
"""

from __future__ import annotations

import argparse

from bot.cli._common import open_context, print_json, print_table
from bot.services.ownership import MonthSpend, budget_used, load_team_spend
from finops.model import DEFAULT_METRIC, METRICS, UNALLOCATED
from finops.money import format_usd
from finops.teams import TeamsConfig
from storage.costs import CostStore

# ---------------------------------------------------------------------------------------------
# The command


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("teams", help="teams, channels, owners, rules, budgets and this month's spend")
    parser.add_argument("--metric", default=DEFAULT_METRIC, choices=list(METRICS))
    parser.add_argument("--teams", metavar="FILE", help="teams.yml (default: $COSTBOT_TEAMS)")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.set_defaults(func=run_teams)


def run_teams(args: argparse.Namespace) -> int:
    ctx = open_context(args, json_output=args.json)
    spend = load_team_spend(CostStore(ctx.db), ctx.teams, ctx.today(), metric=args.metric)
    if args.json:
        print_json(teams_document(ctx.teams, spend))
        return 0
    print_teams(ctx.teams, spend)
    return 0


def teams_document(config: TeamsConfig, spend: MonthSpend) -> dict:
    """teams.yml and the month's spend as one JSON document (money exact to the cent)."""
    teams = []
    for team in config.teams:
        mine = spend.of(team.name)
        used = budget_used(team, mine)
        teams.append({
            "name": team.name, "channel": team.channel, "owners": list(team.owners), "members": list(team.members),
            "rules": [{"rule": rule.describe(), "line": rule.line} for rule in team.match],
            "budget_monthly": team.budget_monthly,
            "spend": dict(zip(("direct", "shared", "total"), mine.in_cents(), strict=True)),
            "budget_used": None if used is None else round(used, 4),
            "mandatory_tags": list(config.mandatory_tags_for(team.name)),
            "thresholds": {"min_impact_usd": team.thresholds.min_impact_usd, "min_pct": team.thresholds.min_pct,
                           "alert_on_decrease": team.thresholds.alert_on_decrease},
        })
    return {
        "month": f"{spend.start:%Y-%m}", "from": spend.start, "to": spend.end,
        # How far the month's figures really go: the data lags today by a day or two.
        "data_through": spend.data_through, "complete_through": spend.complete_through, "metric": spend.metric,
        "default_channel": config.default_channel, "finance_approvers": list(config.finance_approvers),
        "teams": teams,
        "unallocated": spend.of(UNALLOCATED).in_cents()[2],
        "shared_costs": [{"name": pool.name, "split": pool.split, "teams": list(pool.teams),
                          "percentages": dict(pool.percentages) or None,
                          "rules": [{"rule": rule.describe(), "line": rule.line} for rule in pool.match]}
                         for pool in config.shared_costs],
    }


def print_teams(config: TeamsConfig, spend: MonthSpend) -> None:
    """Teams as a terminal table, then each team's rules."""
    print(f"{spend.metric} cost this month from {spend.start}, {spend.through_text()}; file {config.file}")
    rows = []
    for team in config.teams:
        mine = spend.of(team.name)
        used = budget_used(team, mine)
        budget = "-" if team.budget_monthly is None else format_usd(team.budget_monthly)
        rows.append([team.name, team.channel, ", ".join(team.owners) or "-", *map(format_usd, mine.in_cents()), budget,
                     "-" if used is None else f"{used * 100:.0f} %"])
    rows.append([UNALLOCATED, config.default_channel, "-", "", "", format_usd(spend.of(UNALLOCATED).total), "-", "-"])
    print_table(["team", "channel", "owners", "direct", "shared", "total", "budget", "used"], rows,
                right={3, 4, 5, 6, 7})
    print("\nrules (a tag beats an account mapping; docs/teams.md, \"Precedence\"):")
    for team in config.teams:
        print(f"  {team.name}: " + ("; ".join(f"{rule.describe()} (line {rule.line})" for rule in team.match)
                                    or "no rules"))
    for pool in config.shared_costs:
        split = ", ".join(f"{t} {p:g} %" for t, p in pool.percentages) if pool.split == "fixed" else (
            f"{pool.split} across {', '.join(pool.teams)}")
        print(f"  shared pool {pool.name}: " + "; ".join(f"{rule.describe()} (line {rule.line})" for rule in pool.match)
              + f" -> {split}")
