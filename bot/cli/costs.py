"""``costbot costs``: a spend table, totals exact to the cent.

Sums come from the store in integer micro-units (SQL group-by); the rows are rounded to cents
by the largest-remainder method so they add up exactly to the printed total. Grouping by a tag
(``--by team,tag:env``) groups the stored series' canonical Tags in SQL, then reads the tag's
value once per distinct Tags text.
"""

from __future__ import annotations

import argparse
from decimal import Decimal

import numpy as np
import pandas as pd

from bot.cli._common import UsageError, open_context, parse_date, print_json, print_table
from finops.model import DEFAULT_METRIC, METRICS, metric_column, parse_tags
from finops.money import cents, format_usd, from_micros, split_to_cents
from storage.costs import MONEY_COLUMNS, CostStore, resolve_dimension


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("costs", help="spend by team, service, ... for a period")
    parser.add_argument("--from", dest="start", type=parse_date, metavar="DATE", help="first day (default: all data)")
    parser.add_argument("--to", dest="end", type=parse_date, metavar="DATE", help="last day, inclusive")
    parser.add_argument("--by", default="team", metavar="DIMS",
                        help="comma-separated: team, provider, account, service, region, sku, resource, "
                             "charge_category, month, day, tag:KEY (default: team)")
    parser.add_argument("--metric", default=DEFAULT_METRIC, choices=list(METRICS))
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
    micros_column = MONEY_COLUMNS[metric_column(args.metric)]
    grouped = _grouped(store, by, columns, micros_column, args.start, args.end)
    held = store.date_range()
    start = args.start or (held[0] if held else None)
    end = args.end or (held[1] if held else None)
    if start and end and end < start:  # --from after all the data held: an empty period
        end = start
    total_micros = int(grouped[micros_column].sum()) if not grouped.empty else 0
    total = cents(from_micros(total_micros))
    grouped = grouped.sort_values([micros_column, *columns], ascending=[False] + [True] * len(columns))
    parts = split_to_cents([from_micros(int(m)) for m in grouped[micros_column]], total)
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


def _grouped(store: CostStore, by: list[str], columns: list[str], micros_column: str, start, end) -> pd.DataFrame:
    """Money summed by ``columns``; a ``tag:KEY`` column is the value of that tag ("" when absent)."""
    tags = [c for c in columns if c.startswith("tag:")]
    if not tags:
        return store.grouped_costs(by=by, start=start, end=end)
    plain = [c for c in columns if not c.startswith("tag:")]
    grouped = store.grouped_costs(by=[*plain, "Tags"], start=start, end=end)
    codes, uniques = pd.factorize(grouped["Tags"])
    for column in tags:
        key = column[4:].casefold()
        values = np.array([_tag_value(str(text), key) for text in uniques] + [""], dtype=object)
        grouped[column] = values[codes]
    if grouped.empty:
        return grouped.reindex(columns=[*columns, micros_column])
    return grouped.groupby(columns, as_index=False, sort=False)[micros_column].sum()


def _tag_value(text: str, key: str) -> str:
    """The value of tag ``key`` (case-insensitive) in canonical Tags text."""
    return next((value for name, value in parse_tags(text).items() if name.casefold() == key), "")


def _plain(value: object) -> object:
    if hasattr(value, "date") and callable(value.date):
        return value.date().isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value
