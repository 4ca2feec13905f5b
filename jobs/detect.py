"""Daily anomaly detection: load complete days -> detect -> store -> alert each owner once.

One run reads the daily costs complete through ``as_of`` (``CostStore.complete_through``, never a
partial day), the open anomalies and those that ended recently, and each team's thresholds from
teams.yml; :func:`finops.anomalies.detect_anomalies` raises, updates and ends anomalies; the
store saves them by their stable key (so re-running a day changes nothing but figures). When the
job missed days (the bot was down, data landed late), the run detects each complete day since the
last finished run's data in turn (:func:`missed_since`), so an event that came and went meanwhile
is raised once, already resolved, and told once. The rows are read by the store's lean scan
(:func:`load_detection_frame`): a year of 10,000 series is millions of rows.

Then each alerting anomaly's message (:func:`publish_anomaly`):

- posted once in its owner's channel (unallocated spend: the default channel) under
  ``anomaly:<id>``, with its chart in the thread (uploaded once, keyed);
- on later runs, edited in place (the outbox only calls Slack when the content changed); when
  its impact crosses a new step (1-2-5 dollars: $100, $200, $500, $1,000...) a thread reply says
  so, unless it is snoozed or expected; when it ends, edited once more as resolved;
- never posted when it is silenced before anyone was told (the scope was declared expected until
  a later day) or is a decrease the team's thresholds do not alert on.

``schedule`` checks every half hour whether a new complete day has landed (after any ingest:
files, connectors) and runs the detection for it once across replicas (a claimed run row).
AWS Cost Anomaly Detection results are imported into the same store (:func:`import_aws_anomalies`)
and alerted the same way; answers given in Slack on them are written back to AWS
(:func:`tell_aws`).
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pandas as pd
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger
from botocore.config import Config

from bot.blocks.anomalies import (
    alert_key,
    anomaly_message,
    answer_reply,
    moved_away_message,
    moved_key,
    step_reply,
    title,
)
from bot.charts.anomaly import anomaly_chart
from bot.cli.forecast import complete_through
from bot.context import AppContext
from bot.delivery import FileUpload, Message
from finops.anomalies import (
    DETECTION_COLUMNS,
    HISTORY_DAYS,
    MAX_OPEN_DAYS,
    RUN_DAYS,
    detect_anomalies,
    replay_detection,
)
from finops.anomaly_model import Anomaly, DetectionResult
from finops.model import ALLOCATION_RULE, TEAM, UNALLOCATED, conform_daily_frame, metric_column
from finops.ownership import allocate_costs
from finops.sources.aws_anomalies import Feedback, fetch_aws_anomalies, send_aws_feedback
from finops.sources.connector import SourceError
from finops.teams import TeamsConfig, Thresholds
from storage.anomalies import AnomalyRecord, AnomalyStore, SavedDetection
from storage.costs import CostStore

log = logging.getLogger(__name__)

CHECK_MINUTES = 30  # how often the scheduler looks for a newly completed day
# A first run learns the events of this many days before it: the longest an event stays open plus
# the longest run a new candidate may start in (what today's baselines and barriers can depend on).
BOOTSTRAP_DAYS = MAX_OPEN_DAYS + RUN_DAYS
RULE_LOOKBACK_DAYS = 28  # the ownership rule of an anomaly: the one carrying most of its scope's recent cost
# Filters of the cost store, per anomaly dimension.
RULE_FILTERS = ("provider", "sub_account_id", "service", "region", "charge_category")


@dataclass(frozen=True)
class DetectionRun:
    """What one run did: the data it read, the anomalies it saved, and per anomaly id what its
    alert did (``posted``, ``updated``, ``grew`` (edited + thread reply), ``silent`` (not alerted),
    ``pending`` (waiting in the outbox))."""

    as_of: date
    complete_through: date | None
    saved: SavedDetection = field(default_factory=lambda: SavedDetection([], [], []))
    alerts: dict[int, str] = field(default_factory=dict)


def team_thresholds(teams: TeamsConfig) -> dict[str, Thresholds]:
    """Each team's alert thresholds (the file's defaults already filled in)."""
    return {team.name: team.thresholds for team in teams.teams}


def impact_step(impact: Decimal | float) -> int:
    """The largest 1-2-5 dollar step at or below ``|impact|`` (0 under $1): $100, $200, $500, $1,000..."""
    amount, step = abs(float(impact)), 0
    base = 1
    while base <= amount:
        for multiple in (1, 2, 5):
            if base * multiple <= amount:
                step = base * multiple
        base *= 10
    return step


def claimant() -> str:
    """Who runs a detection: this host and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


# ---------------------------------------------------------------------------------------------- detect

def run_detection(ctx: AppContext, *, as_of: date | None = None, deliver: bool = True) -> DetectionRun:
    """One daily run as of ``as_of`` (default today) over the data complete through it; see the
    module docstring. ``deliver=False`` stores without alerting."""
    as_of = as_of or ctx.today()
    costs, anomalies = CostStore(ctx.db), AnomalyStore(ctx.db)
    through = complete_through(costs, as_of)
    if through is None:
        return DetectionRun(as_of, None)
    since = missed_since(anomalies.last_finished_through(), through)
    first = since - timedelta(days=HISTORY_DAYS)
    daily = load_detection_frame(costs, first, through)
    learned = _learn_history(anomalies, daily, through, ctx) if not anomalies.has_finished_run() else set()
    open_now, ended = anomalies.detection_inputs(ended_since=first)
    result = detect_anomalies(daily, as_of=as_of, complete_through=through, open_anomalies=open_now,
                              ended_anomalies=ended, thresholds=team_thresholds(ctx.teams),
                              default_thresholds=ctx.teams.defaults.thresholds, since=since)
    saved = anomalies.save_detection(result, through=through, at=ctx.now())
    raised = {r.id for r in saved.new}  # (before the learned ones join them)
    if learned:  # what the first run learned from the history and is still going on is news today
        saved = SavedDetection([*saved.new, *(r for r in saved.updated if r.id in learned)],
                               [r for r in saved.updated if r.id not in learned], saved.ended)
    anomalies.end_expired_snoozes(as_of, at=ctx.now())
    alerts = ({r.id: publish_anomaly(ctx, r.id, today=as_of, raised_now=r.id in raised) for r in saved.all}
              if deliver else {})
    anomalies.finish_run(through, as_of=as_of, by=claimant(), at=ctx.now(), new=len(saved.new),
                         updated=len(saved.updated), ended=len(saved.ended))
    log.info("detection as of %s (data through %s): %d new, %d updated, %d ended", as_of, through,
             len(saved.new), len(saved.updated), len(saved.ended))
    return DetectionRun(as_of, through, saved, alerts)


def missed_since(last_through: date | None, through: date) -> date:
    """The first complete day this run must detect: the day after the last finished run's data
    (the job may have been down for days: what happened meanwhile is still news), at most
    RUN_DAYS back (a change older than that is found, if it lasts, from the latest day, and one
    that came and went before that is history). ``through`` itself on a first run or a re-run."""
    if last_through is None or last_through >= through:
        return through
    return max(last_through + timedelta(days=1), through - timedelta(days=RUN_DAYS))


def _learn_history(anomalies: AnomalyStore, daily: pd.DataFrame, through: date, ctx: AppContext) -> set[int]:
    """A first run replays the days before it (BOOTSTRAP_DAYS) and stores what they raised, so the
    store knows the events already in the history: without them, the end of an earlier shift
    would read as a drop today, and an event going on for weeks would be raised as new. Those that
    ended are stored resolved and never alerted; those still open are alerted by today's run.
    Returns the ids stored."""
    history = replay_detection(daily, start=through - timedelta(days=BOOTSTRAP_DAYS), end=through - timedelta(days=1),
                               thresholds=team_thresholds(ctx.teams), default_thresholds=ctx.teams.defaults.thresholds)
    saved = anomalies.save_detection(DetectionResult(new=tuple(history)), through=through - timedelta(days=1),
                                     at=ctx.now())
    log.info("first detection: %d anomalies learned from the %d days before %s", len(history), BOOTSTRAP_DAYS, through)
    return {r.id for r in saved.new}


def load_detection_frame(costs: CostStore, start: date, end: date) -> pd.DataFrame:
    """The daily rows detection reads (its dimension columns and the effective cost), from the
    store's lean scan: a year of 10,000 series is millions of rows, and the full daily frame
    (every dimension as text, grouped in SQL) took minutes and gigabytes where this takes seconds."""
    return costs.daily_rows_lean(start=start, end=end, columns=DETECTION_COLUMNS, money=metric_column("effective"))


def replay_anomalies(ctx: AppContext, start: date, end: date) -> list[Anomaly]:
    """Every anomaly the daily runs from ``start`` to ``end`` would have raised, each day reading
    only the data up to that day. An analysis: nothing is stored and nothing is posted."""
    costs = CostStore(ctx.db)
    through = complete_through(costs, end)
    if through is None or through < start - timedelta(days=1):
        return []
    daily = load_detection_frame(costs, start - timedelta(days=HISTORY_DAYS), through)
    return replay_detection(daily, start=start, end=end, thresholds=team_thresholds(ctx.teams),
                            default_thresholds=ctx.teams.defaults.thresholds)


def detect_when_data_lands(ctx: AppContext) -> DetectionRun | None:
    """The scheduled job: run once for each newly completed day (claimed across replicas)."""
    anomalies = AnomalyStore(ctx.db)
    today = ctx.today()
    anomalies.end_expired_snoozes(today, at=ctx.now())
    through = complete_through(CostStore(ctx.db), today)
    last = anomalies.last_run_through()
    if through is None or (last is not None and last >= through):
        return None
    if not anomalies.claim_run(through, as_of=today, by=claimant(), at=ctx.now()):
        return None
    try:
        return run_detection(ctx, as_of=today)
    except Exception:
        anomalies.release_run(through)  # the next check tries this day again
        raise


def schedule(scheduler: BaseScheduler, ctx: AppContext) -> None:
    """Look for newly completed days every half hour (so detection follows each ingest)."""
    scheduler.add_job(detect_when_data_lands, IntervalTrigger(minutes=CHECK_MINUTES, jitter=60), args=[ctx],
                      id="detect_anomalies", max_instances=1, coalesce=True, replace_existing=True)


# ---------------------------------------------------------------------------------------------- alerts

def owner_rule(ctx: AppContext, record: AnomalyRecord) -> str | None:
    """The ownership rule (``x_AllocationRule``) that gave the anomaly's spend its detected owner:
    the one carrying most of the scope's cost in the weeks before it ended; None when no rule
    matched (unallocated spend) or the scope has no stored cost."""
    filters = {key: [record.dimensions[key]] for key in RULE_FILTERS if record.dimensions.get(key)}
    filters["team"] = [record.detected_team]
    grouped = CostStore(ctx.db).grouped_costs(by=[ALLOCATION_RULE], filters=filters,
                                              start=record.start - timedelta(days=RULE_LOOKBACK_DAYS),
                                              end=record.through)
    if grouped.empty:
        return None
    top = grouped.sort_values("EffectiveCost", ascending=False).iloc[0][ALLOCATION_RULE]
    return str(top) or None


def publish_anomaly(ctx: AppContext, anomaly_id: int, *, today: date | None = None, raised_now: bool = False) -> str:
    """Post the anomaly's alert, or bring it up to date; returns what happened (see :class:`DetectionRun`).

    One that ended before it was ever posted stays silent (an event of the history a first run
    learned), unless this run raised it: it came and went on days the job missed, and the team
    hears of it once, as resolved."""
    store = AnomalyStore(ctx.db)
    record = store.get(anomaly_id)
    today = today or ctx.today()
    if not record.alert or (record.posted_at is None
                            and (record.state == "expected" or (not record.is_open and not raised_now))):
        return "silent"
    key = record.message_key or alert_key(record.id)
    channel = record.channel or ctx.teams.channel_for(record.team)
    message = anomaly_message(record, rule=owner_rule(ctx, record) if record.moved else None)
    sent = ctx.delivery.send(Message(key=key, channel=channel, text=message["text"], blocks=message["blocks"]))
    if sent.ts is None:
        return "pending"
    _share_chart(ctx, record, key, channel)
    if record.posted_at is None:
        routed = record.team != UNALLOCATED and channel != ctx.teams.default_channel
        store.mark_posted(record.id, channel=channel, message_key=key, at=ctx.now(), step=impact_step(record.impact),
                          routed_to_owner=routed)
        return "posted"
    step = impact_step(record.impact)
    if record.is_open and not record.silenced(today) and step > (record.announced_step or 0):
        ctx.delivery.send(Message(key=f"{key}:step:{step}", channel=channel, text=step_reply(record, step),
                                  thread_key=key))
        store.announce_step(record.id, step)
        return "grew"
    return "updated"


def _share_chart(ctx: AppContext, record: AnomalyRecord, key: str, channel: str) -> None:
    """The series chart, once per alert message (a file is never edited; the message is)."""
    chart_key = f"{key}:chart"
    if not record.series or ctx.delivery.message_link(chart_key) is not None:
        return
    png = anomaly_chart(record.series, start=record.start, end=record.end, title=f"#{record.id} {title(record)}")
    ctx.delivery.upload(FileUpload(key=chart_key, channel=channel, filename=f"anomaly-{record.id}.png", content=png,
                                   title=f"Anomaly #{record.id}", thread_key=key,
                                   comment="Daily cost against the expected band (shaded: the anomaly's days)"))


def reply_to_answer(ctx: AppContext, record: AnomalyRecord) -> None:
    """Update the alert after a person's answer and note the answer in its thread."""
    publish_anomaly(ctx, record.id)
    key = record.message_key or alert_key(record.id)
    if ctx.delivery.message_link(key) is None:
        return
    n = len(AnomalyStore(ctx.db).history(record.id))
    ctx.delivery.send(Message(key=f"{key}:answer:{n}", channel=record.channel or ctx.teams.channel_for(record.team),
                              text=answer_reply(record), thread_key=key))


def move_anomaly(ctx: AppContext, anomaly_id: int, *, to_team: str, by: str, reason: str | None) -> AnomalyRecord:
    """"Not ours": the anomaly goes to ``to_team``. A new alert is posted in that team's channel;
    the old one is edited to say where it went and which ownership rule sent it to the wrong team."""
    store = AnomalyStore(ctx.db)
    before = store.get(anomaly_id)
    rule = owner_rule(ctx, before)
    channel = ctx.teams.channel_for(to_team)
    moved = store.reroute(anomaly_id, to_team=to_team, by=by, at=ctx.now(), reason=reason, channel=channel,
                          message_key=moved_key(anomaly_id, to_team), rule=rule)
    old_key = before.message_key
    if old_key and ctx.delivery.message_link(old_key) is not None:
        note = moved_away_message(moved, rule=rule, channel=channel)
        ctx.delivery.send(Message(key=old_key, channel=before.channel or ctx.teams.channel_for(before.team),
                                  text=note["text"], blocks=note["blocks"]))
    if moved.alert:
        key = moved.message_key or moved_key(anomaly_id, to_team)
        message = anomaly_message(moved, rule=rule)
        sent = ctx.delivery.send(Message(key=key, channel=channel, text=message["text"], blocks=message["blocks"]))
        if sent.ts is not None:
            _share_chart(ctx, moved, key, channel)
    return moved


# ---------------------------------------------------------------------------------------------- AWS

def aws_ce_client() -> Any:
    """A Cost Explorer client from the standard AWS credential chain (CE lives in us-east-1)."""
    return boto3.client("ce", region_name="us-east-1", config=Config(retries={"mode": "standard", "max_attempts": 5}))


def route_imported(anomalies: list[Anomaly], teams: TeamsConfig) -> list[tuple[Anomaly, str]]:
    """Each imported anomaly with its owner by the teams.yml rules, from the account, service and
    region AWS names (tags are unknown to AWS's results: tag rules cannot match)."""
    if not anomalies:
        return []
    frame = conform_daily_frame(pd.DataFrame({
        "ChargePeriodStart": [a.start for a in anomalies],
        "ProviderName": [a.dimensions.get("provider", "AWS") for a in anomalies],
        "SubAccountId": [a.dimensions.get("sub_account_id", "") for a in anomalies],
        "ServiceName": [a.dimensions.get("service", "") for a in anomalies],
        "RegionId": [a.dimensions.get("region", "") for a in anomalies],
    }))
    owners = allocate_costs(frame, teams)[TEAM].tolist()
    return list(zip(anomalies, [str(o) or UNALLOCATED for o in owners], strict=True))


def import_aws_anomalies(ctx: AppContext, client: Any, start: date, end: date, *, monitor_arn: str | None = None,
                         deliver: bool = True) -> tuple[SavedDetection, dict[int, str]]:
    """Import AWS Cost Anomaly Detection's anomalies of ``start``..``end`` into the store (kind
    ``aws``), routed to their owners and alerted like costbot's own; importing again updates them."""
    fetched = fetch_aws_anomalies(client, start, end, monitor_arn=monitor_arn)
    saved = AnomalyStore(ctx.db).save_imported(route_imported(fetched, ctx.teams), at=ctx.now())
    alerts = {r.id: publish_anomaly(ctx, r.id) for r in saved.all} if deliver else {}
    return saved, alerts


def tell_aws(record: AnomalyRecord, feedback: Feedback) -> str | None:
    """Write a Slack answer on an imported anomaly back to AWS; None when done (or not an AWS
    anomaly), else why AWS could not be told (the answer itself stands in costbot)."""
    if record.source != "aws" or not record.external_id:
        return None
    try:
        send_aws_feedback(aws_ce_client(), record.external_id, feedback)
    except SourceError as error:
        log.warning("AWS feedback on anomaly %s failed: %s", record.id, error)
        return str(error)
    return None
