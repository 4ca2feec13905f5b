"""``costbot ingest file|focus PATH...`` (and the connectors' subcommands, added by their modules)."""

from __future__ import annotations

import argparse

from bot.cli._common import open_context
from finops.money import format_usd, from_micros
from finops.sources.files import FORMATS
from jobs.ingest import ingest_cost_files
from storage.costs import CostStore


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("ingest", help="load cost data (files or cloud APIs)")
    kinds = parser.add_subparsers(dest="ingest_kind", metavar="SOURCE", required=True)

    files = kinds.add_parser("file", help="cost export files or directories (CSV, CSV.gz, Parquet)")
    files.add_argument("paths", nargs="+", metavar="PATH")
    files.add_argument("--format", default="auto", choices=["auto", *FORMATS],
                       help="auto (default) detects each file's format from its header")
    files.add_argument("--teams", metavar="FILE", help="teams.yml (default: $COSTBOT_TEAMS)")
    files.set_defaults(func=run_ingest_files)

    focus = kinds.add_parser("focus", help="FOCUS files (same as: ingest file --format focus)")
    focus.add_argument("paths", nargs="+", metavar="PATH")
    focus.add_argument("--teams", metavar="FILE")
    focus.set_defaults(func=run_ingest_files, format="focus")

    from bot.cli import _connectors

    _connectors.register(kinds)


def run_ingest_files(args: argparse.Namespace) -> int:
    ctx = open_context(args)
    report = ingest_cost_files(CostStore(ctx.db), ctx.teams, args.paths, format=args.format, today=ctx.today())
    for result in report.results:
        print(f"{result.source}: {result.start}..{result.end}, {result.rows} daily rows, "
              f"{result.series} series, effective {format_usd(from_micros(result.effective_micros))}")
    print(f"ingested {report.files} file(s): effective cost {format_usd(from_micros(report.effective_micros))}")
    return 0
