"""``costbot coverage``: who owns the spend (attribution coverage per month, shared pools split),
how much carries the mandatory tags, the top 20 untagged cost drivers, and how fresh each source is.

The report comes from :func:`bot.services.ownership.load_coverage`, which ``/cost coverage``
answers from too.
"""

from __future__ import annotations

import argparse

from bot.cli._common import UsageError, open_context, parse_date, print_json, print_table
from bot.services.ownership import DEFAULT_MONTHS, TOP_DRIVERS, CoverageReport, coverage_parts, load_coverage
from finops.model import DEFAULT_METRIC, METRICS
from finops.money import cents, format_usd
from storage.costs import CostStore

# ---------------------------------------------------------------------------------------------
# The command


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("coverage", help="attribution and tag coverage, untagged cost drivers, freshness")
    parser.add_argument("--from", dest="start", type=parse_date, metavar="DATE",
                        help=f"first day (default: the last {DEFAULT_MONTHS} months of data)")
    parser.add_argument("--to", dest="end", type=parse_date, metavar="DATE", help="last day, inclusive")
    parser.add_argument("--metric", default=DEFAULT_METRIC, choices=list(METRICS))
    parser.add_argument("--teams", metavar="FILE", help="teams.yml (default: $COSTBOT_TEAMS)")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.set_defaults(func=run_coverage)


def run_coverage(args: argparse.Namespace) -> int:
    if args.start and args.end and args.start > args.end:
        raise UsageError(f"--from {args.start} is after --to {args.end}")
    ctx = open_context(args, json_output=args.json)
    report = load_coverage(CostStore(ctx.db), ctx.teams, start=args.start, end=args.end, metric=args.metric)
    if args.json:
        print_json(coverage_document(report))
        return 0
    print_coverage(report)
    return 0


def coverage_document(report: CoverageReport) -> dict:
    """The report as one JSON document (money in dollars, exact to the cent; shares as fractions)."""
    from bot.cli.ingest import status_document

    return {
        "from": report.start, "to": report.end, "metric": report.metric,
        "attribution": {**coverage_parts(report.attribution),
                        "months": [{"month": m.period, **coverage_parts(m)} for m in report.attribution.by_period]},
        "tags": [{"tag": t.tag, "share": None if t.share is None else round(t.share, 4),
                  "required_by": list(t.required_by)} for t in report.tags],
        "untagged": [{"provider": r.ProviderName, "sub_account_id": r.SubAccountId, "service": r.ServiceName,
                      "resource_id": r.ResourceId, "team": r.x_Team, "cost": cents(r.cost),
                      "missing_tags": r.missing_tags.split(", ") if r.missing_tags else []}
                     for r in report.untagged.itertuples()],
        "complete_through": report.complete_through,
        "sources": [status_document(s) for s in report.sources],
    }


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.1f} %"


def print_coverage(report: CoverageReport) -> None:
    """The report as terminal tables."""
    whole = coverage_parts(report.attribution)
    print(f"{report.metric} cost, {report.start or '-'} to {report.end or '-'}")
    print(f"\nattribution coverage: {_percent(report.attribution.share)} of {format_usd(whole['total'])} "
          f"allocated (direct {format_usd(whole['direct'])}, shared pools {format_usd(whole['shared'])}); "
          f"unallocated {format_usd(whole['unallocated'])}")
    months = [(m.period, coverage_parts(m)) for m in report.attribution.by_period]
    print_table(["month", "total", "direct", "shared", "unallocated", "coverage"],
                [[month, format_usd(p["total"]), format_usd(p["direct"]), format_usd(p["shared"]),
                  format_usd(p["unallocated"]), _percent(p["share"])] for month, p in months],
                right={1, 2, 3, 4, 5})
    print("\ntag coverage (taggable usage of the teams that require each tag):")
    if report.tags:
        print_table(["tag", "coverage", "required by"],
                    [[t.tag, _percent(t.share), ", ".join(t.required_by)] for t in report.tags], right={1})
    else:
        print("  no mandatory tags in teams.yml (mandatory_tags: [team, env])")
    print(f"\ntop {TOP_DRIVERS} untagged cost drivers:")
    if report.untagged.empty:
        print("  none")
    else:
        print_table(["cost", "provider", "account", "service", "resource", "owner", "missing"],
                    [[format_usd(r.cost), r.ProviderName, r.SubAccountId, r.ServiceName, r.ResourceId or "(none)",
                      r.x_Team, r.missing_tags] for r in report.untagged.itertuples()], right={0})
    print(f"\ndata complete through {report.complete_through or '-'}")
    for status in report.sources:
        partial = status.partial_days
        note = f"; partial {partial[0]}..{partial[-1]}" if len(partial) > 1 else (
            f"; partial {partial[0]}" if partial else "")
        failed = f"; last run failed: {status.last_error}" if status.last_run_status == "failed" else ""
        print(f"  {status.source}: through {status.last_day or '-'}, complete through "
              f"{status.complete_through or '-'}{note}{failed}")
