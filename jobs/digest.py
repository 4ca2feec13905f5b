"""The weekly digest: every team channel gets its week, the default channel the org view and the
maturity scorecard. Load -> domain (finops/digest.py) -> render (bot/blocks/digest.py) -> deliver.

When: the cron of teams.yml's ``digest`` (default Monday 09:00) in its time zone, which
``COSTBOT_TIMEZONE`` overrides. The job lives in the scheduler's persistent job store
(jobs/scheduler.py): a run missed while the bot was down runs once when it starts again.

Once: each digest is claimed before it is built (``digest_run``, unique per ISO week and
audience), so of several replicas, or of a missed run and a scheduled one, exactly one posts it;
its message key (``digest:<team>:<week>``, ``digest-org:<week>``) makes delivery post it once too.
The week is the last complete ISO week before the run day.

No cost data yet: a digest of a week the cost data does not reach is posted as a placeholder
(the bot's own records, and a note that spend, budget and forecast follow). Its claim is
released, not marked posted, so it stays pending: the next run that finds the week's data (the
hourly catch-up, or ``costbot digest``) builds the full digest, and delivery edits the placeholder
into it (same key, same Slack message) and uploads the chart in its thread; then it is posted.

Retries: a digest that fails is logged, its claim released, and the other digests still go out;
when the week's data cannot be read, each is failed and released. A run stopped midway (Ctrl-C,
shutdown) releases the digests it had not handled, so the next run need not wait for the claims
to go stale.
``catch_up_digests`` runs every hour (on every replica; the claims keep it to one poster) and
posts the week's digests that were claimed but never posted: the released ones (failures and
placeholders), and those whose process died after claiming them (a claim goes stale after 30
minutes). It only retries what the week's run started, so nothing is posted before the schedule,
and it stops when the next week's run day comes (a placeholder whose data is still missing then
stays one).
``costbot digest`` retries by hand.

What each run did, digest by digest (:class:`DigestOutcome`, for ``costbot digest`` to say so):
posted anew, updated in place (a placeholder completed), already there unchanged, queued or
refused by Slack, failed here, already posted this week, or being posted by another run.

``preview_digest`` builds the same messages without claiming or posting (``costbot digest
--dry-run`` and ``/cost digest preview``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
from collections.abc import Sequence
from datetime import date, datetime, timedelta

import pandas as pd
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.blocks.digest import org_digest_message, team_digest_message
from bot.charts.digest import org_week_chart, team_week_chart
from bot.cli.coverage import load_coverage
from bot.context import AppContext
from bot.delivery import FileUpload, Message
from bot.services.forecast import budgets_of, complete_through, load_forecast, load_team_daily
from bot.services.maturity import load_scorecard
from bot.services.records import load_findings, load_open_anomalies
from bot.services.units import load_unit_costs
from finops.digest import (
    CHART_WEEKS,
    AnomalyLine,
    Change,
    OrgDigest,
    TeamDigest,
    Week,
    compared_through,
    org_digest,
    team_changes,
    team_digest,
    week_reported,
)
from finops.errors import InputError
from finops.forecast import MonthForecast
from finops.maturity import FindingSummary, Scorecard
from finops.units import UnitTrend, unit_trends
from jobs.reminders import weekly_view_lines
from jobs.scheduler import add_persistent_job, schedule_timezone
from storage.costs import CostStore
from storage.digests import ORG_AUDIENCE, TEAM_AUDIENCE, DigestRunRecord, DigestRunStore
from storage.outbox import OutboxRecord

log = logging.getLogger(__name__)

JOB_ID = "weekly_digest"
CATCH_UP_JOB_ID = "digest_catch_up"
CATCH_UP_MINUTE = 45  # past each hour: a crashed run's claim (30 minutes) is stale by then

# What became of a digest in a run (DigestOutcome.outcome). This run claimed and delivered it:
POSTED = "posted"  # a new message in the channel
UPDATED = "updated"  # the message posted earlier under its key, edited (a placeholder completed)
UNCHANGED = "unchanged"  # the message posted earlier already said this: nothing was sent
QUEUED = "queued"  # Slack could not take it yet: the outbox sends it on its own (retries, flush)
REFUSED = "refused"  # Slack refused it for good (channel_not_found...): kept, `costbot outbox retry`
FAILED = "failed"  # building or sending it raised here: logged, released for the next run
# This run did not claim it:
ALREADY_POSTED = "already posted"  # posted in full earlier this week
IN_PROGRESS = "in progress"  # another run claimed it less than 30 minutes ago
DELIVERED = (POSTED, UPDATED, UNCHANGED, QUEUED, REFUSED)


def team_key(team: str, week: Week) -> str:
    return f"digest:{team}:{week.label}"


def org_key(week: Week) -> str:
    return f"digest-org:{week.label}"


def claimant() -> str:
    """Who claims a digest: this host and process (shown in ``digest_run.claimed_by``)."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclasses.dataclass(frozen=True)
class DigestInputs:
    """Everything the week's digests are built from, loaded once per run."""

    week: Week
    complete_through: date | None  # None: no cost data at all
    costs: pd.DataFrame  # by day, team, rule, category, service; shared pools split
    forecast: MonthForecast | None
    anomalies: list[AnomalyLine]
    findings: list[FindingSummary]
    units: list[UnitTrend]
    team_weeks: dict[str, Change]  # each owner's week and the week before in cents (finops.digest.team_changes)
    data_from: date | None = None  # the first day of cost data: a week before it has no change to report


def load_digest_inputs(ctx: AppContext, week: Week) -> DigestInputs:
    """Costs of the chart's weeks and of the week's month, the forecast as of the week's last day,
    anomalies, findings and unit costs (weekly where a team records weekly values, else monthly)."""
    store = CostStore(ctx.db)
    through = complete_through(store, week.end)
    start = min(week.end - timedelta(days=7 * CHART_WEEKS - 1), week.end.replace(day=1))
    costs = load_team_daily(store, ctx.teams, start=start, end=week.end, extra=["ServiceName"])
    try:
        forecast = load_forecast(store, ctx.teams, week.end)
    except InputError:
        forecast = None
    weekly = load_unit_costs(ctx.db, ctx.teams, week.end, period="week")
    monthly = load_unit_costs(ctx.db, ctx.teams, week.end, period="month")
    this_week = [t for t in (unit_trends(weekly, "week") if not weekly.empty else []) if t.period == week.label]
    shown = {(t.team, t.metric) for t in this_week}
    units = this_week + [t for t in (unit_trends(monthly) if not monthly.empty else [])
                         if (t.team, t.metric) not in shown]
    span = store.date_range()
    return DigestInputs(week, through, costs, forecast, load_open_anomalies(ctx.db), load_findings(ctx.db), units,
                        team_changes(costs, week, through=compared_through(week, through))[1],
                        data_from=span[0] if span else None)


def build_team_digest(ctx: AppContext, inputs: DigestInputs, team: str, today: date) -> TeamDigest:
    return team_digest(team, ctx.teams.channel_for(team), inputs.week, costs=inputs.costs,
                       complete_through=inputs.complete_through, forecast=inputs.forecast,
                       budget=budgets_of(ctx.teams).get(team), anomalies=inputs.anomalies, findings=inputs.findings,
                       stalled=weekly_view_lines(ctx, team, today=today), units=inputs.units,
                       team_weeks=inputs.team_weeks, data_from=inputs.data_from)


def build_org_digest(ctx: AppContext, inputs: DigestInputs, scorecard: Scorecard | None) -> OrgDigest:
    week = inputs.week
    # The days the digest compares: a day still loading is left out here too.
    through = compared_through(week, inputs.complete_through)
    untagged = load_coverage(CostStore(ctx.db), ctx.teams, start=week.start, end=through, top=5).untagged
    return org_digest(ctx.teams.default_channel, week, costs=inputs.costs, complete_through=inputs.complete_through,
                      teams=ctx.teams.team_names, forecast=inputs.forecast, budgets=budgets_of(ctx.teams),
                      untagged=untagged, anomalies=inputs.anomalies, findings=inputs.findings, scorecard=scorecard,
                      data_from=inputs.data_from)


@dataclasses.dataclass(frozen=True)
class DigestMessage:
    """One digest ready to deliver: the message, its chart, and who it is for."""

    audience: str
    team: str  # "" for the org digest
    message: Message
    chart: FileUpload | None  # None when the cost data does not reach the week: no spend to draw
    outcome: str = ""  # once delivered: POSTED, UPDATED, UNCHANGED, QUEUED or REFUSED

    @property
    def placeholder(self) -> bool:
        """The cost data does not reach the week yet: the digest says so and is completed later."""
        return self.chart is None


def team_message(digest: TeamDigest) -> DigestMessage:
    rendered = team_digest_message(digest)
    key = team_key(digest.team, digest.week)
    chart = FileUpload(key=f"{key}:chart", channel=digest.channel, filename=f"digest-{digest.team}-{digest.week.label}.png",
                       content=team_week_chart(digest), title=f"{digest.team}: {digest.week.title}",
                       thread_key=key) if digest.has_data else None
    return DigestMessage(TEAM_AUDIENCE, digest.team,
                         Message(key=key, channel=digest.channel, text=rendered["text"], blocks=rendered["blocks"]),
                         chart)


def org_message(digest: OrgDigest) -> DigestMessage:
    rendered = org_digest_message(digest)
    key = org_key(digest.week)
    chart = FileUpload(key=f"{key}:chart", channel=digest.channel, filename=f"digest-org-{digest.week.label}.png",
                       content=org_week_chart(digest), title=f"Teams: {digest.week.title}",
                       thread_key=key) if digest.has_data else None
    return DigestMessage(ORG_AUDIENCE, "", Message(key=key, channel=digest.channel, text=rendered["text"],
                                                   blocks=rendered["blocks"]), chart)


def preview_digest(ctx: AppContext, *, team: str | None = None, org: bool = True,
                   today: date | None = None) -> list[DigestMessage]:
    """The digests a run today would post, unposted: one team's, or (no ``team``) every team's and,
    with ``org``, the org's last."""
    day = today or ctx.schedule_today()
    inputs = load_digest_inputs(ctx, week_reported(day))
    teams = [team] if team is not None else list(ctx.teams.team_names)
    messages = [team_message(build_team_digest(ctx, inputs, name, day)) for name in teams]
    if org and team is None:
        messages.append(org_message(build_org_digest(ctx, inputs, load_scorecard(ctx.db, ctx.teams, day))))
    return messages


def week_claims(ctx: AppContext, *, today: date | None = None) -> dict[str, DigestRunRecord]:
    """The claims of the week a run today reports, by message key: which of its digests were
    posted (``posted_at``) or started and not posted in full yet, so a preview can say so."""
    day = today or ctx.schedule_today()
    return {run.message_key: run for run in DigestRunStore(ctx.db).runs(week_reported(day).label)}


def preview_org_digest(ctx: AppContext, *, today: date | None = None) -> DigestMessage:
    """The org digest a run today would post, unposted."""
    day = today or ctx.schedule_today()
    inputs = load_digest_inputs(ctx, week_reported(day))
    return org_message(build_org_digest(ctx, inputs, load_scorecard(ctx.db, ctx.teams, day)))


@dataclasses.dataclass(frozen=True)
class DigestOutcome:
    """What became of one of the week's digests in a run (see the outcomes above)."""

    audience: str
    team: str  # "" for the org digest
    channel: str
    key: str
    outcome: str
    placeholder: bool = False  # delivered without the week's cost data (completed in place later)
    error: str = ""  # Slack's error for QUEUED and REFUSED
    claimed_by: str = ""  # IN_PROGRESS: the run that holds the claim (host:pid) ...
    claimed_at: datetime | None = None  # ... since when (a claim goes stale after STALE_CLAIM)


@dataclasses.dataclass(frozen=True)
class DigestRun:
    """A run of the week's digests: each wanted digest's outcome (in order: teams, then the org),
    and the digests this run delivered (each with its outcome)."""

    week: Week
    outcomes: list[DigestOutcome]
    delivered: list[DigestMessage]


def delivery_outcome(before: OutboxRecord | None, after: OutboxRecord) -> str:
    """What delivery did with a message, from its outbox row before and after ``send``."""
    if after.status == "failed":
        return REFUSED
    if after.needs_sending:
        return QUEUED
    if before is not None and before.ts is not None and before.ts == after.ts:
        return UNCHANGED if before.sent_hash == after.sent_hash else UPDATED
    return POSTED


def _not_claimed(run: DigestRunRecord | None, outbox: OutboxRecord | None) -> tuple[str, str]:
    """(outcome, error) of a digest another run claimed: posted earlier (but, if Slack has not
    taken it, queued or refused, as its outbox row says), or in progress elsewhere."""
    if run is None or run.posted_at is None:
        return IN_PROGRESS, ""
    if outbox is not None and outbox.status == "failed":
        return REFUSED, outbox.last_error or ""
    if outbox is not None and outbox.needs_sending:
        return QUEUED, outbox.last_error or ""
    return ALREADY_POSTED, ""


def run_weekly_digests(ctx: AppContext, *, today: date | None = None, teams: Sequence[str] | None = None,
                       org: bool = True) -> DigestRun:
    """Claim, build and post the week's digests (every team's and the org's by default), and
    say what became of each.

    A placeholder (no cost data for the week yet) is not marked posted: its claim is released, so
    the next run completes it in place.
    """
    day = today or ctx.schedule_today()
    week = week_reported(day)
    runs, me = DigestRunStore(ctx.db), claimant()
    names = list(ctx.teams.team_names if teams is None else teams)
    wanted = [(TEAM_AUDIENCE, name, ctx.teams.channel_for(name), team_key(name, week)) for name in names]
    if org:
        wanted.append((ORG_AUDIENCE, "", ctx.teams.default_channel, org_key(week)))
    claimed = {w for w in wanted if runs.claim(week.label, w[0], w[1], channel=w[2], message_key=w[3], by=me,
                                               at=ctx.now())}
    outcomes: dict[tuple[str, str, str, str], DigestOutcome] = {}
    unclaimed = [w for w in wanted if w not in claimed]
    if unclaimed:
        earlier = {(r.audience, r.team): r for r in runs.runs(week.label)}
        for audience, team, channel, key in unclaimed:
            run = earlier.get((audience, team))
            outcome, error = _not_claimed(run, ctx.delivery.outbox.get(key))
            outcomes[(audience, team, channel, key)] = DigestOutcome(
                audience, team, channel, key, outcome, error=error,
                claimed_by=run.claimed_by if run and outcome == IN_PROGRESS else "",
                claimed_at=run.claimed_at if run and outcome == IN_PROGRESS else None)
    if not claimed:
        log.info("digests of %s: all posted or being posted elsewhere", week.label)
        return DigestRun(week, [outcomes[w] for w in wanted], [])
    delivered = []
    try:
        try:
            inputs = load_digest_inputs(ctx, week)
        except Exception:
            log.exception("the digests of %s failed: the week's data could not be read; released for the next "
                          "run", week.label)
            inputs = None
        for wanted_digest in [w for w in wanted if w in claimed]:
            audience, team, channel, key = wanted_digest
            if inputs is None:
                runs.release(week.label, audience, team, by=me)
                outcomes[wanted_digest] = DigestOutcome(audience, team, channel, key, FAILED)
                continue
            try:
                if audience == TEAM_AUDIENCE:
                    digest = team_message(build_team_digest(ctx, inputs, team, day))
                else:
                    digest = org_message(build_org_digest(ctx, inputs, load_scorecard(ctx.db, ctx.teams, day)))
                before = ctx.delivery.outbox.get(digest.message.key)
                after = ctx.delivery.send(digest.message)
                if digest.chart is not None:
                    ctx.delivery.upload(digest.chart)
            except Exception:
                log.exception("the %s digest of %s failed; released for the next run", team or "org", week.label)
                runs.release(week.label, audience, team, by=me)
                outcomes[wanted_digest] = DigestOutcome(audience, team, channel, key, FAILED)
                continue
            if digest.placeholder:
                # It promises spend, budget and forecast once the week's data is in: left pending, the
                # hourly catch-up (or `costbot digest`) rebuilds it and delivery edits the same message.
                runs.release(week.label, audience, team, by=me)
            else:
                # Refused by Slack too: the outbox keeps it for `costbot outbox retry`, and a new
                # claim would only rebuild a message the outbox will not send.
                runs.mark_posted(week.label, audience, team, at=ctx.now())
            digest = dataclasses.replace(digest, outcome=delivery_outcome(before, after))
            delivered.append(digest)
            outcomes[wanted_digest] = DigestOutcome(audience, team, digest.message.channel, key, digest.outcome,
                                                    placeholder=digest.placeholder,
                                                    error=(after.last_error or "") if digest.outcome in (QUEUED, REFUSED)
                                                    else "")
    except BaseException:
        # Stopped midway (Ctrl-C, the process shutting down): the digests not handled yet are
        # released, so the next run posts them at once rather than 30 minutes on.
        for audience, team, channel, key in claimed:
            if (audience, team, channel, key) not in outcomes:
                runs.release(week.label, audience, team, by=me)
        raise
    waiting = sum(d.placeholder for d in delivered)
    log.info("digests of %s: %d delivered by %s (%s)%s", week.label, len(delivered), me,
             ", ".join(f"{d.message.key} {d.outcome}" for d in delivered) or "none",
             f", {waiting} waiting for the week's cost data" if waiting else "")
    return DigestRun(week, [outcomes[w] for w in wanted], delivered)


def post_weekly_digests(ctx: AppContext, *, today: date | None = None, teams: Sequence[str] | None = None,
                        org: bool = True) -> list[DigestMessage]:
    """Claim, build and post the week's digests (see :func:`run_weekly_digests`).

    Returns the digests this process delivered, each with its outcome (the others were claimed
    elsewhere, posted in full earlier, or failed).
    """
    return run_weekly_digests(ctx, today=today, teams=teams, org=org).delivered


def scheduled_digests(ctx: AppContext) -> list[DigestMessage]:
    """What the scheduler runs: every digest of the week, as of now."""
    return post_weekly_digests(ctx)


def catch_up_digests(ctx: AppContext, *, today: date | None = None) -> list[DigestMessage]:
    """Post the week's digests that were claimed but not posted (see the module docstring)."""
    day = today or ctx.schedule_today()
    pending = DigestRunStore(ctx.db).pending(week_reported(day).label)
    if not pending:
        return []
    teams = [run.team for run in pending if run.audience == TEAM_AUDIENCE and run.team in ctx.teams.team_names]
    return post_weekly_digests(ctx, today=day, teams=teams, org=any(run.audience == ORG_AUDIENCE for run in pending))


def schedule(scheduler: BaseScheduler, ctx: AppContext) -> None:
    """The weekly digest at teams.yml's cron, in the persistent job store (missed runs run once),
    and the hourly catch-up."""
    trigger = CronTrigger(**ctx.teams.digest.trigger_fields, timezone=schedule_timezone(ctx))
    add_persistent_job(scheduler, ctx, "jobs.digest:scheduled_digests", trigger, JOB_ID)
    scheduler.add_job(catch_up_digests, CronTrigger(minute=CATCH_UP_MINUTE, timezone=schedule_timezone(ctx)),
                      args=[ctx], id=CATCH_UP_JOB_ID, max_instances=1, coalesce=True, misfire_grace_time=1800,
                      replace_existing=True)
