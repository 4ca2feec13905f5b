"""The monthly roll-up of cost data that variance answers read for whole months.

``cost_monthly`` holds, per calendar month and series, the sums of ``cost_daily`` over every
source and day of the month (money in exact micro-units; a quantity is NULL when no day of the
month had one). A quarter against a quarter then reads 6 rows per series instead of 183.

``cost_monthly_stale`` lists the months whose daily rows changed since their roll-up was built.
Database triggers on ``cost_daily`` (created by migration 0005) add the month of every inserted,
updated or deleted row, whoever writes it, so a roll-up is never read stale: ``storage/variance.py``
rebuilds a listed month before reading it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Column, Date, Float, ForeignKey, Integer
from sqlmodel import Field, SQLModel


class CostMonthly(SQLModel, table=True):
    __tablename__ = "cost_monthly"

    month: dt.date = Field(sa_column=Column(Date, primary_key=True))  # the first day of the month
    series_id: int = Field(sa_column=Column(Integer, ForeignKey("cost_series.id"), primary_key=True))
    billed_micros: int = Field(sa_column=Column(BigInteger, nullable=False))
    effective_micros: int = Field(sa_column=Column(BigInteger, nullable=False))
    list_micros: int = Field(sa_column=Column(BigInteger, nullable=False))
    consumed_quantity: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    pricing_quantity: float | None = Field(default=None, sa_column=Column(Float, nullable=True))


class CostMonthlyStale(SQLModel, table=True):
    __tablename__ = "cost_monthly_stale"

    month: dt.date = Field(sa_column=Column(Date, primary_key=True))  # the first day of the month
