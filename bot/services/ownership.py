"""Who owns the spend, as every surface reads it: coverage, the teams' month, and the stored owners.

``costbot coverage``, ``/cost coverage``, the maturity scorecard and the digest read
:func:`load_coverage`; ``costbot teams`` and ``/cost teams`` read :func:`load_team_spend`. Both
split the shared-cost pools of the current teams.yml (allocation runs per distinct series, so
applying the current file is cheap).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from finops.freshness import SourceStatus
from finops.model import ALLOCATION_RULE, DAY, DEFAULT_METRIC, TEAM, UNALLOCATED, metric_column, parse_tags
from finops.money import MICROS, cents, from_micros, split_named_to_cents, split_to_cents
from finops.ownership import (
    DRIVER_COLUMNS,
    DRIVER_KEYS,
    SHARED_RULE_PREFIX,
    Coverage,
    allocate_costs,
    allocation_fingerprint,
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
# Stored owners


def reallocate_stored_costs(store: CostStore, teams: TeamsConfig) -> int | None:
    """Re-apply ``teams`` to every stored series when its rules differ from the ones the stored
    owners follow; None when nothing was done, else how many series changed.

    Run at start-up (bot/context.py) and after every ingest, so everything that reads the stored
    owners (costs, anomalies, variance, forecasts) follows the current teams.yml, and a rule
    added there re-owns spend ingested before it. Allocation runs once per distinct series.
    A config without a single rule (no teams.yml configured) leaves the stored owners as the
    last teams.yml set them: ``costbot costs`` without ``--teams`` shows what ingest allocated.
    """
    if not _has_rules(teams):
        return None
    fingerprint = allocation_fingerprint(teams)
    if store.allocation_fingerprint() == fingerprint:
        return None
    return store.reassign_teams(allocate_costs(store.series(), teams), fingerprint=fingerprint)


def settle_owners_after_ingest(store: CostStore, teams: TeamsConfig) -> int | None:
    """After an ingest allocated its rows with ``teams``: the rest of the store follows the same
    rules (:func:`reallocate_stored_costs`). An ingest without rules wrote unallocated rows that
    follow no teams.yml, so the recorded fingerprint is dropped and the next start with a
    teams.yml re-allocates everything."""
    if _has_rules(teams):
        return reallocate_stored_costs(store, teams)
    store.forget_allocation()
    return None


def _has_rules(teams: TeamsConfig) -> bool:
    return any(team.match for team in teams.teams) or any(pool.match for pool in teams.shared_costs)


def spend_by(store: CostStore, teams: TeamsConfig, columns: Sequence[str], *, start: date | None = None,
             end: date | None = None, metric: str = DEFAULT_METRIC) -> pd.DataFrame:
    """The ``metric`` summed by ``columns`` (FOCUS names, ``month``, ``ChargePeriodStart`` or
    ``tag:KEY``), as exact integer micro-units in a ``micros`` column.

    When ``x_Team`` is one of the columns, shared pools are split between their teams (as in
    coverage and ``costbot teams``), so a team's figure is its direct spend plus its parts of the
    pools and ``unallocated`` is only the spend no rule or pool matched. Sums run in SQL; the
    split needs the day and the winning rule, which are grouped too and summed away after.
    """
    tags = [c for c in columns if c.startswith("tag:")]
    keys = [c for c in columns if not c.startswith("tag:")] + (["Tags"] if tags else [])
    split = TEAM in columns and bool(teams.shared_costs)
    if split:  # the split needs each row's day, winning rule and charge category (usage decides)
        keys += [k for k in (DAY, ALLOCATION_RULE, "ChargeCategory") if k not in keys]
    grouped = store.grouped_costs(by=keys, start=start, end=end)
    value = metric_column(metric)
    if split:
        grouped = split_shared_costs(grouped, teams)
    # Split parts carry float dollars cut from whole micro-units, so rounding back is exact.
    grouped["micros"] = np.rint(grouped[value].to_numpy(dtype=np.float64) * MICROS).astype(np.int64)
    for column in tags:
        codes, uniques = pd.factorize(grouped["Tags"])
        key = column[4:].casefold()
        values = np.array([_tag_value(str(text), key) for text in uniques] + [""], dtype=object)
        grouped[column] = values[codes]
    if grouped.empty:
        return pd.DataFrame({**{c: pd.Series(dtype=object) for c in columns},
                             "micros": pd.Series(dtype=np.int64)})
    if not columns:
        return pd.DataFrame({"micros": [int(grouped["micros"].sum())]})
    return grouped.groupby(list(columns), as_index=False, sort=False)["micros"].sum()


def _tag_value(text: str, key: str) -> str:
    """The value of tag ``key`` (case-insensitive) in canonical Tags text."""
    return next((value for name, value in parse_tags(text).items() if name.casefold() == key), "")


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
    # The total in cents as the split of the month's total gives it (None: rounded on its own).
    total_in_cents: Decimal | None = None

    @property
    def total(self) -> Decimal:
        return self.direct + self.shared

    def in_cents(self) -> tuple[Decimal, Decimal, Decimal]:
        """(direct, shared, total) rounded so that direct + shared == total to the cent."""
        total = cents(self.total) if self.total_in_cents is None else self.total_in_cents
        direct, shared = split_to_cents([self.direct, self.shared], total)
        return direct, shared, total


@dataclass(frozen=True)
class MonthSpend:
    """Spend per owner (teams of the file, plus ``unallocated``) from ``start`` to ``end``."""

    start: date
    end: date
    metric: str
    by_team: dict[str, TeamSpend]
    data_through: date | None = None  # the month's last day with cost data (None: none yet)
    complete_through: date | None = None  # the sources' last complete day, up to ``end``

    def of(self, team: str) -> TeamSpend:
        return self.by_team.get(team, TeamSpend(team, Decimal(0), Decimal(0)))

    def through_text(self) -> str:
        """``through 2026-11-15 (complete through 2026-11-14; 2026-11-15 still loading)``: how far
        the month-to-date figures go, not today's date (the data lags a day or two)."""
        if self.data_through is None:
            return f"no cost data for {self.start:%B %Y} yet"
        complete = self.complete_through if self.complete_through and self.complete_through >= self.start else None
        loading = self.start if complete is None else complete + timedelta(days=1)  # first day still loading
        if loading > self.data_through:
            return f"through {self.data_through}"
        days = str(loading) if loading == self.data_through else f"{loading} to {self.data_through}"
        complete_text = f"complete through {complete}; " if complete else ""
        return f"through {self.data_through} ({complete_text}{days} still loading)"


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
    # The owners' totals add up to the month's in cents, split as `costbot costs --by team` splits
    # them (largest first), so both print the same figure for a team.
    month_total = cents(sum((spend.total for spend in by_team.values()), Decimal(0)))
    for team, total in split_named_to_cents({t: spend.total for t, spend in by_team.items()}, month_total).items():
        by_team[team] = replace(by_team[team], total_in_cents=total)
    held = pd.to_datetime(frame[DAY]).max() if len(frame) else None
    complete = store.complete_through()
    return MonthSpend(start, today, metric, by_team, data_through=None if held is None else held.date(),
                      complete_through=None if complete is None else min(complete, today))


def budget_used(team: Team, spend: TeamSpend) -> float | None:
    """Month-to-date spend / monthly budget; None without a budget."""
    if not team.budget_monthly:
        return None
    return float(spend.total) / team.budget_monthly
