"""The verification job on SQLite and PostgreSQL: when it measures, what it measures against (the rest of
the org), what it records, the monthly re-check and its notice, and replicas running it at once."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime

import pandas as pd
import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import update
from sqlmodel import col

from bot.blocks.findings import evidence_lines
from bot.config import Settings
from bot.context import AppContext, build_context
from bot.delivery import TerminalTransport
from finops.savings import Actor, FindingState
from finops.teams import parse_teams
from jobs.ingest import ingest_cost_files
from jobs.verify import load_scope_costs, schedule, verify_findings
from storage.costs import CostStore
from storage.db import Database
from storage.findings import FindingStore, NewFinding
from storage.tables.findings import Finding
from tests.finops.sources.cost_file_helpers import FOCUS_HEADER, focus_row, write_csv
from tests.harness import TEAMS_YAML

NOW = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
IMPLEMENTED_ON = date(2026, 10, 20)
OWNER = Actor("U_PAY_OWNER", on_team=True)
RDS = {"service": ["Amazon RDS"], "sub_account_id": ["111222330440"]}
Cost = Callable[[date], float]


def flat(value: float) -> Cost:
    return lambda day: value


def step(before: float, after: float, on: date = IMPLEMENTED_ON, until: date | None = None) -> Cost:
    return lambda day: after if on < day and (until is None or day < until) else before


def write_org(tmp_path, rds: Cost, ec2: Cost | None = None, *, end: str = "2026-11-15",
              extra: list[list[object]] = ()) -> object:
    """payments' RDS and search's EC2 (default $300/day) from 2026-08-01 to ``end``, as a FOCUS file."""
    ec2 = ec2 or flat(300.0)
    rows = []
    for day in pd.date_range("2026-08-01", end):
        stamp = day.strftime("%Y-%m-%dT00:00:00Z")
        for account, service, cost in (("111222330440", "Amazon RDS", rds(day.date())),
                                       ("111222331441", "Amazon EC2", ec2(day.date()))):
            rows.append(focus_row(stamp, account=account, service=service, billed=f"{cost:.2f}",
                                  effective=f"{cost:.2f}", listed=f"{cost:.2f}"))
    return write_csv(tmp_path / f"costs-{end}.csv", FOCUS_HEADER, rows + list(extra))


def make_context(db: Database) -> AppContext:
    """A context on ``db`` with the harness's teams, the clock at NOW, messages rendered to a buffer."""
    return build_context(Settings(database_url=db.url), teams=parse_teams(TEAMS_YAML),
                         transport=TerminalTransport(stream=io.StringIO()), upgrade=False, now=lambda: NOW)


@pytest.fixture
def ctx(db: Database) -> AppContext:
    return make_context(db)


def ingest(ctx: AppContext, path, today: date | None = None) -> None:
    ingest_cost_files(CostStore(ctx.db), ctx.teams, [path], today=today or NOW.date())


def implemented(ctx: AppContext, *, estimate: float = 1000.0, scope=RDS, on: date = IMPLEMENTED_ON) -> int:
    store = FindingStore(ctx.db)
    finding = store.create(NewFinding("Rightsize RDS", "payments", scope, estimate), by="U_PAY_OWNER",
                           at=datetime(2026, 9, 1, tzinfo=UTC))
    store.move(finding.id, "accept", actor=OWNER, at=datetime(2026, 9, 2, tzinfo=UTC))
    store.move(finding.id, "start", actor=OWNER, at=datetime(2026, 9, 3, tzinfo=UTC))
    store.move(finding.id, "implemented", actor=OWNER, at=datetime(2026, 10, 21, tzinfo=UTC), implemented_on=on)
    return finding.id


def test_it_waits_for_the_settling_window_then_verifies(ctx: AppContext, tmp_path):
    ingest(ctx, write_org(tmp_path, step(100.0, 60.0)))
    finding_id = implemented(ctx)
    early = verify_findings(ctx, today=date(2026, 11, 3))  # data through 2026-11-02; the window ends 11-03
    assert (early.begun, early.concluded, early.waiting) == ([finding_id], [], [(finding_id, date(2026, 11, 4))])
    assert FindingStore(ctx.db).get(finding_id).state is FindingState.VERIFYING
    run = verify_findings(ctx, today=date(2026, 11, 4))
    assert run.data_through == date(2026, 11, 3)
    assert [(i, s, str(r)) for i, s, r in run.concluded] == [(finding_id, "verified", "1217.50")]
    (verification,) = FindingStore(ctx.db).verifications(finding_id)
    assert verification.chart.startswith(b"\x89PNG") and verification.as_of == date(2026, 11, 3)
    assert verify_findings(ctx, today=date(2026, 11, 5)).concluded == []  # done once


def test_an_org_wide_change_the_scope_follows_is_measured_against_the_rest_of_the_org(ctx: AppContext, tmp_path):
    # Everything costs 20 % more from 2026-10-27, a week into the after window (a price change);
    # the RDS change cut its cost by 40 %: without it, the RDS would cost 100, then 120 a day.
    price = step(1.0, 1.2, on=date(2026, 10, 26))
    ingest(ctx, write_org(tmp_path, lambda day: step(100.0, 60.0)(day) * price(day), lambda day: 300.0 * price(day)))
    finding_id = implemented(ctx, estimate=1400.0)
    run = verify_findings(ctx)
    assert [(s, str(r)) for _, s, r in run.concluded] == [("verified", "1356.64")]  # (6 × 40 + 8 × 48) / 14 × 30.4375
    evidence = FindingStore(ctx.db).get(finding_id).evidence
    assert evidence["expected_daily_after"] == pytest.approx((6 * 100 + 8 * 120) / 14, abs=0.005)
    assert evidence["adjustments"]["control_elasticity"] == pytest.approx(1.0)


def test_another_teams_spend_moving_is_not_a_saving(ctx: AppContext, tmp_path):
    # payments' RDS does not change; search launches more EC2 (+20 %) the day after the RDS
    # finding was marked implemented. Nothing says the RDS follows search's EC2: not realized.
    ingest(ctx, write_org(tmp_path, flat(100.0), step(300.0, 360.0)))
    finding_id = implemented(ctx, estimate=300.0)
    run = verify_findings(ctx)
    assert [(s, str(r)) for _, s, r in run.concluded] == [("not_realized", "0.00")]
    evidence = FindingStore(ctx.db).get(finding_id).evidence
    assert evidence["expected_daily_after"] == 100.0
    assert evidence["adjustments"]["control_elasticity"] == 0.0
    assert evidence["adjustments"]["control_change"] == pytest.approx(0.2)


def test_a_drop_of_the_rest_of_the_org_on_the_implementation_day_must_leave_the_saving_above_the_threshold(
        ctx: AppContext, tmp_path):
    # search's EC2 drops 20 % the day the RDS change went live (another finding there). Nothing can
    # show whether the RDS shares that drop: measured on its own it saved $40/day; if it shared the
    # drop (the cautious reading), only $20/day, under the $800/month needed: not realized.
    ingest(ctx, write_org(tmp_path, step(100.0, 60.0), step(300.0, 240.0)))
    finding_id = implemented(ctx, estimate=1000.0)
    run = verify_findings(ctx)
    assert [(s, str(r)) for _, s, r in run.concluded] == [("not_realized", "1217.50")]
    finding = FindingStore(ctx.db).get(finding_id)
    assert finding.evidence["cautious_monthly"] == 608.75  # (80 − 60) × 30.4375
    assert finding.evidence["adjustments"]["control_gap_jump"] == pytest.approx(-0.2)
    assert "Read cautiously (the rest of the org's moves taken the way that credits the finding less): $608.75/month." in \
        evidence_lines(finding)
    assert FindingStore(ctx.db).history(finding_id)[-1].reason.startswith(
        "not realized: realized $1,217.50/month, 122% of the $1,000.00/month estimate (the rest of the org moved "
        "-20% on the implementation day; read the way that credits the finding less, "
        "$608.75/month)")


def test_the_scope_is_measured_on_usage_so_a_fee_on_the_first_is_not_a_step(ctx: AppContext, tmp_path):
    fee = focus_row("2026-11-01T00:00:00Z", account="111222330440", service="Amazon RDS", category="Purchase",
                    billed="3000.00", effective="3000.00", listed="3000.00")
    ingest(ctx, write_org(tmp_path, step(100.0, 60.0), extra=[fee]))
    implemented(ctx)
    assert [str(r) for _, _, r in verify_findings(ctx).concluded] == ["1217.50"]
    costs = load_scope_costs(CostStore(ctx.db), RDS, date(2026, 10, 25), date(2026, 11, 2))
    assert costs.usage_only and costs.daily.loc["2026-11-01"] == 60.0
    assert costs.control.loc["2026-11-01"] == 300.0


def test_a_change_with_no_effect_is_not_realized(ctx: AppContext, tmp_path):
    ingest(ctx, write_org(tmp_path, flat(100.0)))
    finding_id = implemented(ctx)
    run = verify_findings(ctx)
    assert [(s, str(r)) for _, s, r in run.concluded] == [("not_realized", "0.00")]
    finding = FindingStore(ctx.db).get(finding_id)
    assert (finding.state, finding.realized_monthly, finding.verified_on) == (FindingState.NOT_REALIZED, 0, None)
    assert FindingStore(ctx.db).history(finding_id)[-1].reason.startswith(
        "not realized: realized $0.00/month, 0% of the $1,000.00/month estimate (needs $800.00/month)")


def test_a_scope_that_matches_nothing_is_noted_once_and_stays_verifying(ctx: AppContext, tmp_path):
    ingest(ctx, write_org(tmp_path, flat(100.0)))
    finding_id = implemented(ctx, scope={"service": ["Amazon Redshift"]})
    first = verify_findings(ctx)
    assert first.unmeasurable == [(finding_id, "column 'daily': the scope has 0 days of cost before the "
                                               "implementation day 2026-10-20; verification needs at least 14")]
    verify_findings(ctx, today=date(2026, 11, 17))
    store = FindingStore(ctx.db)
    assert [e.action for e in store.history(finding_id)].count("cannot_verify") == 1
    assert store.get(finding_id).state is FindingState.VERIFYING


def test_a_finding_that_cannot_be_measured_does_not_stop_the_others(ctx: AppContext, tmp_path):
    ingest(ctx, write_org(tmp_path, step(100.0, 60.0)))
    broken, good = implemented(ctx), implemented(ctx)
    with ctx.db.session() as session:  # a row no check would let in today: an estimate of $0
        session.execute(update(Finding).where(col(Finding.id) == broken).values(estimate_monthly_micros=0))
    run = verify_findings(ctx)
    assert [(i, s, str(r)) for i, s, r in run.concluded] == [(good, "verified", "1217.50")]
    assert run.unmeasurable == [(broken, "estimate_monthly must be positive, not 0.0")]
    store = FindingStore(ctx.db)
    assert store.get(broken).state is FindingState.VERIFYING
    assert [e.action for e in store.history(broken)][-1] == "cannot_verify"


def test_the_monthly_recheck_flags_a_rollback_and_tells_the_team(ctx: AppContext, tmp_path):
    ingest(ctx, write_org(tmp_path, step(100.0, 60.0)))
    finding_id = implemented(ctx)
    verify_findings(ctx)
    store = FindingStore(ctx.db)
    assert store.get(finding_id).state is FindingState.VERIFIED
    # Too early for a re-check: 30 days after the after window's end (2026-11-03) have not passed.
    assert verify_findings(ctx, today=date(2026, 11, 20)).rechecked == []
    rolled_back = step(100.0, 60.0, until=date(2026, 12, 5))  # 14 of the re-check's 30 days still saved
    ingest(ctx, write_org(tmp_path, rolled_back, end="2026-12-20"), today=date(2026, 12, 22))
    run = verify_findings(ctx, today=date(2026, 12, 22))
    assert [(i, g, str(s)) for i, g, s in run.rechecked] == [(finding_id, True, "568.17")]  # 40 × 14/30 × 30.4375
    finding = store.get(finding_id)
    assert finding.regressed and finding.state is FindingState.VERIFIED and finding.rechecked_on == date(2026, 12, 20)
    notice = ctx.delivery.outbox.get(f"finding:{finding_id}:regressed:2026-12-20")
    assert notice.channel == "#team-payments" and "has come back" in notice.text
    assert "$568.17/month over 2026-11-21..2026-12-20 ($0.00/month since 2026-12-07)" in notice.text
    # The next re-check is a month later, not the next day.
    assert verify_findings(ctx, today=date(2026, 12, 23)).rechecked == []


def test_two_replicas_running_at_once_conclude_each_finding_once(ctx: AppContext, tmp_path):
    ingest(ctx, write_org(tmp_path, step(100.0, 60.0)))
    finding_id = implemented(ctx)
    barrier = threading.Barrier(2)
    runs = []

    def replica() -> None:
        barrier.wait()
        runs.append(verify_findings(ctx))

    threads = [threading.Thread(target=replica) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    store = FindingStore(ctx.db)
    assert sum(len(r.concluded) for r in runs) == 1
    assert len(store.verifications(finding_id)) == 1
    assert [e.action for e in store.history(finding_id)].count("verify") == 1


def test_schedule_runs_it_daily(ctx: AppContext):
    scheduler = BackgroundScheduler(timezone="UTC")
    schedule(scheduler, ctx)
    (job,) = scheduler.get_jobs()
    assert (job.id, str(job.trigger.fields[5]), str(job.trigger.fields[6])) == ("verify_findings", "7", "30")
