"""Savings findings as every surface (the CLI, the Slack handlers, the jobs, the demo) uses them: who
may move a finding, what a new finding is checked against, the new-finding form filled from an
anomaly, recommendation imports, the ledger, and the finding's Slack message.

The listeners and commands stay thin: they parse, call one of these, and answer.
"""

from __future__ import annotations

import difflib
import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd

from bot.blocks.findings import (
    OPTION_LIMIT,
    PICKED_SCOPE,
    FindingDraft,
    finding_key,
    finding_message,
    history_key,
    history_line,
)
from bot.context import AppContext
from bot.delivery import Message
from finops.errors import InputError
from finops.model import UNALLOCATED
from finops.savings import (
    LEDGER_OPTIONAL,
    LEDGER_REQUIRED,
    Actor,
    anomaly_monthly_estimate,
    parse_monthly_saving,
    savings_ledger,
)
from finops.sources.recommendations import Recommendation, RecommendationSource, owner_teams
from storage.anomalies import AnomalyStore
from storage.costs import CostStore
from storage.findings import FindingRecord, FindingStore, NewFinding

log = logging.getLogger(__name__)

ANOMALY_SCOPE_KEYS = ("provider", "sub_account_id", "service", "region")
RECENT_DAYS = 35  # what "has cost something lately" means for the scope pickers
LEDGER_CURRENCY = "USD"  # estimates, realized savings and the ledger are dollars
_QUARTER = re.compile(r"^(?:(\d{4})[- ]?q([1-4])|q([1-4])[- ]?(\d{4}))$", re.IGNORECASE)


# ------------------------------------------------------------------------------ who may act

def finding_actor(ctx: AppContext, user: str, team: str) -> Actor:
    """A Slack user's rights on a finding of ``team``: on the team, finance approver, both or neither.

    On the team: the team's owners and members, and its channel's members when the team takes
    members from its channel (as ``TeamsConfig.may_act``); for a team no longer in teams.yml, the
    default channel's members when ``defaults.members_from_channel``. Unlike ``may_act``, being a
    finance approver does not put someone on every team: the state machine gives finance its
    own moves (verify, not realized, reopen) and leaves the team's to the team.
    """
    channel = ctx.teams.channel_for(team)
    return Actor(user, on_team=_on_team(ctx, user, team, lambda: ctx.delivery.channel_members(channel)),
                 finance=ctx.teams.is_finance_approver(user))


def _on_team(ctx: AppContext, user: str, team: str, channel_members: Callable[[], set[str]]) -> bool:
    if team in ctx.teams.team_names:
        found = ctx.teams.team(team)
        if user in found.owners or user in found.members:
            return True
        from_channel = found.members_from_channel
    else:
        from_channel = ctx.teams.defaults.members_from_channel
    return from_channel and user in channel_members()  # asked only when the config does not decide


def default_assignee(ctx: AppContext, team: str) -> str | None:
    """The team's first owner, who answers for its findings until someone else is assigned."""
    if team in ctx.teams.team_names:
        owners = ctx.teams.team(team).owners
        return owners[0] if owners else None
    return None


def past_due_date_error(ctx: AppContext, due_on: date | None) -> str | None:
    """Why ``due_on`` is refused, or None. A past due date is a slip (2025 for 2026): the finding
    would be late, and reminded, at once. "Today" is the schedule's day, the one App Home, the
    findings list and the reminders count due dates on."""
    today = ctx.schedule_today()
    if due_on is None or due_on >= today:
        return None
    return f"the due date {due_on} is in the past (today is {today}): pick a later day"


def known_team(ctx: AppContext, team: str) -> str:
    """``team`` if teams.yml has it (or it is ``unallocated``); InputError with the closest name otherwise."""
    names = ctx.teams.team_names
    if team in names or team == UNALLOCATED:
        return team
    close = difflib.get_close_matches(team, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; teams: {', '.join(names) or '(none in teams.yml)'}"
    raise InputError(f"no team {team!r} in {ctx.teams.file}{hint}", column="team", value=team)


# ------------------------------------------------------------------------------------ scope

def parse_scope(pairs: Sequence[str]) -> dict[str, list[str]]:
    """``["service=Amazon RDS", "tag:env=prod"]`` -> ``{"service": ["Amazon RDS"], "tag:env": ["prod"]}``."""
    scope: dict[str, list[str]] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InputError("a scope is KEY=VALUE, e.g. service=Amazon RDS", column="scope", value=pair)
        scope.setdefault(key.strip(), []).append(value.strip())
    return scope


def scope_options(ctx: AppContext) -> dict[str, list[str]]:
    """Values for the form's scope pickers (provider, account, service, region): those with spend in
    the last RECENT_DAYS days, biggest first, OPTION_LIMIT at most, from one grouped query."""
    grouped = CostStore(ctx.db).grouped_costs(by=list(PICKED_SCOPE), start=ctx.today() - timedelta(days=RECENT_DAYS))
    options = {}
    for key, column in zip(PICKED_SCOPE, grouped.columns[:len(PICKED_SCOPE)], strict=True):  # groups come first
        spend = grouped.groupby(column)["EffectiveCost"].sum()
        ranked = spend[spend.index != ""].sort_values(ascending=False)
        if len(ranked):
            options[key] = [str(v) for v in ranked.index[:OPTION_LIMIT]]
    return options


# -------------------------------------------------------------------------------- the message

def home_channel(ctx: AppContext, finding: FindingRecord, store: FindingStore) -> str:
    """The channel of the team that owned the finding when it was opened (its message lives there)."""
    history = store.history(finding.id)
    first_team = history[0].team if history and history[0].team else finding.team
    return ctx.teams.channel_for(first_team)


def publish_finding(ctx: AppContext, finding_id: int) -> FindingRecord:
    """Post or update the finding's message in place, and add any new moves to its thread.

    When the finding was handed to another team, that team's channel gets the same message too
    (updated alongside); the history stays in the first thread.
    """
    store = FindingStore(ctx.db)
    finding = store.get(finding_id)
    channel = home_channel(ctx, finding, store)
    message = finding_message(finding)
    ctx.delivery.send(Message(key=finding_key(finding.id), channel=channel, text=message["text"],
                              blocks=message["blocks"]))
    current = ctx.teams.channel_for(finding.team)
    if current != channel:
        ctx.delivery.send(Message(key=f"{finding_key(finding.id)}:team:{finding.team}", channel=current,
                                  text=message["text"], blocks=message["blocks"]))
    for n, event in enumerate(store.history(finding.id)[1:], start=1):  # the creation is the message itself
        ctx.delivery.send(Message(key=history_key(finding.id, n), channel=channel, text=history_line(event),
                                  thread_key=finding_key(finding.id)))
    return finding


# ------------------------------------------------------------------------- from an anomaly

def anomaly_draft(ctx: AppContext, anomaly_id: int) -> tuple[FindingDraft, str]:
    """The new-finding form filled from an anomaly, and the anomaly's team.

    Scope: the anomaly's dimensions (provider, account, service, region); estimate: its extra
    spend per day over the days its impact covers, a month of it
    (:func:`finops.savings.anomaly_monthly_estimate`). InputError when there is no such anomaly.
    """
    anomaly = AnomalyStore(ctx.db).get(anomaly_id)
    dimensions = anomaly.dimensions
    scope = {key: [str(dimensions[key])] for key in ANOMALY_SCOPE_KEYS if dimensions.get(key)}
    title = f"Reduce {dimensions.get('service') or 'spend'} after anomaly #{anomaly_id}"
    return FindingDraft(title=title, team=anomaly.team, scope=scope,
                        estimate_monthly=anomaly_monthly_estimate(anomaly.impact, anomaly.start, anomaly.through),
                        source="anomaly", external_id=str(anomaly_id)), anomaly.team


# ----------------------------------------------------------------------- recommendations

@dataclass(frozen=True)
class RecommendationImport:
    """What an import did: findings opened now, those already held, and the recommendations left out (why)."""

    created: list[FindingRecord]
    existing: list[FindingRecord]
    left_out: list[tuple[Recommendation, str]]


def _why_left_out(recommendation: Recommendation) -> str | None:
    if recommendation.currency != LEDGER_CURRENCY:
        return (f"its saving is in {recommendation.currency}; costbot's ledger is in {LEDGER_CURRENCY} and does "
                "not convert")
    try:
        parse_monthly_saving(recommendation.estimate_monthly)
    except InputError as why:
        return str(why)
    return None


def import_recommendations(ctx: AppContext, source: RecommendationSource, *, by: str) -> RecommendationImport:
    """Open a finding for each recommendation not imported before (by source and external id), owned
    by the team teams.yml gives its resource, account and tags; post the new ones in their
    channels. Recommendations a finding cannot hold (another currency, a saving under a cent or
    over the limit) are left out and named."""
    found, left_out = [], []
    for recommendation in source.recommendations():
        why = _why_left_out(recommendation)
        if why is None:
            found.append(recommendation)
        else:
            log.warning("%s %s left out: %s", recommendation.source, recommendation.external_id, why)
            left_out.append((recommendation, why))
    teams = owner_teams(found, ctx.teams)
    new = [NewFinding(title=r.title, team=team, scope=r.scope, estimate_monthly=r.estimate_monthly,
                      assignee=default_assignee(ctx, team), source=r.source, external_id=r.external_id, notes=r.notes)
           for r, team in zip(found, teams, strict=True)]
    result = FindingStore(ctx.db).import_findings(new, by=by, at=ctx.now())
    for finding in result.created:
        publish_finding(ctx, finding.id)
    return RecommendationImport(result.created, result.existing, left_out)


# ------------------------------------------------------------------------------------ ledger

def parse_quarter(text: str) -> str:
    """``2026Q4``, ``2026-q4``, ``Q4 2026`` -> ``2026Q4``; InputError otherwise."""
    match = _QUARTER.match(text.strip())
    if not match:
        raise InputError("a quarter is written like 2026Q4 or Q4 2026", column="quarter", value=text)
    year, number = (match.group(1), match.group(2)) if match.group(1) else (match.group(4), match.group(3))
    return f"{year}Q{number}"


@dataclass(frozen=True)
class Ledger:
    """Ledger rows (one per team and quarter) and their total, as JSON-ready dicts."""

    team: str | None
    quarter: str | None
    rows: list[dict[str, Any]]
    total: dict[str, Any]

    @property
    def empty(self) -> bool:
        """Nothing identified, implemented (or found not realized) or verified in it."""
        return self.total["identified_count"] == 0 and self.total["implemented_count"] == 0 \
            and self.total["not_realized_count"] == 0 and self.total["verified_count"] == 0


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in record.items():
        if isinstance(value, float) and math.isnan(value):
            out[key] = None
        elif hasattr(value, "item"):  # numpy scalars
            out[key] = value.item()
        else:
            out[key] = value
    return out


def load_ledger(store: FindingStore, *, team: str | None = None, quarter: str | None = None) -> Ledger:
    """The ledger of every finding (or one team's), by team and quarter, optionally of one quarter."""
    records = pd.DataFrame(store.ledger_records(team=team), columns=[*LEDGER_REQUIRED, *LEDGER_OPTIONAL])
    rows = savings_ledger(records, by=("team", "quarter"))
    if quarter is None:
        total = savings_ledger(records, by=())
    else:
        rows = rows[rows["quarter"] == quarter]
        per_quarter = savings_ledger(records, by=("quarter",))
        total = per_quarter[per_quarter["quarter"] == quarter].drop(columns="quarter")
        if total.empty:  # nothing happened in that quarter
            total = savings_ledger(records.iloc[0:0], by=())
    return Ledger(team, quarter, [_plain(r) for r in rows.to_dict("records")],
                  _plain(total.reset_index(drop=True).to_dict("records")[0]))
