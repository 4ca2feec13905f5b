"""Tables of the weekly rhythm: digest runs, budget alerts, unit metric values, scheduled jobs.

- ``digest_run``: one row per (ISO week, audience) claimed before a digest is posted. The unique
  key is what makes several replicas post a week's digest once: the first insert wins.
- ``budget_alert``: one row per team and month once its forecast reached 80 % of the budget;
  the Slack message key, the level shown now and the highest level already announced.
- ``unit_metric_value``: business volumes (orders, active users) per team, metric and period.
- ``scheduler_job``: APScheduler's ``SQLAlchemyJobStore`` table (its own layout, declared here so
  the migrations create it and the schema check sees it; the job store only reads and writes it).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Column, Date, Float, Index, LargeBinary, Table, Unicode, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.tables.core import utc_column

SCHEDULER_JOB_TABLE = "scheduler_job"


class DigestRun(SQLModel, table=True):
    """A weekly digest claimed by one process; ``posted_at`` is set once it was handed to delivery.

    ``audience`` is ``team`` (``team`` holds its name) or ``org`` (``team`` is "").
    """

    __tablename__ = "digest_run"
    __table_args__ = (UniqueConstraint("week", "audience", "team", name="uq_digest_run_week_audience_team"),)

    id: int | None = Field(default=None, primary_key=True)
    week: str = Field(max_length=10)  # ISO week covered, e.g. "2026-W46"
    audience: str = Field(max_length=8)
    team: str = Field(max_length=100)
    channel: str = Field(max_length=200)
    message_key: str = Field(max_length=200)
    claimed_by: str = Field(max_length=100)
    claimed_at: dt.datetime = utc_column()
    posted_at: dt.datetime | None = utc_column(nullable=True)


class BudgetAlert(SQLModel, table=True):
    """The budget alert of one team in one month ("YYYY-MM").

    ``level`` is what the message shows now (ok, warning, over); ``announced_level`` the highest
    level people were notified of, so a forecast that dips and rises again is not announced twice.
    """

    __tablename__ = "budget_alert"

    team: str = Field(primary_key=True, max_length=100)
    month: str = Field(primary_key=True, max_length=7)
    message_key: str = Field(max_length=200)
    level: str = Field(max_length=16)
    announced_level: str = Field(max_length=16)
    forecast_micros: int = Field(sa_column=Column(BigInteger, nullable=False))
    budget_micros: int = Field(sa_column=Column(BigInteger, nullable=False))
    first_alerted_at: dt.datetime = utc_column()
    updated_at: dt.datetime = utc_column()


class UnitMetricValue(SQLModel, table=True):
    """How many units (``metric`` of ``team``) there were from ``period_start`` to ``period_end``
    (both included).

    Recording the same team, metric and period again replaces the value.
    """

    __tablename__ = "unit_metric_value"
    __table_args__ = (UniqueConstraint("team", "metric", "period_start", "period_end", name="uq_unit_metric_value_period"),
                      Index("ix_unit_metric_value_team_metric_start", "team", "metric", "period_start"))

    id: int | None = Field(default=None, primary_key=True)
    team: str = Field(max_length=100)
    metric: str = Field(max_length=100)
    period_start: dt.date = Field(sa_column=Column(Date, nullable=False))
    period_end: dt.date = Field(sa_column=Column(Date, nullable=False))
    value: float = Field(sa_column=Column(Float, nullable=False))
    source: str = Field(max_length=16)  # csv | api | slack
    recorded_by: str = Field(max_length=64)
    recorded_at: dt.datetime = utc_column()


# APScheduler's layout (apscheduler.jobstores.sqlalchemy): 191 characters for the id, an 8-byte
# float for the next run time (a UTC timestamp), the pickled job.
scheduler_job = Table(
    SCHEDULER_JOB_TABLE,
    SQLModel.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)
