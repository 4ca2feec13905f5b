"""Tables every feature uses: the Slack outbox, the channel cache and the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, LargeBinary, Text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator):
    """Timestamps are stored in UTC and always come back timezone-aware.

    SQLite has no time zones and returns naive values; comparing those with aware ones raises,
    so every read is normalised here instead of at each call site.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database: use datetime.now(UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_column(nullable: bool = False) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable))


def utcnow() -> datetime:
    return datetime.now(UTC)


class OutboxMessage(SQLModel, table=True):
    """One outgoing Slack message (or file), recorded before it is sent.

    ``key`` is the message's stable identity (``anomaly:41``): the row is created once, its
    ``ts`` kept, and later versions of the content update the same Slack message.
    ``content_hash`` is the content we want Slack to show; ``sent_hash`` what Slack last
    accepted; they differ while an update is pending.
    """

    __tablename__ = "outbox_message"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    kind: str = Field(max_length=16, default="message")  # message | file
    channel: str = Field(max_length=200)  # as configured: "#team-x", "C0123", or a user ID for DMs
    channel_id: str | None = Field(default=None, max_length=32)
    thread_key: str | None = Field(default=None, max_length=200)
    text: str = Field(sa_column=Column(Text, nullable=False))
    blocks: list[dict] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    file_name: str | None = Field(default=None, max_length=200)
    file_title: str | None = Field(default=None, max_length=250)
    file_content: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    content_hash: str = Field(max_length=64)
    sent_hash: str | None = Field(default=None, max_length=64)
    ts: str | None = Field(default=None, max_length=32)
    status: str = Field(max_length=16, default="pending", index=True)  # pending | sent | failed
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = utc_column()
    updated_at: datetime = utc_column()
    next_attempt_at: datetime | None = utc_column(nullable=True)
    # True from the moment a post is attempted until Slack's answer is known: after a crash or a
    # dropped connection, recovery looks for the message in the channel before posting again.
    maybe_sent: bool = False
    # A sender claims the row for a short while so two threads or replicas never send it twice.
    claimed_until: datetime | None = utc_column(nullable=True)


class SlackChannel(SQLModel, table=True):
    """Channel names the bot has posted to, with the IDs Slack answered (IDs survive renames)."""

    __tablename__ = "slack_channel"

    name: str = Field(primary_key=True, max_length=200)
    channel_id: str = Field(max_length=32)


class AuditEntry(SQLModel, table=True):
    """Append-only trail of what people (and the bot) did: button presses, moves, overrides."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_subject", "subject_kind", "subject_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = utc_column()
    actor: str = Field(max_length=64)  # Slack user ID, "cli:<user>" or "system"
    subject_kind: str = Field(max_length=32)  # anomaly | finding | config | ...
    subject_id: str = Field(max_length=64)
    action: str = Field(max_length=64)
    from_state: str | None = Field(default=None, max_length=32)
    to_state: str | None = Field(default=None, max_length=32)
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    detail: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
