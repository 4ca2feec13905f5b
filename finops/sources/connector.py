"""The one interface every cloud cost connector speaks, and when to ask it for which days.

A connector pulls daily aggregates from a provider's own engine (Cost Explorer, Azure Query,
BigQuery, an S3 export) and returns them as a daily cost frame (:mod:`finops.model`). The caller
replaces exactly ``[start, end]`` of ``connector.source`` with that frame, so re-running a period
is idempotent.

Freshness has two sides, because providers both lag and restate:

- ``complete_through(today)``: the last day whose data is whole enough to analyze. Later days
  are *partial* (the provider has not finished loading them) and analyses must not read a low
  partial day as a drop.
- ``restate_days``: complete days the provider may still change (late usage, credits, discounts
  applied at invoice). They are fetched again on every run; older days are *closed* and never
  asked for again. That matters where asking costs money (Cost Explorer bills $0.01 per
  request) and where it costs quota (Azure's query API throttles).

:func:`days_to_fetch` turns those into the window of one run.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from datetime import date, timedelta

import pandas as pd

from finops.errors import CostbotError
from finops.model import DAY, aggregate_daily, conform_daily_frame

# First run: how far back to load so anomaly baselines and month-over-month answers have history.
# The first pull loads about 13 months: anomaly detection learns recurring monthly charges from the
# previous six months and needs ~320 days of history; forecasts back-test themselves on a year.
DEFAULT_BACKFILL_DAYS = 395
# Providers close the previous month's invoice in the first days of a month (AWS, Azure and GCP
# all apply credits, discounts and corrections then); until that day the whole month stays open.
DEFAULT_MONTH_CLOSE_DAYS = 5


class SourceError(CostbotError):
    """A connector could not fetch: bad or expired credentials, throttling, a server error.

    ``str(error)`` is one line, e.g. ``aws-ce:123456789012: AWS rejected the credentials
    (ExpiredTokenException)``. The caller records the failed run and keeps the data it had.
    """

    def __init__(self, source: str, reason: str) -> None:
        self.source, self.reason = source, reason
        super().__init__(f"{source}: {reason}")


def days_to_fetch(today: date, complete_through_known: date | None, restate_days: int, *,
                  backfill_days: int = DEFAULT_BACKFILL_DAYS,
                  month_close_days: int = DEFAULT_MONTH_CLOSE_DAYS) -> tuple[date, date]:
    """The inclusive ``(start, end)`` window one run should fetch.

    ``complete_through_known`` is the last complete day the previous successful run recorded
    (None on the first run, which loads ``backfill_days``). The window re-reads the last
    ``restate_days`` of those complete days, everything after them up to yesterday (partial
    days included, so they can be shown as partial), and during the first ``month_close_days``
    of a month the whole previous month, which the provider may still restate at invoice.
    Days before the window are closed and are not asked for again.
    """
    if restate_days < 0 or backfill_days < 1 or month_close_days < 0:
        raise ValueError("restate_days and month_close_days must be >= 0 and backfill_days >= 1")
    end = today - timedelta(days=1)
    if complete_through_known is None:
        start = today - timedelta(days=backfill_days)
    else:
        start = complete_through_known + timedelta(days=1 - restate_days)
    if today.day <= month_close_days:
        start = min(start, (today.replace(day=1) - timedelta(days=1)).replace(day=1))
    return min(start, end), end


class CostConnector(ABC):
    """A source of daily costs from one provider account, scope or table.

    Subclasses set ``source`` (a stable key, e.g. ``aws-ce:<payer account>``, ``azure:<scope>``,
    ``gcp:<table>``: the caller replaces this key's rows), ``lag_days`` and ``restate_days``.
    """

    source: str
    # Days after a day ends before the provider's data for it is complete.
    lag_days: int = 1
    # Complete days the provider may still restate: re-fetched on every run.
    restate_days: int = 3

    @abstractmethod
    def fetch_daily(self, start: date, end: date) -> pd.DataFrame:
        """Daily cost frame covering exactly ``[start, end]`` (inclusive), ``x_Team`` left "".

        Raises :class:`SourceError` when the provider cannot be read.
        """

    def complete_through(self, today: date) -> date:
        """The last day whose data is complete on ``today``; later days are partial."""
        return today - timedelta(days=1 + self.lag_days)

    def fetch_window(self, today: date, complete_through_known: date | None) -> tuple[date, date]:
        """The window this source should fetch on ``today``: :func:`days_to_fetch` with its restate days."""
        return days_to_fetch(today, complete_through_known, self.restate_days)


def check_window(start: date, end: date) -> None:
    """Refuse an empty or reversed window before any request is made."""
    if start > end:
        raise ValueError(f"start {start} is after end {end}")


def daily_frame_from_records(records: Iterable[Mapping[str, object]], start: date, end: date) -> pd.DataFrame:
    """Build a daily cost frame from per-group records (FOCUS column names), keeping ``[start, end]``.

    Records are conformed (missing dimensions become "") and summed to the daily series key, so
    a provider that returns the same series in several rows or pages yields one row per series.
    """
    return daily_window(pd.DataFrame.from_records(list(records)), start, end)


def daily_window(frame: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    """``frame`` (FOCUS columns, any granularity of rows per day) summed to the daily series key,
    keeping only the days in ``[start, end]``."""
    frame = conform_daily_frame(frame)
    days = frame[DAY]
    frame = frame[(days >= pd.Timestamp(start)) & (days <= pd.Timestamp(end))]
    return conform_daily_frame(aggregate_daily(frame))
