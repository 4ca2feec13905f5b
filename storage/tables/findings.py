"""Savings findings: the ticket, its verifications (evidence and chart), and the reminders sent.

Money is integer micro-dollars (BigInteger), so the ledger adds up to the cent on both backends.
``finding.version`` counts the ticket's moves: a move updates the row only where the version is
the one it read, so two concurrent moves can never both win (storage/findings.py).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from storage.tables.core import utc_column


class Finding(SQLModel, table=True):
    """One savings opportunity, from identification to verified (or not) saving.

    ``scope`` is a filter on cost data: ``{"service": ["Amazon RDS"], "tag:env": ["prod"]}`` (values
    of one key are alternatives, keys all apply). ``(source, external_id)`` identifies an imported
    recommendation, so importing it again finds this row instead of adding another.
    ``evidence`` is the latest verification's numbers (windows, expected, realized) without its
    daily series, which ``finding_verification`` keeps with the chart.
    """

    __tablename__ = "finding"
    __table_args__ = (UniqueConstraint("source", "external_id", name="uq_finding_source_external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=300)
    team: str = Field(max_length=100, index=True)
    assignee: str | None = Field(default=None, max_length=64)
    scope: dict = Field(sa_column=Column(JSON, nullable=False))
    estimate_monthly_micros: int = Field(sa_column=Column(BigInteger, nullable=False))
    source: str = Field(max_length=32)
    external_id: str | None = Field(default=None, max_length=300)
    notes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    due_on: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    state: str = Field(max_length=32, index=True)
    identified_on: dt.date = Field(sa_column=Column(Date, nullable=False))
    implemented_on: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    verified_on: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    realized_monthly_micros: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    regressed: bool = False
    evidence: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    recheck: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    rechecked_on: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    version: int = 1
    created_by: str = Field(max_length=64)
    created_at: dt.datetime = utc_column()
    updated_at: dt.datetime = utc_column()


class FindingVerification(SQLModel, table=True):
    """One measurement of a finding: the verification after implementation, or a monthly re-check.

    ``evidence`` is ``VerificationResult.to_dict()`` / ``RecheckResult.to_dict()`` (money to the
    cent); ``chart`` the PNG posted with a verification.
    """

    __tablename__ = "finding_verification"

    id: int | None = Field(default=None, primary_key=True)
    finding_id: int = Field(sa_column=Column(Integer, ForeignKey("finding.id"), nullable=False, index=True))
    kind: str = Field(max_length=16)  # verification | recheck
    as_of: dt.date = Field(sa_column=Column(Date, nullable=False))
    outcome: str = Field(max_length=32)  # verified | not_realized | regressed | holding
    saving_monthly_micros: int = Field(sa_column=Column(BigInteger, nullable=False))
    evidence: dict = Field(sa_column=Column(JSON, nullable=False))
    chart: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: dt.datetime = utc_column()


class FindingReminder(SQLModel, table=True):
    """A reminder sent (or due) for a finding, once per reason: the key that prevents reminder storms."""

    __tablename__ = "finding_reminder"

    finding_id: int = Field(sa_column=Column(Integer, ForeignKey("finding.id"), primary_key=True))
    reason: str = Field(primary_key=True, max_length=64)  # past_due:2026-11-30 | no_movement:2026-10-22
    recipient: str | None = Field(default=None, max_length=64)
    sent_at: dt.datetime = utc_column()
