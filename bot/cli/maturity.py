"""``costbot maturity [--json]``: the FinOps maturity scorecard (finops/maturity.py) from the bot's data.

Its inputs come from bot/services/maturity.py (where each number comes from is written there),
which ``/cost maturity`` and the org digest read too.

``--json`` prints ``{"as_of", "overall", "weakest", "next_step", "lines": [{"question",
"dimension", "text", "rating", "value", "figure", "at_stake", "next_step", "detail"}]}``.
"""

from __future__ import annotations

import argparse

from bot.cli._common import open_context, print_json, print_table
from bot.services.maturity import load_scorecard

# ---------------------------------------------------------------------------------------------
# The command


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("maturity", help="the FinOps maturity scorecard (Crawl / Walk / Run)")
    parser.add_argument("--teams", metavar="FILE", help="teams.yml (default: $COSTBOT_TEAMS)")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.set_defaults(func=run_maturity)


def run_maturity(args: argparse.Namespace) -> int:
    ctx = open_context(args, json_output=args.json)
    card = load_scorecard(ctx.db, ctx.teams, ctx.today())
    if args.json:
        print_json(card.to_json())
        return 0
    print(f"FinOps maturity as of {card.as_of}: {card.overall} (the weakest dimension decides)")
    print_table(["#", "dimension", "rating", "the number behind it"],
                [[line.number, line.dimension, line.rating, line.figure] for line in card.lines])
    weakest = card.line(card.weakest)
    print(f"\nNext step ({weakest.dimension}, {weakest.rating}): {card.next_step}")
    return 0
