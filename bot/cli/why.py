"""``costbot why "QUESTION" [--json]``: why spend changed between two periods.

The same answer as ``/cost why`` (bot/variance_service.py). ``--json`` prints the SPEC's variance
document (``period_a``, ``period_b`` with ``start``/``end``/``total``, ``delta``, ``contributors``
with ``dimensions``, ``delta`` and the usage/rate/mix/days/new/gone split, ``explained_by``).
A question that cannot be parsed exits 1 with the one-line correction on stderr. Output cut short
by its reader (``| head``) ends quietly.
"""

from __future__ import annotations

import argparse
import os
import sys

from bot.cli._common import UsageError, open_context, parse_date, print_json, print_table
from bot.variance_service import answer_question
from finops.model import DEFAULT_METRIC, METRICS
from finops.money import format_usd
from finops.variance import DEFAULT_TOP_N, PARTS, VarianceAnswer, summary_lines

_HEADINGS = {"usage": "usage", "rate": "rate", "mix": "mix", "days": "days", "new": "new", "gone": "gone",
             "charge_timing": "timing", "unexplained_by_quantity": "not split"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("why", help="why spend changed: contributors, usage vs rate, explainers")
    parser.add_argument("question", nargs="+", metavar="QUESTION",
                        help='e.g. "last quarter", "team=payments 2026-10 vs 2026-09" (quote it)')
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("--as-of", dest="as_of", type=parse_date, metavar="DATE",
                        help="answer as if today were DATE (default: today)")
    parser.add_argument("--top", type=int, default=DEFAULT_TOP_N, metavar="N",
                        help=f"contributor lines before the rest is summed up (default: {DEFAULT_TOP_N})")
    metric = parser.add_mutually_exclusive_group()
    metric.add_argument("--metric", choices=list(METRICS), default=None,
                        help=f"the cost to compare (default: {DEFAULT_METRIC}; also written in the question: --billed)")
    for name in METRICS:
        metric.add_argument(f"--{name}", dest="metric", action="store_const", const=name,
                            help=f"same as --metric {name}")
    parser.set_defaults(func=run_why)


def run_why(args: argparse.Namespace) -> int:
    if args.top < 1:
        raise UsageError(f"--top must be at least 1 (got {args.top})")
    ctx = open_context(args, json_output=args.json)
    text = " ".join(args.question)
    answer = answer_question(ctx.db, text, today=args.as_of or ctx.today(), top_n=args.top, metric=args.metric)
    try:
        if args.json:
            print_json(answer.to_json())
        else:
            print_answer(answer)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader stopped early (costbot why ... | head): that is not an error. Point stdout at
        # /dev/null so that the interpreter's last flush does not fail again on the way out.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def print_answer(answer: VarianceAnswer) -> None:
    """The summary sentences, then every contributor line with its split, on stdout."""
    for line in summary_lines(answer):
        print(line)
    if not answer.contributors:
        return
    print()
    q = answer.question
    rows = [[c.label, format_usd(c.b), format_usd(c.a), format_usd(c.delta, signed=True),
             *(format_usd(value, signed=True) if value else "" for value in c.parts().values())]
            for c in answer.contributors]
    headers = ["contributor", q.period_b.label, q.period_a.label, "change", *(_HEADINGS[p] for p in PARTS)]
    print_table(headers, rows, right=set(range(1, len(headers))))
