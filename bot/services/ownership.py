"""Who owns the spend, as every surface reads it: coverage, the teams' month, and the stored owners.

``costbot coverage``, ``/cost coverage``, the maturity scorecard and the digest read
:func:`load_coverage`; ``costbot teams`` and ``/cost teams`` read :func:`load_team_spend`. Both
split the shared-cost pools of the current teams.yml (allocation runs per distinct series, so
applying the current file is cheap).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd

from finops.freshness import SourceStatus
from finops.model import ALLOCATION_RULE, DEFAULT_METRIC, TEAM, UNALLOCATED, metric_column
from finops.money import MICROS, cents, from_micros, split_to_cents
from finops.ownership import (
    DRIVER_COLUMNS,
    DRIVER_KEYS,
    SHARED_RULE_PREFIX,
    Coverage,
    allocate_costs,
    attribution_coverage,
    split_shared_costs,
    tag_coverage,
    untagged_cost_drivers,
)
from finops.teams import Team, TeamsConfig
from storage.costs import CostStore

DEFAULT_MONTHS = 3
TOP_DRIVERS = 20


# ---------------------------------------------------------------------------------------------
# Coverage


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
    return CoverageReport(start, end, metric, coverage, tags, drivers, tuple(store.source_status()),
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


def coverage_parts(coverage: Coverage) -> dict[str, object]:
    """Total, direct, shared and unallocated in cents (the three parts add up to the total) and the share."""
    total = cents(coverage.total)
    direct, shared, unallocated = split_to_cents(
        [coverage.allocated_direct, coverage.allocated_shared, coverage.unallocated], total)
    return {"total": total, "direct": direct, "shared": shared, "allocated": direct + shared,
            "unallocated": unallocated, "share": None if coverage.share is None else round(coverage.share, 4)}


# ---------------------------------------------------------------------------------------------
# The teams' month


@dataclass(frozen=True)
class TeamSpend:
    """One owner's spend in the month so far, exact (micro-dollar sums)."""

    team: str
    direct: Decimal
    shared: Decimal

    @property
    def total(self) -> Decimal:
        return self.direct + self.shared

    def in_cents(self) -> tuple[Decimal, Decimal, Decimal]:
        """(direct, shared, total) rounded so that direct + shared == total to the cent."""
        total = cents(self.total)
        direct, shared = split_to_cents([self.direct, self.shared], total)
        return direct, shared, total


@dataclass(frozen=True)
class MonthSpend:
    """Spend per owner (teams of the file, plus ``unallocated``) from ``start`` to ``end``."""

    start: date
    end: date
    metric: str
    by_team: dict[str, TeamSpend]

    def of(self, team: str) -> TeamSpend:
        return self.by_team.get(team, TeamSpend(team, Decimal(0), Decimal(0)))


def load_team_spend(store: CostStore, teams: TeamsConfig, today: date, *,
                    metric: str = DEFAULT_METRIC) -> MonthSpend:
    """This calendar month's spend so far per owner, allocated by the current teams.yml with
    shared pools split (so the parts add up to the month's total)."""
    start = today.replace(day=1)
    frame = split_shared_costs(allocate_costs(store.load_daily_costs(start=start, end=today), teams), teams)
    micros = np.rint(frame[metric_column(metric)].to_numpy(dtype=np.float64) * MICROS).astype(np.int64)
    shared = frame[ALLOCATION_RULE].astype(str).str.startswith(SHARED_RULE_PREFIX).to_numpy()
    sums = pd.DataFrame({"team": frame[TEAM].to_numpy(dtype=object), "direct": np.where(shared, 0, micros),
                         "shared": np.where(shared, micros, 0)}).groupby("team").sum()
    by_team = {team: TeamSpend(team, Decimal(0), Decimal(0)) for team in (*teams.team_names, UNALLOCATED)}
    for team, row in sums.iterrows():
        by_team[str(team)] = TeamSpend(str(team), from_micros(int(row["direct"])), from_micros(int(row["shared"])))
    return MonthSpend(start, today, metric, by_team)


def budget_used(team: Team, spend: TeamSpend) -> float | None:
    """Month-to-date spend / monthly budget; None without a budget."""
    if not team.budget_monthly:
        return None
    return float(spend.total) / team.budget_monthly
