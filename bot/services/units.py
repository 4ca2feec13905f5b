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


def load_unit_costs(db: Database, teams: TeamsConfig, today: date, *, period: str = "month",
                    months: int = DEFAULT_MONTHS, team_daily: pd.DataFrame | None = None) -> pd.DataFrame:
    """Cost per unit per team, metric and period over the last ``months`` months of complete data.

    ``team_daily`` (from :func:`bot.services.forecast.load_team_daily`) saves a second read when
    the caller has it. Columns: those of :func:`finops.units.unit_costs`.
    """
    store = CostStore(db)
    through = complete_through(store, today)
    empty = unit_costs(pd.DataFrame(), pd.DataFrame(), through=today)
    if through is None:
        return empty
    start = (pd.Timestamp(through).to_period("M") - months).start_time.date()
    values = values_frame(UnitStore(db).values(start=start, end=through))
    if values.empty:
        return empty
    daily = team_daily if team_daily is not None else load_team_daily(store, teams, start=start, end=through)
    return unit_costs(daily, values, period=period, through=through)
