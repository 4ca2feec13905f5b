"""Daily costs by team, the month-end forecast and budgets, as every surface reads them.

``costbot forecast``, ``/cost forecast``, ``/cost budget``, the daily budget job, the digest and
App Home all go through :func:`load_forecast`, so they show the same numbers. The loaders read the
owners recorded at ingestion (the variance answers do the same): daily sums by team are grouped in
SQL, so 19 months of a large store stay a small frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd

from finops.errors import InputError
from finops.forecast import MonthForecast, forecast_month_end
from finops.model import ALLOCATION_RULE, DAY, MONEY, QUANTITIES, TEAM, UNALLOCATED
from finops.ownership import split_shared_costs
from finops.teams import TeamsConfig
from storage.costs import CostStore

# The forecast learns month patterns from 6 months and its interval from the 12 before this
# one, each of which needs its own 6 months of pattern: 19 months cover both.
HISTORY_MONTHS = 19


def load_team_daily(store: CostStore, teams: TeamsConfig, *, start: date | None, end: date | None,
                    extra: Sequence[str] = ()) -> pd.DataFrame:
    """Daily cost per team and charge category from ``start`` to ``end``, shared pools split.

    Columns: ChargePeriodStart, x_Team, x_AllocationRule, ChargeCategory, the FOCUS columns in
    ``extra`` (e.g. ServiceName), the money columns and quantities (float dollars).
    """
    keys = [DAY, TEAM, ALLOCATION_RULE, "ChargeCategory", *extra]
    frame = store.grouped_costs(by=keys, start=start, end=end)
    return split_shared_costs(frame[[*keys, *MONEY, *QUANTITIES]], teams)


def complete_through(store: CostStore, as_of: date) -> date | None:
    """The last complete day of cost data up to ``as_of`` (the sources' freshness, else the last day held)."""
    complete = store.complete_through()
    if complete is None:
        held = store.date_range()
        complete = held[1] if held else None
    return None if complete is None else min(complete, as_of)


def history_start(as_of: date, months: int = HISTORY_MONTHS) -> date:
    """The first day of the month ``months`` before the month of ``as_of``."""
    return (pd.Timestamp(as_of).to_period("M") - months).start_time.date()


def load_forecast(store: CostStore, teams: TeamsConfig, as_of: date) -> MonthForecast:
    """The month-end forecast of the month of ``as_of``, from data up to ``as_of`` only.

    InputError when the store holds no cost data yet.
    """
    complete = complete_through(store, as_of)
    if complete is None:
        raise InputError("no cost data yet: ingest some first (costbot ingest file PATH)")
    # The history runs back from the data's last complete day, not from as_of: a forecast asked
    # for a day long after the data stops still learns from the months before it.
    start = history_start(min(as_of, complete))
    daily = load_team_daily(store, teams, start=start, end=as_of)
    # Where the store's data begins (not the first row read): days from it with no row are $0,
    # days before it unknown (a first ingest from the 10th).
    held = store.date_range()
    data_from = max(held[0], start) if held else None
    return forecast_month_end(daily, as_of=as_of, complete_through=complete, data_from=data_from)


def budgets_of(teams: TeamsConfig) -> dict[str, float]:
    """Team -> monthly budget, for the teams of teams.yml that have one (in file order)."""
    return {t.name: t.budget_monthly for t in teams.teams if t.budget_monthly is not None}


def find_team(teams: TeamsConfig, name: str) -> str | None:
    """The team's name as teams.yml spells it (any case; ``unallocated`` too), or None."""
    by_folded = {t.casefold(): t for t in (*teams.team_names, UNALLOCATED)}
    return by_folded.get(name.strip().casefold())
