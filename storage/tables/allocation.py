"""Which teams.yml the stored owners follow.

``cost_series.team`` is written when a series is stored and rewritten when teams.yml changes.
``allocation_state`` holds one row, ``name = 'teams'``, with the fingerprint
(:func:`finops.ownership.allocation_fingerprint`) of the rules the stored owners were computed
with, so a start-up compares one short string and re-allocates only when the rules changed.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel

from storage.tables.core import utc_column


class AllocationState(SQLModel, table=True):
    __tablename__ = "allocation_state"

    name: str = Field(primary_key=True, max_length=32)
    fingerprint: str = Field(max_length=64)
    applied_at: dt.datetime = utc_column()
