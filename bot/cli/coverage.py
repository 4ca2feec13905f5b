"""``costbot coverage``: who owns the spend (attribution coverage per month, shared pools split),
how much carries the mandatory tags, the top 20 untagged cost drivers, and how fresh each source is.

:func:`load_coverage` is also what ``/cost coverage`` answers from (handlers/costs.py). Owners
are worked out with the current teams.yml (allocation runs per distinct series, so this is
cheap), so a rule added to teams.yml shows in coverage at once, before any re-ingest.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import date

import pandas as pd

from bot.cli._common import UsageError, open_context, parse_date, print_json, print_table
from finops.model import DEFAULT_METRIC, METRICS, TEAM, UNALLOCATED
from finops.money import cents, format_usd, split_to_cents
from finops.ownership import (
    DRIVER_COLUMNS,
    DRIVER_KEYS,
    Coverage,
    allocate_costs,
    attribution_coverage,
    split_shared_costs,
    tag_coverage,
    untagged_cost_drivers,
)
from finops.teams import TeamsConfig
from jobs.ingest import SourceStatus, source_status
from storage.costs import CostStore

DEFAULT_MONTHS = 3
TOP_DRIVERS = 20


@dataclass(frozen=True)
class TagCoverage:
    """Share of taggable spend carrying ``tag``, over the teams that require it (None: no such spend)."""

    tag: str
    share: float | None
    required_by: tuple[str, ...]  # team names; "unallocated" when the top-level list requires it


@dataclass(frozen=True)
class CoverageReport:
    """Everything ``costbot coverage`` and ``/cost coverage`` show, for ``[start, end]``."""

    start: date | None
    end: date | None
    metric: str
    attribution: Coverage
    tags: tuple[TagCoverage, ...]
    untagged: pd.DataFrame  # finops.ownership.DRIVER_COLUMNS, biggest first
    sources: tuple[SourceStatus, ...]
    complete_through: date | None


def default_window(store: CostStore, months: int = DEFAULT_MONTHS) -> tuple[date, date] | None:
    """The last ``months`` calendar months of the data held (the last one up to its last day)."""
    held = store.date_range()
    if held is None:
        return None
    end = held[1]
    month = pd.Timestamp(end).to_period("M") - (months - 1)
    return max(month.start_time.date(), held[0]), end


def load_coverage(store: CostStore, teams: TeamsConfig, *, start: date | None = None, end: date | None = None,
                  metric: str = DEFAULT_METRIC, top: int = TOP_DRIVERS) -> CoverageReport:
    """Attribution and tag coverage of ``[start, end]`` (default: :func:`default_window`)."""
    if start is None or end is None:
        window = default_window(store)
        if window is not None:
            start, end = start or window[0], end or window[1]
    frame = store.load_daily_costs(start=start, end=end)
    # Pool rows become one row per team, so they count toward each team's tags and coverage.
    owned = split_shared_costs(allocate_costs(frame, teams), teams)
    coverage = attribution_coverage(owned, period="month", metric=metric)
    tags, drivers = _tag_coverage(owned, teams, metric, top)
    return CoverageReport(start, end, metric, coverage, tags, drivers, tuple(source_status(store)),
                          store.complete_through())


def _tag_coverage(frame: pd.DataFrame, teams: TeamsConfig, metric: str,
                  top: int) -> tuple[tuple[TagCoverage, ...], pd.DataFrame]:
    """Each mandatory tag over the spend of the teams that require it (a team may override the
    top-level list; unallocated spend follows the top-level list), and the top untagged drivers."""
    owners = list(dict.fromkeys(frame[TEAM])) if not frame.empty else []
    required = {team: teams.mandatory_tags_for(team) for team in [*teams.team_names, UNALLOCATED, *owners]}
    tags = list(dict.fromkeys(tag for tag_list in required.values() for tag in tag_list))
    results = []
    for tag in tags:
        requiring = tuple(team for team, tag_list in required.items()
                          if tag.casefold() in {t.casefold() for t in tag_list})
        subset = frame[frame[TEAM].isin(requiring)]
        results.append(TagCoverage(tag, tag_coverage(subset, [tag], metric=metric)[tag], requiring))
    by_list: dict[tuple[str, ...], list[str]] = {}
    for team, tag_list in required.items():
        if tag_list:
            by_list.setdefault(tuple(tag_list), []).append(team)
    drivers = [untagged_cost_drivers(frame[frame[TEAM].isin(group)], list(tag_list), n=top, metric=metric)
               for tag_list, group in by_list.items()]
    drivers = [d for d in drivers if not d.empty]
    if not drivers:
        return tuple(results), pd.DataFrame({c: pd.Series(dtype=float if c == "cost" else object)
                                             for c in DRIVER_COLUMNS})
    # A series split across teams with different tag lists comes back once per list: one line each.
    merged = pd.concat(drivers, ignore_index=True).groupby(list(DRIVER_KEYS), sort=False, as_index=False).agg(
        x_Team=(TEAM, lambda owners: ", ".join(sorted({o for text in owners for o in text.split(", ")}))),
        cost=("cost", "sum"),
        missing_tags=("missing_tags", lambda lists: ", ".join(
            tag for tag in tags if tag in {t for text in lists for t in text.split(", ")})))
    merged = merged.sort_values(["cost", *DRIVER_KEYS], ascending=[False, True, True, True, True],
                                kind="stable").head(top)
    return tuple(results), merged[list(DRIVER_COLUMNS)].reset_index(drop=True)


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


def coverage_parts(coverage: Coverage) -> dict[str, object]:
    """Total, direct, shared and unallocated in cents (the three parts add up to the total) and the share."""
    total = cents(coverage.total)
    direct, shared, unallocated = split_to_cents(
        [coverage.allocated_direct, coverage.allocated_shared, coverage.unallocated], total)
    return {"total": total, "direct": direct, "shared": shared, "allocated": direct + shared,
            "unallocated": unallocated, "share": None if coverage.share is None else round(coverage.share, 4)}


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
