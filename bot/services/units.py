"""Cost per unit per team, metric and period, as the digest, App Home, the scorecard and
``costbot units show`` read it."""

from __future__ import annotations

from datetime import date

import pandas as pd

from bot.services.forecast import complete_through, load_team_daily
from finops.teams import TeamsConfig
from finops.units import unit_costs, values_frame
from storage.costs import CostStore
from storage.db import Database
from storage.units import UnitStore

DEFAULT_MONTHS = 6


def unit_cost_window(store: CostStore, today: date, *, months: int = DEFAULT_MONTHS) -> tuple[date, date] | None:
    """The days :func:`load_unit_costs` reads: from the 1st of the month ``months`` before the last
    complete day of cost data through that day; None without cost data."""
    through = complete_through(store, today)
    if through is None:
        return None
    return (pd.Timestamp(through).to_period("M") - months).start_time.date(), through


def load_unit_costs(db: Database, teams: TeamsConfig, today: date, *, period: str = "month",
                    months: int = DEFAULT_MONTHS, team_daily: pd.DataFrame | None = None) -> pd.DataFrame:
    """Cost per unit per team, metric and period over the last ``months`` months of complete data.

    ``team_daily`` (from :func:`bot.services.forecast.load_team_daily`) saves a second read when
    the caller has it. Columns: those of :func:`finops.units.unit_costs`. A week that begins
    before the window (the 1st of a month) is left out: only its days in the window have costs.
    """
    store = CostStore(db)
    window = unit_cost_window(store, today, months=months)
    empty = unit_costs(pd.DataFrame(), pd.DataFrame(), through=today)
    if window is None:
        return empty
    start, through = window
    values = values_frame(UnitStore(db).values(start=start, end=through))
    if values.empty:
        return empty
    daily = team_daily if team_daily is not None else load_team_daily(store, teams, start=start, end=through)
    return unit_costs(daily, values, period=period, through=through, since=start)
