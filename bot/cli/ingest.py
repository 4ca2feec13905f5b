"""``costbot ingest file|focus PATH...``, the connectors (``_connectors.py``), and what was loaded:
``costbot ingest runs`` (every attempt, failed ones with their reason) and ``costbot ingest status``
(per source: last day, last complete day, partial days, latest run)."""

from __future__ import annotations

import argparse
import sys

from bot.cli._common import open_context, print_json, print_table
from finops.freshness import SourceStatus
from finops.money import format_usd, from_micros
from finops.sources.files import FORMATS
from jobs.ingest import ingest_cost_files
from storage.costs import CostStore, IngestRunRecord, WriteResult


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

    runs = kinds.add_parser("runs", help="the latest ingest runs, failed ones with their reason")
    runs.add_argument("--source", help="only this source key (e.g. aws-ce:999900001111)")
    runs.add_argument("--limit", type=int, default=20, help="how many (default: 20)")
    runs.add_argument("--json", action="store_true", help="one JSON document on stdout")
    runs.set_defaults(func=run_list_runs)

    status = kinds.add_parser("status", help="per source: last day, last complete day, partial days, last run")
    status.add_argument("--json", action="store_true", help="one JSON document on stdout")
    status.set_defaults(func=run_status)


def run_ingest_files(args: argparse.Namespace) -> int:
    ctx = open_context(args)
    report = ingest_cost_files(CostStore(ctx.db), ctx.teams, args.paths, format=args.format, today=ctx.today())
    for result in report.results:
        print(f"{result.source}: {result.start}..{result.end}, {result.rows} daily rows, "
              f"{result.series} series, effective {format_usd(from_micros(result.effective_micros))}")
        if result.replaced_rows:
            print(f"  replaced {result.start}..{result.end} of {result.source}: was "
                  f"{format_usd(from_micros(result.replaced_effective_micros))} ({result.replaced_rows} daily rows), "
                  f"now {format_usd(from_micros(result.effective_micros))} ({result.rows} daily rows)")
        warning = replacement_warning(result)
        if warning:
            print(warning, file=sys.stderr)
    print(f"ingested {report.files} file(s): effective cost {format_usd(from_micros(report.effective_micros))}")
    foreign = [c for c in report.currencies if c.upper() != "USD"]
    if foreign:
        # Amounts are stored as billed: a CAD bill read as dollars would be summed with USD ones.
        print(f"costbot: note: amounts in {', '.join(foreign)} are kept as billed, not converted, and every "
              "total shows them with $: keep one billing currency per database", file=sys.stderr)
    return 0


def replacement_warning(result: WriteResult) -> str | None:
    """A warning when most series the store held for the replaced days are not in the new data:
    the usual cause is one part of an export ingested on its own, which replaces the other parts."""
    if result.missing_series * 2 <= result.replaced_series:
        return None
    return (f"warning: {result.missing_series} of the {result.replaced_series} series held for "
            f"{result.start}..{result.end} of {result.source} are not in the new data and were removed; "
            "if the export is split in parts, pass every part (or the directory) in one command")


def run_list_runs(args: argparse.Namespace) -> int:
    ctx = open_context(args, json_output=args.json)
    runs = CostStore(ctx.db).ingest_runs(args.source, limit=max(args.limit, 1))
    if args.json:
        print_json([run_document(run) for run in runs])
        return 0
    print_table(["id", "started (UTC)", "source", "period", "rows", "effective", "status"],
                [[run.id, f"{run.started_at:%Y-%m-%d %H:%M}", run.source, _period(run), run.rows_written,
                  format_usd(run.effective_total), run.status + (f": {run.error}" if run.error else "")]
                 for run in runs], right={0, 4, 5})
    return 0


def run_document(run: IngestRunRecord) -> dict:
    """A run as JSON: ``id``, ``source``, ``kind``, ``start``, ``end``, ``rows_read``, ``rows_written``,
    ``billed``, ``effective``, ``status`` (running, ok, failed), ``error``, ``started_at``, ``finished_at``."""
    return {"id": run.id, "source": run.source, "kind": run.kind, "start": run.period_start, "end": run.period_end,
            "rows_read": run.rows_read, "rows_written": run.rows_written, "billed": run.billed_total,
            "effective": run.effective_total, "status": run.status, "error": run.error,
            "started_at": run.started_at.isoformat(), "finished_at": run.finished_at.isoformat() if run.finished_at
            else None}


def run_status(args: argparse.Namespace) -> int:
    ctx = open_context(args, json_output=args.json)
    statuses = CostStore(ctx.db).source_status()
    if args.json:
        print_json([status_document(s) for s in statuses])
        return 0
    if not statuses:
        print("no cost data yet: costbot ingest file PATH, or a connector (costbot ingest --help)")
        return 0
    print_table(["source", "last day", "complete through", "partial days", "last run"],
                [[s.source, s.last_day or "-", s.complete_through or "-", _partial(s), _last_run(s)]
                 for s in statuses])
    return 0


def status_document(status: SourceStatus) -> dict:
    """A source's freshness as JSON: ``source``, ``last_day``, ``complete_through``, ``partial_days``,
    ``last_run`` (``status``, ``at``, ``error``; null for file sources)."""
    run = None
    if status.last_run_status:
        run = {"status": status.last_run_status, "at": status.last_run_at.isoformat() if status.last_run_at else None,
               "error": status.last_error}
    return {"source": status.source, "last_day": status.last_day, "complete_through": status.complete_through,
            "partial_days": status.partial_days, "last_run": run}


def _period(run: IngestRunRecord) -> str:
    return f"{run.period_start}..{run.period_end}" if run.period_start else "-"


def _partial(status: SourceStatus) -> str:
    days = status.partial_days
    if not days:
        return "none" if status.last_day else "-"
    return f"{days[0]}" if len(days) == 1 else f"{days[0]}..{days[-1]} ({len(days)})"


def _last_run(status: SourceStatus) -> str:
    if not status.last_run_status:
        return "-"
    when = f" {status.last_run_at:%Y-%m-%d %H:%M}" if status.last_run_at else ""
    return f"{status.last_run_status}{when}" + (f": {status.last_error}" if status.last_error else "")
