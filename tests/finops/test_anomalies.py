"""Anomaly detection on small hand-built series whose right answers are known to the cent."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from finops.anomalies import detect_anomalies, replay_detection
from finops.anomaly_model import Anomaly
from finops.model import conform_daily_frame
from finops.money import cents
from finops.teams import Thresholds

FIRST = date(2025, 8, 1)
EC2 = "Amazon Elastic Compute Cloud"


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def rows(first: date, last: date, cost, *, account: str = "111111111111", service: str = EC2,
         region: str = "us-east-1", team: str = "payments", category: str = "Usage", sku: str = "BoxUsage",
         resource: str = "i-0001", provider: str = "AWS") -> list[dict]:
    """One row per day; ``cost`` is a number or a function of the day."""
    return [{"ChargePeriodStart": d, "ProviderName": provider, "SubAccountId": account, "ServiceName": service,
             "RegionId": region, "ChargeCategory": category, "SkuId": sku, "ResourceId": resource,
             "EffectiveCost": cost(d) if callable(cost) else cost, "BilledCost": cost(d) if callable(cost) else cost,
             "x_Team": team}
            for d in days(first, last)]


def frame(*parts: list[dict]) -> pd.DataFrame:
    return conform_daily_frame(pd.DataFrame([r for part in parts for r in part]))


def detect(daily: pd.DataFrame, day: date, **kwargs):
    return detect_anomalies(daily, as_of=day, complete_through=day, **kwargs)


def money(x: float) -> Decimal:
    return cents(x)


def run_daily(daily: pd.DataFrame, first: date, last: date, **kwargs) -> tuple[list, list[Anomaly]]:
    """Daily runs carrying open and ended anomalies like storage does; returns (results, final states)."""
    open_: dict[str, Anomaly] = {}
    ended: dict[str, Anomaly] = {}
    results = []
    for day in days(first, last):
        result = detect(daily, day, open_anomalies=list(open_.values()), ended_anomalies=list(ended.values()),
                        **kwargs)
        results.append(result)
        for a in (*result.new, *result.updated):
            open_[a.key] = a
        for a in result.ended:
            open_.pop(a.key, None)
            ended[a.key] = a
    return results, [*ended.values(), *open_.values()]


# ---------------------------------------------------------------------------------------------- spikes


def test_a_spike_raises_one_anomaly_with_the_exact_impact():
    spike_day = date(2025, 12, 3)
    daily = frame(rows(FIRST, spike_day, lambda d: 173.45 if d == spike_day else 50.0),
                  rows(FIRST, spike_day, 80.0, service="Amazon Simple Storage Service", resource="bucket"))

    result = detect(daily, spike_day)

    assert len(result.new) == 1 and result.updated == () and result.ended == ()
    a = result.new[0]
    assert a.key == "series|AWS|111111111111|Amazon Elastic Compute Cloud|payments|Usage|2025-12-03"
    assert (a.start, a.end, a.last_seen, a.detected_on) == (spike_day, None, spike_day, spike_day)
    assert (a.kind, a.direction, a.alert, a.team, a.level) == ("spike", "increase", True, "payments", "series")
    assert (money(a.expected_cost), money(a.actual_cost), money(a.impact)) == (
        Decimal("50.00"), Decimal("173.45"), Decimal("123.45"))
    assert a.impact_pct == pytest.approx(123.45 / 50)
    assert a.dimensions == {"provider": "AWS", "sub_account_id": "111111111111", "service": EC2,
                            "region": "us-east-1", "team": "payments", "charge_category": "Usage"}
    assert a.to_dict()["impact"] == 123.45 and a.to_dict()["end"] is None


def test_expected_plus_impact_is_actual_to_the_cent_and_root_cause_adds_up_to_the_impact():
    # rounded separately, $300.006 - $100.004 = $200.002 would print as $200.00 beside $100.00
    # expected and $300.01 actual; two resources of $100.001 each would print $100.00 twice
    spike_day = date(2025, 12, 3)
    daily = frame(rows(FIRST, spike_day, lambda d: 150.003 if d == spike_day else 50.002, resource="i-a"),
                  rows(FIRST, spike_day, lambda d: 150.003 if d == spike_day else 50.002, resource="i-b"))

    (a,) = detect(daily, spike_day).new
    data = a.to_dict()
    assert (data["expected_cost"], data["actual_cost"], data["impact"]) == (100.0, 300.01, 200.01)
    assert (money(a.expected_cost), money(a.actual_cost), money(a.impact)) == (
        Decimal("100.00"), Decimal("300.01"), Decimal("200.01"))
    resources = sorted(c["impact"] for c in data["root_cause"] if c["dimension"] == "ResourceId")
    assert resources == [100.0, 100.01]


def test_the_chart_shows_a_month_of_actual_and_expected_band():
    spike_day = date(2025, 12, 3)
    daily = frame(rows(FIRST, spike_day, lambda d: 400.0 if d == spike_day else 100.0))
    (a,) = detect(daily, spike_day).new
    assert len(a.series) == 30 and a.series[-1].day == spike_day and a.series[0].day == date(2025, 11, 4)
    assert [(p.actual, p.expected) for p in a.series[-2:]] == [(100.0, 100.0), (400.0, 100.0)]
    assert all(p.low <= p.expected <= p.high for p in a.series)


# ---------------------------------------------------------------------------------------------- expected patterns


def test_fees_tax_month_end_jobs_holidays_weekends_and_credits_raise_nothing():
    last = date(2026, 1, 2)

    def usage(d: date) -> float:
        weekday = 1.0 if d.weekday() < 5 else 0.6
        holiday = 0.5 if (d.month, d.day) in ((12, 25), (1, 1)) else 1.0
        return 200.0 * weekday * holiday

    def batch(d: date) -> float:  # a month-end job tripling the cost of the last day
        return 300.0 if (d + timedelta(days=1)).day == 1 else 100.0

    daily = frame(
        rows(FIRST, last, usage),
        rows(FIRST, last, batch, service="Amazon Redshift", resource="cluster-1"),
        rows(FIRST, last, lambda d: 15000.0 if d.day == 1 else 0.0, service="AWS Support (Business)",
             category="Purchase", sku="Support", resource=""),
        rows(FIRST, last, lambda d: 4200.0 if (d + timedelta(days=1)).day == 1 else 0.0, service="Tax",
             category="Tax", sku="Tax", resource="", team="unallocated"),
        rows(date(2025, 12, 10), date(2025, 12, 10), -3000.0, category="Credit", sku="Credit"),
    )

    assert replay_detection(daily, start=date(2025, 11, 25), end=last) == []


def test_the_first_day_of_a_month_is_not_read_against_the_day_before():
    # with earlier months to learn from, the 1st is expected to carry the fee
    last = date(2026, 1, 1)
    daily = frame(rows(FIRST, last, 100.0),
                  rows(FIRST, last, lambda d: 5000.0 if d.day == 1 else 0.0, service="AWS Support (Business)",
                       category="Purchase", resource=""))
    for day in (date(2025, 12, 1), date(2026, 1, 1)):
        assert detect(daily, day).new == ()


# ---------------------------------------------------------------------------------------------- life of an anomaly


def test_a_level_shift_is_raised_once_updated_while_it_lasts_then_ended():
    shift = days(date(2025, 12, 1), date(2025, 12, 5))
    last = date(2025, 12, 12)
    daily = frame(rows(FIRST, last, lambda d: 250.0 if d in shift else 100.0))

    results, (final,) = run_daily(daily, date(2025, 11, 28), last)
    by_day = dict(zip(days(date(2025, 11, 28), last), results, strict=True))

    assert [r.new for r in results if r.new] == [by_day[date(2025, 12, 1)].new]
    impacts = [money(by_day[d].updated[0].impact) for d in shift[1:]]
    assert impacts == [Decimal("300.00"), Decimal("450.00"), Decimal("600.00"), Decimal("750.00")]
    assert by_day[date(2025, 12, 5)].updated[0].kind == "shift"
    # back in band on the 6th, 7th and 8th: over on the 8th, ending on its last anomalous day
    assert by_day[date(2025, 12, 7)].updated[0].end is None
    (done,) = by_day[date(2025, 12, 8)].ended
    assert (done.start, done.end, done.last_seen) == (date(2025, 12, 1), date(2025, 12, 5), date(2025, 12, 5))
    assert (money(done.impact), money(done.expected_cost)) == (Decimal("750.00"), Decimal("500.00"))
    assert all(r.new == () and r.updated == () for r in results[-4:])
    assert final.key == done.key


def test_a_rerun_on_restated_data_updates_the_same_anomaly():
    day = date(2025, 12, 3)
    original = frame(rows(FIRST, day, lambda d: 600.0 if d == day else 100.0))
    restated = frame(rows(FIRST, day, lambda d: 650.0 if d == day else 100.0))
    (first,) = detect(original, day).new

    again = detect(restated, day, open_anomalies=[first])
    assert again.new == () and again.ended == ()
    (updated,) = again.updated
    assert updated.key == first.key and money(updated.impact) == Decimal("550.00")

    # without the stored anomaly, the same event still gets the same key
    (fresh,) = detect(restated, day).new
    assert fresh.key == first.key


def test_a_decrease_is_recorded_without_alert_unless_the_team_asks():
    day = date(2025, 12, 3)
    daily = frame(rows(FIRST, day, lambda d: 20.0 if d == day else 400.0))

    (drop,) = detect(daily, day).new
    assert (drop.direction, drop.kind, drop.alert) == ("decrease", "drop", False)
    assert money(drop.impact) == Decimal("-380.00") and drop.impact_pct == pytest.approx(-0.95)

    (loud,) = detect(daily, day, thresholds={"payments": Thresholds(alert_on_decrease=True)}).new
    assert loud.alert is True and loud.key == drop.key


def test_an_open_anomaly_is_never_raised_again():
    shift = days(date(2025, 12, 1), date(2025, 12, 20))
    daily = frame(rows(FIRST, date(2025, 12, 20), lambda d: 300.0 if d in shift else 100.0))
    results, anomalies = run_daily(daily, date(2025, 11, 30), date(2025, 12, 20))
    assert sum(len(r.new) for r in results) == 1 and len(anomalies) == 1
    assert money(anomalies[0].impact) == Decimal("4000.00") and anomalies[0].end is None


def test_an_ended_anomaly_passed_back_keeps_its_days_out_of_the_baseline():
    shift = days(date(2025, 11, 1), date(2025, 12, 10))
    last = date(2025, 12, 20)
    daily = frame(rows(FIRST, last, lambda d: 300.0 if d in shift else 100.0))
    (ended,) = replay_detection(daily, start=date(2025, 10, 25), end=last)
    assert (ended.start, ended.end, money(ended.impact)) == (date(2025, 11, 1), date(2025, 12, 10),
                                                             Decimal("8000.00"))

    assert detect(daily, last, ended_anomalies=[ended]).new == ()
    # forgotten, the shift has become the baseline, and its end reads as a drop
    (drop,) = detect(daily, last).new
    assert (drop.direction, drop.start) == ("decrease", date(2025, 12, 11))


# ---------------------------------------------------------------------------------------------- kinds


def test_a_brand_new_service_in_an_account_is_new_spend():
    day = date(2025, 12, 3)
    daily = frame(rows(FIRST, day, 100.0),
                  rows(date(2025, 12, 2), day, 75.0, service="Amazon SageMaker", resource="endpoint-1"))

    assert detect(daily, date(2025, 12, 2)).new == ()  # $75 is not material yet
    (a,) = detect(daily, day).new
    assert (a.kind, a.start, a.dimensions["service"]) == ("new_spend", date(2025, 12, 2), "Amazon SageMaker")
    assert (money(a.expected_cost), money(a.impact), a.impact_pct) == (Decimal("0.00"), Decimal("150.00"), None)


def test_a_new_region_too_small_to_move_its_series_is_new_spend_of_its_own():
    day = date(2025, 12, 3)
    daily = frame(rows(FIRST, day, 1000.0),
                  rows(day, day, 150.0, region="eu-west-1", resource="i-0002"))

    (a,) = detect(daily, day).new
    assert (a.kind, a.level) == ("new_spend", "region")
    assert a.dimensions["region"] == "eu-west-1" and a.dimensions["sub_account_id"] == "111111111111"
    assert money(a.impact) == Decimal("150.00")


def test_days_after_complete_through_are_partial_and_ignored():
    complete = date(2025, 12, 3)
    daily = frame(rows(FIRST, complete, 100.0),
                  rows(complete + timedelta(days=1), complete + timedelta(days=1), 3.0),  # half-loaded day
                  rows(complete + timedelta(days=1), complete + timedelta(days=1), 900.0, service="Amazon S3"))
    result = detect_anomalies(daily, as_of=complete + timedelta(days=2), complete_through=complete)
    assert result.new == () and result.updated == () and result.ended == ()


# ---------------------------------------------------------------------------------------------- root cause


def test_root_cause_names_the_region_sku_and_resource_and_shares_sum_to_one():
    day = date(2025, 12, 3)
    daily = frame(
        rows(FIRST, day, 60.0, region="us-east-1", sku="BoxUsage:m5.large", resource="i-east"),
        rows(FIRST, day, lambda d: 540.0 if d == day else 40.0, region="eu-west-1",
             sku="EU-BoxUsage:m5.large", resource="i-west"),
    )
    (a,) = detect(daily, day).new
    assert "region" not in a.dimensions  # the series spans two regions
    by_dimension: dict[str, list] = {}
    for c in a.root_cause:
        by_dimension.setdefault(c.dimension, []).append(c)
    assert set(by_dimension) == {"RegionId", "SkuId", "ResourceId"}
    for dimension, expected_top in (("RegionId", "eu-west-1"), ("SkuId", "EU-BoxUsage:m5.large"),
                                    ("ResourceId", "i-west")):
        top = by_dimension[dimension][0]
        assert (top.value, money(top.impact), top.share) == (expected_top, Decimal("500.00"), 1.0)
        assert sum(c.share for c in by_dimension[dimension]) == pytest.approx(1.0)


def test_root_cause_splits_an_increase_carried_by_two_resources():
    day = date(2025, 12, 3)
    daily = frame(
        rows(FIRST, day, lambda d: 400.0 if d == day else 100.0, resource="i-a"),
        rows(FIRST, day, lambda d: 200.0 if d == day else 100.0, resource="i-b"),
    )
    (a,) = detect(daily, day).new
    resources = [(c.value, money(c.impact), c.share) for c in a.root_cause if c.dimension == "ResourceId"]
    assert resources == [("i-a", Decimal("300.00"), 0.75), ("i-b", Decimal("100.00"), 0.25)]


# ---------------------------------------------------------------------------------------------- thresholds


def test_each_team_gets_its_own_thresholds():
    day = date(2025, 12, 3)
    spike = lambda d: 250.0 if d == day else 100.0  # noqa: E731 - +$150, +150 %
    daily = frame(rows(FIRST, day, spike, team="payments"),
                  rows(FIRST, day, spike, team="search", account="222222222222"),
                  rows(FIRST, day, spike, team="web", account="333333333333"))
    thresholds = {"search": Thresholds(min_impact_usd=200.0), "web": Thresholds(min_pct=2.0)}

    raised = detect(daily, day, thresholds=thresholds).new
    assert [a.team for a in raised] == ["payments"]
    assert {a.team for a in detect(daily, day).new} == {"payments", "search", "web"}


# ---------------------------------------------------------------------------------------------- roll-ups


def test_a_change_spread_over_accounts_is_raised_once_on_the_roll_up():
    day = date(2025, 12, 3)
    accounts = ["111111111111", "222222222222", "333333333333", "444444444444"]
    daily = frame(*[rows(FIRST, day, lambda d: 140.0 if d == day else 100.0, account=a) for a in accounts])

    (a,) = detect(daily, day).new  # each account alone is only +$40
    assert a.level == "service"
    assert a.dimensions == {"provider": "AWS", "service": EC2, "team": "payments", "charge_category": "Usage"}
    assert money(a.impact) == Decimal("160.00")
    shares = {c.value: c.share for c in a.root_cause if c.dimension == "SubAccountId"}
    assert shares == {acc: pytest.approx(0.25) for acc in accounts}


def test_a_change_carried_by_one_member_is_raised_on_that_member_only():
    day = date(2025, 12, 3)
    daily = frame(rows(FIRST, day, lambda d: 500.0 if d == day else 100.0, account="111111111111"),
                  rows(FIRST, day, 100.0, account="222222222222"),
                  rows(FIRST, day, 100.0, account="111111111111", service="Amazon S3", resource="b"))
    (a,) = detect(daily, day).new
    assert a.level == "series" and a.dimensions["sub_account_id"] == "111111111111"


def test_a_new_account_is_one_anomaly_from_its_first_day_to_its_new_normal():
    # account 111 runs EC2 at $1,000/day; the same team's account 222 starts four services on
    # 22 Sep: one event, seen as the account's new spend (not also as "EC2 across accounts", and
    # not again service by service once the account's new spend has settled as the new normal)
    began, last = date(2026, 9, 22), date(2026, 10, 31)
    services = [EC2, "Amazon S3", "Amazon RDS", "AWS Lambda"]
    daily = frame(rows(date(2025, 10, 1), last, 1000.0),
                  *[rows(began, last, 400.0 + i, account="222222222222", service=s, resource=s)
                    for i, s in enumerate(services)])

    (a,) = replay_detection(daily, start=date(2026, 9, 20), end=last)
    assert (a.level, a.kind, a.start, a.detected_on) == ("account", "new_spend", began, began)
    assert a.dimensions["sub_account_id"] == "222222222222"
    # settled after four weeks: 28 days of $1,606.00
    assert (a.end, money(a.impact)) == (date(2026, 10, 19), Decimal("44968.00"))


# ---------------------------------------------------------------------------------------------- replay


def noisy_history(seed: int, last: date) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = (last - FIRST).days + 1
    weekly = np.array([1, 1, 1, 1, 1, 0.7, 0.7])
    values = {}
    for service, level in ((EC2, 900.0), ("Amazon S3", 300.0), ("AWS Lambda", 120.0)):
        noise = np.exp(rng.normal(0, 0.05, n))
        values[service] = [level * weekly[d.weekday()] * noise[i] for i, d in enumerate(days(FIRST, last))]
    values[EC2][130:133] = [v * 2.5 for v in values[EC2][130:133]]  # a spike
    values["Amazon S3"][140:160] = [v * 1.8 for v in values["Amazon S3"][140:160]]  # a shift
    return frame(*[rows(FIRST, last, dict(zip(days(FIRST, last), v, strict=True)).__getitem__, service=s,
                        resource=s) for s, v in values.items()])


def test_replay_gives_what_the_daily_runs_gave():
    last = date(2026, 1, 20)
    daily = noisy_history(7, last)
    start = date(2025, 12, 1)

    replayed = replay_detection(daily, start=start, end=last)
    _, stepped = run_daily(daily, start, last)

    summary = sorted((a.key, a.detected_on, a.end, money(a.impact)) for a in replayed)
    assert summary == sorted((a.key, a.detected_on, a.end, money(a.impact)) for a in stepped)
    assert [(a.dimensions["service"], a.kind, a.start) for a in replayed] == [
        (EC2, "spike", date(2025, 12, 9)), ("Amazon S3", "shift", date(2025, 12, 19))]


def test_a_run_after_missed_days_finds_what_the_daily_runs_would_have_found():
    """The job ran daily until Dec 8, then not until Dec 25: with ``since`` the run detects each
    missed day, so the spike that came and went meanwhile is raised (ended) and the shift once,
    from its first day, with the figures the daily runs would have had on the 25th."""
    daily = noisy_history(7, date(2026, 1, 20))
    before, _ = run_daily(daily, date(2025, 12, 1), date(2025, 12, 8))
    assert all(not r.new for r in before)
    late = detect(daily, date(2025, 12, 25), since=date(2025, 12, 9))
    _, daily_runs = run_daily(daily, date(2025, 12, 1), date(2025, 12, 25))

    summary = sorted((a.key, a.start, a.end, money(a.impact)) for a in late.new)
    assert summary == sorted((a.key, a.start, a.end, money(a.impact)) for a in daily_runs)
    assert [(a.dimensions["service"], a.start, a.end is not None, a.detected_on) for a in late.new] == [
        (EC2, date(2025, 12, 9), True, date(2025, 12, 25)), ("Amazon S3", date(2025, 12, 19), False, date(2025, 12, 25))]
    assert [a.dimensions["service"] for a in detect(daily, date(2025, 12, 25)).new] == ["Amazon S3"]  # the spike is missed

    # an anomaly open before the gap is carried through it: updated, never raised again
    _, open_before = run_daily(daily, date(2025, 12, 1), date(2025, 12, 20))
    (shift,) = [a for a in open_before if a.end is None]
    ended = [a for a in open_before if a.end is not None]
    later = detect(daily, date(2026, 1, 5), since=date(2025, 12, 21), open_anomalies=[shift], ended_anomalies=ended)
    assert later.new == () and [a.key for a in (*later.updated, *later.ended)] == [shift.key]
    _, states = run_daily(daily, date(2025, 12, 1), date(2026, 1, 5))
    (expected_shift,) = [a for a in states if a.key == shift.key]
    (carried,) = (*later.updated, *later.ended)
    assert (carried.end, money(carried.impact)) == (expected_shift.end, money(expected_shift.impact))


def test_replay_with_a_lag_reads_only_days_complete_on_each_run():
    last = date(2026, 1, 20)
    daily = noisy_history(7, last)
    (spike, _) = replay_detection(daily, start=date(2025, 12, 1), end=last, complete_lag_days=2)
    assert spike.start == date(2025, 12, 9) and spike.detected_on == date(2025, 12, 11)
