"""Cost data: daily aggregates in a small star schema.

``cost_series`` holds each distinct combination of FOCUS dimensions once (with its owner team);
``cost_daily`` holds one narrow row per (source, day, series). Money is stored as integer
micro-units of the billing currency so sums are exact on SQLite and PostgreSQL alike.
Re-allocating after a teams.yml change only rewrites ``cost_series.team``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Column, Date, Float, ForeignKey, Index, Integer, Text
from sqlmodel import Field, SQLModel

from storage.tables.core import utc_column


class CostSeries(SQLModel, table=True):
    __tablename__ = "cost_series"

    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = Field(max_length=64, unique=True)  # sha256 of the dimension values
    provider_name: str = Field(max_length=100)
    billing_account_id: str = Field(max_length=200)
    billing_currency: str = Field(max_length=8)
    sub_account_id: str = Field(max_length=200, index=True)
    sub_account_name: str = Field(max_length=300)
    service_name: str = Field(max_length=300, index=True)
    service_category: str = Field(max_length=100)
    region_id: str = Field(max_length=100)
    charge_category: str = Field(max_length=32)
    sku_id: str = Field(sa_column=Column(Text, nullable=False))
    resource_id: str = Field(sa_column=Column(Text, nullable=False))
    consumed_unit: str = Field(max_length=100)
    pricing_unit: str = Field(max_length=100)
    tags: str = Field(sa_column=Column(Text, nullable=False))
    team: str = Field(max_length=100, index=True)
    allocation_rule: str = Field(sa_column=Column(Text, nullable=False))


class CostDaily(SQLModel, table=True):
    __tablename__ = "cost_daily"
    __table_args__ = (Index("ix_cost_daily_day_series", "day", "series_id"),
                      Index("ix_cost_daily_series_day", "series_id", "day"))

    source: str = Field(primary_key=True, max_length=200)
    day: dt.date = Field(sa_column=Column(Date, primary_key=True))
    series_id: int = Field(sa_column=Column(Integer, ForeignKey("cost_series.id"), primary_key=True))
    billed_micros: int = Field(sa_column=Column(BigInteger, nullable=False))
    effective_micros: int = Field(sa_column=Column(BigInteger, nullable=False))
    list_micros: int = Field(sa_column=Column(BigInteger, nullable=False))
    consumed_quantity: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    pricing_quantity: float | None = Field(default=None, sa_column=Column(Float, nullable=True))


class IngestRun(SQLModel, table=True):
    """One attempt to (re)load a source's period; failed runs keep their reason."""

    __tablename__ = "ingest_run"

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=200, index=True)
    kind: str = Field(max_length=32)  # focus-file, aws-ce, aws-cur, azure, gcp, ...
    period_start: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    period_end: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    rows_read: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    rows_written: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    billed_total_micros: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    effective_total_micros: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    status: str = Field(max_length=16, default="running")  # running | ok | failed
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    started_at: dt.datetime = utc_column()
    finished_at: dt.datetime | None = utc_column(nullable=True)


class SourceFreshness(SQLModel, table=True):
    """Per source: the last day with data and the last day known to be complete."""

    __tablename__ = "source_freshness"

    source: str = Field(primary_key=True, max_length=200)
    last_day: dt.date = Field(sa_column=Column(Date, nullable=False))
    complete_through: dt.date = Field(sa_column=Column(Date, nullable=False))
    updated_at: dt.datetime = utc_column()
