"""Digest runs (who posts a week's digest), budget alert state, and the scheduler's job table.

A weekly digest is *claimed* before it is built: inserting its ``digest_run`` row is atomic on
both backends (a unique key on week, audience and team), so of several replicas woken by the
same schedule exactly one gets the row and posts. A claim whose process died before posting
(no ``posted_at`` after ``stale_after``) may be taken over, by one process again; so may a claim
its process released after a failure (``claimed_by`` ""), at once. Rows stay, so the week's
unposted digests are known (:meth:`DigestRunStore.pending`) and the hourly catch-up retries them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from finops.money import from_micros, to_micros
from storage.db import Database
from storage.tables.digests import BudgetAlert, DigestRun, scheduler_job

TEAM_AUDIENCE = "team"
ORG_AUDIENCE = "org"
STALE_CLAIM = timedelta(minutes=30)
RELEASED = ""  # ``claimed_by`` of a claim given up after a failure: anyone may take it at once


@dataclass(frozen=True)
class DigestRunRecord:
    week: str
    audience: str
    team: str
    channel: str
    message_key: str
    claimed_by: str
    claimed_at: datetime
    posted_at: datetime | None


@dataclass(frozen=True)
class BudgetAlertRecord:
    """The budget alert of ``team`` in ``month`` as last saved."""

    team: str
    month: str
    message_key: str
    level: str
    announced_level: str
    forecast: Decimal
    budget: Decimal
    first_alerted_at: datetime
    updated_at: datetime


def _run(row: DigestRun) -> DigestRunRecord:
    return DigestRunRecord(row.week, row.audience, row.team, row.channel, row.message_key, row.claimed_by,
                           row.claimed_at, row.posted_at)


class DigestRunStore:
    """Claims and records of weekly digests."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def claim(self, week: str, audience: str, team: str, *, channel: str, message_key: str, by: str,
              at: datetime, stale_after: timedelta = STALE_CLAIM) -> bool:
        """Whether this caller (``by``) may post the digest: True for exactly one claimant.

        False when the digest was posted, or another process claimed it less than ``stale_after``
        ago. ``team`` is "" for the org digest.
        """
        table = DigestRun.__table__  # type: ignore[attr-defined]
        try:
            with self.db.engine.begin() as conn:
                conn.execute(insert(table).values(week=week, audience=audience, team=team, channel=channel,
                                                  message_key=message_key, claimed_by=by, claimed_at=at))
            return True
        except IntegrityError:
            pass
        # Take over a claim released after a failure, or left by a process that died before
        # posting: the UPDATE matches only while the row still holds that claim, so two processes
        # cannot both take it.
        with self.db.engine.begin() as conn:
            taken = conn.execute(update(table).where(
                table.c.week == week, table.c.audience == audience, table.c.team == team,
                table.c.posted_at.is_(None),
                or_(table.c.claimed_by == RELEASED, table.c.claimed_at < at - stale_after),
            ).values(claimed_by=by, claimed_at=at, channel=channel, message_key=message_key))
            return taken.rowcount == 1

    def mark_posted(self, week: str, audience: str, team: str, *, at: datetime) -> None:
        """The digest was handed to delivery (which posts it once under its key)."""
        table = DigestRun.__table__  # type: ignore[attr-defined]
        with self.db.engine.begin() as conn:
            conn.execute(update(table).where(table.c.week == week, table.c.audience == audience,
                                             table.c.team == team).values(posted_at=at))

    def release(self, week: str, audience: str, team: str, *, by: str) -> None:
        """Give up a claim that could not be posted: any run may claim it again at once (the row
        stays, unposted, among :meth:`pending`). Only ``by``'s own claim is released."""
        table = DigestRun.__table__  # type: ignore[attr-defined]
        with self.db.engine.begin() as conn:
            conn.execute(update(table).where(table.c.week == week, table.c.audience == audience,
                                             table.c.team == team, table.c.claimed_by == by,
                                             table.c.posted_at.is_(None)).values(claimed_by=RELEASED))

    def pending(self, week: str) -> list[DigestRunRecord]:
        """The week's digests claimed but not posted (released, in progress, or left by a dead process)."""
        return [run for run in self.runs(week) if run.posted_at is None]

    def runs(self, week: str | None = None) -> list[DigestRunRecord]:
        """Claimed digests (of one ISO week), in claim order."""
        query = select(DigestRun).order_by(DigestRun.id)  # type: ignore[arg-type]
        if week is not None:
            query = query.where(DigestRun.week == week)  # type: ignore[arg-type]
        with self.db.session() as session:
            return [_run(row) for row in session.scalars(query)]


def _alert(row: BudgetAlert) -> BudgetAlertRecord:
    return BudgetAlertRecord(row.team, row.month, row.message_key, row.level, row.announced_level,
                             from_micros(row.forecast_micros), from_micros(row.budget_micros),
                             row.first_alerted_at, row.updated_at)


class BudgetAlertStore:
    """The state of each team's monthly budget alert."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, team: str, month: str) -> BudgetAlertRecord | None:
        with self.db.session() as session:
            row = session.get(BudgetAlert, (team, month))
            return _alert(row) if row else None

    def save(self, team: str, month: str, *, message_key: str, level: str, announced_level: str,
             forecast: float, budget: float, at: datetime) -> BudgetAlertRecord:
        """Create or update the alert's state (the first save dates the alert)."""
        with self.db.session() as session:
            row = session.get(BudgetAlert, (team, month), with_for_update=True)
            if row is None:
                row = BudgetAlert(team=team, month=month, message_key=message_key, level=level,
                                  announced_level=announced_level, forecast_micros=to_micros(forecast),
                                  budget_micros=to_micros(budget), first_alerted_at=at, updated_at=at)
            else:
                row.message_key, row.level, row.announced_level = message_key, level, announced_level
                row.forecast_micros, row.budget_micros, row.updated_at = to_micros(forecast), to_micros(budget), at
            session.add(row)
            session.flush()
            return _alert(row)

    def for_month(self, month: str) -> list[BudgetAlertRecord]:
        """Every team's alert of ``month``, by team."""
        with self.db.session() as session:
            rows = session.scalars(select(BudgetAlert).where(BudgetAlert.month == month)  # type: ignore[arg-type]
                                   .order_by(BudgetAlert.team))  # type: ignore[arg-type]
            return [_alert(row) for row in rows]


def scheduled_next_run(db: Database, job_id: str) -> datetime | None:
    """When the job store expects to run ``job_id`` next (UTC), or None if it holds no such job."""
    with db.engine.connect() as conn:
        value = conn.execute(select(scheduler_job.c.next_run_time).where(scheduler_job.c.id == job_id)).scalar()
    return None if value is None else datetime.fromtimestamp(float(value), UTC)

