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
