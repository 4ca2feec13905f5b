"""What goes into a team's and the org's weekly digest, hand-computed on the small organisation of
tests/jobs/digest_data.py with payments' EC2 doubling from Monday November 9 (week 46)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from finops.digest import (
    AnomalyLine,
    Week,
    compared_days,
    compared_through,
    findings_by_state,
    org_digest,
    realized_in_quarter,
    team_digest,
    top_movers,
    week_reported,
)
from finops.forecast import forecast_month_end
from finops.maturity import FindingSummary
from finops.model import conform_daily_frame
from finops.ownership import DRIVER_COLUMNS, allocate_costs, split_shared_costs
from tests.jobs.digest_data import cost_rows, teams_config

WEEK = Week("2026-W46", date(2026, 11, 9), date(2026, 11, 15))
FINDINGS = (
    FindingSummary(1, "Rightsize RDS", "payments", "verified", 200.0, date(2026, 8, 1), date(2026, 9, 1),
                   date(2026, 10, 20), 150.0),
    FindingSummary(2, "Delete snapshots", "payments", "identified", 80.0, date(2026, 11, 2)),
    FindingSummary(3, "Spot for batch", "payments", "in_progress", 300.0, date(2026, 10, 2)),
    FindingSummary(4, "Idle NAT", "payments", "identified", 20.5, date(2026, 11, 3)),
    FindingSummary(5, "S3 lifecycle", "search", "accepted", 45.0, date(2026, 10, 5)),
    FindingSummary(6, "Old verified", "payments", "verified", 90.0, date(2026, 3, 1), date(2026, 4, 1),
                   date(2026, 5, 1), 90.0),
)


@pytest.fixture(scope="module")
def costs() -> pd.DataFrame:
    teams = teams_config()
    frame = pd.concat([cost_rows(date(2026, 1, 1), date(2026, 11, 8)),
                       cost_rows(date(2026, 11, 9), date(2026, 11, 15), payments=120.0)])
    return split_shared_costs(allocate_costs(conform_daily_frame(frame), teams), teams)


def test_the_week_reported_is_the_last_complete_iso_week() -> None:
    assert week_reported(date(2026, 11, 16)) == WEEK  # Monday
    assert week_reported(date(2026, 11, 22)) == WEEK  # Sunday: week 47 is not over
    assert WEEK.previous() == Week("2026-W45", date(2026, 11, 2), date(2026, 11, 8))
    assert Week.from_label("2026-W46") == WEEK
    assert WEEK.title == "Week 46 · 9–15 Nov 2026"


def test_a_week_across_a_new_year_names_both_years() -> None:
    # It read "Week 53 · 28 Dec–3 Jan 2027", as if the week were in December 2027.
    assert week_reported(date(2027, 1, 4)).title == "Week 53 · 28 Dec 2026–3 Jan 2027"
    assert Week.from_label("2026-W01").title == "Week 1 · 29 Dec 2025–4 Jan 2026"
    assert Week.from_label("2026-W44").title == "Week 44 · 26 Oct–1 Nov 2026"


def test_team_digest_numbers(costs: pd.DataFrame) -> None:
    forecast = forecast_month_end(costs, as_of=WEEK.end)
    anomalies = [AnomalyLine(41, "payments", "Amazon EC2 in 111", date(2026, 11, 9), 420.0),
                 AnomalyLine(42, "search", "Amazon S3 in 222", date(2026, 11, 10), 50.0)]
    digest = team_digest("payments", "#team-payments", WEEK, costs=costs, complete_through=WEEK.end,
                         forecast=forecast, budget=2300.0, anomalies=anomalies, findings=FINDINGS,
                         stalled=["#3 Spot for batch: past due since 01 Nov"])
    # Week before: 7 x ($60 + $6 of the support pool) = $462; last week: 7 x ($120 + 120/150 x $9) = $890.40.
    assert (digest.spend.before, digest.spend.last) == (Decimal("462"), Decimal("890.4"))
    assert digest.spend.pct == pytest.approx(92.727, abs=1e-3)
    # November to date: 8 days at $66 and 7 at $127.20.
    assert (digest.month, digest.month_to_date) == ("2026-11", Decimal("1418.4"))
    # A week at the new level: the rest of the month at $127.20 a day.
    assert digest.forecast == pytest.approx(1418.4 + 15 * 127.2)
    assert (digest.budget.level, round(digest.budget.share, 4)) == ("over", round(3326.4 / 2300, 4))
    assert [(m.label, m.before, m.last) for m in digest.movers] == [
        ("Amazon EC2", Decimal("420"), Decimal("840")), ("AWS Support (shared)", Decimal("42"), Decimal("50.4"))]
    assert [a.id for a in digest.anomalies] == [41]
    assert [(s.state, s.count, s.monthly) for s in digest.findings] == [
        ("identified", 2, Decimal("100.5")), ("in_progress", 1, Decimal("300.0")), ("verified", 2, Decimal("290.0"))]
    assert [f.id for f in digest.open_findings] == [3, 2, 4]
    assert (digest.quarter, digest.realized_quarter, digest.verified_quarter) == ("Q4 2026", Decimal("150.0"), 1)
    assert digest.stalled == ("#3 Spot for batch: past due since 01 Nov",)
    assert len(digest.daily) == 35 and digest.daily[-1] == (date(2026, 11, 15), pytest.approx(127.2))
    assert not digest.partial
    late = team_digest("payments", "#team-payments", WEEK, costs=costs, complete_through=date(2026, 11, 13),
                       forecast=None, budget=None, anomalies=(), findings=())
    assert late.partial and late.anomalies == () and late.budget is None and late.forecast is None
    assert late.month_to_date == Decimal("1164")  # through Nov 13: 8 x 66 + 5 x 127.20


def test_a_week_whose_last_days_are_still_loading_is_compared_day_for_day(costs: pd.DataFrame) -> None:
    # Sunday Nov 15 has a third of payments' EC2 so far (a day still loading): compared with the
    # whole week before it would read as a drop. Monday to Saturday of both weeks are compared.
    loading = costs.copy()
    sunday = (pd.to_datetime(loading["ChargePeriodStart"]) == pd.Timestamp(2026, 11, 15)).to_numpy()
    loading.loc[sunday, "EffectiveCost"] = loading.loc[sunday, "EffectiveCost"] / 3
    digest = team_digest("payments", "#team-payments", WEEK, costs=loading, complete_through=date(2026, 11, 14),
                         forecast=None, budget=None, anomalies=(), findings=())
    assert digest.partial and digest.through == date(2026, 11, 14)
    # Mon 2 - Sat 7 Nov: 6 x $66 = $396; Mon 9 - Sat 14 Nov: 6 x $127.20 = $763.20.
    assert (digest.spend.before, digest.spend.last) == (Decimal("396"), Decimal("763.2"))
    assert [(m.label, m.before, m.last) for m in digest.movers] == [
        ("Amazon EC2", Decimal("360"), Decimal("720")), ("AWS Support (shared)", Decimal("36"), Decimal("43.2"))]
    untagged = pd.DataFrame({c: [] for c in DRIVER_COLUMNS})
    org = org_digest("#finops", WEEK, costs=loading, complete_through=date(2026, 11, 14), teams=("search", "payments"),
                     forecast=None, budgets={}, untagged=untagged, anomalies=[], findings=(), scorecard=None)
    # The org: 6 x $100 before, 6 x $160 (payments $127.20, search $31.80, unallocated $1).
    assert (org.spend.before, org.spend.last) == (Decimal("600"), Decimal("960"))
    assert [(r.change.label, r.change.before, r.change.last) for r in org.teams] == [
        ("payments", Decimal("396"), Decimal("763.2")), ("search", Decimal("198"), Decimal("190.8"))]
    assert (org.unallocated.before, org.unallocated.last) == (Decimal("6"), Decimal("6"))
    # Complete through the Sunday, or not reaching the week at all: the whole weeks.
    assert team_digest("payments", "#p", WEEK, costs=loading, complete_through=WEEK.end, forecast=None,
                       budget=None, anomalies=(), findings=()).through == WEEK.end
    assert compared_through(WEEK, date(2026, 11, 8)) == WEEK.end and compared_through(WEEK, None) == WEEK.end
    assert compared_days(WEEK, date(2026, 11, 14)) == "Mon–Sat"
    assert compared_days(WEEK, date(2026, 11, 9)) == "Mon"
    assert compared_days(WEEK, WEEK.end) == ""


def test_org_digest_ranks_teams_by_the_size_of_their_change(costs: pd.DataFrame) -> None:
    forecast = forecast_month_end(costs, as_of=WEEK.end)
    untagged = pd.DataFrame({c: [] for c in DRIVER_COLUMNS})
    digest = org_digest("#finops", WEEK, costs=costs, complete_through=WEEK.end, teams=("search", "payments"),
                        forecast=forecast, budgets={"payments": 2300.0, "search": 1500.0}, untagged=untagged,
                        anomalies=[], findings=FINDINGS, scorecard=None)
    assert (digest.spend.before, digest.spend.last) == (Decimal("700"), Decimal("1120"))
    # payments +$428.40, search -$8.40 (its share of the support pool shrank), unallocated $0.
    assert [(r.change.label, r.change.delta) for r in digest.teams] == [
        ("payments", Decimal("428.4")), ("search", Decimal("-8.4"))]
    assert [r.budget.level for r in digest.teams] == ["over", "ok"]
    assert (digest.unallocated.before, digest.unallocated.last) == (Decimal("7"), Decimal("7"))
    assert digest.open_findings == (4, Decimal("445.5"))
    assert (digest.open_anomalies, digest.realized_quarter) == (0, Decimal("150.0"))
    assert digest.weekly == (("payments", 462.0, 890.4), ("search", 231.0, 222.6))


def test_building_blocks() -> None:
    frame = pd.DataFrame({"ChargePeriodStart": pd.to_datetime(["2026-11-03", "2026-11-10", "2026-11-10"]),
                          "x_AllocationRule": "", "ServiceName": ["EC2", "EC2", "S3"],
                          "EffectiveCost": [10.0, 10.0, 5.0]})
    assert [m.label for m in top_movers(frame, WEEK)] == ["S3"]  # EC2 did not move
    assert findings_by_state(()) == ()
    assert realized_in_quarter(FINDINGS, "2026Q2") == (Decimal("90.0"), 1)
    assert realized_in_quarter(FINDINGS, "2026Q4", team="search") == (Decimal("0"), 0)


# ---------------------------------------------------------------------------------------------
# Cents that add up (as `costbot costs` prints them)


def _rows(*rows: tuple[str, str, str, float]) -> pd.DataFrame:
    """(day, team, service, effective cost) rows of an allocated daily frame."""
    return pd.DataFrame([{"ChargePeriodStart": pd.Timestamp(day), "x_Team": team, "x_AllocationRule": "",
                          "ServiceName": service, "ChargeCategory": "Usage", "EffectiveCost": cost}
                         for day, team, service, cost in rows])


# Week 45 on Tuesday Nov 3, week 46 on Tuesday Nov 10; the half cents are where rounding each
# figure on its own and splitting the rounded total part ways.
CENT_ROWS = _rows(
    ("2026-11-03", "payments", "EC2", 60.002), ("2026-11-03", "payments", "S3", 40.002),
    ("2026-11-03", "search", "S3", 30.001),
    ("2026-11-10", "payments", "EC2", 120.003), ("2026-11-10", "payments", "S3", 80.0025),
    ("2026-11-10", "search", "S3", 30.0052), ("2026-11-10", "web", "CDN", 100.004),
)


def test_a_teams_week_is_its_part_of_the_orgs_week_in_cents_and_its_services_add_up_to_it() -> None:
    digest = team_digest("payments", "#team-payments", WEEK, costs=CENT_ROWS, complete_through=WEEK.end,
                         forecast=None, budget=None, anomalies=(), findings=())
    # Week 45: $100.004 -> $100.00; week 46: $200.0055 of the org's $330.0147 -> $330.01, whose one
    # cent left over by the floors goes to payments (the largest remainder): $200.01.
    assert (digest.spend.before, digest.spend.last, digest.spend.delta) == (
        Decimal("100.00"), Decimal("200.01"), Decimal("100.01"))  # not +$100.00 (the unrounded +$100.0015)
    # Services split the team's printed total: EC2 $120.003 takes the cent ($120.01), S3 $80.0025 does not.
    assert [(m.label, m.before, m.last, m.delta) for m in digest.movers] == [
        ("EC2", Decimal("60.00"), Decimal("120.01"), Decimal("60.01")),
        ("S3", Decimal("40.00"), Decimal("80.00"), Decimal("40.00"))]
    assert sum(m.last for m in digest.movers) == digest.spend.last
    assert sum(m.before for m in digest.movers) == digest.spend.before
    # search's $30.0052 gets no cent of the org's split: $30.00, as `costbot costs --by team` prints it.
    search = team_digest("search", "#team-search", WEEK, costs=CENT_ROWS, complete_through=WEEK.end,
                         forecast=None, budget=None, anomalies=(), findings=())
    assert (search.spend.before, search.spend.last) == (Decimal("30.00"), Decimal("30.00"))
    assert search.movers == ()  # $30.00 both weeks: no change to show


def test_the_org_digests_teams_add_up_to_its_total_and_rank_by_their_printed_change() -> None:
    untagged = pd.DataFrame({c: [] for c in DRIVER_COLUMNS})
    digest = org_digest("#finops", WEEK, costs=CENT_ROWS, complete_through=WEEK.end, teams=("payments", "search", "web"),
                        forecast=None, budgets={}, untagged=untagged, anomalies=[], findings=(), scorecard=None)
    # Week 45: $130.005 -> $130.00 (half to even); week 46: $330.0147 -> $330.01.
    assert (digest.spend.before, digest.spend.last) == (Decimal("130.00"), Decimal("330.01"))
    # web's unrounded change (+$100.004) is larger than payments' (+$100.0015), but what the lines
    # print is payments +$100.01, web +$100.00.
    assert [(r.change.label, r.change.before, r.change.last, r.change.delta) for r in digest.teams] == [
        ("payments", Decimal("100.00"), Decimal("200.01"), Decimal("100.01")),
        ("web", Decimal("0"), Decimal("100.00"), Decimal("100.00")),
        ("search", Decimal("30.00"), Decimal("30.00"), Decimal("0.00"))]
    assert sum(r.change.last for r in digest.teams) + digest.unallocated.last == digest.spend.last
    assert sum(r.change.before for r in digest.teams) + digest.unallocated.before == digest.spend.before


def test_month_to_date_is_the_forecasts_figure_which_adds_up_to_the_orgs() -> None:
    # Nov 1-15: payments $60.0004 a day ($900.006), search $30.0005 ($450.0075): $1,350.0135 in all,
    # $1,350.01; the cent above the floors goes to search, the larger remainder.
    days = [str(d.date()) for d in pd.date_range("2026-11-01", "2026-11-15")]
    costs = _rows(*[(d, "payments", "EC2", 60.0004) for d in days], *[(d, "search", "S3", 30.0005) for d in days])
    forecast = forecast_month_end(costs, as_of=WEEK.end)
    assert (forecast.team("payments").actual_to_date, forecast.team("search").actual_to_date) == (900.0, 450.01)
    to_date = {team: team_digest(team, "#x", WEEK, costs=costs, complete_through=WEEK.end, forecast=forecast,
                                 budget=None, anomalies=(), findings=()).month_to_date
               for team in ("payments", "search")}
    assert to_date == {"payments": Decimal("900.00"), "search": Decimal("450.01")}  # not $900.01 on its own
    org = org_digest("#finops", WEEK, costs=costs, complete_through=WEEK.end, teams=("payments", "search"),
                     forecast=forecast, budgets={}, untagged=pd.DataFrame({c: [] for c in DRIVER_COLUMNS}),
                     anomalies=[], findings=(), scorecard=None)
    assert org.month_to_date == Decimal("1350.01") == sum(to_date.values())
