"""Month-end cost forecasts with an 80 % interval, per team and for the organisation; budget status.

A team's month-end total is what it has spent on the month's *complete* days plus a forecast of the
days still to come (days after ``complete_through`` are unknown, not zero: providers restate the
last day or two). The forecast of the remaining days has two parts, each learned from the team's
own history, so nothing is tuned to one data set:

**The daily run rate** (charge category ``Usage``), multiplicative:
``usage(t) = level * exp(growth * (t - last complete day)) * weekday(t) * month_position(t)``.

- *weekday*: each day's ratio to its centred 7-day mean, median per weekday over the last 16 weeks
  (medians, so a spike or a holiday does not bend the pattern; weekly patterns move slowly);
  weeks that began before the team's first spend are no weeks of its pattern and are left out;
- *month_position*: day-of-month effects such as month-end batch jobs or month-start reports. Each
  day of the previous 6 complete months is divided by its weekday factor and by its month's median
  level; the median of that ratio per position is kept only where it stands clear of the noise
  (more than 3 standard errors from 1), so quiet positions stay exactly 1. Days 1-14 are counted
  from the month's start and later days from its end, so "the last day" is one position in
  February and in March;
- *level*: the level on the last complete day, from the last 7, 14 and 28 complete days
  deseasonalised and brought to that day's terms by the growth, the three levels averaged: a
  short window follows a change sooner, a long one averages more noise away, and an equal-weight
  combination needs nothing fitted. Each leaves out days more than 3 day-to-day standard
  deviations away from the median of the last two weeks or of its window if longer, so a 1-3 day
  spike or dip does not move it; days whose weekday or month position never has spend (a factor
  of 0) carry no level and are skipped. When the latest 4 to 21 days form a new level (their mean
  is more than 4 standard errors from the median of up to two weeks before them, and every one
  of them is nearer their median than the old level, which a spike followed by ordinary days is
  not; at least 11 days of history are needed), spend has moved and every window's level is the
  mean of those days, spikes among them left out;
- *intermittent spend* (no spend on more than a fifth of the days of its usual weekdays, in quiet
  spells of less than a week: a batch job on random days; a week or more without spend is a pause
  or a monthly rhythm, which the level and the month positions follow): the medians above lean
  towards zero there, so it is forecast at its mean daily rate instead: the mean of its last 7,
  14 and 28 days, quiet days included, nothing left out, with no weekday, month-position or
  growth pattern (on random days they are noise);
- *growth*: the median month-over-month growth of the deseasonalised monthly median level over
  the previous 6 months, per day. Monthly medians make it immune to spikes and to a shift inside
  one month, and it moves the forecast by a month's growth at most, which is the damping.

**Calendar charges** (every other charge category: ``Purchase`` fees and commitments, ``Tax``,
``Credit``, ``Adjustment``). Looking at the previous 6 complete months, a charge *recurs* at a
calendar position when it appeared there in more than half of them. Each occurrence is anchored
to the month's start (the 1st, the 15th) or to its end (the last day) by whichever anchoring repeats
more often, so a fee on the 1st and a tax on the last day are both found in months of any
length. The amount of a recurring charge is predicted by whichever of three rules would have
predicted the previous months best: the same amount as last month (fees), last month's ratio to
the team's own usage times this month's usage (a tax booked per team), or last month's ratio to
the organisation's usage times this month's (a tax or support fee booked to a shared account).
Charges that do not recur (one-off credits, refunds) are forecast as zero, their median; their
effect is part of the error the interval learns.

**The organisation** is the sum of the teams.

**The interval** comes from the model's own errors: the same forecast is made at the same number
of remaining days (and 3 days either side) in each of the previous 12 months, using only the
data before each of those days, and compared with what those months really totalled (the
remaining days count from the last complete day: data that stops before the month is matched by
forecasts made from the previous month, so a late source gets the interval of forecasting that
far ahead). Errors are expressed per remaining day per dollar of recent daily spend, so that
months of different size and different numbers of remaining days pool. Data that does not reach
the month before the forecast month is refused (InputError): too old to say anything of it. From K past months the interval is
``centre +- t(K-1) * sqrt(1 + 1/K) * spread`` (centre: the median error; spread: the mean absolute
deviation scaled to a standard deviation, taken on each side of the centre separately because
unforeseen spend is more often a rise than a fall; t: Student's quantile for the coverage), the
textbook prediction interval for one more draw, so a short history gives a honestly wider interval. The
organisation's errors are the sums of the teams' errors in the same past forecast, so its interval
reflects how teams' errors offset each other instead of adding team intervals. With no past month
to learn from (less than two months of history) the interval is the point itself and
``interval_months`` is 0.

Budgets: :func:`budget_status` rates each team's forecast against its monthly budget ("warning"
from 80 %, "over" from 100 %); :func:`level_rose` tells the bot when to alert, so one alert is
posted when the level rises and later changes only update it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd

from finops.errors import InputError
from finops.model import DAY, TEAM, UNALLOCATED
from finops.money import cents, split_to_cents

CHARGE_CATEGORY = "ChargeCategory"
USAGE = "Usage"

BUDGET_LEVELS: tuple[str, ...] = ("ok", "warning", "over")
BUDGET_WARNING_SHARE = 0.8

# Windows of the model, in days or months. They express how quickly cloud spend changes (weeks)
# and how much history a monthly pattern needs (months); they are not fitted to any data set.
WEEKDAY_WINDOW_DAYS = 112
LEVEL_WINDOW_DAYS = 7
# The level is the mean of the estimates over these windows (see _current_levels).
LEVEL_WINDOWS_DAYS = (7, 14, 28)
NOISE_WINDOW_DAYS = 28
# A day this far from the usual level (in day-to-day noise) is left out of the level.
SHIFT_SIGMAS = 3.0
# The latest SHIFT_MIN_DAYS..SHIFT_MAX_DAYS days are a new level when their mean is SHIFT_T standard
# errors from the median of the days before (at least SHIFT_MIN_BEFORE_DAYS of them). Measured on
# 28 days of independent Gaussian noise, with every run length tried and the noise estimated, a
# "new level" is found about once in 400 forecasts. On spend that wanders (autocorrelated days)
# it is found more often, and there following the latest days is what the persistence calls for.
# SHIFT_MAX_DAYS leaves SHIFT_MIN_BEFORE_DAYS of the NOISE_WINDOW_DAYS before the run.
SHIFT_MIN_DAYS = 4
SHIFT_MIN_BEFORE_DAYS = 7
SHIFT_MAX_DAYS = NOISE_WINDOW_DAYS - SHIFT_MIN_BEFORE_DAYS
SHIFT_T = 4.0
PATTERN_MONTHS = 6
ERROR_MONTHS = 12
ERROR_OFFSETS_DAYS = 3
SCALE_WINDOW_DAYS = 28
# A month position's effect is kept when it is this many standard errors away from "no effect".
POSITION_EFFECT_Z = 3.0

# Spend is intermittent when more than this share of the days of its usual weekdays have none
# (over the last WEEKDAY_WINDOW_DAYS). The run-rate model's medians assume a typical day has
# spend; as quiet days become common, a window's median leans towards zero, ordinary spending
# days read as spikes and a few quiet days in a row as a new level of zero. Measured (day-15
# forecasts of 17 months summed, against the real totals) on spend on a random 10 / 30 / 60 % of
# days: 0.63 / 0.80 / 0.93 with the medians, 1.02 / 1.06 / 0.99 at the mean rate; at 90 % of days
# the medians are unbiased. A fifth sits between: one quiet day in ten is an outage the medians
# ride out. Intermittent spend is forecast at its mean daily rate (see _remaining_forecast).
INTERMITTENT_ZERO_SHARE = 0.2
# ...counting only quiet spells shorter than a week (see _in_long_quiet_runs).
INTERMITTENT_MAX_QUIET_DAYS = 7

# Days 1..FROM_START_DAYS are positioned from the month's start, later days from its end.
FROM_START_DAYS = 14
_SLOTS = 31


# ----------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class ForecastRange:
    """A month-end total: the forecast, its interval, and what is already spent."""

    forecast: float
    low: float
    high: float
    actual_to_date: float

    def as_json(self) -> dict[str, float]:
        """``{"forecast", "low", "high"}`` rounded to cents."""
        return {"forecast": _json_cents(self.forecast), "low": _json_cents(self.low),
                "high": _json_cents(self.high)}


@dataclass(frozen=True)
class TeamForecast:
    """One team's month-end forecast."""

    team: str
    forecast: float
    low: float
    high: float
    actual_to_date: float


@dataclass(frozen=True)
class MonthForecast:
    """Month-end totals of one month, forecast on ``as_of`` from days up to ``complete_through``."""

    month: str  # "YYYY-MM"
    as_of: date
    complete_through: date
    coverage: float  # the probability the intervals are meant to hold the outcome
    interval_months: int  # past months the interval learned from (0: low = high = forecast)
    org: ForecastRange
    teams: tuple[TeamForecast, ...]
    # First days of the month before the cost data begins (a first ingest from the 10th: 9),
    # estimated at the month's usage rate; a total that includes them is never final.
    estimated_first_days: int = 0

    @property
    def totals_final(self) -> bool:
        """Whether the totals are the month's actual spend: every day of it is in the data."""
        return self.month_complete and not self.estimated_first_days

    @property
    def month_complete(self) -> bool:
        """Whether the data covers the whole month: the totals are final, with no interval."""
        return self.complete_through >= pd.Period(self.month, freq="M").end_time.date()

    def team(self, name: str) -> TeamForecast | None:
        """The forecast of team ``name``, or None when it has no spend this month."""
        return next((t for t in self.teams if t.team == name), None)

    def to_json(self, budgets: Mapping[str, float] | None = None) -> dict:
        """The document ``costbot forecast --json`` prints (numbers rounded to cents).

        Exactly the documented keys (scripts may check them strictly): how far the data goes is in
        the table and the messages, not here.

        ``budgets`` maps team names to monthly budgets; teams without one get ``null``.
        """
        budgets = budgets or {}
        return {
            "as_of": self.as_of.isoformat(),
            "month": self.month,
            "org": self.org.as_json(),
            "teams": [
                {"team": t.team, "forecast": _json_cents(t.forecast), "low": _json_cents(t.low),
                 "high": _json_cents(t.high),
                 "budget": _json_cents(budgets[t.team]) if t.team in budgets else None}
                for t in self.teams
            ],
        }


@dataclass(frozen=True)
class BudgetStatus:
    """A team's forecast against its monthly budget."""

    team: str
    budget: float
    forecast: float
    low: float
    high: float
    actual_to_date: float
    share: float  # forecast / budget (inf when the budget is 0 and there is spend)
    level: str  # one of BUDGET_LEVELS


def _json_cents(amount: float) -> float:
    return float(cents(amount))


# ----------------------------------------------------------------------------------------------
# Public functions


def forecast_month_end(daily: pd.DataFrame, *, as_of: date, complete_through: date | None = None,
                       group: str | None = TEAM, metric: str = "EffectiveCost",
                       coverage: float = 0.8, data_from: date | None = None) -> MonthForecast:
    """Forecast the month-end totals of the month containing ``as_of``, per group and for the org.

    ``daily`` is a daily cost frame (all charge categories, history before the month included).
    Only rows up to and including ``as_of`` are read, and of those only days up to
    ``complete_through`` (default: the last day with data, at most ``as_of``); later days of the
    month are forecast. ``group`` is the column teams are read from (None: the org only).
    ``coverage`` is the probability the interval is meant to hold the outcome. ``data_from`` is
    the first day the cost data covers (default: the first day with a row); days from it without
    a row are $0, days before it unknown. See the module docstring for the model.
    """
    if not 0 < coverage < 1:
        raise ValueError(f"coverage must be between 0 and 1, not {coverage}")
    history = _history(daily, as_of=as_of, complete_through=complete_through, group=group, metric=metric,
                       data_from=data_from)
    c = history.complete_index
    month_end = history.month_end_index(history.as_of_index)
    month_start = month_end - history.days_in_month[month_end] + 1
    previous_month_start = month_start - int(history.days_in_month[month_start - 1]) if month_start > 0 else 0
    if c < previous_month_start:
        # A source late by weeks still gives a forecast (and a wider interval); data that does not
        # reach the month before says nothing about this one any more.
        raise InputError(f"the cost data is complete through {history.date(c).isoformat()}, before "
                         f"{history.date(previous_month_start):%B %Y}: too old to forecast "
                         f"{history.date(month_end):%B %Y} from: ingest newer cost data first")
    elapsed_end = max(c, month_start - 1)
    # Cost data that begins after the month did (a first ingest from the 10th) leaves its first
    # days unknown, not free: they are estimated at the month's daily usage rate. Only usage: a
    # fee or tax seen on a later day is not a daily rate (and with no month before, which days
    # carry such charges cannot be told).
    unknown_first_days = int(max(0, -month_start))

    spent = history.total[max(0, month_start):elapsed_end + 1].sum(axis=0)
    remaining_days = month_end - elapsed_end
    interval_months = 0
    if remaining_days == 0:
        observed_days = elapsed_end - max(0, month_start) + 1
        usage_rate = history.usage[max(0, month_start):elapsed_end + 1].sum(axis=0) / observed_days
        team_f = team_lo = team_hi = spent + usage_rate * unknown_first_days
        org_f = org_lo = org_hi = float(team_f.sum())
    else:
        # Unknown first days imply no month before in the data, so the rest is usage alone.
        rest = _remaining_forecast(history, c, month_end)
        team_f = spent + rest + rest / remaining_days * unknown_first_days
        org_f = float(team_f.sum())
        errors, months = _past_errors(history, c, month_end)
        interval_months = len(np.unique(months))
        offsets = _interval_offsets(errors, months, coverage) * _error_scale(history, c, month_end - c)
        point = np.append(team_f, org_f)
        low, high = np.minimum(point, point + offsets[0]), np.maximum(point, point + offsets[1])
        team_lo, team_hi, org_lo, org_hi = low[:-1], high[:-1], low[-1], high[-1]

    # In cents, the teams' lines add up to the org's line (largest remainder, as `costbot costs`
    # splits a total), so the same month to date reads the same everywhere.
    org_point, org_spent = cents(org_f), cents(float(spent.sum()))
    point_cents = split_to_cents(list(team_f), org_point)
    spent_cents = split_to_cents(list(spent), org_spent)
    teams = tuple(
        TeamForecast(team=name, forecast=float(point_cents[i]), actual_to_date=float(spent_cents[i]),
                     **_interval_cents(point_cents[i], team_lo[i], team_hi[i]))
        for i, name in enumerate(history.groups)
        if group is not None and (point_cents[i] or spent_cents[i])
    )
    return MonthForecast(
        month=history.date(month_end).strftime("%Y-%m"), as_of=as_of,
        complete_through=history.date(c), coverage=coverage, interval_months=interval_months,
        org=ForecastRange(forecast=float(org_point), actual_to_date=float(org_spent),
                          **_interval_cents(org_point, org_lo, org_hi)),
        teams=teams, estimated_first_days=unknown_first_days,
    )


def _interval_cents(point: Decimal, low: float, high: float) -> dict[str, float]:
    """``low`` and ``high`` in cents, never on the wrong side of the point (itself in cents); no
    interval (a complete month, or too little history) is the point itself, not a cent either
    side of it where the point was split to cents from the org's total."""
    if low == high:
        return {"low": float(point), "high": float(point)}
    return {"low": float(min(cents(low), point)), "high": float(max(cents(high), point))}


def naive_month_end(daily: pd.DataFrame, *, as_of: date, complete_through: date | None = None,
                    group: str | None = TEAM, metric: str = "EffectiveCost") -> MonthForecast:
    """The baseline forecast: month-to-date x days in the month / complete days elapsed.

    Same inputs and result type as :func:`forecast_month_end`; the interval is the point itself.
    With no complete day of the month yet, the forecast is the month-to-date (zero).
    """
    history = _history(daily, as_of=as_of, complete_through=complete_through, group=group, metric=metric)
    month_end = history.month_end_index(history.as_of_index)
    days = int(history.days_in_month[month_end])
    month_start = month_end - days + 1
    elapsed_end = max(history.complete_index, month_start - 1)
    elapsed = elapsed_end - month_start + 1
    spent = history.total[month_start:elapsed_end + 1].sum(axis=0)
    team_f = spent * days / elapsed if elapsed else spent
    teams = tuple(
        TeamForecast(team=name, forecast=float(team_f[i]), low=float(team_f[i]), high=float(team_f[i]),
                     actual_to_date=float(spent[i]))
        for i, name in enumerate(history.groups)
        if group is not None and abs(spent[i]) >= 0.005
    )
    org = float(team_f.sum())
    return MonthForecast(
        month=history.date(month_end).strftime("%Y-%m"), as_of=as_of,
        complete_through=history.date(history.complete_index), coverage=0.0, interval_months=0,
        org=ForecastRange(forecast=org, low=org, high=org, actual_to_date=float(spent.sum())),
        teams=teams,
    )


def budget_status(forecast: MonthForecast, budgets: Mapping[str, float]) -> list[BudgetStatus]:
    """Each budgeted team's forecast against its budget, in the order of ``budgets``.

    ``level`` is "over" when the forecast reaches the budget, "warning" when it reaches 80 % of
    it, else "ok". A budgeted team with no spend this month is "ok" at zero.
    """
    statuses = []
    for team, budget in budgets.items():
        if budget < 0:
            raise InputError(f"the monthly budget of team {team!r} is negative", value=budget)
        found = forecast.team(team)
        f, lo, hi, spent = ((found.forecast, found.low, found.high, found.actual_to_date)
                            if found else (0.0, 0.0, 0.0, 0.0))
        # In whole cents: $0.24 of a $0.30 budget is 80 % (as floats, 0.7999999999999999).
        forecast_cents, budget_cents = cents(f), cents(budget)
        exact = forecast_cents / budget_cents if budget_cents else Decimal("Infinity" if forecast_cents > 0 else 0)
        level = "over" if exact >= 1 else "warning" if exact >= Decimal(str(BUDGET_WARNING_SHARE)) else "ok"
        share = float(exact)
        statuses.append(BudgetStatus(team=team, budget=float(budget), forecast=f, low=lo, high=hi,
                                     actual_to_date=spent, share=share, level=level))
    return statuses


def level_rose(previous: str | None, current: str) -> bool:
    """Whether a budget level change deserves a new alert: only when it rises (ok -> warning -> over).

    ``previous`` is None when the team had no status yet this month (treated as "ok").
    """
    return BUDGET_LEVELS.index(current) > BUDGET_LEVELS.index(previous or "ok")


# ----------------------------------------------------------------------------------------------
# History as dense arrays


@dataclass(frozen=True)
class _History:
    """Complete days as arrays: row = day since ``start``, column = group.

    Calendar arrays run to the end of the as-of month; cost arrays stop at the last complete day.
    """

    start: pd.Timestamp
    groups: tuple[str, ...]
    usage: np.ndarray  # (days, groups): charge category Usage
    calendar_charges: np.ndarray  # (categories, days, groups): every other category
    total: np.ndarray  # (days, groups): all categories
    complete_index: int
    as_of_index: int
    weekday: np.ndarray  # calendar arrays, (calendar days,)
    day_of_month: np.ndarray
    days_in_month: np.ndarray
    slot: np.ndarray  # month position of the run-rate pattern
    fits: dict = field(default_factory=dict, repr=False, compare=False)

    def date(self, index: int) -> date:
        return (self.start + pd.Timedelta(days=int(index))).date()

    def month_end_index(self, index: int) -> int:
        return int(index + self.days_in_month[index] - self.day_of_month[index])

    def calendar_fit(self, months: tuple[tuple[int, int], ...]) -> _CalendarFit:
        """The calendar-charge model of these months (memoised: the interval's backtest reuses it)."""
        if months not in self.fits:
            self.fits[months] = _fit_calendar(self, months)
        return self.fits[months]

    def previous_months(self, before_index: int, count: int) -> tuple[tuple[int, int], ...]:
        """(first, last) index of up to ``count`` complete months ending before ``before_index``."""
        end = before_index - 1
        if end >= 0 and self.day_of_month[end] != self.days_in_month[end]:
            end -= int(self.day_of_month[end])  # the month of ``end`` is not complete: step back
        months = []
        while len(months) < count and end >= 0:
            first = end - int(self.days_in_month[end]) + 1
            if first < 0:
                break  # history starts inside this month
            months.append((first, end))
            end = first - 1
        return tuple(months[::-1])


def _history(daily: pd.DataFrame, *, as_of: date, complete_through: date | None, group: str | None,
             metric: str, data_from: date | None = None) -> _History:
    missing = [c for c in (DAY, CHARGE_CATEGORY, metric, *([group] if group else [])) if c not in daily]
    if missing:
        raise InputError("the daily cost frame lacks a column the forecast needs", column=missing[0])
    days = pd.to_datetime(daily[DAY])
    as_of_ts = pd.Timestamp(as_of)
    known = days <= as_of_ts
    if not known.any():
        raise InputError(f"no cost data on or before {as_of.isoformat()}: nothing to forecast from")
    last_day = days[known].max()
    complete_ts = min(pd.Timestamp(complete_through), as_of_ts) if complete_through else min(last_day, as_of_ts)
    rows = known & (days <= complete_ts)
    frame = pd.DataFrame({
        "day": days[rows],
        "group": _group_labels(daily.loc[rows, group], group) if group else "all",
        "category": daily.loc[rows, CHARGE_CATEGORY].astype(str),
        "cost": pd.to_numeric(daily.loc[rows, metric]).fillna(0.0),
    })
    if frame.empty:
        raise InputError(f"no complete day of cost data on or before {complete_ts.date().isoformat()}")
    # The data's coverage, not its first row, dates its start: a first day with no spend is $0.
    start = min(frame["day"].min(), pd.Timestamp(data_from)) if data_from else frame["day"].min()
    calendar_days = pd.date_range(start, as_of_ts + pd.offsets.MonthEnd(0), freq="D")
    complete_index = int((complete_ts - start).days)
    groups = tuple(sorted(frame["group"].unique()))
    categories = [USAGE, *sorted(set(frame["category"].unique()) - {USAGE})]
    cube = (frame.groupby(["category", "day", "group"])["cost"].sum()
            .reindex(pd.MultiIndex.from_product([categories, calendar_days[:complete_index + 1], groups]),
                     fill_value=0.0)
            .to_numpy().reshape(len(categories), complete_index + 1, len(groups)))
    dom = calendar_days.day.to_numpy()
    dim = calendar_days.days_in_month.to_numpy()
    from_end = dim - dom + 1
    return _History(
        start=start, groups=groups, usage=cube[0], calendar_charges=cube[1:], total=cube.sum(axis=0),
        complete_index=complete_index, as_of_index=int((as_of_ts - start).days),
        weekday=calendar_days.day_of_week.to_numpy(), day_of_month=dom, days_in_month=dim,
        slot=np.where(dom <= FROM_START_DAYS, dom - 1, _SLOTS - from_end),
    )


def _group_labels(values: pd.Series, group: str) -> pd.Series:
    """Group names as strings; rows no allocation claimed ("" in the team column) are unallocated."""
    labels = values.fillna("").astype(str)
    return labels.mask(labels == "", UNALLOCATED) if group == TEAM else labels


# ----------------------------------------------------------------------------------------------
# The point forecast of the remaining days


def _remaining_forecast(h: _History, c: int, month_end: int) -> np.ndarray:
    """Forecast per group of the days after ``c`` up to ``month_end``, from days ``<= c`` only."""
    month_start = month_end - int(h.days_in_month[month_end]) + 1
    first = max(c + 1, month_start)
    days = np.arange(first, month_end + 1)
    usage = h.usage[:c + 1]
    intermittent = _intermittent(usage, h.weekday[:c + 1])
    weekday = _weekday_factors(usage, h.weekday[:c + 1], flat=intermittent)
    months = h.previous_months(min(c + 1, month_start), PATTERN_MONTHS)
    position, month_levels = _position_factors(h, usage, weekday, months, flat=intermittent)
    recent = np.arange(max(0, c + 1 - NOISE_WINDOW_DAYS), c + 1)
    seasonal = weekday[h.weekday[recent]] * position[h.slot[recent]]
    # A weekday or month position that never has spend (weekends off, nothing on the 1st) says
    # nothing about the level: NaN, which the level leaves out.
    with np.errstate(divide="ignore", invalid="ignore"):
        deseasonalised = np.where(seasonal > 0, usage[recent] / np.where(seasonal > 0, seasonal, 1.0), np.nan)
    # Intermittent spend's monthly means swing with its spending days: no growth can be told.
    growth = np.where(intermittent, 0.0, _daily_growth(month_levels, months))
    # Past days are brought to today's terms by the growth, so a steady trend is not a new level.
    # The level is the mean of the levels over several windows: a short window follows a change
    # sooner, a long one averages more noise away, and which wins depends on the team and the
    # month. An equal-weight combination needs nothing fitted (picking the window from a team's
    # own past months was tried: a dozen months are too few to pick reliably).
    today_terms = deseasonalised * np.exp(np.outer(np.arange(len(recent))[::-1], growth))
    level = _current_levels(today_terms, LEVEL_WINDOWS_DAYS).mean(axis=0)
    # Intermittent spend: the mean rate of each window, quiet days included, nothing left out (its
    # spending days are not spikes, nor its quiet days a new level).
    known = np.isfinite(today_terms)
    plain = np.array([_masked_mean(today_terms[-w:], known[-w:]) for w in LEVEL_WINDOWS_DAYS])
    level = np.where(intermittent, np.nan_to_num(plain, nan=0.0).mean(axis=0), level)
    usage_rest = level * np.exp(np.outer(days - c, growth)) * weekday[h.weekday[days]] * position[h.slot[days]]

    if not months:
        return usage_rest.sum(axis=0)
    usage_month = h.usage[month_start:c + 1].sum(axis=0) + usage_rest.sum(axis=0)
    return usage_rest.sum(axis=0) + _calendar_charges(h.calendar_fit(months), h, days, usage_month)


def _current_levels(deseasonalised: np.ndarray, windows: tuple[int, ...]) -> np.ndarray:
    """(windows, groups): today's run-rate level per window, from days in today's terms.

    Normally the mean of the last ``window`` days. Days that stand out from the median of the
    last two weeks (or of the window, when longer) by more than ``SHIFT_SIGMAS`` day-to-day noise
    are left out, so a 1-3 day spike or dip does not move the level. When spend has moved to a
    new level (:func:`_new_level_days`), every window's level is the mean of the days since.
    """
    groups = deseasonalised.shape[1]
    known = np.isfinite(deseasonalised)
    if not known.any():
        return np.zeros((len(windows), groups))
    noise = _day_to_day_noise(deseasonalised)
    shifted = _new_level_days(deseasonalised, noise)
    levels = []
    for window in windows:
        lookback = deseasonalised[-max(2 * LEVEL_WINDOW_DAYS, window):]
        days_ago = np.arange(len(lookback))[::-1, None]
        in_window = (days_ago < window) & np.isfinite(lookback)
        with np.errstate(invalid="ignore"):
            usual = np.abs(lookback - _nanmedian(lookback)) <= SHIFT_SIGMAS * noise
        used = in_window & usual
        used = np.where(used.any(axis=0), used, in_window)  # every day stands out: take them all
        levels.append(_masked_mean(lookback, used))
    # A new level: the mean of its days, leaving out those far from their median (a spike in it).
    run = np.arange(len(deseasonalised))[::-1, None] < shifted
    with np.errstate(invalid="ignore"):
        usual_in_run = run & (np.abs(deseasonalised - _nanmedian(np.where(run, deseasonalised, np.nan)))
                              <= SHIFT_SIGMAS * noise)
    since_shift = _masked_mean(deseasonalised, np.where(usual_in_run.any(axis=0), usual_in_run, run))
    levels = np.where(shifted > 0, since_shift, np.array(levels))
    return np.nan_to_num(levels, nan=0.0)


def _day_to_day_noise(values: np.ndarray) -> np.ndarray:
    """Per group: the day-to-day noise (a standard deviation) of a series, NaN days skipped.

    From day-to-day differences, so a level shift counts once, and their median, so it does not
    count much. When most days repeat the day before exactly (the median difference is 0 but some
    are not), the mean absolute difference is used instead, scaled the same way for normal noise.
    """
    if len(values) < 3:
        return np.zeros(values.shape[1])
    diffs = np.abs(np.diff(values, axis=0))
    median = _nanmedian(diffs)
    mean = _masked_mean(np.nan_to_num(diffs), np.isfinite(diffs))  # NaN for a group with no pair of days
    noise = np.where(median > 0, 1.4826 * median, math.sqrt(math.pi / 2) * np.nan_to_num(mean)) / math.sqrt(2)
    return np.nan_to_num(noise)


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per column: the mean of ``values`` where ``mask`` is set (NaN where nothing is)."""
    count = mask.sum(axis=0)
    total = np.where(mask, values, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _new_level_days(deseasonalised: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Per group: how many of the latest days form a new level (0: none).

    A candidate is each run of the latest ``SHIFT_MIN_DAYS`` to ``SHIFT_MAX_DAYS`` days, against
    the median of up to two weeks before it (at least ``SHIFT_MIN_BEFORE_DAYS``; NaN days, which
    carry no value, are skipped on both sides). It is a new level when the run's mean differs from
    that median by more than ``SHIFT_T`` standard errors (day-to-day noise over both sides' day
    counts, as for a difference of means) and every day of the run is nearer the run's median than
    the old median: a spike followed by ordinary days fails the second test (the ordinary days are
    nearer the old level), a shift whose days wobble around the new level passes it. Of the
    candidates that pass, the clearest (largest t) wins.
    """
    n, groups = deseasonalised.shape
    ks = np.arange(SHIFT_MIN_DAYS, min(SHIFT_MAX_DAYS, n - SHIFT_MIN_BEFORE_DAYS) + 1)
    if len(ks) == 0:
        return np.zeros(groups, dtype=int)
    # All candidates at once: axis 0 is the run length k.
    known = np.isfinite(deseasonalised)
    days_known = np.cumsum(known[::-1], axis=0)[ks - 1]  # days with a value in each run
    with np.errstate(divide="ignore", invalid="ignore"):
        new = np.cumsum(np.where(known, deseasonalised, 0.0)[::-1], axis=0)[ks - 1] / days_known
    before_days = 2 * LEVEL_WINDOW_DAYS
    padded = np.vstack([np.full((before_days, groups), np.nan), deseasonalised])
    # The days before a run of k: rows n-k-before_days .. n-k-1, i.e. padded rows n-k .. n-k+before_days-1.
    before = np.stack([padded[n - k:n - k + before_days] for k in ks], axis=1)  # (before_days, K, groups)
    old = _nanmedian(before)
    count = np.sum(np.isfinite(before), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.abs(new - old) / (noise * np.sqrt(1 / days_known + 1 / count))
        t = np.where(noise > 0, t, np.where(new != old, np.inf, 0.0))  # noiseless: any change is one
        in_run = np.arange(n)[None, :] >= (n - ks)[:, None]  # (K, n)
        # The run's median, not its mean, is the new level here: a spike in a shift must not
        # pull the centre so far that the shift's ordinary days look nearer the old level.
        centre = _nanmedian(np.where(in_run.T[:, :, None], deseasonalised[:, None], np.nan))
        nearer_new = np.abs(deseasonalised[None] - centre[:, None]) < np.abs(deseasonalised[None] - old[:, None])
    apart = np.all(nearer_new | ~in_run[:, :, None] | ~known[None], axis=1)
    enough = (days_known >= SHIFT_MIN_DAYS) & (count >= SHIFT_MIN_BEFORE_DAYS)
    t = np.where(apart & enough & (t > SHIFT_T), t, 0.0)
    return np.where(t.max(axis=0) > 0, ks[np.argmax(t, axis=0)], 0)


def _intermittent(usage: np.ndarray, weekday: np.ndarray) -> np.ndarray:
    """Per group: whether spend is intermittent (see ``INTERMITTENT_ZERO_SHARE``): the share of
    days without spend, over the last weeks' weekdays that have some (weekends off are a weekday
    pattern, not intermittence)."""
    recent, days = usage[-WEEKDAY_WINDOW_DAYS:], weekday[-WEEKDAY_WINDOW_DAYS:]
    spends = recent > 0
    # Days before a group's first spend do not count: a team that started three weeks ago has a
    # new level, which the run rate finds, not thirteen weeks of intermittence.
    started = spends.cumsum(axis=0) > 0
    active = np.zeros(recent.shape, dtype=bool)
    for day in range(7):
        on_day = days == day
        active[on_day] = spends[on_day].any(axis=0)  # this weekday has spend at all
    active &= started & ~_in_long_quiet_runs(spends)
    quiet = (active & ~spends).sum(axis=0)
    count = active.sum(axis=0)
    # Two weeks at least, as for a weekday pattern: fewer days cannot tell.
    return (started.sum(axis=0) >= 14) & (quiet > INTERMITTENT_ZERO_SHARE * np.maximum(count, 1))


def _in_long_quiet_runs(spends: np.ndarray) -> np.ndarray:
    """(days, groups): the days in a run of ``INTERMITTENT_MAX_QUIET_DAYS`` or more days without
    spend. Intermittent spend is quiet for days, not weeks: a week or more without spend is a pause
    or a monthly rhythm (a job on the 1st), which the level and the month positions follow."""
    long = np.zeros(spends.shape, dtype=bool)
    for group in range(spends.shape[1]):
        quiet = np.concatenate([[False], ~spends[:, group], [False]]).astype(int)
        edges = np.diff(quiet)
        for start, end in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
            if end - start >= INTERMITTENT_MAX_QUIET_DAYS:
                long[start:end, group] = True
    return long


def _weekday_factors(usage: np.ndarray, weekday: np.ndarray, *, flat: np.ndarray) -> np.ndarray:
    """(7, groups) multiplicative weekday pattern from the last weeks; 1 where it cannot be told,
    and for the groups of ``flat`` (intermittent spend)."""
    groups = usage.shape[1]
    recent = usage[-WEEKDAY_WINDOW_DAYS:]
    if len(recent) < 14:
        return np.ones((7, groups))
    csum = np.vstack([np.zeros(groups), np.cumsum(recent, axis=0)])
    centred_mean = (csum[7:] - csum[:-7]) / 7  # mean of days i..i+6, centred on day i+3
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(centred_mean > 0, recent[3:-3] / centred_mean, np.nan)
    # A week that began before the group's first spend is no week of its pattern: a team that
    # started ten days ago read its first days as low weekdays and its tenth as a high one.
    first = np.argmax(recent > 0, axis=0)
    ratio = np.where(np.arange(len(ratio))[:, None] >= first[None, :], ratio, np.nan)
    # Lay the days out as weeks x weekdays (NaN-padded) to take all seven medians at once.
    first_weekday = int(weekday[-len(recent) + 3])
    padded = np.full((first_weekday + len(ratio) + 6) // 7 * 7, np.nan)[:, None].repeat(groups, axis=1)
    padded[first_weekday:first_weekday + len(ratio)] = ratio
    factors = _nanmedian(padded.reshape(-1, 7, groups))
    factors = np.where(np.isnan(factors), 1.0, factors)
    # Intermittent spend: with spend on random days a weekday's ratios are noise (dividing by
    # noisy factors inflates the level), and a weekday without spend in 16 weeks may simply not
    # have drawn any (at 10 % of days, one weekday in five): no pattern, its mean rate.
    factors = np.where(flat, 1.0, factors)
    mean = factors.mean(axis=0)
    return np.where(mean > 0, factors / np.where(mean > 0, mean, 1.0), 1.0)


def _position_factors(h: _History, usage: np.ndarray, weekday: np.ndarray, months: tuple[tuple[int, int], ...],
                      *, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(slots, groups) day-of-month factors (1 for the groups of ``flat``: intermittent spend),
    and each previous month's deseasonalised level."""
    groups = usage.shape[1]
    factors = np.ones((_SLOTS, groups))
    levels = np.zeros((len(months), groups))
    ratios = np.full((len(months), _SLOTS, groups), np.nan)
    for i, (first, last) in enumerate(months):
        factor = weekday[h.weekday[first:last + 1]]
        with np.errstate(divide="ignore", invalid="ignore"):  # a weekday that never has spend: no ratio
            z = np.where(factor > 0, usage[first:last + 1] / np.where(factor > 0, factor, 1.0), np.nan)
        levels[i] = np.nan_to_num(_nanmedian(z))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios[i, h.slot[first:last + 1]] = np.where(levels[i] > 0, z / levels[i], np.nan)
    if len(months) < 2:
        return factors, levels
    effect = _nanmedian(ratios) - 1
    # Robust noise of a single day's ratio (MAD), and the standard error of a median of n months.
    noise = 1.4826 * _nanmedian(np.abs(ratios - 1).reshape(-1, groups))
    seen = np.sum(~np.isnan(ratios), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        clear = np.abs(effect) > POSITION_EFFECT_Z * 1.2533 * noise / np.sqrt(np.maximum(seen, 1))
    keep = clear & (seen >= 2) & ~np.isnan(effect)
    keep &= ~flat  # intermittent spend: a position's ratios are noise too
    factors[keep] = 1 + effect[keep]
    return factors, levels


def _daily_growth(month_levels: np.ndarray, months: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Per-day log growth: median month-over-month change of the monthly level (0 if unknown)."""
    if len(months) < 2:
        return np.zeros(month_levels.shape[1])
    middles = np.array([(first + last) / 2 for first, last in months])
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = np.log(month_levels[1:] / month_levels[:-1]) / np.diff(middles)[:, None]
    rates = np.where(np.isfinite(rates), rates, np.nan)
    growth = _nanmedian(rates)
    return np.where(np.isnan(growth), 0.0, growth)


@dataclass(frozen=True)
class _CalendarFit:
    """Recurring non-usage charges learned from a run of complete months, per anchoring.

    Arrays are (categories, 32 positions, groups); position = day of month (start anchoring) or
    days to the month's end, 1 = the last day (end anchoring).
    """

    recurring: tuple[np.ndarray, np.ndarray]  # (start, end) anchoring: recurs in > half the months
    rule: tuple[np.ndarray, np.ndarray]  # 0 same amount, 1 share of own usage, 2 share of org usage
    last: tuple[np.ndarray, np.ndarray]  # the last month's amount
    own_share: tuple[np.ndarray, np.ndarray]  # the last month's amount / own usage that month
    org_share: tuple[np.ndarray, np.ndarray]  # the last month's amount / org usage that month


def _fit_calendar(h: _History, months: tuple[tuple[int, int], ...]) -> _CalendarFit:
    """Learn which non-usage charges recur where, and the rule that predicts their amount."""
    n, categories, groups = len(months), h.calendar_charges.shape[0], len(h.groups)
    by_start = np.zeros((categories, n, 32, groups))
    by_end = np.zeros_like(by_start)
    own_usage = np.zeros((n, groups))
    for i, (first, last) in enumerate(months):
        dom = h.day_of_month[first:last + 1]
        from_end = h.days_in_month[first:last + 1] - dom + 1
        charges = h.calendar_charges[:, first:last + 1]
        # Each occurrence goes to the anchoring whose position repeats in more months (filled below).
        by_start[:, i, dom] = charges
        by_end[:, i, from_end] = charges
        own_usage[i] = h.usage[first:last + 1].sum(axis=0)
    count_start = (np.abs(by_start) >= 0.005).sum(axis=1)
    count_end = (np.abs(by_end) >= 0.005).sum(axis=1)
    for i, (first, last) in enumerate(months):
        dom = h.day_of_month[first:last + 1]
        from_end = h.days_in_month[first:last + 1] - dom + 1
        prefer_start = (count_start[:, dom] > count_end[:, from_end]) | (
            (count_start[:, dom] == count_end[:, from_end]) & (dom <= FROM_START_DAYS + 1)[None, :, None])
        by_start[:, i, dom] = np.where(prefer_start, by_start[:, i, dom], 0.0)
        by_end[:, i, from_end] = np.where(prefer_start, 0.0, by_end[:, i, from_end])
    org_usage = np.broadcast_to(own_usage.sum(axis=1, keepdims=True), own_usage.shape)
    fits = [_fit_amounts(amounts, own_usage, org_usage) for amounts in (by_start, by_end)]
    return _CalendarFit(*(tuple(f[i] for f in fits) for i in range(5)))


def _fit_amounts(amounts: np.ndarray, own_usage: np.ndarray, org_usage: np.ndarray) -> tuple[np.ndarray, ...]:
    """(recurring, rule, last, own share, org share) for amounts (categories, months, positions, groups).

    The rule is the one with the smallest error predicting each month from the month before:
    the same amount (a fee), or last month's share of usage times this month's usage (a tax).
    """
    n = amounts.shape[1]
    recurring = (np.abs(amounts) >= 0.005).sum(axis=1) * 2 > n
    shares, errors = [], [np.abs(np.diff(amounts, axis=1)).sum(axis=1)]
    for base in (own_usage, org_usage):
        base = base[None, :, None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(base > 0, amounts / base, 0.0)
        shares.append(share[:, -1])
        errors.append(np.abs(amounts[:, 1:] - share[:, :-1] * base[:, 1:]).sum(axis=1))
    # With one month there is nothing to compare: keep the amount. Ties keep the first rule.
    rule = np.argmin(np.stack(errors), axis=0) if n >= 2 else np.zeros(recurring.shape, dtype=int)
    return recurring, rule, amounts[:, -1], shares[0], shares[1]


def _calendar_charges(fit: _CalendarFit, h: _History, days: np.ndarray, usage_month: np.ndarray) -> np.ndarray:
    """Forecast per group of the recurring non-usage charges falling on ``days``.

    ``usage_month`` is each group's usage this month (spent + forecast), the base of shares.
    """
    dom = h.day_of_month[days]
    positions = (dom, h.days_in_month[days] - dom + 1)
    forecast = np.zeros(len(h.groups))
    for a in range(2):
        amount = np.choose(fit.rule[a], (fit.last[a], fit.own_share[a] * usage_month,
                                         fit.org_share[a] * usage_month.sum()))
        forecast += np.where(fit.recurring[a], amount, 0.0)[:, positions[a]].sum(axis=(0, 1))
    return forecast


# ----------------------------------------------------------------------------------------------
# The interval: the model's own errors on previous months


def _past_errors(h: _History, c: int, month_end: int) -> tuple[np.ndarray, np.ndarray]:
    """The model's normalised errors on previous months at the same remaining days.

    Returns errors (samples, groups + 1; the last column is the org) and each sample's month.
    """
    month_start = month_end - int(h.days_in_month[month_end]) + 1
    # The horizon: days from the last complete one to the month's end. When the data stops before
    # the month, past months are forecast from as long before their end (from their previous
    # month), so the interval holds the error of forecasting that far ahead.
    horizon = month_end - c
    earliest_in_month = -horizon if c < month_start - 1 else -1  # origin - first, at the least
    errors, months = [], []
    # Only months the data covers whole: when the data stops before this month (a source late by
    # weeks), the months in between are not complete and have no actual total to compare with.
    for first, last in h.previous_months(min(c + 1, month_start), ERROR_MONTHS):
        actual = h.total[first:last + 1].sum(axis=0)
        for offset in range(-ERROR_OFFSETS_DAYS, ERROR_OFFSETS_DAYS + 1):
            origin = last - horizon + offset
            if origin < max(0, first + earliest_in_month) or origin >= last:
                continue
            if not h.previous_months(min(origin + 1, first), 1):
                continue  # no complete month before the forecast day: no calendar pattern to use
            forecast = h.total[first:origin + 1].sum(axis=0) + _remaining_forecast(h, origin, last)
            error = actual - forecast
            scale = _error_scale(h, origin, last - origin)
            errors.append(np.where(scale > 0, np.append(error, error.sum()) / np.where(scale > 0, scale, 1), 0.0))
            months.append(first)
    return np.array(errors).reshape(len(errors), len(h.groups) + 1), np.array(months)


def _interval_offsets(errors: np.ndarray, months: np.ndarray, coverage: float) -> np.ndarray:
    """(2, columns): the low and high normalised error of the interval.

    A prediction interval for one more month from K past months: centre (median error) +-
    Student-t quantile with K-1 degrees of freedom x sqrt(1 + 1/K) x spread. The offsets around
    the same day of a month are not independent of each other, so K counts months, not samples;
    with few months the t quantile widens the interval as it should. The spread is the mean
    absolute deviation scaled to a normal's standard deviation: a month hit by an anomaly widens
    it, but less than it would widen a standard deviation. It is taken on each side of the centre
    separately (a two-piece interval: twice the side's deviations summed over all samples, which
    is the side's mean absolute deviation when half the samples lie on each side; a side with no
    deviation takes the symmetric spread): unforeseen spend is more often a rise than a fall, so the errors are
    skewed, and a symmetric interval let outcomes out above about three times as often as below.
    """
    if len(errors) == 0:
        return np.zeros((2, errors.shape[1]))
    k = len(np.unique(months))
    centre = np.median(errors, axis=0)
    factor = _student_t_quantile((1 + coverage) / 2, max(k - 1, 1)) * math.sqrt(1 + 1 / k) * math.sqrt(math.pi / 2)
    # Each side from its own deviations: twice the mean shortfall below the centre, twice the
    # mean excess above it (for symmetric errors both are the mean absolute deviation).
    # A side with no deviation at all (ties at the centre, few months) is no evidence that the
    # outcome cannot fall there: it takes the symmetric spread.
    spread = np.mean(np.abs(errors - centre), axis=0)
    below = 2 * np.mean(np.maximum(centre - errors, 0.0), axis=0)
    above = 2 * np.mean(np.maximum(errors - centre, 0.0), axis=0)
    below, above = np.where(below > 0, below, spread), np.where(above > 0, above, spread)
    return np.stack([centre - factor * below, centre + factor * above])


@functools.lru_cache(maxsize=64)
def _student_t_quantile(p: float, dof: float) -> float:
    """The ``p`` quantile (p > 0.5) of Student's t with ``dof`` degrees of freedom.

    Integrates the density on a fine grid (numpy only; accurate to about 1e-4 for p <= 0.995).
    """
    x = np.linspace(0, 200, 400_001)
    log_norm = math.lgamma((dof + 1) / 2) - math.lgamma(dof / 2) - 0.5 * math.log(dof * math.pi)
    density = np.exp(log_norm - (dof + 1) / 2 * np.log1p(x * x / dof))
    cdf = 0.5 + np.concatenate([[0.0], np.cumsum((density[1:] + density[:-1]) / 2 * np.diff(x))])
    return float(np.interp(p, cdf, x))


def _error_scale(h: _History, c: int, remaining_days: int) -> np.ndarray:
    """Dollars an error is measured in, per group and org (last): remaining days x recent mean daily spend.

    Absolute daily spend, so a group living on credits still has a positive scale.
    """
    recent = h.total[max(0, c + 1 - SCALE_WINDOW_DAYS):c + 1]
    if len(recent) == 0:
        return np.zeros(len(h.groups) + 1)
    return remaining_days * np.append(np.abs(recent).mean(axis=0), np.abs(recent.sum(axis=1)).mean())


def _nanmedian(values: np.ndarray) -> np.ndarray:
    """Median over axis 0 ignoring NaN; NaN where a column has no value.

    Sort-based: numpy's nanmedian goes through masked arrays and is the forecast's bottleneck.
    """
    ordered = np.sort(values, axis=0)  # NaN sorts last
    count = np.sum(~np.isnan(values), axis=0)
    low = np.take_along_axis(ordered, np.maximum((count - 1) // 2, 0)[None], axis=0)[0]
    high = np.take_along_axis(ordered, (count // 2)[None].clip(0, len(values) - 1), axis=0)[0]
    return np.where(count > 0, (low + high) / 2, np.nan)
