"""Unit metric values (orders, active users): recorded from a CSV, the HTTP endpoint or Slack.

Recording a value for a team, metric and period that already has one replaces it, so a corrected
CSV can simply be ingested again. Each recording is one transaction with one audit entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from finops.units import UnitValue
from storage.audit import add_audit
from storage.db import Database
from storage.tables.digests import UnitMetricValue

SOURCES = ("csv", "api", "slack")
ATTEMPTS = 3  # a lost insert race or a deadlock is retried; a third failure is a real error

# PostgreSQL's deadlock_detected and serialization_failure: the transaction may simply run again.
_RETRYABLE_PG_CODES = {"40P01", "40001"}


class UnitStore:
    """Reads and writes ``unit_metric_value``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, values: Sequence[UnitValue], *, source: str, by: str, at: datetime) -> int:
        """Store ``values`` (all or nothing); returns how many were new or changed."""
        _check_source(source)
        if not values:
            return 0
        # Rows are written (and locked) in one order whatever the file's: two files covering the
        # same periods in different orders would otherwise lock each other's rows (a deadlock).
        ordered = sorted(values, key=lambda v: (v.team, v.metric, v.start, v.end))
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with self.db.session() as session:
                    before = [_write(session, value, source=source, by=by, at=at) for value in ordered]
                    changed = sum(1 for value, old in zip(ordered, before, strict=True) if old != value.value)
                    _audit(session, values, source=source, by=by, at=at, changed=changed)
                return changed
            except (IntegrityError, OperationalError) as why:
                # Two files (or posts) with a new period at once: the second lost the insert (or,
                # against another kind of writer, was picked as a deadlock's victim), not its
                # data; again, now replacing the first's row, instead of an error.
                if attempt == ATTEMPTS or not _worth_retrying(why):
                    raise
        raise AssertionError("unreachable")

    def record_one(self, value: UnitValue, *, source: str, by: str, at: datetime) -> float | None:
        """Store one value and return the value it replaced (None when its period had none).

        The old value is read in the writing transaction with the row locked first, so two people
        recording the same period at once are told the truth: the second learns it replaced the
        first's value, not the one both saw before.
        """
        _check_source(source)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with self.db.session() as session:
                    _lock_period(session, value)
                    before = _write(session, value, source=source, by=by, at=at)
                    _audit(session, [value], source=source, by=by, at=at,
                           changed=int(before != value.value))
                return before
            except (IntegrityError, OperationalError) as why:
                # Another writer inserted this period first (PostgreSQL: no row to lock yet); once
                # more, and this time its row is there to lock and to report as replaced.
                if attempt == ATTEMPTS or not _worth_retrying(why):
                    raise
        raise AssertionError("unreachable")

    def values(self, *, team: str | None = None, metric: str | None = None, start: date | None = None,
               end: date | None = None) -> list[UnitValue]:
        """Values whose period overlaps ``[start, end]`` (both optional), by team, metric, start."""
        query = select(UnitMetricValue).order_by(UnitMetricValue.team, UnitMetricValue.metric,
                                                 UnitMetricValue.period_start, UnitMetricValue.period_end)
        if team is not None:
            query = query.where(UnitMetricValue.team == team)
        if metric is not None:
            query = query.where(UnitMetricValue.metric == metric)
        if start is not None:
            query = query.where(col(UnitMetricValue.period_end) >= start)
        if end is not None:
            query = query.where(col(UnitMetricValue.period_start) <= end)
        with self.db.session() as session:
            return [UnitValue(r.team, r.metric, r.period_start, r.period_end, r.value) for r in session.exec(query)]


def _worth_retrying(error: IntegrityError | OperationalError) -> bool:
    """A unique-key race always is; an operational error only when PostgreSQL says it was a
    deadlock or a serialization failure (a lost connection is not retried here)."""
    return isinstance(error, IntegrityError) or getattr(error.orig, "pgcode", None) in _RETRYABLE_PG_CODES


def _check_source(source: str) -> None:
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")


def _period(value: UnitValue):
    return (UnitMetricValue.team == value.team, UnitMetricValue.metric == value.metric,
            UnitMetricValue.period_start == value.start, UnitMetricValue.period_end == value.end)


def _lock_period(session: Session, value: UnitValue) -> None:
    # A write that changes nothing, as the transaction's first statement: PostgreSQL locks the row
    # (if there is one) until commit, and SQLite takes its write lock before anything is read, so
    # a concurrent recorder of the same period waits instead of reading the same old value.
    session.execute(update(UnitMetricValue).where(*_period(value)).values(value=UnitMetricValue.value))


def _write(session: Session, value: UnitValue, *, source: str, by: str, at: datetime) -> float | None:
    """Insert or replace one value; returns the one it replaced (None if new)."""
    # FOR UPDATE too: on PostgreSQL a row inserted by another writer after the lock above found
    # none is visible to this statement, and must be locked before its value is reported replaced.
    row = session.exec(select(UnitMetricValue).where(*_period(value)).with_for_update()).first()
    if row is None:
        session.add(UnitMetricValue(team=value.team, metric=value.metric, period_start=value.start,
                                    period_end=value.end, value=value.value, source=source,
                                    recorded_by=by, recorded_at=at))
        session.flush()
        return None
    before = row.value
    if before != value.value:
        row.value, row.source, row.recorded_by, row.recorded_at = value.value, source, by, at
        session.add(row)
    return before


def _audit(session: Session, values: Sequence[UnitValue], *, source: str, by: str, at: datetime,
           changed: int) -> None:
    series = {(v.team, v.metric) for v in values}
    subject = f"{values[0].team}:{values[0].metric}" if len(series) == 1 else f"{len(series)} metrics"
    add_audit(session, actor=by, subject_kind="unit_metric", subject_id=subject, action="record",
              detail={"source": source, "values": len(values), "changed": changed,
                      "from": min(v.start for v in values).isoformat(),
                      "to": max(v.end for v in values).isoformat()}, at=at)
