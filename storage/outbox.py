"""The outbox: every message for Slack is recorded here before it is sent.

Delivery (bot/delivery.py) is the only caller. The verbs are small so that each step of sending
is its own committed fact: recorded -> claimed (attempt counted) -> sent (ts kept). A crash between
any two leaves a row that the next run knows how to finish without posting twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from storage.db import Database
from storage.tables.core import OutboxMessage, SlackChannel, utcnow

# The ts of a message that was only printed on the terminal (no Slack token) starts with this, so
# a later run with Slack never takes it for a message Slack has (it is posted then, not edited).
TERMINAL_TS_PREFIX = "terminal:"


def content_hash(text: str, blocks: list[dict] | None, file_content: bytes | None = None) -> str:
    digest = hashlib.sha256()
    digest.update(text.encode())
    digest.update(json.dumps(blocks or [], sort_keys=True, separators=(",", ":")).encode())
    if file_content:
        digest.update(file_content)
    return digest.hexdigest()


@dataclass(frozen=True)
class OutboxRecord:
    """A detached copy of an outbox row (safe to pass between threads)."""

    key: str
    kind: str
    channel: str
    channel_id: str | None
    thread_key: str | None
    text: str
    blocks: list[dict] | None
    file_name: str | None
    file_title: str | None
    file_content: bytes | None
    content_hash: str
    sent_hash: str | None
    ts: str | None
    status: str
    attempts: int
    maybe_sent: bool
    last_error: str | None
    created_at: datetime

    @property
    def needs_sending(self) -> bool:
        return self.status != "failed" and (self.ts is None or self.sent_hash != self.content_hash)

    @property
    def printed_only(self) -> bool:
        """Last delivered to the terminal, not to Slack. Rows printed before the marker existed
        are recognised by their channel: the terminal kept the configured name (``#team-x``),
        Slack always answers with a conversation ID."""
        if self.ts is None:
            return False
        return self.ts.startswith(TERMINAL_TS_PREFIX) or (self.channel_id or "").startswith("#")


def _record(row: OutboxMessage) -> OutboxRecord:
    return OutboxRecord(row.key, row.kind, row.channel, row.channel_id, row.thread_key, row.text, row.blocks,
                        row.file_name, row.file_title, row.file_content, row.content_hash, row.sent_hash, row.ts, row.status,
                        row.attempts, row.maybe_sent, row.last_error, row.created_at)


class OutboxStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, *, key: str, channel: str, text: str, blocks: list[dict] | None = None,
               thread_key: str | None = None, kind: str = "message", file_name: str | None = None,
               file_title: str | None = None, file_content: bytes | None = None) -> OutboxRecord:
        """Insert the message, or store its new content if the key exists (an update to send)."""
        try:
            return self._record(key, channel, text, blocks, thread_key, kind, file_name, file_title, file_content)
        except IntegrityError:  # another thread inserted the same key first: now it is an update
            return self._record(key, channel, text, blocks, thread_key, kind, file_name, file_title, file_content)

    def _record(self, key: str, channel: str, text: str, blocks: list[dict] | None, thread_key: str | None,
                kind: str, file_name: str | None, file_title: str | None,
                file_content: bytes | None) -> OutboxRecord:
        digest = content_hash(text, blocks, file_content)
        now = utcnow()
        with self.db.session() as session:
            row = session.exec(select(OutboxMessage).where(OutboxMessage.key == key)).first()
            if row is None:
                row = OutboxMessage(key=key, kind=kind, channel=channel, thread_key=thread_key, text=text,
                                    blocks=blocks, file_name=file_name, file_title=file_title,
                                    file_content=file_content,
                                    content_hash=digest, status="pending", created_at=now, updated_at=now,
                                    next_attempt_at=now)
                session.add(row)
            elif row.content_hash != digest:
                row.text, row.blocks, row.content_hash, row.updated_at = text, blocks, digest, now
                row.file_content = file_content if file_content is not None else row.file_content
                if row.status == "failed":  # new content deserves a new try
                    row.status, row.attempts = "pending", 0
                row.next_attempt_at = now
                session.add(row)
            session.flush()
            return _record(row)

    def get(self, key: str) -> OutboxRecord | None:
        with self.db.session() as session:
            row = session.exec(select(OutboxMessage).where(OutboxMessage.key == key)).first()
            return _record(row) if row else None

    def claim(self, key: str, *, hold: timedelta = timedelta(seconds=120)) -> OutboxRecord | None:
        """Take the row for sending and count the attempt; None if someone else holds it.

        The row is read back after the claim, so a sender that finished in between (and released
        the row) is seen: its ts and sent content are in the record, and nothing is sent twice.
        ``maybe_sent`` True means an earlier attempt may have reached Slack unanswered.
        """
        now = utcnow()
        with self.db.session() as session:
            result = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.key == key,
                       or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now))
                .values(claimed_until=now + hold, attempts=OutboxMessage.attempts + 1, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                return None
            row = session.exec(select(OutboxMessage).where(OutboxMessage.key == key)
                               .execution_options(populate_existing=True)).one()
            return _record(row)

    def mark_in_flight(self, key: str) -> None:
        """Committed just before the post: from here on the outcome is unknown until answered."""
        with self.db.session() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.key == key).values(maybe_sent=True))

    def mark_sent(self, key: str, *, channel_id: str, ts: str, sent_hash: str) -> None:
        now = utcnow()
        with self.db.session() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.key == key).values(
                channel_id=channel_id, ts=ts, sent_hash=sent_hash, status="sent", last_error=None, maybe_sent=False,
                claimed_until=None, next_attempt_at=None, updated_at=now))

    def mark_found(self, key: str, *, channel_id: str, ts: str) -> None:
        """Recovery found the message in Slack: keep its ts; content is re-sent as an update."""
        with self.db.session() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.key == key).values(
                channel_id=channel_id, ts=ts, maybe_sent=False, updated_at=utcnow()))

    def forget_printed(self, key: str) -> OutboxRecord:
        """The row was only printed on the terminal: make it a message never sent (no ts, no
        channel ID, no sent content), so Slack gets it as a new post. The caller holds the claim."""
        with self.db.session() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.key == key).values(
                ts=None, channel_id=None, sent_hash=None, status="pending", maybe_sent=False, next_attempt_at=utcnow(),
                updated_at=utcnow()))
            row = session.exec(select(OutboxMessage).where(OutboxMessage.key == key)
                               .execution_options(populate_existing=True)).one()
            return _record(row)

    def defer(self, key: str, *, error: str, retry_at: datetime, maybe_sent: bool) -> None:
        """A transient failure: try again at ``retry_at``. ``maybe_sent`` False when Slack
        answered with an error (nothing was posted), True when no answer came back."""
        with self.db.session() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.key == key).values(
                last_error=error, next_attempt_at=retry_at, claimed_until=None, maybe_sent=maybe_sent,
                updated_at=utcnow()))

    def mark_failed(self, key: str, *, error: str) -> None:
        """A permanent failure (channel_not_found, invalid_blocks...): kept, visible, not retried."""
        with self.db.session() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.key == key).values(
                status="failed", last_error=error, claimed_until=None, next_attempt_at=None, maybe_sent=False,
                updated_at=utcnow()))

    def requeue_failed(self) -> int:
        """Failed messages become pending again (after their channel or content was fixed)."""
        with self.db.session() as session:
            result = session.execute(update(OutboxMessage).where(OutboxMessage.status == "failed").values(
                status="pending", attempts=0, next_attempt_at=utcnow(), updated_at=utcnow()))
            return result.rowcount

    def release(self, key: str) -> None:
        with self.db.session() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.key == key).values(claimed_until=None))

    def due(self, now: datetime | None = None, limit: int = 500) -> list[OutboxRecord]:
        """Messages whose first send or update is still owed, oldest first."""
        now = now or utcnow()
        with self.db.session() as session:
            rows = session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.status != "failed",
                       or_(OutboxMessage.ts.is_(None), OutboxMessage.sent_hash.is_(None),
                           OutboxMessage.sent_hash != OutboxMessage.content_hash),
                       or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now))
                .order_by(OutboxMessage.id).limit(limit)
            ).all()
            return [_record(r) for r in rows]

    def failed(self) -> list[OutboxRecord]:
        with self.db.session() as session:
            rows = session.exec(select(OutboxMessage).where(OutboxMessage.status == "failed")
                                .order_by(OutboxMessage.id)).all()
            return [_record(r) for r in rows]

    def remember_channel(self, name: str, channel_id: str) -> None:
        if name == channel_id:
            return
        with self.db.session() as session:
            row = session.get(SlackChannel, name)
            if row is None:
                session.add(SlackChannel(name=name, channel_id=channel_id))
            elif row.channel_id != channel_id:
                row.channel_id = channel_id
                session.add(row)

    def channel_id(self, name: str) -> str | None:
        with self.db.session() as session:
            row = session.get(SlackChannel, name)
            return row.channel_id if row else None
