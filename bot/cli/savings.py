"""``costbot savings [--team T] [--quarter Q] [--json]``: the savings ledger.

Identified vs implemented vs verified dollars (monthly, and a year's worth) by team and quarter,
the findings verification found not realized (apart: they are not implemented savings), the
implementation rate (count and $), and the verified savings the monthly re-check flagged as
regressed. Each amount is booked in the quarter its event happened (finops.savings.savings_ledger).
It reads :func:`bot.services.findings.load_ledger`, as ``/cost savings`` does.
"""

from __future__ import annotations

import argparse

from bot.cli._common import open_context, print_json, print_table
from bot.services.findings import known_team, load_ledger, parse_quarter
from finops.errors import InputError
from finops.money import format_usd
from storage.findings import FindingStore


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("savings", help="the savings ledger: identified vs implemented vs verified $")
    parser.add_argument("--team", help="one team's findings")
    parser.add_argument("--quarter", type=_quarter_argument, metavar="QUARTER", help="e.g. 2026Q4")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.set_defaults(func=run_savings)


def _quarter_argument(text: str) -> str:
    try:
        return parse_quarter(text)
    except InputError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def run_savings(args: argparse.Namespace) -> int:
    ctx = open_context(args, json_output=args.json)
    team = known_team(ctx, args.team) if args.team is not None else None
    ledger = load_ledger(FindingStore(ctx.db), team=team, quarter=args.quarter)
    if args.json:
        print_json({"team": ledger.team, "quarter": ledger.quarter, "rows": ledger.rows, "total": ledger.total})
        return 0
    total = ledger.total
    print(f"Savings ledger ({', '.join(x for x in (args.team, args.quarter) if x) or 'all teams, all quarters'}), "
          "monthly $")
    if ledger.rows:
        print_table(["team", "quarter", "identified", "implemented", "not realized", "realized", "regressed",
                     "rate (count)", "rate ($)"],
                    [[r["team"], r["quarter"], format_usd(r["identified_monthly"]), format_usd(r["implemented_monthly"]),
                      format_usd(r["not_realized_monthly"]), format_usd(r["realized_monthly"]),
                      format_usd(r["regressed_monthly"]), _rate(r["implementation_rate_count"]),
                      _rate(r["implementation_rate_usd"])] for r in ledger.rows],
                    right={2, 3, 4, 5, 6, 7, 8})
        # The amounts are booked in the quarter of their event, the rates by the quarter the
        # findings were identified in: say so, or "implemented $0.00 · 100 %" reads as an error.
        print("amounts: in the quarter each event happened; rates: of the findings identified in that quarter "
              "(not rejected), the share implemented since")
    not_realized = (f"{total['not_realized_count']} not realized, {format_usd(total['not_realized_monthly'])} "
                    "estimated (not counted as implemented), " if total["not_realized_count"] else "")
    print(f"total: identified {format_usd(total['identified_monthly'])} ({total['identified_count']}), "
          f"implemented {format_usd(total['implemented_monthly'])} ({total['implemented_count']}), {not_realized}"
          f"verified {format_usd(total['realized_monthly'])} realized ({total['verified_count']}; "
          f"{format_usd(total['realized_annual'])} a year); implementation rate "
          f"{_rate(total['implementation_rate_count'])} of findings, {_rate(total['implementation_rate_usd'])} of $")
    return 0
