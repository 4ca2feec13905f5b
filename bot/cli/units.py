"""``costbot units ingest FILE`` and ``costbot units show [--team T] [--period month|week] [--json]``:
business volumes per team (orders, active users) and the cost per unit they give.

The CSV has a header and the columns ``team,metric,period,value`` (period: ``2026-11-03``,
``2026-W45`` or ``2026-11``; see finops/units.py). A bad line stops the whole file with its line
number and column, and nothing is written. Recording a period again replaces its value.

The cost per unit comes from bot/services/units.py, which the digest, App Home and the scorecard
read too.
"""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from bot.cli._common import open_context, print_json, print_table
from bot.cli.forecast import resolve_team
from bot.context import AppContext
from bot.services.units import load_unit_costs, unit_cost_window
from finops.errors import InputError
from finops.money import format_usd
from finops.units import format_unit_cost, read_unit_csv
from storage.costs import CostStore
from storage.units import UnitStore

# ---------------------------------------------------------------------------------------------
# The command


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("units", help="unit metrics: ingest values, show cost per unit")
    commands = parser.add_subparsers(dest="units_command", metavar="COMMAND", required=True)
    ingest = commands.add_parser("ingest", help="record unit values from a CSV (team,metric,period,value)")
    ingest.add_argument("file", metavar="FILE", help="CSV with a header: team,metric,period,value")
    ingest.add_argument("--teams", metavar="FILE", help="teams.yml (default: $COSTBOT_TEAMS)")
    ingest.set_defaults(func=run_ingest)
    show = commands.add_parser("show", help="cost per unit per team, metric and month (or week)")
    show.add_argument("--team", metavar="NAME")
    show.add_argument("--period", choices=("month", "week"), default="month")
    show.add_argument("--teams", metavar="FILE", help="teams.yml (default: $COSTBOT_TEAMS)")
    show.add_argument("--json", action="store_true", help="one JSON document on stdout")
    show.set_defaults(func=run_show)


def run_ingest(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise InputError(f"cannot read the file: {error.strerror or error}", file=str(path)) from None
    except UnicodeDecodeError as error:
        raise InputError(f"not UTF-8 text ({error.reason} at byte {error.start})", file=str(path)) from None
    ctx = open_context(args)
    values = read_unit_csv(text, ctx.teams, file=str(path))
    changed = UnitStore(ctx.db).record(values, source="csv", by=f"cli:{getpass.getuser()}", at=ctx.now())
    print(f"{path}: {len(values)} values read, {changed} new or changed")
    return 0


def run_show(args: argparse.Namespace) -> int:
    ctx = open_context(args, json_output=args.json)
    team = resolve_team(ctx.teams, args.team) if args.team is not None else None
    table = load_unit_costs(ctx.db, ctx.teams, ctx.today(), period=args.period)
    if team is not None:
        table = table[table["team"] == team]
    if args.json:
        print_json({"period": args.period, "rows": [
            {"team": r.team, "metric": r.metric, "period": r.period, "start": r.start, "end": r.end,
             "cost": round(r.cost, 2), "units": round(r.units, 6),
             "cost_per_unit": None if r.cost_per_unit is None else round(r.cost_per_unit, 6),
             "change_pct": None if r.change_pct is None else round(r.change_pct, 2)}
            for r in table.itertuples()]})
        return 0
    if table.empty:
        print(f"no unit cost yet: {_why_none(ctx, team, args.period)}")
        return 0
    print_table(["team", "metric", args.period, "cost", "units", "cost per unit", "change"],
                [[r.team, r.metric, r.period, format_usd(r.cost), _units(r.units),
                  "-" if r.cost_per_unit is None else format_unit_cost(r.cost_per_unit),
                  "-" if r.change_pct is None else f"{r.change_pct:+.1f} %"] for r in table.itertuples()],
                right={3, 4, 5, 6})
    return 0


def _units(units: float) -> str:
    """Whole counts as they are; a week's share of a monthly value (225.806 orders) with its
    decimals, so cost / units can be checked against the cost per unit printed beside it."""
    # Rounded first: a value spread over its days and summed back is 10000000.000000002.
    return f"{units:,.0f}" if round(units, 6).is_integer() else f"{units:,.3f}"


def _why_none(ctx: AppContext, team: str | None, period: str) -> str:
    """Why no period has a unit cost: told "record values" after recording some, a user would
    record them again; what is missing is a whole period of values, or cost data."""
    declared = next((t.unit_metrics for t in ctx.teams.teams if t.name == team), None)
    if team is not None and not declared:  # its values would be refused: recording is no answer
        return (f"{team} declares no unit metric: add `unit_metrics` to it in teams.yml, then record values with "
                "`costbot units ingest FILE`")
    count = len(UnitStore(ctx.db).values(team=team))
    if count == 0:
        return "record values with `costbot units ingest FILE` (team,metric,period,value)"
    recorded = f"{count} value{'s are' if count != 1 else ' is'} recorded"
    window = unit_cost_window(CostStore(ctx.db), ctx.today())
    if window is None:
        return f"{recorded}, but there is no cost data to divide: ingest some first (costbot ingest file PATH)"
    start, through = window
    return (f"{recorded}, but no {period} from {start} to {through} (the last complete day of cost data) has "
            f"values for every one of its days: a {period} shows once its values cover it and its cost data is "
            "complete")
