import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from finops.errors import InputError
from finops.money import cents
from finops.savings import FindingState
from finops.verification import (
    CONTROL_Z,
    DAYS_PER_MONTH,
    Window,
    after_window,
    recheck_verified,
    verify_saving,
)

IMPL = date(2026, 3, 15)  # a Sunday
DAYS = pd.date_range("2026-01-01", "2026-07-31")
T = (DAYS - pd.Timestamp(IMPL)).days.to_numpy(dtype=float)  # 0 on the implementation day
AFTER = (T >= 1) & (T <= 14)
READY = IMPL + timedelta(days=14)
WEEK = np.array([1.1, 1.1, 1.1, 1.1, 1.1, 0.75, 0.75])  # Monday..Sunday, averages 1


def series(values) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float), index=DAYS)


def step(before, after, *, from_t=0, until_t=None):
    in_step = (T >= from_t) & (T < until_t if until_t is not None else True)
    return np.where(in_step, after, before)


def test_flat_100_a_day_stepping_to_80_realizes_608_75_a_month():
    result = verify_saving(series(step(100.0, 80.0)), implemented_on=IMPL, estimate_monthly=700.0, as_of=READY)
    assert cents(result.realized_monthly) == cents(608.75)  # 20 $/day × 30.4375
    assert result.realized_daily == 20.0
    assert result.outcome is FindingState.VERIFIED  # 608.75 >= 0.8 × 700 = 560
    assert result.threshold_monthly == 560.0
    assert result.baseline == Window(date(2026, 2, 15), date(2026, 3, 14), 100.0)
    assert result.after == Window(date(2026, 3, 16), date(2026, 3, 29), 80.0)
    assert result.expected_daily_after == 100.0
    assert (result.trend_per_day, result.trend_effect, result.control_change) == (0.0, 0.0, None)
    assert result.weekday_factors == (1.0,) * 7
    assert result.series["window"].value_counts().to_dict() == {"baseline": 28, "after": 14, "implementation": 1}
    assert result.series.loc["2026-03-15", "actual"] == 80.0 and np.isnan(result.series.loc["2026-03-15", "expected"])
    assert result.summary() == ("verified: realized $608.75/month, 87% of the $700.00/month estimate; expected "
                                "$100.00/day without the change, actual $80.00/day over 2026-03-16..2026-03-29")


def test_a_short_estimate_miss_is_not_realized():
    result = verify_saving(series(step(100.0, 80.0)), implemented_on=IMPL, estimate_monthly=800.0, as_of=READY)
    assert result.outcome is FindingState.NOT_REALIZED  # 608.75 < 640
    assert "(needs $640.00/month)" in result.summary()


def test_no_answer_until_the_settling_window_is_complete():
    daily = series(step(100.0, 80.0))
    assert verify_saving(daily, implemented_on=IMPL, estimate_monthly=700.0, as_of=READY - timedelta(days=1)) is None
    assert verify_saving(daily, implemented_on=IMPL, estimate_monthly=700.0, as_of=READY) is not None
    assert after_window(IMPL) == (date(2026, 3, 16), date(2026, 3, 29))


def test_days_after_as_of_are_not_used():
    daily = series(np.where(T > 14, 500.0, step(100.0, 80.0)))
    result = verify_saving(daily, implemented_on=IMPL, estimate_monthly=700.0, as_of=READY)
    assert result.realized_daily == 20.0


def test_weekly_seasonality_and_a_linear_trend_with_a_rate_cut():
    counterfactual = (100.0 + 0.5 * T) * WEEK[DAYS.day_of_week]
    actual = np.where(T >= 0, 0.8 * counterfactual, counterfactual)
    result = verify_saving(series(actual), implemented_on=IMPL, estimate_monthly=600.0, as_of=READY)
    truth = 0.2 * counterfactual[AFTER].mean() * DAYS_PER_MONTH
    assert result.realized_monthly == pytest.approx(truth, abs=1e-6)
    assert cents(truth) == cents(630.82)  # 20 % of (100 + 0.5 × 7.5) $/day, two whole weeks
    assert result.weekday_factors == pytest.approx(tuple(WEEK), abs=1e-9)
    baseline_level = 100.0 + 0.5 * np.arange(-28, 0).mean()
    assert result.trend_per_day == pytest.approx(0.5 / baseline_level, abs=1e-12)
    assert result.expected_daily_after == pytest.approx(counterfactual[AFTER].mean(), abs=1e-9)


def test_weekly_seasonality_and_a_trend_with_a_flat_item_removed():
    counterfactual = (300.0 - 0.8 * T) * WEEK[DAYS.day_of_week] + 40.0  # shrinking usage + a $40/day VM
    actual = np.where(T >= 0, counterfactual - 40.0, counterfactual)
    result = verify_saving(series(actual), implemented_on=IMPL, estimate_monthly=1000.0, as_of=READY)
    # The model is multiplicative (trend × weekday factor); an additive $40 item with no weekday
    # pattern fits it only approximately, so this one is within 1 %, not exact.
    assert result.realized_monthly == pytest.approx(40.0 * DAYS_PER_MONTH, rel=0.01)  # $1,217.50
    assert result.outcome is FindingState.VERIFIED


def test_an_org_wide_change_in_the_baseline_is_cancelled_by_the_control():
    org = step(1.0, 1.10, from_t=-5)  # +10 % for everyone five days before implementation
    control = series(1000.0 * org)
    scope = series(100.0 * org * step(1.0, 0.8))
    with_control = verify_saving(scope, implemented_on=IMPL, estimate_monthly=600.0, as_of=READY, control=control)
    assert with_control.realized_monthly == pytest.approx(669.625, abs=1e-6)  # (110 − 88) × 30.4375
    assert with_control.expected_daily_after == pytest.approx(110.0, abs=1e-9)
    assert with_control.control_change == pytest.approx(1100.0 / ((23 * 1000 + 5 * 1100) / 28) - 1, abs=1e-12)
    # Without the control, the five days at +10 % are too few to move the robust fit: it expects
    # $100/day and under-counts the saving.
    alone = verify_saving(scope, implemented_on=IMPL, estimate_monthly=600.0, as_of=READY)
    assert cents(alone.realized_monthly) == cents(365.25)  # (100 − 88) × 30.4375
    assert alone.outcome is FindingState.NOT_REALIZED


def test_an_org_wide_change_during_the_after_window_is_cancelled_by_the_control():
    org = step(1.0, 1.10, from_t=3)
    scope = series(100.0 * org * step(1.0, 0.8))
    result = verify_saving(scope, implemented_on=IMPL, estimate_monthly=600.0, as_of=READY,
                           control=series(1000.0 * org))
    assert result.realized_monthly == pytest.approx((2 * 20 + 12 * 22) / 14 * DAYS_PER_MONTH, abs=1e-9)
    naive = verify_saving(scope, implemented_on=IMPL, estimate_monthly=600.0, as_of=READY)
    # Without it, the +10 % after day 3 hides most of the saving: 100 − 88 instead of 110 − 88.
    assert naive.realized_monthly == pytest.approx((2 * 20 + 12 * 12) / 14 * DAYS_PER_MONTH, abs=1e-9)


def test_a_change_rolled_back_after_a_week_is_not_realized():
    daily = series(step(100.0, 80.0, until_t=7))
    result = verify_saving(daily, implemented_on=IMPL, estimate_monthly=608.75, as_of=READY)
    assert result.realized_monthly == pytest.approx(6 * 20 / 14 * DAYS_PER_MONTH, abs=1e-9)  # $260.89
    assert result.outcome is FindingState.NOT_REALIZED


def test_a_saving_that_does_not_hold_to_the_end_of_the_window_is_not_realized():
    daily = series(step(100.0, 80.0, until_t=8))  # undone after seven days in the after window
    result = verify_saving(daily, implemented_on=IMPL, estimate_monthly=350.0, as_of=READY)
    assert cents(result.realized_monthly) == cents(304.38)  # 7 × 20 / 14 $/day: above 0.8 × 350 = 280
    assert result.final_days == Window(date(2026, 3, 23), date(2026, 3, 29), 100.0)
    assert result.final_days_monthly == 0.0
    assert result.outcome is FindingState.NOT_REALIZED
    assert ("(did not hold: $0.00/month over 2026-03-23..2026-03-29, after $608.75/month over its first week)"
            in result.summary())


def test_a_saving_that_fell_off_in_its_second_week_is_not_realized():
    # $40/day saved the first week, $12/day the second (mostly undone): on average and over the
    # last week it still clears the bars (791.14 >= 720; 365.25 >= 360), but it fell by more
    # than half, far beyond the noise.
    daily = series(np.where(T >= 8, 88.0, step(100.0, 60.0)))
    result = verify_saving(daily, implemented_on=IMPL, estimate_monthly=900.0, as_of=READY)
    assert cents(result.realized_monthly) == cents(26.0 * DAYS_PER_MONTH)
    assert (result.first_days_monthly, result.final_days_monthly) == (40.0 * DAYS_PER_MONTH, 12.0 * DAYS_PER_MONTH)
    assert result.fell_off and result.outcome is FindingState.NOT_REALIZED
    assert result.summary().endswith("(did not hold: $365.25/month over 2026-03-23..2026-03-29, after $1,217.50/month "
                                     "over its first week); expected $100.00/day without the change, actual "
                                     "$74.00/day over 2026-03-16..2026-03-29")
    assert result.to_dict()["fell_off"] is True and result.to_dict()["first_days_monthly"] == 1217.5
    kept = verify_saving(series(step(100.0, 60.0)), implemented_on=IMPL, estimate_monthly=900.0, as_of=READY)
    assert not kept.fell_off and kept.outcome is FindingState.VERIFIED


def test_nothing_changed_in_a_noisy_scope_is_not_realized():
    noise = np.exp(np.random.default_rng(7).normal(0.0, 0.04, len(DAYS)))
    daily = series(200.0 * WEEK[DAYS.day_of_week] * noise)
    result = verify_saving(daily, implemented_on=IMPL, estimate_monthly=0.10 * 200 * DAYS_PER_MONTH, as_of=READY)
    assert result.outcome is FindingState.NOT_REALIZED
    assert abs(result.realized_monthly) < 3 * result.standard_error_monthly
    assert 0.01 * 200 * DAYS_PER_MONTH < result.standard_error_monthly < 0.05 * 200 * DAYS_PER_MONTH


def test_a_saving_inside_the_noise_is_not_verified_even_above_the_share():
    wobble = np.array([1.15, 0.85, 1.0])[np.arange(len(DAYS)) % 3]  # ±15 % every three days
    daily = series(step(200.0, 196.0) * wobble)  # a 2 % cut: $4/day, about $122/month
    result = verify_saving(daily, implemented_on=IMPL, estimate_monthly=10.0, as_of=READY)
    assert result.realized_monthly >= result.threshold_monthly  # the share rule alone would verify
    assert not result.significant
    assert result.outcome is FindingState.NOT_REALIZED
    assert "within the scope's day-to-day noise" in result.summary()


def test_days_without_rows_after_implementation_cost_nothing():
    daily = series(step(100.0, 80.0))[DAYS < pd.Timestamp(IMPL)]  # resource deleted: no rows at all
    result = verify_saving(daily, implemented_on=IMPL, estimate_monthly=3000.0, as_of=READY)
    assert cents(result.realized_monthly) == cents(3043.75)
    assert result.after.daily_cost == 0.0


def test_the_trend_is_not_extended_further_than_the_baseline_is_long():
    daily = series(step(100.0 + 1.0 * T, 0.0))  # +$1/day, then switched off
    result = verify_saving(daily, implemented_on=IMPL, estimate_monthly=1000.0, as_of=IMPL + timedelta(days=60),
                           settle_days=60)
    expected = result.series.loc[result.series["window"] == "after", "expected"]
    # baseline ends on day −1 and is 28 days long, so the line stops rising at day 27 (value 127)
    assert expected.loc["2026-04-11"] == pytest.approx(127.0, abs=1e-9)  # day 27
    assert expected.loc["2026-05-14"] == pytest.approx(127.0, abs=1e-9)  # day 60
    assert expected.loc["2026-03-20"] == pytest.approx(105.0, abs=1e-9)  # day 5: still on the line


def test_duplicate_days_are_summed_and_timezones_dropped():
    values = series(step(100.0, 80.0))
    halves = pd.concat([values / 2, values / 2])
    halves.index = halves.index.tz_localize("UTC")
    result = verify_saving(halves, implemented_on=IMPL, estimate_monthly=700.0, as_of=READY)
    assert cents(result.realized_monthly) == cents(608.75)


def test_evidence_prints_as_json_with_windows_to_the_cent():
    result = verify_saving(series(step(100.0, 80.0)), implemented_on=IMPL, estimate_monthly=700.0, as_of=READY)
    document = json.loads(json.dumps(result.to_dict()))
    assert document["baseline"] == {"start": "2026-02-15", "end": "2026-03-14", "daily_cost": 100.0}
    assert document["after"] == {"start": "2026-03-16", "end": "2026-03-29", "daily_cost": 80.0}
    assert (document["outcome"], document["realized_monthly"], document["threshold_monthly"]) == (
        "verified", 608.75, 560.0)
    assert document["series"][0] == {"day": "2026-02-15", "actual": 100.0, "expected": 100.0, "window": "baseline"}
    assert document["series"][28] == {"day": "2026-03-15", "actual": 80.0, "expected": None,
                                      "window": "implementation"}
    assert len(document["series"]) == 43
    assert document["adjustments"]["weekday_factors"]["Sun"] == 1.0


def test_inputs_it_cannot_verify_are_refused_with_the_reason():
    short = series(step(100.0, 80.0))[DAYS >= pd.Timestamp("2026-03-05")]
    with pytest.raises(InputError, match="has 10 days of cost before the implementation day 2026-03-15; "
                                         "verification needs at least 14"):
        verify_saving(short, implemented_on=IMPL, estimate_monthly=700.0, as_of=READY)
    with pytest.raises(InputError, match="the scope cost nothing from 2026-02-15 to 2026-03-14"):
        verify_saving(series(np.where(T < 0, 0.0, 5.0)), implemented_on=IMPL, estimate_monthly=70.0, as_of=READY)
    control = series(np.full(len(DAYS), 1000.0)).drop(pd.Timestamp("2026-03-20"))
    with pytest.raises(InputError, match="the control series has no positive cost on 2026-03-20"):
        verify_saving(series(step(100.0, 80.0)), implemented_on=IMPL, estimate_monthly=700.0, as_of=READY,
                      control=control)
    broken = series(step(100.0, 80.0))
    broken.loc["2026-03-01"] = np.nan
    with pytest.raises(InputError, match="daily has no number for 2026-03-01"):
        verify_saving(broken, implemented_on=IMPL, estimate_monthly=700.0, as_of=READY)
    with pytest.raises(ValueError, match="estimate_monthly must be positive"):
        verify_saving(series(step(100.0, 80.0)), implemented_on=IMPL, estimate_monthly=0.0, as_of=READY)


# ------------------------------------------------------------------------------ monthly re-check

RECHECK_AS_OF = IMPL + timedelta(days=90)  # window 2026-05-15 .. 2026-06-13


@pytest.mark.parametrize(("later", "saving", "regressed"), [
    (80.0, 608.75, False),   # holding
    (100.0, 0.0, True),      # rolled back
    (92.0, 243.5, True),     # drifted: 8 $/day is below half of 20
    (88.0, 365.25, False),   # drifted, but 12 $/day is still above half
])
def test_recheck_flags_spend_that_came_back(later, saving, regressed):
    daily = series(np.where(T >= 40, later, step(100.0, 80.0)))
    result = recheck_verified(daily, implemented_on=IMPL, verified_monthly=608.75, as_of=RECHECK_AS_OF)
    assert cents(result.saving_monthly) == cents(saving)
    assert result.regressed is regressed
    assert result.window == Window(date(2026, 5, 15), date(2026, 6, 13), later)
    assert result.threshold_monthly == 304.375
    assert result.to_dict()["window"] == {"start": "2026-05-15", "end": "2026-06-13", "daily_cost": later}


def test_recheck_flags_a_rollback_in_the_last_two_weeks_at_once():
    # Rolled back 15 days before the re-check: half of the month's window still saved $20/day,
    # exactly the threshold; the last 14 days saved nothing.
    daily = series(np.where(T >= 76, 100.0, step(100.0, 80.0)))
    result = recheck_verified(daily, implemented_on=IMPL, verified_monthly=608.75, as_of=RECHECK_AS_OF)
    assert cents(result.saving_monthly) == cents(304.375) and result.threshold_monthly == 304.375
    assert result.recent == Window(date(2026, 5, 31), date(2026, 6, 13), 100.0)
    assert result.recent_saving_monthly == 0.0 and result.recent_threshold_monthly == 152.1875
    assert result.regressed
    assert result.summary().startswith("regressed: saving $304.38/month over 2026-05-15..2026-06-13, $0.00/month "
                                       "over 2026-05-31..2026-06-13, vs $608.75/month verified")


def test_recheck_of_the_recent_days_needs_a_clearer_shortfall_than_the_months():
    # The last 14 days saved $6/day (30 % of the $20 verified): noisy days, not a rollback.
    daily = series(np.where(T >= 77, 94.0, step(100.0, 80.0)))
    result = recheck_verified(daily, implemented_on=IMPL, verified_monthly=608.75, as_of=RECHECK_AS_OF)
    assert cents(result.recent_saving_monthly) == cents(6 * DAYS_PER_MONTH)
    assert result.saving_monthly > result.threshold_monthly
    assert result.recent_threshold_monthly < result.recent_saving_monthly < result.threshold_monthly
    assert not result.regressed


def test_recheck_waits_until_the_window_is_past_the_implementation_day():
    daily = series(step(100.0, 80.0))
    assert recheck_verified(daily, implemented_on=IMPL, verified_monthly=608.75, as_of=IMPL + timedelta(days=29)) is None
    assert recheck_verified(daily, implemented_on=IMPL, verified_monthly=608.75, as_of=IMPL + timedelta(days=30))


def test_recheck_holds_the_trend_flat_one_baseline_length_after_the_baseline():
    daily = series(step(100.0 + 0.5 * T, 0.8 * (100.0 + 0.5 * T)))
    result = recheck_verified(daily, implemented_on=IMPL, verified_monthly=600.0, as_of=RECHECK_AS_OF)
    assert result.expected_daily == pytest.approx(100.0 + 0.5 * 27, abs=1e-9)  # the line at day 27
    # the scope kept growing 0.5 $/day × 0.8, so part of the saving reads as spend coming back
    actual = 0.8 * (100.0 + 0.5 * np.arange(61, 91)).mean()
    assert result.saving_monthly == pytest.approx((113.5 - actual) * DAYS_PER_MONTH, abs=1e-9)


def test_recheck_with_a_control_follows_an_org_wide_price_change_inside_its_window():
    # Everything costs 10 % more from 2026-05-25, inside the re-check window; the scope shares it.
    price = step(1.0, 1.1, from_t=71)
    control = series(1000.0 * price)
    daily = series(step(100.0, 80.0) * price)
    result = recheck_verified(daily, implemented_on=IMPL, verified_monthly=608.75, as_of=RECHECK_AS_OF,
                              control=control)
    window = (T >= 61) & (T <= 90)
    assert result.saving_monthly == pytest.approx((20.0 * price[window]).mean() * DAYS_PER_MONTH, abs=1e-6)
    assert not result.regressed
    alone = recheck_verified(daily, implemented_on=IMPL, verified_monthly=608.75, as_of=RECHECK_AS_OF)
    assert alone.saving_monthly == pytest.approx((100.0 - 80.0 * price[window]).mean() * DAYS_PER_MONTH, abs=1e-6)


def test_recheck_does_not_follow_the_rest_of_the_org_between_the_windows():
    # Two months between the baseline and the re-check: another team's launch (+30 %) there says
    # nothing about the scope, and would hide the rollback if it were followed.
    control = series(step(1000.0, 1300.0, from_t=40))
    daily = series(step(100.0, 80.0, until_t=40))  # rolled back on day 40
    result = recheck_verified(daily, implemented_on=IMPL, verified_monthly=608.75, as_of=RECHECK_AS_OF,
                              control=control)
    assert result.saving_monthly == 0.0 and result.regressed


# ------------------------------------------------------------------ the control: followed or not

def noisy(values, seed: int, sigma: float = 0.02) -> pd.Series:
    return series(np.asarray(values, dtype=float) * np.exp(np.random.default_rng(seed).normal(0.0, sigma, len(DAYS))))


@pytest.mark.parametrize("jump", [0.10, 0.20, 0.40])
@pytest.mark.parametrize("moved_from_t", [0, 1])  # on the implementation day, or the day after
def test_the_rest_of_the_org_moving_alone_verifies_nothing(jump, moved_from_t):
    # payments' RDS does not change; another team's spend, the rest of the org, jumps between the
    # windows. Nothing says the RDS follows it: the control is not applied.
    scope = noisy(np.full(len(DAYS), 100.0), seed=1)
    control = noisy(step(50_000.0, 50_000.0 * (1 + jump), from_t=moved_from_t), seed=2, sigma=0.005)
    for estimate in (300.0, 600.0):
        result = verify_saving(scope, implemented_on=IMPL, estimate_monthly=estimate, as_of=READY, control=control)
        assert result.outcome is FindingState.NOT_REALIZED
        assert result.control.elasticity == 0.0
        assert abs(result.realized_monthly) < 3 * result.standard_error_monthly
    # Applied in proportion (what costbot did before), the same data "realized" the jump.
    assumed = verify_saving(scope, implemented_on=IMPL, estimate_monthly=300.0, as_of=READY, control=control,
                            control_elasticity=1.0)
    assert assumed.realized_monthly == pytest.approx(jump * 100.0 * DAYS_PER_MONTH, rel=0.25)


def test_another_findings_saving_inside_the_control_does_not_shrink_this_one():
    scope = noisy(step(100.0, 70.0), seed=3)  # $30/day saved
    control = noisy(step(50_000.0, 45_000.0, from_t=5), seed=4, sigma=0.005)  # another finding's 10 % saving
    result = verify_saving(scope, implemented_on=IMPL, estimate_monthly=900.0, as_of=READY, control=control)
    assert result.control.measured == pytest.approx(0.0, abs=0.1) and result.control.elasticity == 0.0
    assert result.realized_monthly == pytest.approx(30.0 * DAYS_PER_MONTH, rel=0.05)
    assert result.outcome is FindingState.VERIFIED
    assumed = verify_saving(scope, implemented_on=IMPL, estimate_monthly=900.0, as_of=READY, control=control,
                            control_elasticity=1.0)
    assert assumed.realized_monthly < 0.8 * 30.0 * DAYS_PER_MONTH  # the other saving, read as this one's loss


@pytest.mark.parametrize("moved_from_t", [-10, 6])  # inside the baseline, inside the after window
def test_an_org_wide_change_the_scope_shares_is_measured_and_followed(moved_from_t):
    org = step(1.0, 1.15, from_t=moved_from_t)  # a price change: +15 % for everyone
    control = noisy(50_000.0 * org, seed=5, sigma=0.005)
    scope = noisy(100.0 * org * step(1.0, 0.8), seed=6)
    truth = (100.0 * org * 0.2)[AFTER].mean() * DAYS_PER_MONTH
    result = verify_saving(scope, implemented_on=IMPL, estimate_monthly=truth, as_of=READY, control=control)
    assert result.control.elasticity == pytest.approx(1.0, abs=0.25)
    assert result.control.elasticity >= CONTROL_Z * result.control.standard_error
    t2 = (result.control.measured / result.control.standard_error) ** 2  # weighted by how clearly measured
    assert result.control.elasticity == pytest.approx(result.control.measured * t2 / (1 + t2), rel=1e-12)
    assert result.realized_monthly == pytest.approx(truth, rel=0.08)
    if moved_from_t > 0:  # on its own, the scope's +15 % in the after window hides most of the saving
        alone = verify_saving(scope, implemented_on=IMPL, estimate_monthly=truth, as_of=READY)
        assert alone.realized_monthly < 0.6 * truth
    evidence = result.to_dict()["adjustments"]
    assert evidence["control_elasticity"] == result.control.elasticity
    assert evidence["control_standard_error"] == result.control.standard_error


# A scope that moves with the rest of the org day to day (shared traffic) and another team whose
# spend is a quarter of the control's and steps on its own. The scope never changes.
SHARED_TRAFFIC = np.exp(np.random.default_rng(7).normal(0.0, 0.03, len(DAYS)))
TRAFFIC_SCOPE = series(100.0 * SHARED_TRAFFIC * np.exp(np.random.default_rng(8).normal(0.0, 0.01, len(DAYS))))


def traffic_control(other_after: float, from_t: int) -> pd.Series:
    return series(40_000.0 * SHARED_TRAFFIC + step(10_000.0, other_after, from_t=from_t))


@pytest.mark.parametrize(("other_after", "from_t", "cautious"), [
    (20_000.0, 0, None),  # another team's launch on the implementation day: +20 % of the control
    (20_000.0, 1, None),  # ... on the after window's first day
    (20_000.0, 3, None),  # ... inside the after window, with two days before it
    (20_000.0, -2, None),  # ... inside the baseline, two days before the implementation day
    (12_500.0, 3, None),  # a smaller launch (+5 %)
    # Another finding's saving on the implementation day (-10 % of the control): no window shows
    # whether the scope shares it; read as shared (the cautious reading) the scope spent more.
    (5_000.0, 0, -276.32),
])
def test_another_teams_step_never_verifies_a_scope_that_follows_the_org_day_to_day(other_after, from_t, cautious):
    # The scope follows the org's daily traffic (elasticity 1.25 on the raw control). Followed
    # day to day, the control passed on any step of its total: an unchanged scope "saved"
    # $841/month (launch on the implementation day) or $137/month (a 5 % launch three days in)
    # and was verified. Only the control's steps count now, and the scope did not follow them.
    control = traffic_control(other_after, from_t)
    for estimate in (100.0, 300.0):
        result = verify_saving(TRAFFIC_SCOPE, implemented_on=IMPL, estimate_monthly=estimate, as_of=READY,
                               control=control)
        assert result.outcome is FindingState.NOT_REALIZED
    # The scope measured on its own: (expected − actual) × 30.4375 = -$23.17/month, noise.
    assert cents(result.realized_monthly) == cents(-23.17)
    assert result.control.elasticity == 0.0
    alone = verify_saving(TRAFFIC_SCOPE, implemented_on=IMPL, estimate_monthly=300.0, as_of=READY)
    assert result.realized_monthly == pytest.approx(alone.realized_monthly, abs=1e-9)
    assert (None if result.cautious_monthly is None else cents(result.cautious_monthly)) == (
        None if cautious is None else cents(cautious))
    if other_after == 20_000.0 and from_t in (0, 1):
        # Followed day to day at the 1.25 its daily moves measure, the launch was a saving.
        assumed = verify_saving(TRAFFIC_SCOPE, implemented_on=IMPL, estimate_monthly=300.0, as_of=READY,
                                control=control, control_elasticity=1.25)
        assert assumed.realized_monthly > 600.0 and assumed.outcome is FindingState.VERIFIED


def test_a_drop_of_the_rest_of_the_org_on_the_implementation_day_is_not_credited_to_the_finding():
    # Everything costs 8 % less from the implementation day (a price cut); the scope did nothing.
    # No window can show whether the scope shares a change on that very day. Measured on its own
    # the scope "saved" the 8 %; read as shared (the cautious reading, which must verify too) it
    # saved nothing: not realized.
    price = step(1.0, 0.92)
    control = noisy(50_000.0 * price, seed=9, sigma=0.005)
    scope = noisy(100.0 * price, seed=10)
    result = verify_saving(scope, implemented_on=IMPL, estimate_monthly=240.0, as_of=READY, control=control)
    assert result.outcome is FindingState.NOT_REALIZED
    assert result.control.gap_jump == pytest.approx(np.log(0.92), abs=0.005) and result.control.gap_elasticity == 1.0
    assert cents(result.realized_monthly) == cents(236.90)  # ≈ 8 $/day × 30.4375 = $243.50, and noise
    assert cents(result.cautious_monthly) == cents(-5.26)
    assert result.realized_monthly >= result.threshold_monthly and result.significant
    assert result.summary().startswith("not realized: realized $236.90/month, 99% of the $240.00/month estimate "
                                       "(the rest of the org moved -8% on the implementation day; read the way "
                                       "that credits the finding less, -$5.26/month)")
    assert result.to_dict()["cautious_monthly"] == -5.26
    # A real 30 % saving passes under both readings.
    saver = noisy(100.0 * price * step(1.0, 0.7), seed=10)
    saved = verify_saving(saver, implemented_on=IMPL, estimate_monthly=800.0, as_of=READY, control=control)
    assert saved.outcome is FindingState.VERIFIED and saved.cautious_monthly >= saved.threshold_monthly
