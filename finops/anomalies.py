"""Cost anomaly detection: daily, per owned series, with root cause; and its replay.

What is watched
    Every *owned series*: provider x sub account x service x team x charge category (regions and
    SKUs summed inside); two roll-ups per team that see a change spread thinly over several series
    (one service across the team's accounts, one account across the team's services); and, for
    new spend only, each region of a series that spans several. Credits are never watched: a
    credit is a reduction the provider grants, not a behaviour of the workload, and it would read
    as a drop (and its end as a spike). Purchase, Tax and Adjustment charges are series of their
    own (the category is part of the key), so a month-start fee is compared with earlier fees,
    never with daily usage. Days after ``complete_through`` are partial and are dropped first.

The expected cost of day d (only days before d are read)
    E(d) = L(d) * w(weekday of d) + M(d)

    - w, weekly seasonality: multiplicative weekday factors, each the median over the 12 most
      recent clean Monday-Sunday weeks of the day's ratio to its week's mean, shrunk towards 1 by
      its own standard error (so noise does not invent a weekly pattern; a weekend at 60 % +- 3 %
      stays 60 %). Fewer than 3 usable weeks: no pattern. Refreshed each Monday.
    - L, level: the median of the de-seasonalised values of the last 28 clean days (their mean
      for a series idle on most days). A four-week median follows a trend with a two-week lag:
      growth of 20 %/month leaves it 10 % behind, well inside the 30 % minimum change; faster
      growth is worth a look anyway.
    - M, recurring monthly charges (month-start fees, mid-month and month-end batch jobs, tax on
      the last day), learned from the series' own history: the same position in each of the six
      previous months, as a day of the month (the 1st, the 15th) and, in a month's last three
      days, as a distance from its end (the last day). Each earlier month's excess is measured
      against the same weekday one and two weeks around it, in dollars (a fee, a fixed job) and
      as a ratio (a job that scales with the workload or runs on working days only). A position
      recurs when every month (at least two; from four months on, all but one) is beyond 3 noise
      units, at that month's level, in the same direction; M is then the median excess of the
      steadier of the two measures, and the months' spread widens the band.
    - Clean history leaves out holidays and the days of earlier anomalies of this scope (and of
      its roll-ups or members), so an event never becomes its own baseline while it lasts.

The noise and the rule
    Cost noise is multiplicative (a busy day is busier in every line item), so it is measured on
    the log scale: s, the robust spread of log(actual / expected) over the last 56 clean days
    (1.4826 x the median absolute value, which ignores the outliers it is there to find),
    refreshed weekly; with the spread of a recurring charge, sigma(d). A day is *out of band*
    when |log(actual / E)| > 2 sigma; the chart band is E * exp(+-2 sigma).

    A candidate is a run of out-of-band days in one direction (gaps of fewer than 3 in-band days
    allowed) whose last day is among the 3 most recent complete days, with 28 days of data before
    it. It is raised when, over the run, all three hold:
      |impact| >= the team's minimum impact ($100 by default),
      |impact| / expected >= the team's minimum change (30 % by default),
      the summed log change is >= 4.5 standard errors, where the error adds the days' noise and
      that of the baseline itself (a median of 28 days: 1.25 sigma / sqrt(28), shared by all the
      run's days, so a long run cannot pass on a biased baseline alone).
    The first two are business thresholds; the third is the statistical one. A one-sided Gaussian
    day beyond 4 sigma happens once in about 30,000 days (one false alarm per ~90 series-years);
    sigma itself is estimated from eight weeks and is uncertain by about 15 %, so 4.5 estimated
    sigmas keep that rate. When marginal days precede a clear change, the earliest start whose run
    still passes is reported, so the start is as early as the evidence allows.

    Holidays (Dec 24-26, Dec 31 and Jan 1 by default) never count as out of band downwards and
    are left out of baselines; an increase on a holiday is still an increase. Nor does a day
    without spend on a series that had such days in the eight weeks before: for it a pause is
    normal (a stop is news only on a series that never stops).

Kinds and directions
    Increases alert ("spike" for up to 3 days, "shift" beyond). Decreases are recorded with
    ``direction="decrease"`` (kind "drop") and alert only where the team's thresholds say
    ``alert_on_decrease``. Spend on a scope that had none during the 56 days before (data
    covering those days) is ``kind="new_spend"`` once it reaches the minimum impact; a region new
    to a series is watched on its own for this, so a small new region in a large series counts.

One event, one anomaly
    While an anomaly is open its days are masked out of the baseline: the expected cost stays at
    the pre-event level and the impact accumulates. Every run updates the impact, expected and
    actual so far and the last day seen. The anomaly ends when the series has been back for 3
    days, back meaning closer (on the log scale) to the expected cost than to the event's typical
    level, or within the band where that level is not finite (spend from nothing, a full stop);
    ``end`` is its last anomalous day. A change still there after 90 days (28 for new spend) is
    the new normal: the anomaly ends and its days are history again. An open scope is never
    raised again, and a new event on a scope must start after the previous one ended.

    Roll-ups are not modelled on their own: a roll-up's expected cost is the sum of its members'
    (so it has their seasonality and recurring charges), and its noise is that of the sum's
    residuals. When a member (or a region in a series) carries at least half of a candidate's
    impact and has a candidate or an open anomaly itself, that more specific scope is reported.
    Otherwise the change is spread: the roll-up is reported, and the same-direction candidates of
    its members that day are part of it. An open roll-up anomaly covers its members. A reported
    or open scope claims the series carrying its change; a roll-up whose change is carried at
    least half by series another scope claims is not raised (a new account's EC2 is the
    account's new spend, not also "EC2 across accounts"). A new event must start after every
    event on the scope, above it or under it ended, the ones accepted as the new normal included.

    The key is the scope and the start day, so a re-run, or a run on restated data, produces the
    same anomaly and storage updates instead of inserting.

Root cause
    Over the anomaly's days, each value of each dimension under the scope (accounts, services,
    regions, SKUs, resources) is given the part of the expected cost it carried in the 28 days
    before the start; its impact is its actual cost minus that part. Shares are impact / total
    impact, so per dimension they sum to 1.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from finops.anomaly_model import Anomaly, Contributor, DetectionResult, SeriesPoint
from finops.model import DAY, TEAM, UNALLOCATED, metric_column
from finops.money import cents
from finops.teams import Thresholds

# --- The model's windows (days unless named otherwise) ---------------------------------------
LEVEL_DAYS = 28  # level: median of the last four clean weeks
LEVEL_LOOKBACK_DAYS = 182  # how far back clean days may be searched when recent ones are masked
FACTOR_WEEKS = 12  # weekday factors from the 12 most recent clean weeks ...
FACTOR_LOOKBACK_WEEKS = 26  # ... found within the last half year
MIN_FACTOR_WEEKS = 3
NOISE_DAYS = 56  # noise scale from the last eight weeks
MONTHS_BACK = 6  # recurring monthly charges learned from up to six previous months
# Month-end work (batch jobs, tax) happens in the last days of a month. Further from the end,
# the day of the month explains recurring charges, and counting from the end would only alias
# it (the 15th of a 31-day month is 16 days before its end, like the 12th of February).
MONTH_END_DAYS = 3

# --- The rule ---------------------------------------------------------------------------------
BAND_Z = 2.0  # out of band / chart band
RAISE_Z = 4.5  # noise test for raising (see the module docstring)
RECURRING_Z = 3.0  # a month position is recurring when its excess is beyond this many noise units
MAD_TO_SD = 1.4826  # MAD of a normal distribution times this is its standard deviation
MEDIAN_SE = math.sqrt(math.pi / 2)  # a median's standard error is this times the mean's
MEAN_ABS_TO_SD = math.sqrt(math.pi / 2)  # mean absolute deviation of a normal times this is its sd
BASELINE_SE = MEDIAN_SE / math.sqrt(LEVEL_DAYS)  # of the level, in units of the daily noise

# --- The life of an anomaly --------------------------------------------------------------------
RUN_DAYS = 56  # how far back a run may start
END_AFTER_DAYS = 3  # back in band this many days: over
MAX_OPEN_DAYS = 90  # a change lasting a quarter is the new normal
NEW_SPEND_LOOKBACK_DAYS = 56  # no spend in this many days before: new spend
NEW_SPEND_SETTLE_DAYS = LEVEL_DAYS  # a new scope has its own baseline after this many days
SPIKE_MAX_DAYS = 3  # an increase longer than this is a shift
MEMBER_SHARE = 0.5  # a member carrying this share of a roll-up's change is reported instead

# --- Output ------------------------------------------------------------------------------------
CHART_MIN_DAYS = 30
CHART_MAX_DAYS = 60
CHART_DAYS_BEFORE = 14
ROOT_CAUSE_TOP = 5
OTHER = "(other)"

# What a daily run reads before ``complete_through``: the oldest day it evaluates (a run's start,
# a chart), the noise window before that, and the longest look back from there (six months of
# recurring charges with their neighbours, half a year of clean days). Callers load this much
# daily history, and pass the anomalies that ended within it.
HISTORY_DAYS = (max(RUN_DAYS, CHART_MAX_DAYS) + NOISE_DAYS + 7
                + max(LEVEL_LOOKBACK_DAYS, 7 * FACTOR_LOOKBACK_WEEKS, 31 * MONTHS_BACK + 14))

# Fixed-date holidays observed almost everywhere cloud spend is run: (month, day).
DEFAULT_HOLIDAYS: tuple[tuple[int, int], ...] = ((1, 1), (12, 24), (12, 25), (12, 26), (12, 31))

DEFAULT_THRESHOLDS = Thresholds()

# Scope levels and the frame columns keying them.
SERIES, REGION, SERVICE_ROLLUP, ACCOUNT_ROLLUP = "series", "region", "service", "account"
LEVEL_KEYS: dict[str, tuple[str, ...]] = {
    SERIES: ("ProviderName", "SubAccountId", "ServiceName", TEAM, "ChargeCategory"),
    REGION: ("ProviderName", "SubAccountId", "ServiceName", TEAM, "ChargeCategory", "RegionId"),
    SERVICE_ROLLUP: ("ProviderName", "ServiceName", TEAM, "ChargeCategory"),
    ACCOUNT_ROLLUP: ("ProviderName", "SubAccountId", TEAM, "ChargeCategory"),
}
DIMENSION_NAMES: dict[str, str] = {
    "ProviderName": "provider", "SubAccountId": "sub_account_id", "ServiceName": "service",
    "RegionId": "region", TEAM: "team", "ChargeCategory": "charge_category",
}
# Root-cause dimensions per level: what varies under the scope.
ROOT_CAUSE_DIMENSIONS: dict[str, tuple[str, ...]] = {
    SERIES: ("RegionId", "SkuId", "ResourceId"),
    REGION: ("SkuId", "ResourceId"),
    SERVICE_ROLLUP: ("SubAccountId", "RegionId", "SkuId", "ResourceId"),
    ACCOUNT_ROLLUP: ("ServiceName", "RegionId", "SkuId", "ResourceId"),
}
ROW_COLUMNS: tuple[str, ...] = ("ProviderName", "SubAccountId", "ServiceName", "RegionId", "SkuId",
                                "ResourceId", TEAM, "ChargeCategory")
NOT_WATCHED_CATEGORIES = ("Credit",)
# The frame columns detection reads besides the day and the cost (a loader need read no other);
# text or categorical columns both work.
DETECTION_COLUMNS: tuple[str, ...] = ROW_COLUMNS


# ============================================================================ calendar and maths


@dataclass(frozen=True)
class _Calendar:
    """Day-indexed calendar facts for the panel's days (index 0 is the first day of data)."""

    first: date
    size: int
    dow: np.ndarray  # Monday = 0
    holiday: np.ndarray
    prev_same_day: np.ndarray  # (size, MONTHS_BACK): same day of month k months back, -1 if none
    prev_same_from_end: np.ndarray  # (size, MONTHS_BACK): same distance from month end

    def day(self, index: int) -> date:
        return self.first + timedelta(days=int(index))

    def index(self, day: date) -> int:
        return (day - self.first).days


def _build_calendar(first: date, size: int, holidays: Collection[tuple[int, int] | date]) -> _Calendar:
    fixed = {h for h in holidays if isinstance(h, tuple)}
    dated = {h for h in holidays if isinstance(h, date)}
    dow = np.empty(size, dtype=np.int64)
    holiday = np.zeros(size, dtype=bool)
    same_day = np.full((size, MONTHS_BACK), -1, dtype=np.int64)
    from_end = np.full((size, MONTHS_BACK), -1, dtype=np.int64)
    for i in range(size):
        d = first + timedelta(days=i)
        dow[i] = d.weekday()
        holiday[i] = (d.month, d.day) in fixed or d in dated
        days_to_end = _month_length(d.year, d.month) - d.day
        for k in range(1, MONTHS_BACK + 1):
            year, month = divmod(d.year * 12 + d.month - 1 - k, 12)
            month += 1
            length = _month_length(year, month)
            if d.day <= length:
                same_day[i, k - 1] = (date(year, month, d.day) - first).days
            if days_to_end < MONTH_END_DAYS and length - days_to_end >= 1:
                from_end[i, k - 1] = (date(year, month, length - days_to_end) - first).days
    same_day[same_day < 0] = -1
    from_end[from_end < 0] = -1
    return _Calendar(first, size, dow, holiday, same_day, from_end)


def _month_length(year: int, month: int) -> int:
    nxt = date(year + month // 12, month % 12 + 1, 1)
    return (nxt - timedelta(days=1)).day


def _nanmedian(x: np.ndarray) -> np.ndarray:
    """Median over the last axis ignoring NaN; NaN where a slice has no value.

    Sorting puts NaN last, so the median is read at the positions the count of values gives;
    this is much faster than ``np.nanmedian`` on many short slices; without NaN, partitioning is
    faster still.
    """
    if x.size == 0 or not np.isnan(x).any():
        return np.median(x, axis=-1) if x.shape[-1] else np.full(x.shape[:-1], np.nan)
    s = np.sort(x, axis=-1)
    n = np.sum(~np.isnan(x), axis=-1)
    lo = np.maximum((n - 1) // 2, 0)[..., None]
    hi = np.maximum(n // 2, 0)[..., None]
    med = (np.take_along_axis(s, lo, -1)[..., 0] + np.take_along_axis(s, hi, -1)[..., 0]) / 2
    return np.where(n > 0, med, np.nan)


def _log_ratio(actual: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """log(actual / expected); +-inf where only one of them is positive (spend from nothing, a stop)."""
    both = (actual > 0) & (expected > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.log(np.where(both, actual, 1.0) / np.where(both, expected, 1.0))
        apart = np.where(actual == expected, 0.0, np.sign(actual - expected) * np.inf)
    return np.where(both, ratio, apart)


def _z(actual: np.ndarray, expected: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """How many sigmas (log scale) each day is from its expected cost."""
    ratio = _log_ratio(actual, expected)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(sigma > 0, ratio / np.where(sigma > 0, sigma, 1.0), np.sign(ratio) * np.inf)
    return np.nan_to_num(z, nan=0.0, posinf=np.inf, neginf=-np.inf)


def _gather(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """values[:, index] with NaN where index is -1."""
    out = values[:, np.maximum(index, 0)]
    return np.where(index >= 0, out, np.nan)


# ============================================================================ the expected band


def _neighbour_median(values: np.ndarray) -> np.ndarray:
    """Per day, the median of the same weekday one and two weeks before and after."""
    k, size = values.shape
    neighbours = np.full((k, size, 4), np.nan)
    for j, offset in enumerate((-14, -7, 7, 14)):
        lo, hi = max(0, -offset), min(size, size - offset)
        neighbours[:, lo:hi, j] = values[:, lo + offset:hi + offset]
    return _nanmedian(neighbours)


def _weekly_factors(values: np.ndarray, clean: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """(k, anchors, 7) weekday factors from the clean weeks before each anchor (a Monday index).

    Each factor is shrunk towards 1 by its own standard error (positive-part James-Stein), so a
    series without a weekly pattern does not get a spurious one from noise, while a clear
    pattern (a weekend at 60 % +- 3 %) is kept as measured.
    """
    k, n = values.shape[0], anchors.size
    index = anchors[:, None] - 7 * FACTOR_LOOKBACK_WEEKS + np.arange(7 * FACTOR_LOOKBACK_WEEKS)[None, :]
    present = index >= 0
    safe = np.maximum(index, 0)
    block = values[:, safe].reshape(k, n, FACTOR_LOOKBACK_WEEKS, 7)
    usable = (clean[:, safe] & present).reshape(k, n, FACTOR_LOOKBACK_WEEKS, 7).all(axis=-1)
    mean = block.mean(axis=-1)
    usable &= mean > 0
    # the FACTOR_WEEKS most recent usable weeks, gathered to the front (most often all of them)
    recent_rank = np.cumsum(usable[..., ::-1], axis=-1)[..., ::-1]
    keep = usable & (recent_rank <= FACTOR_WEEKS)
    pick = np.argsort(~keep, axis=-1, kind="stable")[..., :FACTOR_WEEKS]
    kept = np.take_along_axis(keep, pick, axis=-1)
    weeks = kept.sum(axis=-1)
    chosen = np.take_along_axis(block, pick[..., None], axis=-2)
    chosen_mean = np.take_along_axis(mean, pick, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(kept[..., None], chosen / chosen_mean[..., None], np.nan).swapaxes(-1, -2)
    factors = _nanmedian(ratio)
    deviation = factors - 1
    # the spread of the weeks (robust: MAD); where most weeks agree exactly, as a weekday that is
    # idle in most weeks and busy in a few (a job now and then), the MAD reads zero, and the mean
    # absolute deviation says how unsteady it is
    deviations = np.abs(ratio - factors[..., None])
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = MAD_TO_SD * _nanmedian(deviations)
        mean_spread = MEAN_ABS_TO_SD * np.nansum(deviations, axis=-1) / weeks[..., None]
        spread = np.where(spread > 0, spread, mean_spread)
        se = MEDIAN_SE * spread / np.sqrt(weeks)[..., None]
        shrink = np.clip(1 - (se / deviation) ** 2, 0, 1)
    factors = 1 + np.nan_to_num(deviation * shrink)
    factors[weeks < MIN_FACTOR_WEEKS] = 1.0
    return factors


def _level_index(clean: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """For rows grouped by clean pattern: the indices of the last LEVEL_DAYS clean days before each day.

    Returns (group of each row, per group an index matrix (len(days), LEVEL_DAYS) with -1 padding).
    Rows without masks share one pattern, so this is a handful of groups in practice.
    """
    _, first_row, group = np.unique(np.packbits(clean, axis=1), axis=0, return_index=True, return_inverse=True)
    matrices = []
    for row in first_row:
        positions = np.flatnonzero(clean[row])
        end = np.searchsorted(positions, days)  # clean days strictly before each day
        take = end[:, None] - LEVEL_DAYS + np.arange(LEVEL_DAYS)[None, :]
        index = positions[np.maximum(take, 0)] if positions.size else np.full(take.shape, -1)
        index = np.where((take >= 0) & (index >= (days - LEVEL_LOOKBACK_DAYS)[:, None]), index, -1)
        matrices.append(index)
    return group.reshape(-1), matrices


def _recurring(excess: np.ndarray, threshold: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(median, spread, recurring) of month-position excesses (k, n, months) against thresholds.

    Recurring: every month beyond the threshold in the direction of the median, with at least
    two months; from four months on, one exception is allowed (an earlier anomaly, an outage).
    A one-off event is not a pattern, and neither is a day-of-month job seen from the month end
    (it lands on the same distance from the end only in months of the same length).
    """
    months = np.sum(~np.isnan(excess), axis=-1)
    with np.errstate(invalid="ignore"):
        beyond = np.abs(excess) > threshold
        up, down = (beyond & (excess > 0)).sum(axis=-1), (beyond & (excess < 0)).sum(axis=-1)
    # (with this many months agreeing, the median has their sign)
    needed = np.where(months >= 4, months - 1, months)
    recurring = (months >= 2) & (np.maximum(up, down) >= needed)
    median, spread = np.zeros(recurring.shape), np.zeros(recurring.shape)
    if recurring.any():  # medians only where a pattern is possible: a few days a month
        found = excess[recurring]
        median[recurring] = _nanmedian(found)
        spread[recurring] = np.nan_to_num(MAD_TO_SD * _nanmedian(np.abs(found - median[recurring][:, None])))
    return median, spread, recurring


def _month_effect(values: np.ndarray, neighbours: np.ndarray, base: np.ndarray, noise: np.ndarray,
                  positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Recurring monthly effect at one calendar position, per row and day: (dollars, spread).

    The excess of each earlier month is measured two ways, in dollars (a fee, a fixed-size job)
    and relative to the same weekday around it (a job that scales with the workload, or one
    that runs only on working days); where both recur, the steadier one is used.
    """
    k = values.shape[0]
    flat = positions.reshape(-1)
    then = _gather(values, flat).reshape(k, *positions.shape)
    around = _gather(neighbours, flat).reshape(k, *positions.shape)
    # each month's excess is judged against the noise at that month's own level
    dollars, dollars_spread, dollars_ok = _recurring(then - around, RECURRING_Z * noise[..., None] * np.abs(around))
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio, ratio_spread, ratio_ok = _recurring(np.where(around > 0, then / around - 1, np.nan),
                                                   RECURRING_Z * noise[..., None])
        steadier = ratio_spread * np.abs(dollars) < dollars_spread * np.abs(ratio)
    use_ratio = ratio_ok & (~dollars_ok | steadier)
    return (np.where(use_ratio, ratio * base, dollars),
            np.where(use_ratio, ratio_spread * np.abs(base), dollars_spread))


def _window_median(values: np.ndarray, ends: np.ndarray, length: int) -> np.ndarray:
    """(k, len(ends)) median of values[:, end - length:end] ignoring NaN and negative positions."""
    index = ends[:, None] - length + np.arange(length)[None, :]
    index = np.where(index >= 0, index, -1)
    return _nanmedian(_gather(values, index.reshape(-1)).reshape(values.shape[0], *index.shape))


def _expected_band(values: np.ndarray, clean: np.ndarray, cal: _Calendar, lo: int, hi: int,
                   ) -> tuple[np.ndarray, np.ndarray, int]:
    """Expected cost and its noise (sigma, on the log scale) per row, and the first expected day.

    Sigma is for days lo..hi; the expected cost for days first..hi, where first is the earliest
    day the noise of day lo reads (NOISE_DAYS and a week before it). Only days before a day are
    read for it. Cost noise is multiplicative (a busy day is busier in
    every line item), so sigma is the robust spread of log(actual / expected): a +50 % day and a
    -33 % day are equally far from normal, and the band is expected * exp(+-2 sigma).

    ``values``/``clean`` may extend beyond ``hi``; nothing after a day is read for that day.
    """
    k = values.shape[0]
    values, clean = values[:, : hi + 1], clean[:, : hi + 1]
    first = max(0, lo - NOISE_DAYS - 7)  # the noise of day lo reads the residuals of earlier weeks
    days = np.arange(first, hi + 1)
    anchors, anchor_of_day = np.unique(days - cal.dow[days], return_inverse=True)
    factors = _weekly_factors(values, clean, anchors)

    level = np.empty((k, days.size))
    group, index_by_group = _level_index(clean, days)
    for g, index in enumerate(index_by_group):
        rows = np.flatnonzero(group == g)
        hist = _gather(values[rows], index.reshape(-1)).reshape(rows.size, *index.shape)
        w = factors[rows][:, anchor_of_day[:, None], cal.dow[np.maximum(index, 0)]]
        with np.errstate(invalid="ignore", divide="ignore"):
            deseasonalised = np.where(w > 0, hist / w, np.nan)
            median = _nanmedian(deseasonalised)
            # a series spending on fewer than half of its days (a job now and then) has a median
            # of zero; its level is then its average day
            sparse = (median == 0) & (np.nanmax(np.nan_to_num(deseasonalised, nan=0.0), axis=-1) > 0)
            if sparse.any():
                median[sparse] = np.nanmean(deseasonalised[sparse], axis=-1)
        level[rows] = np.nan_to_num(median, nan=0.0)
    base = level * factors[:, anchor_of_day, cal.dow[days]]

    # noise per week, on the log scale, from the clean days of the NOISE_DAYS before it
    with np.errstate(invalid="ignore", divide="ignore"):
        log_residual = np.abs(np.log(values[:, first:] / base))
    log_residual[~(clean[:, first:] & (base > 0) & (values[:, first:] > 0))] = np.nan
    noise = np.nan_to_num(_window_median(log_residual, anchors - first, NOISE_DAYS), nan=0.0) * MAD_TO_SD
    noise = noise[:, anchor_of_day]

    neighbours = _neighbour_median(values)
    by_day, spread_day = _month_effect(values, neighbours, base, noise, cal.prev_same_day[days])
    from_end, spread_end = _month_effect(values, neighbours, base, noise, cal.prev_same_from_end[days])
    use_end = np.abs(from_end) > np.abs(by_day)
    # a recurring dip never takes the expected cost below zero
    expected = np.where(base >= 0, np.maximum(base + np.where(use_end, from_end, by_day), 0), base)
    spread = np.where(use_end, spread_end, spread_day)

    out = slice(lo - first, hi - first + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        relative_spread = np.where(expected[:, out] > 0, spread[:, out] / expected[:, out], 0.0)
    return expected, np.sqrt(noise[:, out] ** 2 + relative_spread ** 2), first


# ============================================================================ the panel


@dataclass
class _Level:
    name: str
    keys: list[tuple[str, ...]]
    values: np.ndarray  # (rows, days)
    members: list[np.ndarray] = field(default_factory=list)  # roll-ups: series rows; series: region rows

    def scope_id(self, row: int) -> str:
        return "|".join((self.name, *self.keys[row]))


@dataclass
class _Rows:
    """The frame's rows as integer codes, with an index by series: what root cause reads."""

    day: np.ndarray
    cost: np.ndarray
    codes: dict[str, np.ndarray]  # column -> code per row
    labels: dict[str, np.ndarray]  # column -> the value of each code
    by_series: np.ndarray  # row positions ordered by series ...
    offsets: np.ndarray  # ... those of series i at [offsets[i], offsets[i + 1])


@dataclass
class _Panel:
    cal: _Calendar
    levels: dict[str, _Level]
    series_of_region: np.ndarray  # regions are kept only for series spanning several
    service_of_series: np.ndarray  # -1 when the series is alone in its roll-up
    account_of_series: np.ndarray
    rows: _Rows

    def rows_of(self, level: str, row: int) -> np.ndarray:
        """Positions in ``rows`` of the cost rows under a scope."""
        if level == SERIES:
            series = [row]
        elif level == REGION:
            series = [int(self.series_of_region[row])]
        else:
            series = [int(m) for m in self.levels[level].members[row]]
        offsets = self.rows.offsets
        positions = np.concatenate([self.rows.by_series[offsets[s]:offsets[s + 1]] for s in series])
        if level == REGION:
            region = self.levels[REGION].keys[row][-1]
            code = int(np.flatnonzero(self.rows.labels["RegionId"] == region)[0])
            positions = positions[self.rows.codes["RegionId"][positions] == code]
        return positions


def _codes(daily: pd.DataFrame, column: str, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(code per kept row, sorted labels) of a dimension column; missing values are ""."""
    if column not in daily:
        return np.zeros(int(keep.sum()), dtype=np.int32), np.array([""], dtype=object)
    codes, uniques = pd.factorize(daily[column], use_na_sentinel=True)
    codes = codes[keep] if not keep.all() else codes
    labels = [("" if pd.isna(u) else str(u)) for u in uniques] + [""]
    if column == TEAM:
        labels = [label or UNALLOCATED for label in labels]
    # two raw values may read the same once cleaned ("" and NaN): factorize the labels again
    canonical, remap = np.unique(np.array(labels, dtype=object), return_inverse=True)
    small = np.int16 if canonical.size < 2**15 else np.int32  # a frame of millions of rows: keep codes small
    return remap.reshape(-1).astype(small)[codes], canonical  # code -1 (missing) takes the last label


def _build_panel(daily: pd.DataFrame, complete_through: date, metric: str,
                 holidays: Collection[tuple[int, int] | date]) -> _Panel | None:
    cost = pd.to_numeric(daily[metric_column(metric)]).fillna(0.0).to_numpy(dtype=np.float64)
    day = pd.to_datetime(daily[DAY]).to_numpy().astype("datetime64[D]")
    keep = day <= np.datetime64(complete_through, "D")
    if "ChargeCategory" in daily:
        keep &= ~daily["ChargeCategory"].isin(NOT_WATCHED_CATEGORIES).to_numpy()
    if not keep.any():
        return None
    day, cost = day[keep], cost[keep]
    first = day.min().astype(date)
    # a day with no rows at all has not landed, whatever the caller believes
    complete_through = min(complete_through, day.max().astype(date))
    size = (complete_through - first).days + 1
    cal = _build_calendar(first, size, holidays)
    day_index = (day - np.datetime64(first, "D")).astype(np.int32)
    del day
    codes = {col: _codes(daily, col, keep) for col in ROW_COLUMNS}

    def ids(columns: tuple[str, ...]) -> tuple[np.ndarray, list[tuple[str, ...]]]:
        combined = np.zeros(day_index.size, dtype=np.int64)
        for col in columns:
            combined = combined * len(codes[col][1]) + codes[col][0].astype(np.int64)
        inverse, unique = pd.factorize(combined)
        keys = []
        for code in unique.tolist():
            parts = []
            for col in reversed(columns):
                code, c = divmod(code, len(codes[col][1]))
                parts.append(str(codes[col][1][c]))
            keys.append(tuple(reversed(parts)))
        return inverse, keys

    def matrix(row_ids: np.ndarray, n: int, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        flat = row_ids[rows].astype(np.int64) * size + day_index[rows]
        return np.bincount(flat, weights=cost[rows], minlength=n * size).reshape(n, size)

    series_id, series_keys = ids(LEVEL_KEYS[SERIES])
    region_id, region_keys = ids(LEVEL_KEYS[REGION])
    series_of_region = np.zeros(len(region_keys), dtype=np.int64)
    series_of_region[region_id] = series_id
    # a region is watched on its own (for new spend) only inside a series spanning several
    regions_per_series = np.bincount(series_of_region, minlength=len(series_keys))
    kept = np.flatnonzero(regions_per_series[series_of_region] >= 2)
    renumber = np.full(len(region_keys), -1, dtype=np.int64)
    renumber[kept] = np.arange(kept.size)
    region_rows = np.flatnonzero(renumber[region_id] >= 0)
    levels = {
        SERIES: _Level(SERIES, series_keys, matrix(series_id, len(series_keys))),
        REGION: _Level(REGION, [region_keys[r] for r in kept],
                       matrix(renumber[region_id], kept.size, region_rows)),
    }
    series_of_region = series_of_region[kept]
    levels[SERIES].members = _groups(series_of_region, len(series_keys))
    del region_id, renumber, region_rows

    parents = {}
    for name in (SERVICE_ROLLUP, ACCOUNT_ROLLUP):
        rollup_id, rollup_keys = ids(LEVEL_KEYS[name])
        of_series = np.zeros(len(series_keys), dtype=np.int64)
        of_series[series_id] = rollup_id
        members = _groups(of_series, len(rollup_keys))
        shared = [r for r, m in enumerate(members) if m.size >= 2]  # a roll-up of one is its member
        renumber = np.full(len(rollup_keys), -1, dtype=np.int64)
        renumber[shared] = np.arange(len(shared))
        values = matrix(rollup_id, len(rollup_keys))[shared] if shared else np.zeros((0, size))
        levels[name] = _Level(name, [rollup_keys[r] for r in shared], values, [members[r] for r in shared])
        parents[name] = renumber[of_series]

    order = np.argsort(series_id, kind="stable").astype(np.int32 if series_id.size < 2**31 else np.int64)
    described = {dim for dims in ROOT_CAUSE_DIMENSIONS.values() for dim in dims}
    rows = _Rows(day=day_index, cost=cost, codes={col: codes[col][0] for col in described},
                 labels={col: codes[col][1] for col in described}, by_series=order,
                 offsets=np.searchsorted(series_id[order], np.arange(len(series_keys) + 1)))
    return _Panel(cal, levels, series_of_region, parents[SERVICE_ROLLUP], parents[ACCOUNT_ROLLUP], rows)


def _groups(owner: np.ndarray, n: int) -> list[np.ndarray]:
    """For each of n groups, the indices whose owner it is (one sort, not n scans)."""
    order = np.argsort(owner, kind="stable")
    bounds = np.searchsorted(owner[order], np.arange(n + 1))
    return [order[bounds[g]:bounds[g + 1]] for g in range(n)]


# ============================================================================ the detector


@dataclass
class _Event:
    """The detector's working state of one anomaly (day indices into the panel calendar)."""

    level: str
    row: int
    sign: int
    start: int
    detected_on: date
    key: str
    new_spend: bool
    last_seen: int
    raised_at: int
    end: int | None = None
    accepted: bool = False  # lasted long enough to be the new normal: its days are history again
    through: int = 0  # the last day its figures cover
    expected: float = 0.0
    actual: float = 0.0


@dataclass
class _Candidate:
    level: str
    row: int
    sign: int
    start: int
    last: int
    impact: float
    new_spend: bool


class _Detector:
    """Runs the daily detection over a panel, carrying anomalies from day to day.

    The baselines of the owned series are kept for the calendar from ``origin`` on, each with
    the masked days it was computed with. They are recomputed for a series only when its masks
    change (an anomaly raised, ended or accepted), and only from the first changed day: a day's
    baseline reads earlier days only. A replay therefore computes every baseline once and then
    touches the few series with anomalies, and gets exactly what a daily run would have.
    Roll-ups are not modelled on their own: their expected cost is the sum of their members',
    so they see the members' seasonality, and their noise is measured on that sum's residuals.
    """

    def __init__(self, panel: _Panel, thresholds: Mapping[str, Thresholds], default: Thresholds,
                 origin: int = 0) -> None:
        self.panel = panel
        self.cal = panel.cal
        self.thresholds = thresholds
        self.default = default
        self.origin = origin
        self.open: dict[tuple[str, int], _Event] = {}
        self.history: dict[tuple[str, int], list[_Event]] = defaultdict(list)
        self.events: list[_Event] = []
        n = len(panel.levels[SERIES].keys)
        self.expected = np.zeros((n, self.cal.size))
        self.sigma = np.zeros((n, self.cal.size))
        self.computed_with: list[tuple[tuple[int, int], ...] | None] = [None] * n
        # series whose masks may differ from computed_with: only an event added or ended changes a
        # mask, so the rest are not looked at again (a day reads the bands of every series)
        self.dirty: set[int] = set()
        self.mask_cache: dict[tuple[str, int], tuple[tuple[int, int], ...]] = {}

    # -- masks ------------------------------------------------------------------------------------

    def _related(self, level: str, row: int) -> list[tuple[str, int]]:
        """Scopes whose anomalies are masked out of this scope's baseline."""
        related = [(level, row)]
        if level == SERIES:
            for name, parent in ((SERVICE_ROLLUP, self.panel.service_of_series),
                                 (ACCOUNT_ROLLUP, self.panel.account_of_series)):
                if parent[row] >= 0:
                    related.append((name, int(parent[row])))
        elif level in (SERVICE_ROLLUP, ACCOUNT_ROLLUP):
            related += [(SERIES, int(m)) for m in self.panel.levels[level].members[row]]
        return related

    def _masks(self, level: str, row: int) -> tuple[tuple[int, int], ...]:
        """The masked day ranges of a scope (an open anomaly's runs to the end of the calendar)."""
        cached = self.mask_cache.get((level, row))
        if cached is None:
            cached = self.mask_cache[(level, row)] = self._compute_masks(level, row)
        return cached

    def _compute_masks(self, level: str, row: int) -> tuple[tuple[int, int], ...]:
        out = set()
        for scope in self._related(level, row):
            for event in self.history.get(scope, ()):
                if not event.accepted:
                    out.add((event.start, self.cal.size - 1 if event.end is None else event.end))
        return tuple(sorted(out))

    def _clean(self, masks: Sequence[tuple[tuple[int, int], ...]]) -> np.ndarray:
        clean = np.repeat(~self.cal.holiday[None, :], len(masks), axis=0)
        for j, ranges in enumerate(masks):
            for s, e in ranges:
                clean[j, s:e + 1] = False
        return clean

    def _barrier(self, level: str, row: int) -> int:
        """A new event on a scope starts after the last one on it, above it or under it ended.

        Accepted events count too: a change that became the new normal (new spend that settled)
        must not be raised again from its old start on a scope that was part of it.
        """
        scopes = [(level, row), *self._ancestors(level, row), *self._descendants(level, row)]
        ends = [e.end for scope in scopes for e in self.history.get(scope, ()) if e.end is not None]
        return max(ends, default=-1)

    def _band(self, level: str, rows: Sequence[int], lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Expected cost and log-scale sigma for rows of a level over days lo..hi, honouring masks."""
        rows = list(rows)
        if level == SERIES:
            self._refresh_series(rows)
            return self.expected[rows, lo:hi + 1], self.sigma[rows, lo:hi + 1]
        if level == REGION:
            clean = self._clean([self._masks(level, row) for row in rows])
            expected, sigma, first = _expected_band(self.panel.levels[level].values[rows], clean, self.cal, lo, hi)
            return expected[:, lo - first:], sigma
        return self._rollup_band(level, rows, lo, hi)

    def _refresh_series(self, rows: list[int]) -> None:
        """Recompute the kept baselines of series whose masks changed, from the first changed day."""
        last = self.cal.size - 1
        stale, masks, starts = [], [], []
        for row in rows:
            before = self.computed_with[row]
            if before is not None and row not in self.dirty:
                continue
            self.dirty.discard(row)
            mask = self._masks(SERIES, row)
            if before == mask:
                continue
            stale.append(row)
            masks.append(mask)
            if before is None:
                starts.append(self.origin)
            else:
                differ = np.flatnonzero(self._clean([mask])[0] != self._clean([before])[0])
                starts.append(max(self.origin, int(differ[0]) + 1) if differ.size else last)
        if not stale:
            return
        lo = min(min(starts), last)
        values = self.panel.levels[SERIES].values[stale]
        expected, sigma, first = _chunked_band(values, self._clean(masks), self.cal, lo, last)
        self.expected[stale, first:] = expected  # (unchanged before lo: nothing earlier was masked anew)
        self.sigma[stale, lo:] = sigma
        for row, mask in zip(stale, masks, strict=True):
            self.computed_with[row] = mask

    def _rollup_band(self, level: str, rows: list[int], lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """A roll-up's expected cost is its members' sum; its noise, that of the sum's residuals."""
        members = self.panel.levels[level].members
        self._refresh_series(sorted({int(m) for row in rows for m in members[row]}))
        first = max(0, self.origin - NOISE_DAYS - 7, lo - NOISE_DAYS - 7)
        expected = np.stack([self.expected[members[row], first:hi + 1].sum(axis=0) for row in rows])
        values = self.panel.levels[level].values[rows, first:hi + 1]
        clean = self._clean([self._masks(level, row) for row in rows])[:, first:hi + 1]
        with np.errstate(invalid="ignore", divide="ignore"):
            log_residual = np.abs(np.log(values / expected))
        log_residual[~(clean & (expected > 0) & (values > 0))] = np.nan
        days = np.arange(lo, hi + 1)
        # noise is per week (from the Monday before): one window median per week, not per day
        anchors, week_of_day = np.unique(days - self.cal.dow[days], return_inverse=True)
        noise = MAD_TO_SD * np.nan_to_num(_window_median(log_residual, anchors - first, NOISE_DAYS))
        return expected[:, lo - first:], noise[:, week_of_day.reshape(-1)]

    def _thresholds(self, level: str, row: int) -> Thresholds:
        team = self.panel.levels[level].keys[row][LEVEL_KEYS[level].index(TEAM)]
        return self.thresholds.get(team, self.default)

    # -- one day ----------------------------------------------------------------------------------

    def step(self, today: int, as_of: date) -> tuple[list[_Event], list[_Event], list[_Event]]:
        """Detect with data through day ``today``; returns (new, updated, ended) events."""
        updated, ended = self._update_open(today)
        candidates = self._candidates(today)
        raised = self._resolve(candidates)
        new = []
        for cand in raised:
            level = self.panel.levels[cand.level]
            event = _Event(cand.level, cand.row, cand.sign, cand.start, as_of,
                           f"{level.scope_id(cand.row)}|{self.cal.day(cand.start).isoformat()}",
                           cand.new_spend, last_seen=cand.last, raised_at=today)
            self._add(event)
            new.append(event)
        for event in new:
            self._refresh(event, today)
        return new, updated, ended

    def _touch(self, event: _Event) -> None:
        """Forget the masks an event added or ended changes: those of the scopes it is related to
        (:meth:`_related` is symmetric: a series and its roll-ups, a roll-up and its members)."""
        for scope in self._related(event.level, event.row):
            self.mask_cache.pop(scope, None)
            if scope[0] == SERIES:
                self.dirty.add(scope[1])

    def _add(self, event: _Event) -> None:
        self._touch(event)
        self.history[(event.level, event.row)].append(event)
        self.events.append(event)
        if event.end is None:
            self.open[(event.level, event.row)] = event

    def _update_open(self, today: int) -> tuple[list[_Event], list[_Event]]:
        updated, ended = [], []
        for scope, event in list(self.open.items()):
            self._refresh(event, today)
            if event.end is not None:
                del self.open[scope]
                ended.append(event)
            else:
                updated.append(event)
        return updated, ended

    def _refresh(self, event: _Event, today: int) -> None:
        """Bring an open event's figures, last day seen and end up to date."""
        expected, sigma = self._band(event.level, [event.row], event.start, today)
        actual = self.panel.levels[event.level].values[event.row, event.start:today + 1]
        change = _log_ratio(actual, expected[0]) * event.sign
        out = _z(actual, expected[0], sigma[0]) * event.sign > BAND_Z
        if event.sign < 0:
            out &= self._may_drop(event.level, [event.row], event.start, today)[0]
        # back to normal: closer (on the log scale) to the expected than to the event's typical
        # level; where that level is not finite (spend from nothing, a full stop), back in the band
        typical = float(np.median(change[out])) if out.any() else math.inf
        still = change > 0.5 * typical if math.isfinite(typical) else out
        if event.sign < 0:
            still &= self._may_drop(event.level, [event.row], event.start, today)[0]
        seen = np.flatnonzero(still)
        event.last_seen = event.start + int(seen[-1]) if seen.size else event.start
        cap = NEW_SPEND_SETTLE_DAYS if event.new_spend else MAX_OPEN_DAYS
        if today - event.last_seen >= END_AFTER_DAYS:
            event.end = event.last_seen
            self._touch(event)
        elif today - event.start + 1 >= cap and today > event.raised_at:
            event.end, event.accepted = today, True
            self._touch(event)
        event.through = today if event.end is None else event.end
        n = event.through - event.start + 1
        event.expected = float(expected[0, :n].sum())
        event.actual = float(actual[:n].sum())

    def _candidates(self, today: int) -> list[_Candidate]:
        """Every scope's new spend, and every run of out-of-band days that passes the rule."""
        lo = max(0, today - RUN_DAYS)
        out: list[_Candidate] = []
        new_rows: dict[str, set[int]] = {}
        for name in (SERIES, REGION, SERVICE_ROLLUP, ACCOUNT_ROLLUP):
            found = self._new_spend(name, today)
            new_rows[name] = {c.row for c in found}
            out += found
        for name in (SERIES, SERVICE_ROLLUP, ACCOUNT_ROLLUP):
            level = self.panel.levels[name]
            rows = [r for r in range(len(level.keys)) if (name, r) not in self.open and r not in new_rows[name]]
            if not rows:
                continue
            expected, sigma = self._band(name, rows, lo, today)
            values = level.values[rows, lo:today + 1]
            z = _z(values, expected, sigma)
            log_ratio = _log_ratio(values, expected)  # (once for every row, not per candidate)
            recent = slice(-END_AFTER_DAYS, None)
            for sign in (1, -1):
                out_of_band = sign * z > BAND_Z
                if sign < 0:
                    out_of_band &= self._may_drop(name, rows, lo, today)
                # no run of the window can have more impact than all its days' excess in this
                # direction, so a scope whose excess is under its minimum impact (by more than a
                # micro-dollar of rounding) cannot pass and is not examined day by day
                most = np.clip(sign * (values - expected), 0, None).sum(axis=1) + 1e-6
                for i in np.flatnonzero(out_of_band[:, recent].any(axis=1)):
                    if most[i] < self._thresholds(name, rows[i]).min_impact_usd:
                        continue
                    cand = self._run(name, rows[i], sign, lo, today, values[i], expected[i], sigma[i],
                                     out_of_band[i], log_ratio[i])
                    if cand is not None:
                        out.append(cand)
        return out

    def _may_drop(self, level: str, rows: list[int], lo: int, hi: int) -> np.ndarray:
        """Which days of lo..hi may count as low: not holidays, and not a day without spend on a
        series that had days without spend in the NOISE_DAYS before (for it, a pause is normal;
        a stop is news only on a series that never stops)."""
        values = self.panel.levels[level].values[rows]
        first = max(0, lo - NOISE_DAYS)
        idle = np.concatenate([np.zeros((len(rows), 1), dtype=np.int64),
                               np.cumsum(values[:, first:hi + 1] == 0, axis=1)], axis=1)
        days = np.arange(lo, hi + 1)
        idle_before = idle[:, days - first] - idle[:, np.maximum(days - NOISE_DAYS, first) - first]
        pause = (values[:, lo:hi + 1] == 0) & (idle_before > 0)
        return ~self.cal.holiday[lo:hi + 1] & ~pause

    def _run(self, name: str, row: int, sign: int, lo: int, today: int, actual: np.ndarray,
             expected: np.ndarray, sigma: np.ndarray, out_of_band: np.ndarray,
             log_ratio: np.ndarray) -> _Candidate | None:
        """The earliest-starting run ending in the last days that passes every threshold."""
        floor = max(lo, self._barrier(name, row) + 1)  # arrays start at day lo
        flags = out_of_band[floor - lo:]
        if floor > today or not flags[-END_AFTER_DAYS:].any():
            return None
        last = int(np.flatnonzero(flags)[-1]) + floor
        starts = [last]
        gap = 0
        for d in range(last - 1, floor - 1, -1):
            if flags[d - floor]:
                starts.append(d)
                gap = 0
            else:
                gap += 1
                if gap >= END_AFTER_DAYS:
                    break
        if starts[-1] < LEVEL_DAYS:
            return None  # not enough history before the run to call it unusual
        limits = self._thresholds(name, row)
        for start in sorted(starts):
            part = slice(start - lo, last - lo + 1)
            impact = float((actual[part] - expected[part]).sum()) * sign
            base = float(expected[part].sum())
            # the run's mean log change against its standard error: the days' noise plus the
            # baseline's own error, which every day of the run shares
            with np.errstate(invalid="ignore"):  # a run both from nothing and to nothing: no verdict
                shift = float(log_ratio[part].sum()) * sign
            sd = math.sqrt(float((sigma[part] ** 2).sum()) + (BASELINE_SE * float(sigma[part].sum())) ** 2)
            if sign > 0:
                pct_ok = base <= 0 or impact / base >= limits.min_pct
            else:
                pct_ok = base > 0 and impact / base >= limits.min_pct
            z_ok = shift > 0 and (sd == 0 or shift / sd >= RAISE_Z)  # (False for NaN)
            if impact >= limits.min_impact_usd and pct_ok and z_ok:
                return _Candidate(name, row, sign, start, last, impact * sign, new_spend=False)
        return None

    def _new_spend(self, name: str, today: int) -> list[_Candidate]:
        """Scopes whose spend began in the run window after NEW_SPEND_LOOKBACK_DAYS without any."""
        level = self.panel.levels[name]
        first_start = max(NEW_SPEND_LOOKBACK_DAYS, today - RUN_DAYS)  # the data must cover the quiet days
        if first_start > today or not level.keys:
            return []
        values = level.values[:, first_start - NEW_SPEND_LOOKBACK_DAYS:today + 1]
        spending = values != 0
        count = np.concatenate([np.zeros((len(level.keys), 1), dtype=np.int64), np.cumsum(spending, axis=1)], axis=1)
        window = np.arange(NEW_SPEND_LOOKBACK_DAYS, values.shape[1])
        quiet_before = (count[:, window] - count[:, window - NEW_SPEND_LOOKBACK_DAYS]) == 0
        starts = spending[:, window] & quiet_before
        ongoing = spending[:, -END_AFTER_DAYS:].any(axis=1)
        out = []
        for row in np.flatnonzero(starts.any(axis=1) & ongoing):
            row = int(row)
            if (name, row) in self.open:
                continue
            start = first_start + int(np.flatnonzero(starts[row])[-1])
            if start <= self._barrier(name, row):
                continue
            spend = level.values[row, start:today + 1]
            if float(spend.sum()) >= self._thresholds(name, row).min_impact_usd:
                last = start + int(np.flatnonzero(spend != 0)[-1])
                out.append(_Candidate(name, row, 1, start, last, float(spend.sum()), new_spend=True))
        return out

    # -- one event, one anomaly ------------------------------------------------------------------

    def _ancestors(self, level: str, row: int) -> list[tuple[str, int]]:
        """The scopes a scope is part of: its series (for a region) and roll-ups."""
        if level == REGION:
            series = int(self.panel.series_of_region[row])
            return [(SERIES, series), *self._ancestors(SERIES, series)]
        if level == SERIES:
            return self._related(SERIES, row)[1:]
        return []

    def _descendants(self, level: str, row: int) -> list[tuple[str, int]]:
        """The scopes directly under a scope: a roll-up's series, a series' regions."""
        if level in (SERVICE_ROLLUP, ACCOUNT_ROLLUP):
            return [(SERIES, int(m)) for m in self.panel.levels[level].members[row]]
        if level == SERIES:
            return [(REGION, int(m)) for m in self.panel.levels[SERIES].members[row]]
        return []

    def _resolve(self, candidates: list[_Candidate]) -> list[_Candidate]:
        """One event, one anomaly: drop the candidates another scope reports (see the module doc).

        A reported scope *claims* the series that carry its change, and so does an open anomaly;
        a roll-up whose change is carried at least half by series another scope claims is that
        scope's event seen from another side (a new account's EC2 seen across accounts), not a
        second one. Roll-ups are decided largest change first, so the wider event claims first.
        """
        by_scope = {(c.level, c.row): c for c in candidates}
        dropped: set[tuple[str, int]] = set()
        delegated: set[tuple[str, int]] = set()  # dropped for a more specific scope that reports the event
        # (series row, sign) -> the open or reported scopes telling that series' change
        claimed: dict[tuple[int, int], set[tuple[str, int]]] = defaultdict(set)

        def claim(scope: tuple[str, int], series: Iterable[int], sign: int) -> None:
            for s in series:
                claimed[(s, sign)].add(scope)

        for scope, event in self.open.items():
            claim(scope, self._series_under(*scope), event.sign)
        # an open anomaly above a scope already tells this event
        for c in candidates:
            for scope in self._ancestors(c.level, c.row):
                event = self.open.get(scope)
                if event is not None and event.sign == c.sign:
                    dropped.add((c.level, c.row))
        # the most specific scope carrying most of the change is reported, else the spread roll-up
        order = {REGION: 0, SERIES: 1, SERVICE_ROLLUP: 2, ACCOUNT_ROLLUP: 2}
        for c in sorted(candidates, key=lambda c: (order[c.level], -abs(c.impact))):
            if (c.level, c.row) in dropped:
                continue
            below = self._descendants(c.level, c.row)
            told = [s for s in below
                    if (s in by_scope and by_scope[s].sign == c.sign and (s not in dropped or s in delegated))
                    or (s in self.open and self.open[s].sign == c.sign)]
            if told and self._carried(told, c).max() >= MEMBER_SHARE:
                dropped.add((c.level, c.row))
                delegated.add((c.level, c.row))
                continue
            if c.level in (SERVICE_ROLLUP, ACCOUNT_ROLLUP):
                # (its members' own claims are what ``told`` weighed above)
                carried = self._carried(below, c)
                elsewhere = [share for scope, share in zip(below, carried, strict=True)
                             if claimed[(scope[1], c.sign)] - {scope}]
                if sum(elsewhere) >= MEMBER_SHARE:
                    dropped.add((c.level, c.row))
                    continue
                claim((c.level, c.row), [s for (_, s), share in zip(below, carried, strict=True) if share > 0], c.sign)
            else:
                claim((c.level, c.row), self._series_under(c.level, c.row), c.sign)
            for s in below:
                member = by_scope.get(s)
                if member is not None and member.sign == c.sign and member.start <= c.last:
                    dropped.add(s)
        return [c for c in candidates if (c.level, c.row) not in dropped]

    def _series_under(self, level: str, row: int) -> list[int]:
        """The series rows a scope covers (a region's series, a series itself, a roll-up's members)."""
        if level == REGION:
            return [int(self.panel.series_of_region[row])]
        if level == SERIES:
            return [row]
        return [int(m) for m in self.panel.levels[level].members[row]]

    def _carried(self, scopes: list[tuple[str, int]], cand: _Candidate) -> np.ndarray:
        """The part of a candidate's impact each scope below it carries (shares; may be negative)."""
        level = scopes[0][0]
        rows = [r for _, r in scopes]
        expected, _ = self._band(level, rows, cand.start, cand.last)
        actual = self.panel.levels[level].values[rows, cand.start:cand.last + 1]
        carried = (actual - expected).sum(axis=1)
        return carried / cand.impact if cand.impact else np.zeros(len(rows))


def _chunked_band(values: np.ndarray, clean: np.ndarray, cal: _Calendar, lo: int, hi: int,
                  chunk: int = 500) -> tuple[np.ndarray, np.ndarray, int]:
    """:func:`_expected_band` over row chunks, to bound memory on large panels."""
    parts = [_expected_band(values[i:i + chunk], clean[i:i + chunk], cal, lo, hi)
             for i in range(0, values.shape[0], chunk)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), parts[0][2]


# ============================================================================ public API


def detect_anomalies(daily: pd.DataFrame, *, as_of: date, complete_through: date,
                     open_anomalies: Iterable[Anomaly] = (), ended_anomalies: Iterable[Anomaly] = (),
                     thresholds: Mapping[str, Thresholds] | None = None,
                     default_thresholds: Thresholds = DEFAULT_THRESHOLDS,
                     holidays: Collection[tuple[int, int] | date] = DEFAULT_HOLIDAYS,
                     metric: str = "effective", since: date | None = None) -> DetectionResult:
    """One daily detection run over every owned series, using complete days only.

    ``daily`` is the daily cost frame with ``x_Team`` filled, covering the HISTORY_DAYS before
    ``complete_through`` (less works, with less knowledge of recurring charges); rows after
    ``complete_through`` are ignored. ``open_anomalies`` are the anomalies storage still has open:
    they are updated (or ended), never raised again. ``ended_anomalies`` are those that ended
    within HISTORY_DAYS: their days stay out of the baselines and a new event on their scope must
    start after them. ``thresholds`` maps team names to their thresholds; other teams (and
    unallocated spend) use ``default_thresholds``. ``as_of`` is the run's day (``detected_on``).

    ``since``: the first complete day no earlier run has seen (the daily job did not run for a
    while). Each day from it to ``complete_through`` is then detected in turn, reading only the
    data up to that day and carrying anomalies from day to day as :func:`replay_detection` does,
    so an event that came and went while nobody ran is raised (already ended) and one that began
    then is raised once, from its first day. ``daily`` must then reach HISTORY_DAYS before ``since``.
    ``new`` holds every anomaly raised over those days; ``updated``/``ended`` the open ones passed in.
    """
    open_anomalies, ended_anomalies = list(open_anomalies), list(ended_anomalies)
    panel = _build_panel(daily, complete_through, metric, holidays)
    if panel is None:
        return DetectionResult(updated=tuple(open_anomalies))
    today = panel.cal.size - 1
    first_step = today if since is None else min(today, max(0, panel.cal.index(since)))
    # the first day whose band any part of this run reads (runs, open anomalies, charts; the
    # runs and charts of the missed days start up to RUN_DAYS + CHART_DAYS_BEFORE before them)
    starts = [panel.cal.index(a.start) - CHART_DAYS_BEFORE for a in open_anomalies]
    missed = [first_step - RUN_DAYS - CHART_DAYS_BEFORE] if first_step < today else []
    origin = max(0, min([today - RUN_DAYS, today - CHART_MAX_DAYS, *starts, *missed]))
    detector = _Detector(panel, thresholds or {}, default_thresholds, origin)
    scopes = {level.scope_id(row): (name, row) for name, level in panel.levels.items()
              for row in range(len(level.keys))}
    unknown = []
    for anomaly, is_open in [(a, False) for a in ended_anomalies] + [(a, True) for a in open_anomalies]:
        scope = scopes.get(anomaly.scope_id)
        if scope is None or anomaly.start > panel.cal.day(panel.cal.size - 1):
            if is_open:
                unknown.append(anomaly)
            continue
        detector._add(_event_from(anomaly, scope, panel.cal, is_open))
    passed_in = list(detector.open.values())
    new: list[_Event] = []
    for day in range(first_step, today + 1):
        new += detector.step(day, as_of)[0]
    return DetectionResult(
        new=tuple(_describe(detector, e, today) for e in new),
        updated=tuple(_describe(detector, e, today) for e in passed_in if e.end is None) + tuple(unknown),
        ended=tuple(_describe(detector, e, today) for e in passed_in if e.end is not None),
    )


def replay_detection(daily: pd.DataFrame, *, start: date, end: date, complete_lag_days: int = 0,
                     thresholds: Mapping[str, Thresholds] | None = None,
                     default_thresholds: Thresholds = DEFAULT_THRESHOLDS,
                     holidays: Collection[tuple[int, int] | date] = DEFAULT_HOLIDAYS,
                     metric: str = "effective") -> list[Anomaly]:
    """Run the daily detection for every day from ``start`` to ``end`` as it would have run then.

    On day D the data is read through ``D - complete_lag_days`` only, and the anomalies open
    after day D-1 are carried into day D as storage would carry them. Returns every anomaly raised,
    in the order raised, in its final state (``detected_on`` is the day it was raised; ``end``,
    impact and root cause as of ``end``).

    Fast by construction: the series matrices and the baselines of every scope without anomalies
    are computed once for the whole range (a day's baseline only reads earlier days); each day
    only recomputes the few scopes whose own anomalies are masked out.

    A first install replays its backfilled history this way before its first daily run, so
    storage starts knowing the events in that history (a daily run without them would read the
    end of an earlier shift as a drop).
    """
    panel = _build_panel(daily, end - timedelta(days=complete_lag_days), metric, holidays)
    if panel is None:
        return []
    detector = _Detector(panel, thresholds or {}, default_thresholds)
    day = start
    while day <= end:
        today = panel.cal.index(day - timedelta(days=complete_lag_days))
        if 0 <= today < panel.cal.size:
            detector.step(today, day)
        day += timedelta(days=1)
    final = panel.cal.size - 1
    return [_describe(detector, event, final) for event in detector.events]


def _event_from(anomaly: Anomaly, scope: tuple[str, int], cal: _Calendar, is_open: bool) -> _Event:
    level, row = scope
    start = max(0, cal.index(anomaly.start))
    end = None if is_open or anomaly.end is None else cal.index(anomaly.end)
    new_spend = anomaly.kind == "new_spend"
    cap = NEW_SPEND_SETTLE_DAYS if new_spend else MAX_OPEN_DAYS
    return _Event(level, row, 1 if anomaly.direction == "increase" else -1, start, anomaly.detected_on,
                  anomaly.key, new_spend, last_seen=max(start, cal.index(anomaly.last_seen)),
                  raised_at=cal.index(anomaly.detected_on), end=end,
                  accepted=end is not None and end - start + 1 >= cap)


# ============================================================================ description


def _describe(detector: _Detector, event: _Event, today: int) -> Anomaly:
    """The event as an :class:`Anomaly`: figures, kind, dimensions, root cause and chart."""
    panel, cal = detector.panel, detector.cal
    level = panel.levels[event.level]
    key_columns = LEVEL_KEYS[event.level]
    team = level.keys[event.row][key_columns.index(TEAM)]
    positions = panel.rows_of(event.level, event.row)
    dimensions = {DIMENSION_NAMES[c]: v for c, v in zip(key_columns, level.keys[event.row], strict=True)}
    if event.level == SERIES:
        days = panel.rows.day[positions]
        recent = positions[(days >= event.start - LEVEL_DAYS) & (days <= event.through)]
        regions = np.unique(panel.rows.codes["RegionId"][recent])
        if regions.size == 1:
            dimensions["region"] = str(panel.rows.labels["RegionId"][regions[0]])

    chart_end = today if event.end is None else min(today, event.end + END_AFTER_DAYS)
    chart_start = max(0, chart_end - CHART_MAX_DAYS + 1,
                      min(event.start - CHART_DAYS_BEFORE, chart_end - CHART_MIN_DAYS + 1))
    expected, sigma = detector._band(event.level, [event.row], chart_start, chart_end)
    actual = level.values[event.row, chart_start:chart_end + 1]
    series = tuple(
        SeriesPoint(cal.day(chart_start + i), float(actual[i]), float(expected[0, i]),
                    float(expected[0, i] * math.exp(-BAND_Z * sigma[0, i])),
                    float(expected[0, i] * math.exp(BAND_Z * sigma[0, i])))
        for i in range(actual.size)
    )
    # the figures in cents, the impact their difference (see finops.anomaly_model)
    expected_cents, actual_cents = cents(event.expected), cents(event.actual)
    impact = float(actual_cents - expected_cents)
    if event.new_spend:
        kind = "new_spend"
    elif event.sign < 0:
        kind = "drop"
    else:
        kind = "spike" if event.last_seen - event.start + 1 <= SPIKE_MAX_DAYS else "shift"
    limits = detector._thresholds(event.level, event.row)
    return Anomaly(
        key=event.key,
        detected_on=event.detected_on,
        start=cal.day(event.start),
        end=None if event.end is None else cal.day(event.end),
        last_seen=cal.day(event.last_seen),
        level=event.level,
        dimensions=dimensions,
        team=team,
        kind=kind,
        direction="increase" if event.sign > 0 else "decrease",
        expected_cost=float(expected_cents),
        actual_cost=float(actual_cents),
        impact=impact,
        impact_pct=impact / float(expected_cents) if expected_cents > 0 else None,
        alert=event.sign > 0 or limits.alert_on_decrease,
        root_cause=_root_cause(panel.rows, positions, ROOT_CAUSE_DIMENSIONS[event.level], start=event.start,
                               through=event.through, expected_total=event.expected),
        series=series,
    )


def _root_cause(rows: _Rows, positions: np.ndarray, dimensions: Sequence[str], *, start: int, through: int,
                expected_total: float) -> tuple[Contributor, ...]:
    """Who carries an anomaly's impact, per dimension, with shares summing to 1 per dimension.

    ``positions`` are the cost rows under the scope; days ``start..through`` are the anomaly's.
    Each value's expected part is ``expected_total`` split by its share of the cost in the
    LEVEL_DAYS before ``start`` (evenly when there was none), so the values' impacts add up to
    the anomaly's impact exactly.
    """
    day = rows.day[positions]
    before = positions[(day >= start - LEVEL_DAYS) & (day < start)]
    during = positions[(day >= start) & (day <= through)]
    total_impact = float(rows.cost[during].sum()) - expected_total
    if total_impact == 0:
        return ()
    out: list[Contributor] = []
    for dim in dimensions:
        n = rows.labels[dim].size
        base = np.bincount(rows.codes[dim][before], weights=rows.cost[before], minlength=n)
        actual = np.bincount(rows.codes[dim][during], weights=rows.cost[during], minlength=n)
        present = np.flatnonzero(np.bincount(rows.codes[dim][np.concatenate([before, during])], minlength=n))
        base, actual = base[present], actual[present]
        share = base / base.sum() if base.sum() > 0 else np.full(present.size, 1 / present.size)
        impact = actual - expected_total * share
        order = np.argsort(-np.sign(total_impact) * impact, kind="stable")
        for i in order[:ROOT_CAUSE_TOP]:
            value = str(rows.labels[dim][present[i]])
            out.append(Contributor(dim, value, float(impact[i]), float(impact[i]) / total_impact))
        if present.size > ROOT_CAUSE_TOP:
            rest = float(impact[order[ROOT_CAUSE_TOP:]].sum())
            out.append(Contributor(dim, OTHER, rest, rest / total_impact))
    return tuple(out)
