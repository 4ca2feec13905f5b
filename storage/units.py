"""Unit metric values (orders, active users): recorded from a CSV, the HTTP endpoint or Slack.

Recording a value for a team, metric and period that already has one replaces it, so a corrected
CSV can simply be ingested again. Each recording is one transaction with one audit entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlmodel import col, select

from finops.units import UnitValue
from storage.audit import add_audit
from storage.db import Database
from storage.tables.digests import UnitMetricValue

SOURCES = ("csv", "api", "slack")


class UnitStore:
    """Reads and writes ``unit_metric_value``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, values: Sequence[UnitValue], *, source: str, by: str, at: datetime) -> int:
        """Store ``values`` (all or nothing); returns how many were new or changed."""
        if source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
        if not values:
            return 0
        changed = 0
        with self.db.session() as session:
            for value in values:
                row = session.exec(select(UnitMetricValue).where(
                    UnitMetricValue.team == value.team, UnitMetricValue.metric == value.metric,
                    UnitMetricValue.period_start == value.start, UnitMetricValue.period_end == value.end)).first()
                if row is None:
                    row = UnitMetricValue(team=value.team, metric=value.metric, period_start=value.start,
                                          period_end=value.end, value=value.value, source=source,
                                          recorded_by=by, recorded_at=at)
                elif row.value == value.value:
                    continue
                else:
                    row.value, row.source, row.recorded_by, row.recorded_at = value.value, source, by, at
                session.add(row)
                changed += 1
            series = {(v.team, v.metric) for v in values}
            subject = f"{values[0].team}:{values[0].metric}" if len(series) == 1 else f"{len(series)} metrics"
            add_audit(session, actor=by, subject_kind="unit_metric", subject_id=subject, action="record",
                      detail={"source": source, "values": len(values), "changed": changed,
                              "from": min(v.start for v in values).isoformat(),
                              "to": max(v.end for v in values).isoformat()}, at=at)
        return changed

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
