"""Did the saving happen? The verification math for savings findings.

:func:`verify_saving` answers once the settling window has complete data:

- **Windows.** Baseline: the ``baseline_days`` days before the implementation day (28 = four
  whole weeks). After: the ``settle_days`` days after it (14 = two whole weeks), i.e. the settling
  window itself is measured. The implementation day belongs to neither: a change usually lands
  mid-day, so that day is half old and half new cost.
- **Counterfactual** (what the scope would have cost after, without the change), fitted on the
  baseline only:

  1. working series: the scope's daily cost or, with a ``control`` series (the rest of the org,
     or the scope's parent without the scope), the scope's cost with the control's *steps* taken
     out as far as the scope follows them: cost / exp(e × level), where level is the control's
     log level (its trend and weekdays taken out, constant but for the shifts found in it, each
     STEP_Z above its day-to-day noise) and e, the elasticity, how far the scope steps with it.
     The expected cost is then the fitted series × exp(e × level): an org-wide change the scope
     shares (a price change, a traffic shift) moves both and cancels.

     The control's moves are not all the scope's business: another team's launch or another
     finding's saving moves the rest of the org alone. So e is measured only on the control's
     steps *inside* the windows, where a finding cannot be the cause (did the scope step with
     it, and how far?), and applied weighted by how clearly it is measured, t²/(1+t²) with
     t = e / its standard error (its error joins the realized saving's; the re-check applies it
     only when CONTROL_Z standard errors above zero); with no step to measure on, e = 0 and the
     scope is measured on its own. The control's
     day-to-day wiggles and its trend are never followed: a scope sharing the org's daily
     traffic measures a high elasticity on them, and then passed on any step of the total,
     whatever caused it (an unchanged scope "saved" another team's launch on its
     implementation day). A step of the control *across the implementation day* cannot be seen
     in the scope at all (its own step there is the finding's), and a measured e can be fooled
     (a rollback two days after another team's launch reads as following it). So a cautious
     reading takes every step of the control the way that credits the finding less: a rise at
     the lowest elasticity the measurement allows (left out across the implementation day), a
     drop at the highest (up to 1; 1 when nothing measured e). Verified needs both readings to
     pass; the figure reported is the first;
  2. weekly seasonality: multiplicative weekday factors (median ratio to the trend line per
     weekday, normalised to average 1 over the baseline), fitted jointly with the trend;
  3. trend: Theil-Sen line (median of pairwise slopes; robust to a few odd days) through the
     weekday-adjusted baseline, weighted by how well it is measured: t²/(1+t²) with t = slope /
     its standard error, so a clear trend counts in full and one inside the noise barely
     (extrapolating a noise-level slope adds more error than it removes). It is never extended
     further past the baseline's end than the baseline is long (28 days by default), in the
     re-check too: no months-long extrapolation.

  expected(day) = trend(day) × weekday factor × exp(e × level(day))  (e = 0 without a control).
- **Realized saving** per day = mean expected − mean actual over the after window; monthly =
  per day × 30.4375 (365.25 / 12, the average month, so monthly × 12 is a year).
- **Outcome.** ``verified`` when realized ≥ ``verified_share`` × estimate, realized is at least
  three standard errors above zero (a saving lost in the scope's day-to-day noise is not
  evidence), and the saving holds to the end: over the after window's last week (its second half
  when shorter than two weeks) it still reaches half of ``verified_share`` × estimate, and it did
  not fall below half of the first week's saving by more than HOLD_Z standard errors (a change
  rolled back mid-window fails one or the other); and the cautious reading of the control's
  steps (1.) passes the same share and hold tests. Otherwise ``not_realized``, for a finance
  approver to look at. The standard error comes from the robust spread (1.4826 × MAD / √2) of
  the baseline's same-weekday week-over-week changes, inflated for their lag-1 autocorrelation
  ((1+ρ)/(1−ρ)), through both window means and the trend's extrapolation.

Daily series: index = day, value = the scope's daily cost. Days up to ``as_of`` (the last day with
complete data) that are absent from the series count as $0: a deleted resource leaves no rows.
Days before the series' first day are unknown, not $0 (the baseline is shortened to the data).
Recurring monthly fees inside a window (month-start charges) count as spend on their day; pass
usage cost if that matters for a scope.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from finops.errors import InputError
from finops.money import cents, format_usd
from finops.savings import DAYS_PER_MONTH, FindingState

SIGNIFICANCE_Z = 3.0  # realized must exceed this many standard errors to count as verified
# Over the after window's last week the saving must still reach this share of the threshold; half,
# because one week is about 1.4x noisier than two and a real saving should not fail on that alone.
HOLD_SHARE = 0.5
# ... and it must not fall off: the after window's last week saving less than half of its first
# week's, by more than HOLD_Z standard errors of that difference, is a change undone (or eroding),
# not noise (half: a slowly drifting saving, or a model that fits it only roughly, is not a fall).
HOLD_Z = 2.5
MIN_BASELINE_DAYS = 14  # two whole weeks: the least that separates a weekday pattern from a trend
_MAX_AUTOCORRELATION = 0.9  # caps the variance inflation at 19x when residuals are one long drift
_FACTOR_ITERATIONS = 8  # a median fixed point can cycle on noisy data; it settles in 2-4 otherwise
_MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution × this = its standard deviation
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# The scope follows the control only when that is measured at this many standard errors: one-sided,
# noise passes for co-movement about once in 160 scopes, and even then it cannot verify a finding on
# its own (the elasticity's own error joins the realized saving's standard error).
CONTROL_Z = 2.5
# The cautious reading follows the control's rises at the measured elasticity less this many
# standard errors (at least 0) and its drops at it plus as many (at most 1): the bounds the
# measurement leaves plausible, at the bar that decides the elasticity is clear at all.
CAUTIOUS_Z = CONTROL_Z
MIN_ELASTICITY = 0.05  # following less than 5 % of the control's moves is not following it
MIN_CONTROL_DAYS = 21  # days with cost in the windows: fewer cannot measure the elasticity
MAX_ELASTICITY = 1.5  # a scope swinging more than 1.5x its control's moves is noise, not a driver
# A step of the control (a shift of its level inside a window, or across the implementation day)
# is one when it stands STEP_Z standard errors above the control's day-to-day noise and moves its
# level by at least MIN_STEP (log, about 2 %): the search tries every day, so the bar is high;
# an aggregate of a whole org moves by a few tenths of a percent a day.
STEP_Z = 5.0
MIN_STEP = 0.02
MIN_SEGMENT_DAYS = 2  # a one-day blip is not a level
_MIN_CONTROL_SIGMA = 1e-4  # noise-free data: a floor so a z-score exists


@dataclass(frozen=True)
class ControlEffect:
    """How the scope follows the control's level shifts: its cost moves as exp(``elasticity`` × the
    control's log level change).

    ``measured`` (and its ``standard_error``): the elasticity measured on the control's steps
    inside the windows over ``days`` days, None when the control took no step inside them (or a
    fixed elasticity was given); the ``elasticity`` applied is the measured one weighted by how
    clearly it is measured (t²/(1+t²); in the re-check, all or nothing at CONTROL_Z standard
    errors), 0 when not above zero. ``steps``: the control's steps inside the windows
    (first day at the new level, change in log). ``gap_jump``: the control's step across the
    implementation day (log; None when there is none), which no window can show the scope
    following; the expected cost follows it at ``elasticity``, and the cautious reading (the one
    that credits the finding less, which must verify too) at ``gap_elasticity``.
    """

    elasticity: float
    measured: float | None
    standard_error: float | None
    days: int
    steps: tuple[tuple[date, float], ...] = ()
    gap_jump: float | None = None
    gap_elasticity: float = 0.0

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: ``control_elasticity``, ``control_measured``, ``control_standard_error``,
        ``control_steps`` (``day``, ``change`` as a share), ``control_gap_jump`` (share or None),
        ``control_gap_elasticity``."""
        return {"control_elasticity": self.elasticity, "control_measured": self.measured,
                "control_standard_error": self.standard_error,
                "control_steps": [{"day": day.isoformat(), "change": float(np.expm1(change))}
                                  for day, change in self.steps],
                "control_gap_jump": None if self.gap_jump is None else float(np.expm1(self.gap_jump)),
                "control_gap_elasticity": self.gap_elasticity}


@dataclass(frozen=True)
class Window:
    """A run of days (``end`` inclusive) and the mean cost per day over it."""

    start: date
    end: date
    daily_cost: float

    @property
    def days(self) -> int:
        """Number of days in the window."""
        return (self.end - self.start).days + 1

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: ``start``, ``end`` (ISO dates), ``daily_cost`` (dollars, to the cent)."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat(),
                "daily_cost": float(cents(self.daily_cost))}


@dataclass(frozen=True, eq=False)  # holds a frame: compare fields, not results
class VerificationResult:
    """The measured saving of one finding and the evidence behind it.

    ``series`` (for the chart) is indexed by day from the baseline's start to the after window's
    end, with columns ``actual``, ``expected`` (the fitted counterfactual; NaN on the
    implementation day) and ``window`` (``baseline`` / ``implementation`` / ``after``).
    ``final_days`` / ``final_days_monthly``: the after window's last week (actual cost per day)
    and the saving over it, the evidence that the saving held to the end.
    ``trend_per_day`` is the applied trend as a share of the baseline level per day;
    ``trend_effect`` how much it moved the expected level from the baseline to the after window;
    ``control_change`` how much the control's daily cost moved between the windows (None
    without a control); ``control`` how much the scope was measured to follow it.
    ``first_days_monthly``: the saving over the after window's first week; ``fell_off`` when the
    last week's fell below half of it, beyond noise (a rollback). ``cautious_monthly``: the saving
    with the control's steps read the way that credits the finding less (None when that changes
    nothing); it must reach the threshold and hold too.
    """

    outcome: FindingState
    realized_monthly: float
    estimate_monthly: float
    verified_share: float
    standard_error_monthly: float
    final_days: Window
    final_days_monthly: float
    baseline: Window
    after: Window
    expected_daily_after: float
    trend_per_day: float
    trend_effect: float
    weekday_factors: tuple[float, ...]
    control_change: float | None
    control: ControlEffect
    series: pd.DataFrame
    cautious_monthly: float | None = None
    first_days_monthly: float | None = None
    fell_off: bool = False

    @property
    def realized_daily(self) -> float:
        """Realized saving per day (expected − actual, mean over the after window)."""
        return self.expected_daily_after - self.after.daily_cost

    @property
    def threshold_monthly(self) -> float:
        """The realized saving needed to verify: ``verified_share`` × estimate."""
        return self.verified_share * self.estimate_monthly

    @property
    def significant(self) -> bool:
        """Whether realized is at least SIGNIFICANCE_Z standard errors above zero."""
        return self.realized_monthly >= SIGNIFICANCE_Z * self.standard_error_monthly

    def summary(self) -> str:
        """One line for the finding's history and its Slack thread."""
        share = self.realized_monthly / self.estimate_monthly
        why = ""
        if self.outcome is FindingState.NOT_REALIZED:
            if self.realized_monthly < self.threshold_monthly:
                why = f" (needs {format_usd(self.threshold_monthly)}/month)"
            elif not self.significant:
                why = f" (within the scope's day-to-day noise, ±{format_usd(self.standard_error_monthly)}/month)"
            elif self.final_days_monthly < HOLD_SHARE * self.threshold_monthly or self.fell_off:
                first = (f", after {format_usd(self.first_days_monthly)}/month over its first week"
                         if self.fell_off and self.first_days_monthly is not None else "")
                why = (f" (did not hold: {format_usd(self.final_days_monthly)}/month over "
                       f"{self.final_days.start}..{self.final_days.end}{first})")
            elif self.cautious_monthly is not None:
                moved = ("" if self.control.gap_jump is None else f"the rest of the org moved "
                         f"{float(np.expm1(self.control.gap_jump)):+.0%} on the implementation day; ")
                why = (f" ({moved}read the way that credits the finding less, "
                       f"{format_usd(self.cautious_monthly)}/month)")
        return (f"{self.outcome.replace('_', ' ')}: realized {format_usd(self.realized_monthly)}/month, {share:.0%} of the "
                f"{format_usd(self.estimate_monthly)}/month estimate{why}; expected "
                f"{format_usd(self.expected_daily_after)}/day without the change, actual "
                f"{format_usd(self.after.daily_cost)}/day over {self.after.start}..{self.after.end}")

    def to_dict(self) -> dict[str, object]:
        """JSON-ready evidence (money to the cent, the daily series as a list of points)."""
        points = [{"day": day.date().isoformat(),
                   "actual": float(cents(row.actual)),
                   "expected": None if pd.isna(row.expected) else float(cents(row.expected)),
                   "window": row.window}
                  for day, row in self.series.iterrows()]
        return {
            "outcome": str(self.outcome),
            "realized_monthly": float(cents(self.realized_monthly)),
            "estimate_monthly": float(cents(self.estimate_monthly)),
            "threshold_monthly": float(cents(self.threshold_monthly)),
            "standard_error_monthly": float(cents(self.standard_error_monthly)),
            "significant": self.significant,
            "final_days": self.final_days.to_dict(),
            "final_days_monthly": float(cents(self.final_days_monthly)),
            "first_days_monthly": None if self.first_days_monthly is None else float(cents(self.first_days_monthly)),
            "fell_off": self.fell_off,
            "baseline": self.baseline.to_dict(),
            "after": self.after.to_dict(),
            "expected_daily_after": float(cents(self.expected_daily_after)),
            "cautious_monthly": None if self.cautious_monthly is None else float(cents(self.cautious_monthly)),
            "adjustments": {
                "trend_per_day": self.trend_per_day,
                "trend_effect": self.trend_effect,
                "weekday_factors": dict(zip(WEEKDAYS, self.weekday_factors, strict=True)),
                "control_change": self.control_change,
                **self.control.to_dict(),
            },
            "series": points,
        }


@dataclass(frozen=True)
class RecheckResult:
    """The monthly re-check of a verified saving over its last ``window`` and that window's last
    days (``recent``: a rollback two weeks ago is half of a month's window, all of these days).

    ``regressed`` when ``saving_monthly`` fell below ``regressed_share`` × ``verified_monthly``, or
    ``recent_saving_monthly`` below HOLD_SHARE of that (a shorter window is noisier: like the
    verification's hold rule, it needs a clearer shortfall; a rollback leaves about nothing).
    """

    regressed: bool
    saving_monthly: float
    verified_monthly: float
    regressed_share: float
    window: Window
    expected_daily: float
    recent: Window
    recent_saving_monthly: float

    @property
    def threshold_monthly(self) -> float:
        """Below this saving over the window the finding is flagged regressed."""
        return self.regressed_share * self.verified_monthly

    @property
    def recent_threshold_monthly(self) -> float:
        """Below this saving over the recent days the finding is flagged regressed."""
        return HOLD_SHARE * self.threshold_monthly

    def summary(self) -> str:
        """One line for the ledger and the team's notice."""
        verdict = "regressed" if self.regressed else "holding"
        return (f"{verdict}: saving {format_usd(self.saving_monthly)}/month over "
                f"{self.window.start}..{self.window.end}, {format_usd(self.recent_saving_monthly)}/month over "
                f"{self.recent.start}..{self.recent.end}, vs {format_usd(self.verified_monthly)}/month "
                f"verified (expected {format_usd(self.expected_daily)}/day without the change, actual "
                f"{format_usd(self.window.daily_cost)}/day)")

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form, money to the cent."""
        return {"regressed": self.regressed, "saving_monthly": float(cents(self.saving_monthly)),
                "verified_monthly": float(cents(self.verified_monthly)),
                "threshold_monthly": float(cents(self.threshold_monthly)),
                "window": self.window.to_dict(), "expected_daily": float(cents(self.expected_daily)),
                "recent": self.recent.to_dict(), "recent_saving_monthly": float(cents(self.recent_saving_monthly)),
                "recent_threshold_monthly": float(cents(self.recent_threshold_monthly))}


# ------------------------------------------------------------------------------------ the fit

@dataclass(frozen=True, eq=False)
class _BaselineFit:
    """The counterfactual fitted on the baseline, in the working series' units."""

    origin: pd.Timestamp  # day 0 of the trend line
    slope: float
    intercept: float
    weekday_factors: np.ndarray  # Monday..Sunday
    freeze_t: float  # the trend line is held flat after this day offset (the baseline's length past its end)
    sigma: float  # robust spread of the relative residuals
    autocorrelation: float
    t_mean: float
    sxx: float
    days: int

    def offsets(self, days: pd.DatetimeIndex) -> np.ndarray:
        return np.minimum(((days - self.origin) / pd.Timedelta(days=1)).to_numpy(dtype=float), self.freeze_t)

    def level(self, days: pd.DatetimeIndex) -> np.ndarray:
        return np.maximum(self.intercept + self.slope * self.offsets(days), 0.0)

    def expected(self, days: pd.DatetimeIndex, control: np.ndarray) -> np.ndarray:
        return self.level(days) * self.weekday_factors[days.day_of_week] * control

    def difference_error_daily(self, first: np.ndarray, last: np.ndarray) -> float:
        """Standard error of the difference between two runs' mean daily cost (noise only: the
        same fit's expected cost is on both sides), from the baseline's relative noise."""
        inflation = (1 + self.autocorrelation) / (1 - self.autocorrelation)
        return float(self.sigma * np.sqrt(inflation * (float(first.mean()) ** 2 / len(first)
                                                       + float(last.mean()) ** 2 / len(last))))

    def standard_error_daily(self, expected_mean: float, actual_mean: float, after_days: pd.DatetimeIndex) -> float:
        """Standard error of (mean expected − mean actual), from the baseline's residual noise."""
        lever = float(np.mean(self.offsets(after_days))) - self.t_mean
        inflation = (1 + self.autocorrelation) / (1 - self.autocorrelation)
        variance = self.sigma ** 2 * inflation * (
            expected_mean ** 2 / self.days + actual_mean ** 2 / len(after_days)
            + expected_mean ** 2 * lever ** 2 / self.sxx)
        return float(np.sqrt(variance))


def _theil_sen(t: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Slope = median of pairwise slopes; intercept = median of y − slope·t."""
    i, j = np.triu_indices(len(t), k=1)
    slope = float(np.median((y[j] - y[i]) / (t[j] - t[i])))
    return slope, float(np.median(y - slope * t))


def _weekday_factors(y: np.ndarray, line: np.ndarray, weekday: np.ndarray) -> np.ndarray:
    """Median ratio to the trend line per weekday, normalised to average 1 over the baseline days.

    The days are consecutive, so laying the ratios out in rows of seven (Monday first) puts each
    weekday in its own column.
    """
    grid = np.full(-(-(len(y) + weekday[0]) // 7) * 7, np.nan)
    grid[weekday[0]:weekday[0] + len(y)] = y / line
    factors = np.nanmedian(grid.reshape(-1, 7), axis=0)
    return factors / factors[weekday].mean()


def _seasonal_factors(t: np.ndarray, y: np.ndarray, weekday: np.ndarray) -> np.ndarray:
    """Weekday factors fitted jointly with the trend: each depends on the other, so alternate."""
    factors = np.ones(7)
    if not (y > 0).all():  # multiplicative factors need a positive cost every day
        return factors
    for _ in range(_FACTOR_ITERATIONS):
        slope, intercept = _theil_sen(t, y / factors[weekday])
        line = intercept + slope * t
        if (line <= 0).any():
            return np.ones(7)
        updated = _weekday_factors(y, line, weekday)
        if float(np.abs(updated - factors).max()) <= 1e-9:
            return updated
        factors = updated
    return factors


def _noise(adjusted: np.ndarray, line: np.ndarray) -> tuple[float, float]:
    """Day-to-day noise of the baseline, relative to its level: (sigma, lag-1 autocorrelation).

    Measured on same-weekday week-over-week changes, not on the fit's residuals: the weekday
    factors are medians of about four values each, so residuals would understate the noise (half
    of them are near zero by construction). The change over a week of a noise with spread sigma
    has spread sigma·√2; its lag-1 autocorrelation is the noise's (for short-memory noise);
    the trend only shifts every change equally and the median removes it.
    """
    level = float(np.abs(line).mean())
    change = adjusted[7:] - adjusted[:-7]
    change = (change - np.median(change)) / level if level > 0 else np.zeros_like(change)
    sigma = _MAD_TO_SIGMA * float(np.median(np.abs(change))) / np.sqrt(2)
    centred = change - change.mean()
    energy = float(centred @ centred)
    rho = float(centred[1:] @ centred[:-1]) / energy if energy > 0 else 0.0
    # The lag-1 estimate from n points is biased low by about (1 + 3ρ)/n (Kendall); undo that.
    return sigma, min(max(rho + (1 + 3 * rho) / len(change), 0.0), _MAX_AUTOCORRELATION)


def _fit_baseline(days: pd.DatetimeIndex, y: np.ndarray) -> _BaselineFit:
    t = ((days - days[0]) / pd.Timedelta(days=1)).to_numpy(dtype=float)
    weekday = days.day_of_week.to_numpy()
    factors = _seasonal_factors(t, y, weekday)
    adjusted = y / factors[weekday]
    slope, intercept = _theil_sen(t, adjusted)
    line = intercept + slope * t
    sigma, rho = _noise(adjusted, line)
    t_mean, sxx = float(t.mean()), float(((t - t.mean()) ** 2).sum())
    # Weight the trend by how well it is measured, t²/(1+t²) with t = slope / its standard error:
    # a clear trend counts in full, one inside the noise barely, since extrapolating a noise-level
    # slope adds more error than it removes. The line pivots on the baseline's middle day.
    level = intercept + slope * t_mean
    slope_error = sigma * abs(level) * np.sqrt((1 + rho) / (1 - rho) / sxx)
    weight = 1.0 if slope_error == 0 else slope ** 2 / (slope ** 2 + slope_error ** 2)
    intercept, slope = intercept + slope * (1 - weight) * t_mean, slope * weight
    return _BaselineFit(
        origin=days[0], slope=slope, intercept=intercept, weekday_factors=factors,
        # Never extend the trend further past the baseline's end than the baseline is long.
        freeze_t=float(t[-1] + len(t)), sigma=sigma,
        autocorrelation=rho, t_mean=t_mean, sxx=sxx, days=len(t),
    )


# ---------------------------------------------------------------------------------- the inputs

def _daily_series(series: pd.Series, name: str) -> pd.Series:
    """A day-indexed float series (duplicates summed), or InputError naming the bad day."""
    index = pd.DatetimeIndex(pd.to_datetime(series.index))
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    values = pd.Series(pd.to_numeric(series.to_numpy(), errors="coerce"), index=index.normalize(), dtype=float)
    if values.isna().any():
        day = values.index[values.isna().argmax()]
        raise InputError(f"{name} has no number for {day.date()}", column=name,
                         value=series.iloc[int(values.isna().argmax())])
    return values.groupby(level=0).sum().sort_index()


def _scope_costs(scope: pd.Series, days: pd.DatetimeIndex) -> np.ndarray:
    return scope.reindex(days, fill_value=0.0).to_numpy(dtype=float)


def _control_costs(control: pd.Series | None, days: pd.DatetimeIndex) -> np.ndarray:
    if control is None:
        return np.ones(len(days))
    values = control.reindex(days)
    missing = values.isna() | (values <= 0)
    if missing.any():
        day = values.index[missing.to_numpy().argmax()].date()
        raise InputError(f"the control series has no positive cost on {day}; pass the control's daily "
                         "cost for every day of both windows", column="control", value=day.isoformat())
    return values.to_numpy(dtype=float)


def _check_parameters(baseline_days: int, share: float, name: str) -> None:
    if baseline_days < MIN_BASELINE_DAYS:
        raise ValueError(f"baseline_days must be >= {MIN_BASELINE_DAYS}, not {baseline_days}")
    if not 0 < share <= 1:
        raise ValueError(f"{name} must be in (0, 1], not {share}")


def _calendar_design(windows: Sequence[pd.DatetimeIndex]) -> np.ndarray:
    """What a finding or the calendar explains, day by day over the windows: a level per window (a
    finding moves its scope between the windows), one linear trend through them all (in weeks) and
    weekday effects (Monday the reference)."""
    width = len(windows) + 1 + 6
    origin = windows[0][0]
    blocks = []
    for w, days in enumerate(windows):
        block = np.zeros((len(days), width))
        block[:, w] = 1.0
        block[:, len(windows)] = ((days - origin) / pd.Timedelta(days=7)).to_numpy(dtype=float)
        weekday = days.day_of_week.to_numpy()
        not_monday = weekday > 0
        block[np.flatnonzero(not_monday), len(windows) + weekday[not_monday]] = 1.0
        blocks.append(block)
    return np.vstack(blocks)


@dataclass(frozen=True, eq=False)
class _ControlLevels:
    """The control's level day by day over the windows (log, trend and weekdays taken out):
    constant but for its steps. ``gap`` is the index of the after window's first day."""

    levels: np.ndarray
    steps: tuple[tuple[date, float], ...]
    cuts: tuple[int, ...]  # where each step starts (index into the windows' days)
    gap: int
    gap_jump: float  # level change across the gap, clear or not
    gap_clear: bool


def _split(a: np.ndarray, lo: int, hi: int, sigma: float) -> list[int]:
    """Binary segmentation of a[lo:hi]: the days where a new level starts (STEP_Z, MIN_STEP)."""
    best: tuple[float, int] | None = None
    for k in range(lo + MIN_SEGMENT_DAYS, hi - MIN_SEGMENT_DAYS + 1):
        change = a[k:hi].mean() - a[lo:k].mean()
        z = abs(change) / (sigma * np.sqrt(1 / (k - lo) + 1 / (hi - k)))
        if abs(change) >= MIN_STEP and (best is None or z > best[0]):
            best = (z, k)
    if best is None or best[0] < STEP_Z:
        return []
    k = best[1]
    return [*_split(a, lo, k, sigma), k, *_split(a, k, hi, sigma)]


def _control_levels(control: pd.Series, windows: Sequence[pd.DatetimeIndex]) -> _ControlLevels:
    """Where the control's level shifts: the steps inside each window and the one across the gap.

    The control's log cost, less its weekday effects and one trend through both windows, is cut
    into runs of constant level (binary segmentation); the trend and weekdays are fitted again
    with the steps found, once, so a step does not pass for trend.
    """
    days = windows[0].append(list(windows[1:]))
    log_cost = np.log(control.reindex(days).to_numpy(dtype=float))
    calendar = _calendar_design(windows)
    starts = np.cumsum([0, *(len(w) for w in windows)])
    window_of = np.repeat(np.arange(len(windows)), [len(w) for w in windows])
    cuts: list[int] = []
    for _ in range(2):
        steps = [((np.arange(len(days)) >= k) & (window_of == window_of[k])).astype(float) for k in cuts]
        design = np.column_stack([calendar, *steps])
        beta = np.linalg.lstsq(design, log_cost, rcond=None)[0]
        calendar_effect = calendar[:, len(windows):] @ beta[len(windows):calendar.shape[1]]
        adjusted = log_cost - calendar_effect  # the window levels, the steps and the noise
        inside = np.diff(adjusted)[np.diff(window_of) == 0]
        sigma = max(_MAD_TO_SIGMA * float(np.median(np.abs(inside - np.median(inside)))) / np.sqrt(2),
                    _MIN_CONTROL_SIGMA)
        cuts = [k for w in range(len(windows)) for k in _split(adjusted, int(starts[w]), int(starts[w + 1]), sigma)]
    bounds = sorted({*map(int, starts), *cuts})
    levels = np.empty(len(days))
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        levels[lo:hi] = adjusted[lo:hi].mean()
    gap = int(starts[1])
    before = gap - max(b for b in bounds if b < gap)
    after = min(b for b in bounds if b > gap) - gap
    jump = float(levels[gap] - levels[gap - 1])
    clear = abs(jump) >= MIN_STEP and abs(jump) >= STEP_Z * sigma * np.sqrt(1 / before + 1 / after)
    return _ControlLevels(levels=levels, steps=tuple((days[k].date(), float(levels[k] - levels[k - 1])) for k in cuts),
                          cuts=tuple(cuts), gap=gap, gap_jump=jump, gap_clear=bool(clear))


@dataclass(frozen=True, eq=False)
class _Follow:
    """What the expected cost follows of the control: a factor per day of each window, and the log
    level change the elasticity multiplies (for its share of the standard error)."""

    effect: ControlEffect
    factors: tuple[np.ndarray, ...]
    moved: np.ndarray  # per day of the last window, against the first window's mean
    cautious: tuple[np.ndarray, ...] | None = None  # the factors in the cautious reading, if different


def _elasticity(scope: pd.Series, levels: np.ndarray, windows: Sequence[pd.DatetimeIndex]) -> tuple[float | None, float | None, int]:
    """The slope of the scope's log cost on the control's level, once the calendar is taken out of
    both (Frisch-Waugh): only the control's steps inside the windows are left to measure it on.
    (measured, standard error, days); None when the control took no step inside the windows."""
    days = windows[0].append(list(windows[1:]))
    cost = _scope_costs(scope, days)
    usable = cost > 0  # a log needs a positive cost
    design = _calendar_design(windows)[usable]
    design = design[:, design.any(axis=0)]
    y, x = np.log(cost[usable]), levels[usable]
    if len(y) < MIN_CONTROL_DAYS:
        return None, None, len(y)
    projection = design @ np.linalg.pinv(design)
    x_left, y_left = x - projection @ x, y - projection @ y
    sxx = float(x_left @ x_left)
    if sxx <= 1e-12:  # no step of the control inside the windows
        return None, None, len(y)
    slope = float(x_left @ y_left) / sxx
    residual = y_left - slope * x_left
    free = max(len(y) - design.shape[1] - 1, 1)
    # Robust spread, scaled up for the degrees of freedom the other columns took.
    sigma = _MAD_TO_SIGMA * float(np.median(np.abs(residual - np.median(residual)))) * np.sqrt(len(y) / free)
    energy = float(residual @ residual)
    rho = float(residual[1:] @ residual[:-1]) / energy if energy > 0 else 0.0
    rho = min(max(rho, 0.0), _MAX_AUTOCORRELATION)
    return slope, sigma * float(np.sqrt((1 + rho) / (1 - rho) / sxx)), len(y)


def _follow_control(scope: pd.Series, control: pd.Series | None, windows: Sequence[pd.DatetimeIndex],
                    fixed: float | None, *, every_step: bool) -> _Follow:
    """How the expected cost follows the control (the rest of the org), and why.

    The control is there to take out a change the whole org shares (a price change, a traffic
    shift). The rest of the org also moves for its own reasons: another team's launch, another
    finding's saving. From the scope's cost alone the two cannot be told apart, so:

    1. Only the control's *steps* count: shifts of its level, found in its own series (trend and
       weekdays out, STEP_Z above its noise). Its day-to-day wiggles and its trend are not
       followed: a scope that shares the org's daily traffic would otherwise pass on any step of
       the total, whatever caused it (the false verification this replaced: the scope moved with
       the org day to day, another team's spend jumped on the implementation day, the unchanged
       scope "saved" that jump).
    2. The elasticity is measured on the steps *inside* the windows, where a finding cannot be
       the cause: did the scope step with the control, and how far? Applied weighted by how
       clearly it is measured (verification) or when CONTROL_Z standard errors above zero (the
       re-check); another team's launch that the scope did not follow measures about 0 and
       changes next to nothing.
    3. A measured elasticity can still be wrong: a step of the scope's own near a step of the
       control (a change rolled back two days after another team's launch) reads as following
       it, and a noisy scope cannot show that it shares a small org-wide drop. And a step of the
       control *across the implementation day* cannot be seen in the scope at all (its own step
       there is the finding's). So verification also takes a cautious reading (``every_step``),
       the one that credits the finding less: each rise of the control followed at the lowest
       elasticity the measurement allows (measured − CAUTIOUS_Z standard errors, at least 0;
       0 across the implementation day, where nothing shows it), each drop at the highest (at
       most 1, in proportion; 1 when nothing measured it). A finding is verified only when both
       readings reach the threshold and hold to the end, and the figure reported stays the best
       reading. The re-check reads only the step between its windows cautiously (two months
       apart: a rise left out, a drop followed only as far as measured); inside its windows it
       follows the measurement, since other findings' savings in the rest of the org would
       otherwise read as this one's spend coming back.

    ``fixed`` (an elasticity given by the caller): the control's daily cost is followed as it is,
    control^fixed (how costbot worked before; the benchmark's baseline).
    """
    if control is None:
        return _Follow(ControlEffect(0.0, None, None, 0), tuple(np.ones(len(w)) for w in windows),
                       np.zeros(len(windows[-1])))
    if fixed is not None:
        logs = [np.log(_control_costs(control, w)) for w in windows]
        return _Follow(ControlEffect(float(fixed), None, None, 0), tuple(np.exp(fixed * v) for v in logs),
                       logs[-1] - float(logs[0].mean()))
    shape = _control_levels(control, windows)
    measured, error, days = _elasticity(scope, shape.levels, windows)
    clear = measured is not None and error is not None and measured >= max(CONTROL_Z * error, MIN_ELASTICITY)
    elasticity = min(measured, MAX_ELASTICITY) if clear and measured is not None else 0.0
    if every_step and measured is not None and error is not None and measured > 0:
        # The figure: the measurement weighted by how clearly it is measured, t²/(1+t²) as for the
        # trend, instead of all or nothing: a noisy scope's half-measured share of an org-wide
        # change is better than none. The verdict does not rest on it: the cautious reading
        # below takes the measurement's plausible bounds.
        t2 = (measured / error) ** 2 if error > 0 else np.inf
        weighted = min(measured, MAX_ELASTICITY) * (1.0 if np.isinf(t2) else t2 / (1 + t2))
        elasticity = weighted if weighted >= MIN_ELASTICITY else 0.0
    # The highest and lowest elasticity the measurement allows, for the control's drops and its
    # rises inside the windows in the cautious reading (a rise across the gap: 0, nothing shows it).
    if every_step:
        highest = 1.0 if measured is None or error is None else max(elasticity, min(measured + CAUTIOUS_Z * error, 1.0))
        lowest = 0.0 if measured is None or error is None else max(0.0, min(elasticity, measured - CAUTIOUS_Z * error))
    else:
        highest = elasticity if measured is not None else 0.0
        lowest = elasticity
    levels = shape.levels
    best = elasticity * levels  # the log factor the expected cost follows
    path = best.copy()  # the cautious reading's: each step re-weighed by its direction
    for k in (*shape.cuts, shape.gap) if every_step else (shape.gap,):
        change = float(levels[k] - levels[k - 1])
        if k == shape.gap and not shape.gap_clear:
            continue  # a noise-level difference between the windows: taken as the best reading does
        rise = 0.0 if k == shape.gap else lowest
        path[k:] += change * ((rise if change > 0 else highest) - elasticity)
    starts = np.cumsum([0, *(len(w) for w in windows)])
    factors = [np.exp(best[lo:hi]) for lo, hi in zip(starts[:-1], starts[1:], strict=True)]
    cautious = [np.exp(path[lo:hi]) for lo, hi in zip(starts[:-1], starts[1:], strict=True)]
    differs = not np.allclose(path, best, rtol=0.0, atol=1e-12)
    gap_change = float(levels[shape.gap] - levels[shape.gap - 1])
    moved = levels[starts[-2]:] - float(levels[:starts[1]].mean())
    effect = ControlEffect(elasticity, measured, error, days, steps=shape.steps,
                           gap_jump=gap_change if shape.gap_clear else None,
                           gap_elasticity=(0.0 if gap_change > 0 else highest) if shape.gap_clear else elasticity)
    return _Follow(effect, tuple(factors), moved, tuple(cautious) if differs else None)


def _baseline(scope: pd.Series, control: pd.Series | None, implemented: pd.Timestamp,
              baseline_days: int) -> tuple[pd.DatetimeIndex, np.ndarray]:
    first_day = scope.index[0] if len(scope) else implemented
    start = max(implemented - pd.Timedelta(days=baseline_days), first_day)
    days = pd.date_range(start, implemented - pd.Timedelta(days=1))
    if len(days) < MIN_BASELINE_DAYS:
        raise InputError(f"the scope has {len(days)} days of cost before the implementation day "
                         f"{implemented.date()}; verification needs at least {MIN_BASELINE_DAYS}",
                         column="daily")
    cost = _scope_costs(scope, days)
    if cost.mean() <= 0:
        raise InputError(f"the scope cost nothing from {days[0].date()} to {days[-1].date()}: "
                         "there is no spend to save", column="daily")
    _control_costs(control, days)  # every day of the baseline needs a positive control
    return days, cost


def verify_saving(daily: pd.Series, *, implemented_on: date, estimate_monthly: float, as_of: date,
                  settle_days: int = 14, baseline_days: int = 28, verified_share: float = 0.8,
                  control: pd.Series | None = None,
                  control_elasticity: float | None = None) -> VerificationResult | None:
    """Measure the realized monthly saving of a finding implemented on ``implemented_on``.

    ``daily``: the scope's daily cost (complete days only); ``as_of``: the last day with complete
    data; ``control``: optional daily cost of the rest of the org (or the scope's parent without
    the scope), needed on every day of both windows; how much the scope follows it is measured
    (``control_elasticity`` fixes it instead: 1 = in proportion). Returns None until the after
    window (the ``settle_days`` days after the implementation day) is complete. See the module
    docstring for the method. Raises InputError when the baseline has fewer than 14 days of data
    or no spend.
    """
    _check_parameters(baseline_days, verified_share, "verified_share")
    if settle_days < 1:
        raise ValueError(f"settle_days must be >= 1, not {settle_days}")
    if not estimate_monthly > 0:
        raise ValueError(f"estimate_monthly must be positive, not {estimate_monthly}")
    implemented = pd.Timestamp(implemented_on)
    after_days = pd.date_range(implemented + pd.Timedelta(days=1), implemented + pd.Timedelta(days=settle_days))
    if after_days[-1] > pd.Timestamp(as_of):
        return None
    scope = _daily_series(daily, "daily")
    scope = scope[scope.index <= pd.Timestamp(as_of)]
    control_series = _daily_series(control, "control") if control is not None else None
    base_days, base_cost = _baseline(scope, control_series, implemented, baseline_days)
    base_control = _control_costs(control_series, base_days)
    after_control = _control_costs(control_series, after_days)
    follow = _follow_control(scope, control_series, (base_days, after_days), control_elasticity,
                             every_step=True)
    effect = follow.effect
    base_follow, after_follow = follow.factors
    fit = _fit_baseline(base_days, base_cost / base_follow)

    actual = _scope_costs(scope, after_days)
    expected = fit.expected(after_days, after_follow)
    expected_mean, actual_mean = float(expected.mean()), float(actual.mean())
    realized_monthly = (expected_mean - actual_mean) * DAYS_PER_MONTH
    standard_error = fit.standard_error_daily(expected_mean, actual_mean, after_days)
    if effect.elasticity > 0 and effect.standard_error is not None:
        # A measured elasticity is uncertain too: it moves the expected cost as far as the control
        # moved between the windows (d expected / d elasticity = expected × its log change).
        standard_error = float(np.hypot(standard_error,
                                        effect.standard_error * float(np.mean(expected * follow.moved))))
    standard_error *= DAYS_PER_MONTH

    base_level = float(fit.level(base_days).mean())
    series = pd.DataFrame(
        {"actual": np.concatenate([base_cost, _scope_costs(scope, pd.DatetimeIndex([implemented])), actual]),
         "expected": np.concatenate([fit.expected(base_days, base_follow), [np.nan], expected]),
         "window": ["baseline"] * len(base_days) + ["implementation"] + ["after"] * len(after_days)},
        index=base_days.append(pd.DatetimeIndex([implemented])).append(after_days))
    series.index.name = "day"

    # A change undone mid-window still shows a partial saving over the whole window, and none
    # over its last days: verified needs the saving to hold to the end.
    tail = min(7, max(len(after_days) // 2, 1))
    tail_monthly = float(expected[-tail:].mean() - actual[-tail:].mean()) * DAYS_PER_MONTH
    # Rolled back, or eroding: the last week saved clearly less than the first. A rollback whose
    # last week happens to be noisy low could pass the share test above; not this one.
    head_monthly = float(expected[:tail].mean() - actual[:tail].mean()) * DAYS_PER_MONTH
    fall = head_monthly - tail_monthly
    fell_off = (fall > HOLD_SHARE * head_monthly
                and fall > HOLD_Z * fit.difference_error_daily(expected[:tail], expected[-tail:]) * DAYS_PER_MONTH)
    threshold = verified_share * estimate_monthly
    cautious_monthly, cautious_holds = None, True
    if follow.cautious is not None:  # the reading that credits the finding less must verify too
        cautious_base, cautious_after = follow.cautious
        cautious_expected = _fit_baseline(base_days, base_cost / cautious_base).expected(after_days, cautious_after)
        cautious_monthly = float(cautious_expected.mean() - actual_mean) * DAYS_PER_MONTH
        cautious_tail = float(cautious_expected[-tail:].mean() - actual[-tail:].mean()) * DAYS_PER_MONTH
        cautious_holds = cautious_monthly >= threshold and cautious_tail >= HOLD_SHARE * threshold
    verified = (realized_monthly >= threshold and realized_monthly >= SIGNIFICANCE_Z * standard_error
                and tail_monthly >= HOLD_SHARE * threshold and not fell_off and cautious_holds)
    return VerificationResult(
        outcome=FindingState.VERIFIED if verified else FindingState.NOT_REALIZED,
        realized_monthly=realized_monthly,
        estimate_monthly=float(estimate_monthly),
        verified_share=verified_share,
        standard_error_monthly=standard_error,
        final_days=Window(after_days[-tail].date(), after_days[-1].date(), float(actual[-tail:].mean())),
        final_days_monthly=tail_monthly,
        baseline=Window(base_days[0].date(), base_days[-1].date(), float(base_cost.mean())),
        after=Window(after_days[0].date(), after_days[-1].date(), actual_mean),
        expected_daily_after=expected_mean,
        trend_per_day=fit.slope / base_level if base_level > 0 else 0.0,
        trend_effect=float(fit.level(after_days).mean()) / base_level - 1 if base_level > 0 else 0.0,
        weekday_factors=tuple(float(f) for f in fit.weekday_factors),
        control_change=(float(after_control.mean() / base_control.mean() - 1)
                        if control_series is not None else None),
        control=effect,
        series=series,
        cautious_monthly=cautious_monthly,
        first_days_monthly=head_monthly,
        fell_off=bool(fell_off),
    )


def recheck_verified(daily: pd.Series, *, implemented_on: date, verified_monthly: float, as_of: date,
                     baseline_days: int = 28, window_days: int = 30, recent_days: int = 14,
                     regressed_share: float = 0.5, control: pd.Series | None = None,
                     control_elasticity: float | None = None) -> RecheckResult | None:
    """The monthly re-check of a verified saving: has the spend come back?

    Measures the saving over the last ``window_days`` complete days (up to ``as_of``), and over
    their last ``recent_days``, against the same baseline counterfactual as :func:`verify_saving`, whose trend stops one baseline length
    after the baseline (the expected cost follows the control as far as the scope is measured to
    follow it, inside the baseline and the re-check window). Flags ``regressed`` when the saving
    is below ``regressed_share`` (half) of ``verified_monthly``, or the recent days' below half
    of that: a rollback (the recent days catch one in the window's second half at once), or
    drift that ate most of it. Growth of the scope's own usage beyond its baseline trend also reads as spend
    coming back. None while the window reaches back to the implementation day.
    """
    _check_parameters(baseline_days, regressed_share, "regressed_share")
    if not verified_monthly > 0:
        raise ValueError(f"verified_monthly must be positive, not {verified_monthly}")
    implemented = pd.Timestamp(implemented_on)
    window_days_index = pd.date_range(end=pd.Timestamp(as_of), periods=window_days)
    if window_days_index[0] <= implemented:
        return None
    scope = _daily_series(daily, "daily")
    scope = scope[scope.index <= pd.Timestamp(as_of)]
    control_series = _daily_series(control, "control") if control is not None else None
    base_days, base_cost = _baseline(scope, control_series, implemented, baseline_days)
    _control_costs(control_series, window_days_index)  # every day of the window needs a positive control
    # Two months lie between the windows: many moves of the rest of the org, other findings'
    # savings among them. The re-check takes the cautious reading of the control's step between
    # them only (a rise left out, so another team's growth cannot hide spend coming back; a drop
    # followed only as far as a step inside the windows measured the scope following it).
    follow = _follow_control(scope, control_series, (base_days, window_days_index), control_elasticity,
                             every_step=False)
    base_follow, window_follow = follow.cautious if follow.cautious is not None else follow.factors
    fit = _fit_baseline(base_days, base_cost / base_follow)

    actual = _scope_costs(scope, window_days_index)
    expected = fit.expected(window_days_index, window_follow)
    expected_mean, actual_mean = float(expected.mean()), float(actual.mean())
    saving_monthly = (expected_mean - actual_mean) * DAYS_PER_MONTH
    recent = min(recent_days, window_days)
    recent_saving = float(expected[-recent:].mean() - actual[-recent:].mean()) * DAYS_PER_MONTH
    threshold = regressed_share * verified_monthly
    return RecheckResult(
        regressed=saving_monthly < threshold or recent_saving < HOLD_SHARE * threshold,
        saving_monthly=saving_monthly,
        verified_monthly=float(verified_monthly),
        regressed_share=regressed_share,
        window=Window(window_days_index[0].date(), window_days_index[-1].date(), actual_mean),
        expected_daily=expected_mean,
        recent=Window(window_days_index[-recent].date(), window_days_index[-1].date(), float(actual[-recent:].mean())),
        recent_saving_monthly=recent_saving,
    )


def after_window(implemented_on: date, settle_days: int = 14) -> tuple[date, date]:
    """The after window of a finding (first and last day), for schedulers: verify once ``as_of`` ≥ last."""
    return implemented_on + timedelta(days=1), implemented_on + timedelta(days=settle_days)
