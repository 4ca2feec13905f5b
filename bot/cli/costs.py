"""``costbot costs``: a spend table, totals exact to the cent.

Sums come from the store in integer micro-units (SQL group-by); the rows are rounded to cents
by the largest-remainder method so they add up exactly to the printed total. By team, shared
pools are split between their teams, the same figures as ``costbot coverage`` and ``costbot
teams`` (:func:`bot.services.ownership.spend_by`). Grouping by a tag (``--by team,tag:env``)
groups the stored series' canonical Tags in SQL, then reads the tag's value once per distinct
Tags text.
"""

from __future__ import annotations

import argparse
from decimal import Decimal

from bot.cli._common import UsageError, open_context, parse_date, print_json, print_table
from bot.services.ownership import spend_by
from finops.model import DEFAULT_METRIC, METRICS
from finops.money import cents, format_usd, from_micros, split_nested_to_cents
from storage.costs import CostStore, resolve_dimension


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("costs", help="spend by team, service, ... for a period")
    parser.add_argument("--from", dest="start", type=parse_date, metavar="DATE", help="first day (default: all data)")
    parser.add_argument("--to", dest="end", type=parse_date, metavar="DATE", help="last day, inclusive")
    parser.add_argument("--by", default="team", metavar="DIMS",
                        help="comma-separated: team, provider, account, service, region, sku, resource, "
                             "charge_category, month, day, tag:KEY (default: team)")
    parser.add_argument("--metric", default=DEFAULT_METRIC, choices=list(METRICS))
    parser.add_argument("--teams", metavar="FILE", help="teams.yml (default: $COSTBOT_TEAMS)")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.set_defaults(func=run_costs)


def run_costs(args: argparse.Namespace) -> int:
    by = list(dict.fromkeys(d.strip() for d in args.by.split(",") if d.strip()))
    try:
        columns = [resolve_dimension(d) for d in by]
    except ValueError as e:
        raise UsageError(f"--by: {e}") from None
    if args.start and args.end and args.start > args.end:
        raise UsageError(f"--from {args.start} is after --to {args.end}")
    ctx = open_context(args, json_output=args.json)
    store = CostStore(ctx.db)
    grouped = spend_by(store, ctx.teams, columns, start=args.start, end=args.end, metric=args.metric)
    held = store.date_range()
    start = args.start or (held[0] if held else None)
    end = args.end or (held[1] if held else None)
    # A period outside the data held is empty; keep the day the user gave and end (or start) the
    # period there, never replace it with a day of the data.
    if start and end and end < start:
        if args.start is None:  # --to before all the data held
            start = end
        else:  # --from after all the data held
            end = start
    total_micros = int(grouped["micros"].sum()) if not grouped.empty else 0
    total = cents(from_micros(total_micros))
    grouped = grouped.sort_values(["micros", *columns], ascending=[False] + [True] * len(columns))
    # Level by level (the first --by dimension, then the next within it): each group's rows add up
    # to the figure the group has when grouped by the outer dimensions alone.
    parts = split_nested_to_cents([from_micros(int(m)) for m in grouped["micros"]],
                                  list(grouped[columns].itertuples(index=False, name=None)), total)
    rows = []
    for values, cost in zip(grouped[columns].itertuples(index=False, name=None), parts, strict=True):
        row = {name: _plain(value) for name, value in zip(by, values, strict=True)}
        row["cost"] = cost
        rows.append(row)
    if args.json:
        print_json({"metric": args.metric, "from": start, "to": end, "total": total, "rows": rows})
        return 0
    print(f"{args.metric} cost, {start or '-'} to {end or '-'}")
    print_table([*by, "cost"], [[r[b] or "(none)" for b in by] + [format_usd(r["cost"])] for r in rows],
                right={len(by)})
    print(f"total: {format_usd(total)}")
    complete = store.complete_through()
    if complete is not None and end is not None and complete < end:
        print(f"data complete through {complete}; later days are partial (costbot ingest status)")
    return 0


def _plain(value: object) -> object:
    if hasattr(value, "date") and callable(value.date):
        return value.date().isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value
