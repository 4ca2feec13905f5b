"""``costbot savings [--team T] [--quarter Q] [--json]``: the savings ledger.

Identified vs implemented vs verified dollars (monthly, and a year's worth) by team and quarter,
the implementation rate (count and $), and the verified savings the monthly re-check flagged as
regressed. Each amount is booked in the quarter its event happened (finops.savings.savings_ledger).
:func:`load_ledger` is also what ``/cost savings`` answers from.
"""

from __future__ import annotations

import argparse
import math
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from bot.cli._common import open_context, print_json, print_table
from finops.errors import InputError
from finops.money import format_usd
from finops.savings import LEDGER_OPTIONAL, LEDGER_REQUIRED, savings_ledger
from storage.findings import FindingStore

_QUARTER = re.compile(r"^(?:(\d{4})[- ]?q([1-4])|q([1-4])[- ]?(\d{4}))$", re.IGNORECASE)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("savings", help="the savings ledger: identified vs implemented vs verified $")
    parser.add_argument("--team", help="one team's findings")
    parser.add_argument("--quarter", type=_quarter_argument, metavar="QUARTER", help="e.g. 2026Q4")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.set_defaults(func=run_savings)


def parse_quarter(text: str) -> str:
    """``2026Q4``, ``2026-q4``, ``Q4 2026`` -> ``2026Q4``; InputError otherwise."""
    match = _QUARTER.match(text.strip())
    if not match:
        raise InputError("a quarter is written like 2026Q4 or Q4 2026", column="quarter", value=text)
    year, number = (match.group(1), match.group(2)) if match.group(1) else (match.group(4), match.group(3))
    return f"{year}Q{number}"


def _quarter_argument(text: str) -> str:
    try:
        return parse_quarter(text)
    except InputError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


@dataclass(frozen=True)
class Ledger:
    """Ledger rows (one per team and quarter) and their total, as JSON-ready dicts."""

    team: str | None
    quarter: str | None
    rows: list[dict[str, Any]]
    total: dict[str, Any]

    @property
    def empty(self) -> bool:
        return self.total["identified_count"] == 0 and self.total["implemented_count"] == 0 \
            and self.total["verified_count"] == 0


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in record.items():
        if isinstance(value, float) and math.isnan(value):
            out[key] = None
        elif hasattr(value, "item"):  # numpy scalars
            out[key] = value.item()
        else:
            out[key] = value
    return out


def load_ledger(store: FindingStore, *, team: str | None = None, quarter: str | None = None) -> Ledger:
    """The ledger of every finding (or one team's), by team and quarter, optionally of one quarter."""
    records = pd.DataFrame(store.ledger_records(team=team), columns=[*LEDGER_REQUIRED, *LEDGER_OPTIONAL])
    rows = savings_ledger(records, by=("team", "quarter"))
    if quarter is None:
        total = savings_ledger(records, by=())
    else:
        rows = rows[rows["quarter"] == quarter]
        per_quarter = savings_ledger(records, by=("quarter",))
        total = per_quarter[per_quarter["quarter"] == quarter].drop(columns="quarter")
        if total.empty:  # nothing happened in that quarter
            total = savings_ledger(records.iloc[0:0], by=())
    return Ledger(team, quarter, [_plain(r) for r in rows.to_dict("records")],
                  _plain(total.reset_index(drop=True).to_dict("records")[0]))


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def run_savings(args: argparse.Namespace) -> int:
    ctx = open_context(args, json_output=args.json)
    ledger = load_ledger(FindingStore(ctx.db), team=args.team, quarter=args.quarter)
    if args.json:
        print_json({"team": ledger.team, "quarter": ledger.quarter, "rows": ledger.rows, "total": ledger.total})
        return 0
    total = ledger.total
    print(f"Savings ledger ({', '.join(x for x in (args.team, args.quarter) if x) or 'all teams, all quarters'}), "
          "monthly $")
    if ledger.rows:
        print_table(["team", "quarter", "identified", "implemented", "realized", "regressed", "rate (count)",
                     "rate ($)"],
                    [[r["team"], r["quarter"], format_usd(r["identified_monthly"]), format_usd(r["implemented_monthly"]),
                      format_usd(r["realized_monthly"]), format_usd(r["regressed_monthly"]),
                      _rate(r["implementation_rate_count"]), _rate(r["implementation_rate_usd"])] for r in ledger.rows],
                    right={2, 3, 4, 5, 6, 7})
    print(f"total: identified {format_usd(total['identified_monthly'])} ({total['identified_count']}), "
          f"implemented {format_usd(total['implemented_monthly'])} ({total['implemented_count']}), "
          f"verified {format_usd(total['realized_monthly'])} realized ({total['verified_count']}; "
          f"{format_usd(total['realized_annual'])} a year); implementation rate "
          f"{_rate(total['implementation_rate_count'])} of findings, {_rate(total['implementation_rate_usd'])} of $")
    return 0
