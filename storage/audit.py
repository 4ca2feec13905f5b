"""The audit trail: append-only, one row per thing a person (or the bot) did."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from storage.db import Database
from storage.tables.core import AuditEntry, utcnow


@dataclass(frozen=True)
class AuditRecord:
    at: datetime
    actor: str
    subject_kind: str
    subject_id: str
    action: str
    from_state: str | None
    to_state: str | None
    reason: str | None
    detail: dict | None


def add_audit(session: Session, *, actor: str, subject_kind: str, subject_id: str | int, action: str,
              from_state: str | None = None, to_state: str | None = None, reason: str | None = None,
              detail: dict | None = None, at: datetime | None = None) -> None:
    """Append an entry inside the caller's transaction (so the change and its audit commit together)."""
    session.add(AuditEntry(at=at or utcnow(), actor=actor, subject_kind=subject_kind, subject_id=str(subject_id),
                           action=action, from_state=from_state, to_state=to_state, reason=reason, detail=detail))


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, **entry: object) -> None:
        with self.db.session() as session:
            add_audit(session, **entry)  # type: ignore[arg-type]

    def history(self, subject_kind: str, subject_id: str | int) -> list[AuditRecord]:
        with self.db.session() as session:
            rows = session.exec(select(AuditEntry).where(AuditEntry.subject_kind == subject_kind,
                                                         AuditEntry.subject_id == str(subject_id))
                                .order_by(AuditEntry.id)).all()
            return [AuditRecord(r.at, r.actor, r.subject_kind, r.subject_id, r.action, r.from_state, r.to_state,
                                r.reason, r.detail) for r in rows]
