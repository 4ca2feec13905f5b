"""Reminders for findings that stall: one DM to the assignee per finding and reason, and a line in the
team's weekly view for as long as the finding stays stalled.

Two reasons (the issue: "past its due date, or implemented with no movement"):

- ``past_due``: not implemented yet (identified, accepted, in progress) and its due date has
  passed. Keyed by the due date, so a new due date could earn one new reminder, never a stream.
- ``no_movement``: marked implemented (or being verified), at least a week of complete data since
  the implementation day, and the scope's cost has not moved: its mean daily cost since then is
  not at least half of the estimated daily saving below the baseline's mean (the weeks before).
  An early nudge ("is the change live?") a week before the verification's verdict; the
  verification itself, with trend, weekdays and a control, decides. A scope that matches no
  cost at all is reported here too. Keyed by the implementation day.

The DM goes to the assignee (else the team's first owner); ``FindingStore.claim_reminder`` makes
sure each (finding, reason) is sent once, across days and replicas, to each recipient (a finding
reassigned after its reminder reminds its new assignee once). The weekly view
(:func:`weekly_view_lines`, for the team digest) lists every finding stalled now, reminded or not.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.blocks.costs import escape
from bot.blocks.findings import finding_key, reminder_message
from bot.context import AppContext
from bot.delivery import Message
from finops.money import format_usd
from finops.savings import DUE_DATE_STATES, FindingState, days_past_due
from finops.verification import DAYS_PER_MONTH, after_window
from jobs.verify import data_through, load_scope_costs
from storage.costs import CostStore
from storage.findings import FindingRecord, FindingStore

log = logging.getLogger(__name__)

BEING_VERIFIED = (FindingState.IMPLEMENTED, FindingState.VERIFYING)
NO_MOVEMENT_AFTER_DAYS = 7  # complete days after the implementation day before "no movement" is judged
MOVEMENT_SHARE = 0.5  # of the estimated daily saving: less drop than this is "no movement"
SCHEDULE_JITTER_SECONDS = 300


@dataclass(frozen=True)
class Reminder:
    """A stalled finding: why (``kind``, and ``reason``, the once-only key), what to say, to whom."""

    finding: FindingRecord
    kind: str  # past_due | no_movement
    reason: str  # past_due:2026-11-30 | no_movement:2026-10-22
    detail: str
    recipient: str | None

    @property
    def line(self) -> str:
        """The finding's line in the team's weekly view (mrkdwn)."""
        return f"• *#{self.finding.id}* {escape(self.finding.title)}: {self.detail}"


def _recipient(ctx: AppContext, finding: FindingRecord) -> str | None:
    if finding.assignee:
        return finding.assignee
    if finding.team in ctx.teams.team_names and ctx.teams.team(finding.team).owners:
        return ctx.teams.team(finding.team).owners[0]
    return None


def _past_due(ctx: AppContext, finding: FindingRecord, today: date) -> Reminder | None:
    days = days_past_due(finding.state, finding.due_on, today)
    if days is None:
        return None
    detail = (f"past its due date {finding.due_on} ({days} day{'s' if days != 1 else ''}) and still "
              f"{finding.state.replace('_', ' ')}: move it on, or reject it with a reason")
    return Reminder(finding, "past_due", f"past_due:{finding.due_on}", detail, _recipient(ctx, finding))


def _no_movement(ctx: AppContext, finding: FindingRecord, through: date | None) -> Reminder | None:
    implemented = finding.implemented_on
    if finding.state not in BEING_VERIFIED or implemented is None or through is None:
        return None
    if through < implemented + timedelta(days=NO_MOVEMENT_AFTER_DAYS):
        return None
    settings = ctx.teams.verification
    last_day = after_window(implemented, settings.settle_days)[1]
    start = implemented - timedelta(days=settings.baseline_days)
    daily = load_scope_costs(CostStore(ctx.db), finding.scope, start, through).daily
    reason = f"no_movement:{implemented}"
    ready = f"verification concludes with the data of {last_day}"
    if daily.empty:
        return Reminder(finding, "no_movement", reason,
                        f"implemented on {implemented}, but its scope matches no cost data: check its filters "
                        f"({ready})", _recipient(ctx, finding))
    first = daily.index.min()
    before = pd.date_range(max(pd.Timestamp(start), first), pd.Timestamp(implemented) - pd.Timedelta(days=1))
    after = pd.date_range(pd.Timestamp(implemented) + pd.Timedelta(days=1), pd.Timestamp(min(through, last_day)))
    base_mean = float(daily.reindex(before, fill_value=0.0).mean()) if len(before) else 0.0
    after_mean = float(daily.reindex(after, fill_value=0.0).mean())
    expected_drop = float(finding.estimate_monthly) / DAYS_PER_MONTH
    if base_mean - after_mean >= MOVEMENT_SHARE * expected_drop:
        return None
    detail = (f"implemented on {implemented}, but its cost has not moved: {format_usd(base_mean)}/day before, "
              f"{format_usd(after_mean)}/day since (the estimate means about {format_usd(expected_drop)}/day less). "
              f"Is the change live? ({ready})")
    return Reminder(finding, "no_movement", reason, detail, _recipient(ctx, finding))


def stalled_findings(ctx: AppContext, *, today: date | None = None, team: str | None = None) -> list[Reminder]:
    """Every finding past due or implemented with no movement, as of ``today``, oldest first."""
    # The schedule's day, as App Home and the digest count it: a reminder must not come a day
    # after the Home tab marks the finding late.
    today = today or ctx.schedule_today()
    through = data_through(ctx, today)
    store = FindingStore(ctx.db)
    found = []
    for finding in store.list_findings(team=team, states=DUE_DATE_STATES + BEING_VERIFIED):
        reminder = _past_due(ctx, finding, today) or _no_movement(ctx, finding, through)
        if reminder is not None:
            found.append(reminder)
    return found


def weekly_view_lines(ctx: AppContext, team: str, *, today: date | None = None) -> list[str]:
    """The lines the team's weekly digest shows for its stalled findings (empty when none)."""
    return [r.line for r in stalled_findings(ctx, today=today, team=team)]


def send_reminders(ctx: AppContext, *, today: date | None = None) -> list[Reminder]:
    """DM each stalled finding's assignee once per reason; returns the reminders sent by this run."""
    store = FindingStore(ctx.db)
    sent = []
    for reminder in stalled_findings(ctx, today=today):
        if not store.claim_reminder(reminder.finding.id, reminder.reason, recipient=reminder.recipient,
                                    at=ctx.now()):
            continue
        if reminder.recipient is None:
            log.info("finding %s is stalled (%s) and has no one to remind", reminder.finding.id, reminder.kind)
            continue
        message = reminder_message(reminder.finding, reminder.detail)
        ctx.delivery.send(Message(key=f"{finding_key(reminder.finding.id)}:reminder:{reminder.reason}:{reminder.recipient}",
                                  channel=reminder.recipient, text=message["text"], blocks=message["blocks"]))
        sent.append(reminder)
    return sent


def schedule(scheduler: BaseScheduler, ctx: AppContext) -> None:
    """Daily at 10:00, after verification has moved what it could."""
    scheduler.add_job(send_reminders, CronTrigger(hour=10, minute=0, jitter=SCHEDULE_JITTER_SECONDS), args=[ctx],
                      id="finding_reminders", max_instances=1, coalesce=True, replace_existing=True)
