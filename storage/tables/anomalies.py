"""Anomalies: one row per detected (or imported) event, with its alert's life; and detection runs.

An anomaly row is keyed by the domain's stable ``key`` (scope and first day, or ``aws:<id>``), so
a re-run of detection, or a run on restated data, updates the same row. Money is integer
micro-dollars. The timeline the maturity scorecard reads is plain columns: the cost day
(``start``), ``detected_at``, ``posted_at``, ``first_response_at``.

``team`` is the current owner (what permissions, channels and lists read); ``detected_team`` the
owner the allocation gave when it was detected; they differ once someone pressed "Not ours".
``message_key`` is the delivery key of the alert as it stands (``anomaly:<id>``, or
``anomaly:<id>:to:<team>`` after a move); ``announced_step`` the impact step (whole dollars) the
alert or its thread last announced.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Column, Date, Float, Text
from sqlmodel import Field, SQLModel

from storage.tables.core import utc_column


class AnomalyRow(SQLModel, table=True):
    """One anomaly and its alert (see the module docstring)."""

    __tablename__ = "anomaly"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=500, unique=True)
    scope: str = Field(max_length=500, index=True)  # the key without its start: the same for every event of a scope
    source: str = Field(max_length=16)  # costbot | aws
    external_id: str | None = Field(default=None, max_length=200)  # AWS AnomalyId
    level: str = Field(max_length=16)
    kind: str = Field(max_length=16)
    direction: str = Field(max_length=16)
    team: str = Field(max_length=100, index=True)
    detected_team: str = Field(max_length=100)
    dimensions: dict = Field(sa_column=Column(JSON, nullable=False))
    start: dt.date = Field(sa_column=Column(Date, nullable=False))
    end: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    last_seen: dt.date = Field(sa_column=Column(Date, nullable=False))
    through: dt.date = Field(sa_column=Column(Date, nullable=False))  # the last day the figures cover
    detected_on: dt.date = Field(sa_column=Column(Date, nullable=False))
    expected_micros: int = Field(sa_column=Column(BigInteger, nullable=False))
    actual_micros: int = Field(sa_column=Column(BigInteger, nullable=False))
    impact_micros: int = Field(sa_column=Column(BigInteger, nullable=False))
    impact_pct: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    alert: bool
    root_cause: list = Field(sa_column=Column(JSON, nullable=False))
    series: list = Field(sa_column=Column(JSON, nullable=False))
    state: str = Field(max_length=16, index=True)  # open | acknowledged | expected | snoozed | resolved
    answer: str | None = Field(default=None, max_length=16)  # the last person's answer (not_ours included)
    answered_by: str | None = Field(default=None, max_length=64)
    answered_at: dt.datetime | None = utc_column(nullable=True)
    answer_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    snoozed_until: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    expected_until: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    channel: str | None = Field(default=None, max_length=200)  # where the alert is now
    message_key: str | None = Field(default=None, max_length=200)
    announced_step: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    routed_to_owner: bool | None = None  # first posted in its owner's channel (not the default one, not moved)
    detected_at: dt.datetime = utc_column()
    posted_at: dt.datetime | None = utc_column(nullable=True)
    first_response_at: dt.datetime | None = utc_column(nullable=True)
    first_response_by: str | None = Field(default=None, max_length=64)
    created_at: dt.datetime = utc_column()
    updated_at: dt.datetime = utc_column()


class AnomalyDetectionRun(SQLModel, table=True):
    """A daily detection over the data complete through ``complete_through``.

    The scheduled job claims a row per complete day before it runs (the unique key makes one
    replica win), so the detection follows each ingest once; the CLI records its runs too.
    """

    __tablename__ = "anomaly_detection_run"

    id: int | None = Field(default=None, primary_key=True)
    complete_through: dt.date = Field(sa_column=Column(Date, nullable=False, unique=True))
    as_of: dt.date = Field(sa_column=Column(Date, nullable=False))
    claimed_by: str = Field(max_length=200)
    started_at: dt.datetime = utc_column()
    finished_at: dt.datetime | None = utc_column(nullable=True)
    new: int = 0
    updated: int = 0
    ended: int = 0
