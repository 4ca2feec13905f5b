"""Verification of savings findings, daily: implemented -> verifying -> verified / not_realized, and
the monthly re-check of verified savings; each finding's message is re-published as it moves
(bot.services.findings.publish_finding) and the evidence chart shared in its thread.

For each finding the job loads its scope's daily cost and a control series from the cost store:

- **Scope**: the finding's scope as a filter (provider, account, service, region, resource, SKU,
  tags), usage charges only: fees, taxes and credits land on one day a month (a support fee on the
  1st) and would read as steps. A scope with no usage cost at all (a support plan) is measured on
  all its charges.
- **Control**: the rest of the organisation's usage cost (all usage minus the scope's). The
  counterfactual follows its steps (shifts of its level) only as far as the scope is measured
  to step with them inside the windows (finops/verification.py): an org-wide change the scope
  shares (a price change, a traffic shift) is then not credited to or blamed on the finding,
  while another team's launch or another finding's saving, which the scope does not follow,
  changes nothing; a step on the implementation day itself must leave the saving above the
  threshold whichever way it is read. Without a control that is positive on every day, the
  scope is measured alone.

Data are used only through the last complete day (``CostStore.complete_through()``), and never
past the day before the job's "today": ``verify_findings(ctx, today=D)`` does what the daily job
does on day D. Moves are versioned, so two replicas running the job at once cannot both move a
finding; the loser skips it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pandas as pd
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.blocks.findings import finding_key, regression_message
from bot.charts.savings import verification_chart
from bot.context import AppContext
from bot.delivery import FileUpload, Message
from bot.services.findings import home_channel, publish_finding
from finops import model
from finops.errors import InputError, TransitionError
from finops.savings import SYSTEM_ACTOR, FindingAction, FindingState
from finops.verification import (
    RecheckResult,
    VerificationResult,
    after_window,
    recheck_verified,
    verify_saving,
)
from storage.costs import CostStore
from storage.findings import FindingRecord, FindingStore

log = logging.getLogger(__name__)

RECHECK_EVERY_DAYS = 30  # "monthly": a verified saving is measured again once 30 more days are complete
USAGE = "Usage"
SCHEDULE_JITTER_SECONDS = 300


# --------------------------------------------------------------------------------- cost data

@dataclass(frozen=True)
class ScopeCosts:
    """A scope's daily cost and its control (the rest of the org), indexed by day."""

    daily: pd.Series
    control: pd.Series | None
    usage_only: bool


def _by_day(store: CostStore, start: date, end: date, filters: dict[str, list[str]]) -> pd.Series:
    grouped = store.grouped_costs(by=[model.DAY], start=start, end=end, filters=filters)
    if grouped.empty:
        return pd.Series(dtype=float)
    return grouped.set_index(model.DAY)["EffectiveCost"].sort_index().astype(float)


def load_scope_costs(store: CostStore, scope: dict[str, list[str]], start: date, end: date) -> ScopeCosts:
    """The scope's daily (usage) cost over [start, end], and the rest of the org's as its control."""
    usage = {"charge_category": [USAGE]}
    daily = _by_day(store, start, end, {**scope, **usage})
    usage_only = bool(len(daily)) and float(daily.abs().sum()) > 0
    if not usage_only:
        daily = _by_day(store, start, end, dict(scope))
    org = _by_day(store, start, end, usage if usage_only else {})
    days = pd.date_range(start, end)
    control = org.reindex(days, fill_value=0.0) - daily.reindex(days, fill_value=0.0)
    # The control must have a positive cost every day to be a ratio base; a scope that is the
    # whole org (or data with gaps) is measured on its own.
    return ScopeCosts(daily, control if bool((control > 0).all()) else None, usage_only)


def data_through(ctx: AppContext, today: date) -> date | None:
    """The last day whose data the job may use on ``today``: complete, and before today."""
    complete = CostStore(ctx.db).complete_through()
    return None if complete is None else min(complete, today - timedelta(days=1))


def measure(ctx: AppContext, finding: FindingRecord, as_of: date) -> VerificationResult | None:
    """The verification of an implemented finding with data through ``as_of`` (None: window not complete)."""
    settings = ctx.teams.verification
    assert finding.implemented_on is not None
    start = finding.implemented_on - timedelta(days=settings.baseline_days)
    costs = load_scope_costs(CostStore(ctx.db), finding.scope, start, as_of)
    return verify_saving(costs.daily, implemented_on=finding.implemented_on,
                         estimate_monthly=float(finding.estimate_monthly), as_of=as_of,
                         settle_days=settings.settle_days, baseline_days=settings.baseline_days,
                         verified_share=settings.verified_share, control=costs.control)


def remeasure(ctx: AppContext, finding: FindingRecord, as_of: date) -> RecheckResult | None:
    """The monthly re-check of a verified finding with data through ``as_of``."""
    settings = ctx.teams.verification
    assert finding.implemented_on is not None and finding.realized_monthly is not None
    start = finding.implemented_on - timedelta(days=settings.baseline_days)
    costs = load_scope_costs(CostStore(ctx.db), finding.scope, start, as_of)
    return recheck_verified(costs.daily, implemented_on=finding.implemented_on,
                            verified_monthly=float(finding.realized_monthly), as_of=as_of,
                            baseline_days=settings.baseline_days, window_days=RECHECK_EVERY_DAYS,
                            control=costs.control)


# ----------------------------------------------------------------------------------- evidence

def _share_chart(ctx: AppContext, finding: FindingRecord, store: FindingStore) -> None:
    latest = store.verifications(finding.id, kind="verification")[-1]
    if latest.chart:
        ctx.delivery.upload(FileUpload(
            key=f"{finding_key(finding.id)}:chart:{latest.id}", channel=home_channel(ctx, finding, store),
            # Short: the terminal transport keeps the file name where Slack's file ID goes (32 characters).
            filename=f"finding-{finding.id}-{latest.as_of}.png", content=latest.chart,
            title=f"Finding #{finding.id}: verification evidence", thread_key=finding_key(finding.id),
            comment=f"Evidence: actual vs expected without the change, data through {latest.as_of}"))


# -------------------------------------------------------------------------------------- the job

@dataclass
class VerificationRun:
    """What one run did, per finding id."""

    today: date
    data_through: date | None
    begun: list[int] = field(default_factory=list)
    concluded: list[tuple[int, str, Decimal]] = field(default_factory=list)  # id, outcome, realized $/month
    waiting: list[tuple[int, date]] = field(default_factory=list)  # id, first day it can be concluded
    rechecked: list[tuple[int, bool, Decimal]] = field(default_factory=list)  # id, regressed, saving $/month
    unmeasurable: list[tuple[int, str]] = field(default_factory=list)  # id, why

    def to_dict(self) -> dict[str, object]:
        """JSON-ready (``costbot findings verify --json``)."""
        return {
            "today": self.today.isoformat(),
            "data_through": self.data_through.isoformat() if self.data_through else None,
            "begun": self.begun,
            "concluded": [{"id": i, "state": s, "realized_monthly": float(r)} for i, s, r in self.concluded],
            "waiting": [{"id": i, "ready_on": d.isoformat()} for i, d in self.waiting],
            "rechecked": [{"id": i, "regressed": g, "saving_monthly": float(s)} for i, g, s in self.rechecked],
            "unmeasurable": [{"id": i, "reason": r} for i, r in self.unmeasurable],
        }


def _now_on(ctx: AppContext, today: date) -> datetime:
    """The run's timestamp: now when it runs for today, else noon UTC of that day (a replay)."""
    now = ctx.now()
    return now if now.date() == today else datetime.combine(today, time(12), tzinfo=now.tzinfo)


def verify_findings(ctx: AppContext, *, today: date | None = None) -> VerificationRun:
    """Run verification and the monthly re-check as the daily job does on ``today`` (default: today)."""
    today = today or ctx.today()
    at = _now_on(ctx, today)
    through = data_through(ctx, today)
    store = FindingStore(ctx.db)
    run = VerificationRun(today, through)
    for finding in store.list_findings(states=[FindingState.IMPLEMENTED]):
        try:
            store.move(finding.id, FindingAction.BEGIN_VERIFICATION, actor=SYSTEM_ACTOR, at=at,
                       expected_version=finding.version)
        except TransitionError as lost:  # another replica moved it first
            log.info("finding %s: %s", finding.id, lost)
            continue
        run.begun.append(finding.id)
        publish_finding(ctx, finding.id)
    settle = ctx.teams.verification.settle_days
    for finding in store.list_findings(states=[FindingState.VERIFYING]):
        _, last_day = after_window(finding.implemented_on, settle)  # type: ignore[arg-type]
        if through is None or through < last_day:
            run.waiting.append((finding.id, last_day + timedelta(days=1)))
            continue
        _conclude(ctx, store, finding, through, at, run)
    for finding in store.list_findings(states=[FindingState.VERIFIED]):
        if through is not None and _recheck_due(finding, through, settle):
            _recheck(ctx, store, finding, through, at, run)
    return run


def _conclude(ctx: AppContext, store: FindingStore, finding: FindingRecord, through: date, at: datetime,
              run: VerificationRun) -> None:
    try:
        result = measure(ctx, finding, through)
    except (InputError, ValueError) as why:  # one finding's bad data or figures never stop the others
        log.warning("finding %s cannot be verified: %s", finding.id, why)
        run.unmeasurable.append((finding.id, str(why)))
        if store.note_unmeasurable(finding.id, reason=str(why), at=at):
            publish_finding(ctx, finding.id)
        return
    assert result is not None  # the after window is complete through `through`
    chart = verification_chart(result, title=f"Finding #{finding.id}: {finding.title}")
    try:
        done = store.conclude_verification(finding.id, result, chart=chart, as_of=through, at=at,
                                           expected_version=finding.version)
    except TransitionError as lost:
        log.info("finding %s: %s", finding.id, lost)
        return
    run.concluded.append((done.id, str(done.state), done.realized_monthly))  # type: ignore[arg-type]
    publish_finding(ctx, done.id)
    _share_chart(ctx, done, store)


def _recheck_due(finding: FindingRecord, through: date, settle_days: int) -> bool:
    if finding.implemented_on is None or finding.realized_monthly is None or finding.realized_monthly <= 0:
        return False
    last = finding.rechecked_on or max(after_window(finding.implemented_on, settle_days)[1],
                                       finding.verified_on or finding.implemented_on)
    return through >= last + timedelta(days=RECHECK_EVERY_DAYS)


def _recheck(ctx: AppContext, store: FindingStore, finding: FindingRecord, through: date, at: datetime,
             run: VerificationRun) -> None:
    try:
        result = remeasure(ctx, finding, through)
    except (InputError, ValueError) as why:
        log.warning("finding %s cannot be re-checked: %s", finding.id, why)
        run.unmeasurable.append((finding.id, str(why)))
        return
    if result is None:
        return
    checked, flipped = store.record_recheck(finding.id, result, as_of=through, at=at)
    run.rechecked.append((finding.id, result.regressed, Decimal(str(result.to_dict()["saving_monthly"]))))
    publish_finding(ctx, finding.id)
    if flipped and checked.regressed:
        notice = regression_message(checked)
        ctx.delivery.send(Message(key=f"{finding_key(finding.id)}:regressed:{through}",
                                  channel=ctx.teams.channel_for(checked.team), text=notice["text"],
                                  blocks=notice["blocks"]))


def schedule(scheduler: BaseScheduler, ctx: AppContext) -> None:
    """Daily, after the morning's ingest has had time to land."""
    scheduler.add_job(verify_findings, CronTrigger(hour=7, minute=30, jitter=SCHEDULE_JITTER_SECONDS), args=[ctx],
                      id="verify_findings", max_instances=1, coalesce=True, replace_existing=True)
