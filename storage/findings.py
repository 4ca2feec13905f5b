"""Savings findings in the database: the only module that reads or writes the finding tables.

Every move is one transaction: the row is read (``SELECT ... FOR UPDATE`` on PostgreSQL, so a
second mover waits), the move is checked by :func:`finops.savings.apply_action`, the row is
updated only where its ``version`` is still the one read, and the audit entry is added in the
same transaction. So two concurrent moves never both win, on PostgreSQL or SQLite (whose
writers are serialised and whose losing UPDATE matches no row): the loser gets a
:class:`FindingConflict` ("already moved by X to Y") or, when its move is no longer legal, a
:class:`TransitionError` that names the state and who put it there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from finops.errors import InputError, TransitionError
from finops.money import cents, from_micros, to_micros
from finops.savings import (
    MOVES,
    SYSTEM_ACTOR,
    Actor,
    FindingAction,
    FindingState,
    apply_action,
    parse_monthly_saving,
)
from finops.verification import RecheckResult, VerificationResult
from storage.audit import add_audit
from storage.db import Database
from storage.tables.core import AuditEntry as AuditRow
from storage.tables.findings import Finding, FindingReminder, FindingVerification

SUBJECT = "finding"
SOURCES = ("manual", "anomaly", "aws-coh", "azure-advisor", "gcp-recommender")
# A scope is a filter on cost data with these keys (storage/costs.py accepts each as a filter).
SCOPE_KEYS = ("provider", "sub_account_id", "service", "region", "resource_id", "sku_id")
TITLE_CHARS = 300
REFUSED = "refused:"  # audit actions of presses that changed nothing (kept out of the history)


class FindingConflict(TransitionError):
    """Someone else moved the finding between the moment it was shown and the press."""

    def __init__(self, finding_id: int, last: FindingEvent | None, state: str) -> None:
        self.finding_id, self.last, self.state = finding_id, last, state
        if last is None:
            message = f"finding #{finding_id} changed meanwhile; it is {state} now; nothing was changed"
        elif last.action == str(FindingAction.REASSIGN):
            message = (f"finding #{finding_id} was already reassigned by {last.by} "
                       f"(to {last.assignee or last.team}) at {_stamp(last.at)}; nothing was changed")
        else:
            message = (f"finding #{finding_id} was already moved by {last.by} to {last.to_state} "
                       f"({last.action} at {_stamp(last.at)}); nothing was changed")
        super().__init__(message)


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def normalize_scope(scope: Mapping[str, Iterable[str] | str]) -> dict[str, list[str]]:
    """Check a scope and return it as ``{key: [values]}`` (values stripped, de-duplicated, in order).

    Keys: provider, sub_account_id, service, region, resource_id, sku_id, or ``tag:KEY``. A scope
    needs at least one key: a finding about "everything" cannot be measured.
    """
    clean: dict[str, list[str]] = {}
    for key, values in scope.items():
        key = key.strip()
        if key not in SCOPE_KEYS and not (key.startswith("tag:") and len(key) > 4):
            raise InputError(f"unknown scope key {key!r}: use {', '.join(SCOPE_KEYS)} or tag:KEY", column="scope")
        listed = [values] if isinstance(values, str) else list(values)
        kept = list(dict.fromkeys(v.strip() for v in listed if v and v.strip()))
        if not kept:
            raise InputError(f"scope key {key!r} has no value", column="scope")
        clean.setdefault(key, [])
        clean[key] += [v for v in kept if v not in clean[key]]
    if not clean:
        raise InputError("a finding needs a scope (e.g. service=Amazon RDS): it is what verification measures",
                         column="scope")
    return clean


def describe_scope(scope: Mapping[str, Sequence[str]]) -> str:
    """``service=Amazon RDS, region=us-east-1|eu-west-1``."""
    return ", ".join(f"{key}={'|'.join(values)}" for key, values in scope.items())


@dataclass(frozen=True)
class NewFinding:
    """What it takes to open a finding (``estimate_monthly`` in dollars per month)."""

    title: str
    team: str
    scope: Mapping[str, Iterable[str] | str]
    estimate_monthly: Decimal | float | int | str
    assignee: str | None = None
    source: str = "manual"
    external_id: str | None = None
    due_on: date | None = None
    notes: str | None = None


@dataclass(frozen=True)
class FindingRecord:
    """A detached copy of a finding (safe to pass between threads)."""

    id: int
    title: str
    team: str
    assignee: str | None
    scope: dict[str, list[str]]
    estimate_monthly: Decimal
    source: str
    external_id: str | None
    notes: str | None
    due_on: date | None
    state: FindingState
    identified_on: date
    implemented_on: date | None
    verified_on: date | None
    realized_monthly: Decimal | None
    regressed: bool
    evidence: dict | None
    recheck: dict | None
    rechecked_on: date | None
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime

    @property
    def baseline(self) -> dict | None:
        """The measured baseline window (``start``, ``end``, ``daily_cost``), None until measured."""
        return (self.evidence or {}).get("baseline")

    @property
    def after(self) -> dict | None:
        """The measured after window, None until measured."""
        return (self.evidence or {}).get("after")

    def ledger_record(self) -> dict[str, Any]:
        """The fields :func:`finops.savings.savings_ledger` reads."""
        return {"team": self.team, "state": str(self.state), "estimate_monthly": float(self.estimate_monthly),
                "identified_on": self.identified_on, "implemented_on": self.implemented_on,
                "verified_on": self.verified_on,
                "realized_monthly": None if self.realized_monthly is None else float(self.realized_monthly),
                "regressed": self.regressed}


@dataclass(frozen=True)
class FindingEvent:
    """One entry of a finding's history (an audit row), as ``findings show`` prints it."""

    at: datetime
    by: str
    action: str
    from_state: str | None
    to_state: str | None
    reason: str | None
    implemented_on: date | None = None
    assignee: str | None = None
    team: str | None = None
    realized_monthly: Decimal | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready (the keys of :meth:`finops.savings.AuditEntry.to_dict`, plus team and realized)."""
        return {"at": self.at.isoformat(), "by": self.by, "action": self.action, "from": self.from_state,
                "to": self.to_state, "reason": self.reason,
                "implemented_on": self.implemented_on.isoformat() if self.implemented_on else None,
                "assignee": self.assignee, "team": self.team,
                "realized_monthly": None if self.realized_monthly is None else float(self.realized_monthly)}


@dataclass(frozen=True)
class VerificationRecord:
    """One stored measurement (verification or re-check) with its evidence and chart."""

    id: int
    finding_id: int
    kind: str
    as_of: date
    outcome: str
    saving_monthly: Decimal
    evidence: dict
    chart: bytes | None
    created_at: datetime


@dataclass(frozen=True)
class ImportResult:
    """What an import did: findings opened now, and those already known (source + external id)."""

    created: list[FindingRecord]
    existing: list[FindingRecord]


def _money(micros: int | None) -> Decimal | None:
    return None if micros is None else cents(from_micros(micros))


def _record(row: Finding) -> FindingRecord:
    return FindingRecord(
        id=int(row.id), title=row.title, team=row.team, assignee=row.assignee,  # type: ignore[arg-type]
        scope={k: list(v) for k, v in row.scope.items()}, estimate_monthly=_money(row.estimate_monthly_micros),  # type: ignore[arg-type]
        source=row.source, external_id=row.external_id, notes=row.notes, due_on=row.due_on,
        state=FindingState(row.state), identified_on=row.identified_on, implemented_on=row.implemented_on,
        verified_on=row.verified_on, realized_monthly=_money(row.realized_monthly_micros), regressed=row.regressed,
        evidence=row.evidence, recheck=row.recheck, rechecked_on=row.rechecked_on, version=row.version,
        created_by=row.created_by, created_at=row.created_at, updated_at=row.updated_at)


def _event(row: AuditRow) -> FindingEvent:
    detail = row.detail or {}
    implemented = detail.get("implemented_on")
    realized = detail.get("realized_monthly")
    return FindingEvent(at=row.at, by=row.actor, action=row.action, from_state=row.from_state,
                        to_state=row.to_state, reason=row.reason,
                        implemented_on=date.fromisoformat(implemented) if implemented else None,
                        assignee=detail.get("assignee"), team=detail.get("team"),
                        realized_monthly=None if realized is None else Decimal(str(realized)))


def audit_actor(actor: Actor) -> str:
    """How an actor is written in the audit trail: a Slack user ID, ``cli:<name>`` or ``system``."""
    return "system" if actor.system else actor.user


def _saving_micros(amount: Decimal | float | int | str, what: str = "estimate") -> int:
    """A monthly saving as checked by :func:`finops.savings.parse_monthly_saving`, in micro-dollars."""
    return int(parse_monthly_saving(amount, what=what).scaleb(6))


class FindingStore:
    """Verbs on findings; each is one transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # opening ----------------------------------------------------------------------------------
    def _new_row(self, new: NewFinding, *, by: str, at: datetime) -> Finding:
        title = " ".join(new.title.split())
        if not title:
            raise InputError("a finding needs a title", column="title")
        if len(title) > TITLE_CHARS:
            raise InputError(f"the title is {len(title)} characters; at most {TITLE_CHARS}", column="title")
        if new.source not in SOURCES:
            raise InputError(f"unknown source {new.source!r}: one of {', '.join(SOURCES)}", column="source")
        return Finding(title=title, team=new.team, assignee=new.assignee or None, scope=normalize_scope(new.scope),
                       estimate_monthly_micros=_saving_micros(new.estimate_monthly), source=new.source,
                       external_id=new.external_id, notes=(new.notes or "").strip() or None, due_on=new.due_on,
                       state=str(FindingState.IDENTIFIED), identified_on=at.date(), created_by=by,
                       created_at=at, updated_at=at)

    def _insert(self, session: Session, row: Finding, *, by: str, at: datetime) -> None:
        session.add(row)
        session.flush()
        add_audit(session, actor=by, subject_kind=SUBJECT, subject_id=int(row.id),  # type: ignore[arg-type]
                  action="create", to_state=row.state, at=at,
                  detail={"title": row.title, "team": row.team, "assignee": row.assignee, "scope": row.scope,
                          "estimate_monthly": float(from_micros(row.estimate_monthly_micros)),
                          "source": row.source, "external_id": row.external_id})

    def create(self, new: NewFinding, *, by: str, at: datetime) -> FindingRecord:
        """Open a finding (state ``identified``, audited as ``create``); InputError on a bad field.

        A finding with a ``source``/``external_id`` already held is refused: use :meth:`import_findings`
        (which skips those) or :meth:`find`.
        """
        row = self._new_row(new, by=by, at=at)
        try:
            with self.db.session() as session:
                self._insert(session, row, by=by, at=at)
                return _record(row)
        except IntegrityError:
            existing = self.find(new.source, new.external_id or "")
            raise InputError(f"{new.source} {new.external_id} is already finding #{existing.id if existing else '?'}",
                             column="external_id", value=new.external_id) from None

    def import_findings(self, findings: Sequence[NewFinding], *, by: str, at: datetime) -> ImportResult:
        """Open the findings not held yet (by source + external id); the others are left as they are.

        One transaction; if a concurrent import inserted some of them first, the batch is read again.
        """
        for new in findings:
            if not new.external_id:
                raise InputError("an imported finding needs its external id", column="external_id")
            self._new_row(new, by=by, at=at)  # every field checked before anything is written
        for _attempt in range(2):
            try:
                with self.db.session() as session:
                    held = self._held(session, [(new.source, new.external_id or "") for new in findings])
                    created, existing, seen = [], [], set()
                    for new in findings:
                        key = (new.source, new.external_id or "")
                        if key in held:
                            existing.append(held[key])
                        elif key not in seen:  # the same recommendation twice in one import
                            seen.add(key)
                            row = self._new_row(new, by=by, at=at)
                            self._insert(session, row, by=by, at=at)
                            created.append(_record(row))
                    return ImportResult(created, existing)
            except IntegrityError:
                continue
        raise InputError("another import of the same recommendations is running; try again", column="external_id")

    def _held(self, session: Session, keys: list[tuple[str, str]]) -> dict[tuple[str, str], FindingRecord]:
        held: dict[tuple[str, str], FindingRecord] = {}
        for source in {s for s, _ in keys}:
            ids = [e for s, e in keys if s == source]
            for i in range(0, len(ids), 900):  # SQLite's bound-parameter limit
                query = select(Finding).where(Finding.source == source, col(Finding.external_id).in_(ids[i:i + 900]))
                for row in session.exec(query):
                    held[(row.source, row.external_id or "")] = _record(row)
        return held

    # reading ----------------------------------------------------------------------------------
    def get(self, finding_id: int) -> FindingRecord:
        """The finding, or InputError naming the id."""
        with self.db.session() as session:
            row = session.get(Finding, finding_id)
            if row is None:
                raise InputError(f"no finding #{finding_id}", column="id", value=finding_id)
            return _record(row)

    def find(self, source: str, external_id: str) -> FindingRecord | None:
        """The finding imported from ``source`` with ``external_id``, if any."""
        with self.db.session() as session:
            row = session.exec(select(Finding).where(Finding.source == source,
                                                     Finding.external_id == external_id)).first()
            return _record(row) if row else None

    def list_findings(self, *, team: str | None = None, states: Iterable[FindingState | str] | None = None) -> list[FindingRecord]:
        """Findings, oldest first, optionally of one team and in some states."""
        query = select(Finding).order_by(Finding.id)
        if team is not None:
            query = query.where(Finding.team == team)
        if states is not None:
            query = query.where(col(Finding.state).in_([str(FindingState(s)) for s in states]))
        with self.db.session() as session:
            return [_record(r) for r in session.exec(query)]

    def history(self, finding_id: int) -> list[FindingEvent]:
        """The finding's moves, oldest first (refused presses are in the audit log, not here)."""
        with self.db.session() as session:
            return self._history(session, finding_id)

    def _history(self, session: Session, finding_id: int) -> list[FindingEvent]:
        rows = session.exec(select(AuditRow).where(AuditRow.subject_kind == SUBJECT,
                                                   AuditRow.subject_id == str(finding_id))
                            .order_by(AuditRow.id)).all()
        return [_event(r) for r in rows if not r.action.startswith(REFUSED)]

    def verifications(self, finding_id: int, kind: str | None = None) -> list[VerificationRecord]:
        """Stored measurements of the finding, oldest first."""
        query = select(FindingVerification).where(FindingVerification.finding_id == finding_id)
        if kind is not None:
            query = query.where(FindingVerification.kind == kind)
        with self.db.session() as session:
            return [VerificationRecord(int(r.id), r.finding_id, r.kind, r.as_of, r.outcome,  # type: ignore[arg-type]
                                       _money(r.saving_monthly_micros), r.evidence, r.chart, r.created_at)  # type: ignore[arg-type]
                    for r in session.exec(query.order_by(FindingVerification.id))]

    def ledger_records(self, *, team: str | None = None) -> list[dict[str, Any]]:
        """One record per finding for :func:`finops.savings.savings_ledger`."""
        return [r.ledger_record() for r in self.list_findings(team=team)]

    # moving -----------------------------------------------------------------------------------
    def _locked(self, session: Session, finding_id: int) -> Finding:
        # FOR UPDATE makes a concurrent mover on PostgreSQL wait for this transaction; SQLite
        # renders no clause (its writers are serialised) and the version check decides there.
        row = session.get(Finding, finding_id, with_for_update=True)
        if row is None:
            raise InputError(f"no finding #{finding_id}", column="id", value=finding_id)
        return row

    def _last_move(self, session: Session, finding_id: int) -> FindingEvent | None:
        moves = [e for e in self._history(session, finding_id) if e.action not in ("recheck", "cannot_verify")]
        return moves[-1] if moves else None

    def last_move(self, finding_id: int) -> FindingEvent | None:
        """The latest move of the finding (its creation if it never moved)."""
        with self.db.session() as session:
            return self._last_move(session, finding_id)

    def _apply(self, session: Session, row: Finding, action: FindingAction | str, *, actor: Actor, at: datetime,
               expected_version: int | None, **kwargs: Any):
        if expected_version is not None and row.version != expected_version:
            raise FindingConflict(int(row.id), self._last_move(session, int(row.id)), row.state)  # type: ignore[arg-type]
        try:
            return apply_action(row.state, action, actor=actor, at=at, finding_id=row.id, **kwargs)
        except TransitionError as error:
            # When the state itself rules the move out, say who brought the finding there.
            legal_here = any(m.from_state == row.state and m.action == action for m in MOVES)
            last = None if legal_here else self._last_move(session, int(row.id))  # type: ignore[arg-type]
            note = f" (last move: {last.action} by {last.by} at {_stamp(last.at)})" if last else ""
            raise TransitionError(f"finding #{row.id}: {error}{note}") from None

    def _update(self, session: Session, row: Finding, values: dict[str, Any]) -> None:
        result = session.execute(update(Finding).where(col(Finding.id) == row.id, col(Finding.version) == row.version)
                                 .values(version=row.version + 1, **values))
        if result.rowcount != 1:  # another transaction moved it after we read it (SQLite)
            session.rollback()
            raise FindingConflict(int(row.id), self._last_move(session, int(row.id)),  # type: ignore[arg-type]
                                  session.get(Finding, row.id).state)  # type: ignore[union-attr]

    def move(self, finding_id: int, action: FindingAction | str, *, actor: Actor, at: datetime,
             reason: str | None = None, implemented_on: date | None = None, assignee: str | None = None,
             team: str | None = None, realized_monthly: Decimal | float | None = None,
             expected_version: int | None = None) -> FindingRecord:
        """Move a finding (``accept``, ``implemented``, ``reassign``, ``verify`` by hand, ...).

        ``expected_version``: the version the mover saw (a button carries it); if the finding
        moved since, :class:`FindingConflict`. ``team`` (with ``reassign``) hands the finding to
        another team. ``realized_monthly`` (finance ``verify`` by hand): the saving to book,
        default the measured one, else the estimate. Raises TransitionError when the move is not
        allowed (the message says what is, and who moved it last).
        """
        with self.db.session() as session:
            row = self._locked(session, finding_id)
            if team == row.team:
                team = None
            entry = self._apply(session, row, action, actor=actor, at=at, expected_version=expected_version,
                                reason=reason, implemented_on=implemented_on, assignee=assignee)
            values: dict[str, Any] = {"state": str(entry.to_state), "updated_at": at}
            detail: dict[str, Any] = {"version": row.version + 1}
            if entry.action is FindingAction.IMPLEMENTED:
                values["implemented_on"] = entry.implemented_on
                detail["implemented_on"] = entry.implemented_on.isoformat()  # type: ignore[union-attr]
            if entry.action is FindingAction.REASSIGN:
                values["assignee"] = entry.assignee
                detail["assignee"] = entry.assignee
                if team:
                    values["team"] = detail["team"] = team
                    detail["from_team"] = row.team
            if entry.action is FindingAction.VERIFY:
                measured = row.realized_monthly_micros
                booked = (_saving_micros(realized_monthly, "realized saving") if realized_monthly is not None
                          else measured if measured is not None else row.estimate_monthly_micros)
                values.update(verified_on=at.date(), realized_monthly_micros=booked, regressed=False)
                detail["realized_monthly"] = float(from_micros(booked))
            if entry.action is FindingAction.NOT_REALIZED or entry.action is FindingAction.REOPEN:
                values["regressed"] = False
            if entry.action is FindingAction.REOPEN:
                # The old measurement belongs to the work that was reopened; finding_verification keeps it.
                values.update(verified_on=None, realized_monthly_micros=None, evidence=None, recheck=None,
                              rechecked_on=None)
            self._update(session, row, values)
            add_audit(session, actor=audit_actor(actor), subject_kind=SUBJECT, subject_id=finding_id,
                      action=str(entry.action), from_state=str(entry.from_state), to_state=str(entry.to_state),
                      reason=entry.reason, detail=detail, at=at)
        return self.get(finding_id)

    def record_refusal(self, finding_id: int, *, by: str, action: str, reason: str, at: datetime) -> None:
        """Audit a press that changed nothing (not on the team, not allowed, stale button)."""
        with self.db.session() as session:
            add_audit(session, actor=by, subject_kind=SUBJECT, subject_id=finding_id, action=f"{REFUSED}{action}",
                      reason=reason, at=at)

    # verification -----------------------------------------------------------------------------
    def conclude_verification(self, finding_id: int, result: VerificationResult, *, chart: bytes | None,
                              as_of: date, at: datetime, expected_version: int | None = None) -> FindingRecord:
        """Book a verification: ``verifying`` -> ``verified``/``not_realized`` with its evidence, one transaction."""
        with self.db.session() as session:
            row = self._locked(session, finding_id)
            action = FindingAction.VERIFY if result.outcome is FindingState.VERIFIED else FindingAction.NOT_REALIZED
            entry = self._apply(session, row, action, actor=SYSTEM_ACTOR, at=at, expected_version=expected_version,
                                reason=result.summary())
            evidence = result.to_dict()
            realized = to_micros(float(cents(result.realized_monthly)))
            self._update(session, row, {
                "state": str(entry.to_state), "updated_at": at, "realized_monthly_micros": realized,
                "verified_on": at.date() if entry.to_state is FindingState.VERIFIED else None,
                "evidence": {k: v for k, v in evidence.items() if k != "series"}, "regressed": False,
                "recheck": None, "rechecked_on": None})
            stored = FindingVerification(finding_id=finding_id, kind="verification", as_of=as_of,
                                         outcome=str(result.outcome), saving_monthly_micros=realized,
                                         evidence=evidence, chart=chart, created_at=at)
            session.add(stored)
            session.flush()
            add_audit(session, actor=audit_actor(SYSTEM_ACTOR), subject_kind=SUBJECT, subject_id=finding_id,
                      action=str(entry.action), from_state=str(entry.from_state), to_state=str(entry.to_state),
                      reason=entry.reason, at=at,
                      detail={"version": row.version + 1, "realized_monthly": float(from_micros(realized)),
                              "verification_id": stored.id, "as_of": as_of.isoformat()})
        return self.get(finding_id)

    def record_recheck(self, finding_id: int, result: RecheckResult, *, as_of: date,
                       at: datetime) -> tuple[FindingRecord, bool]:
        """Store a monthly re-check of a verified finding; returns it and whether ``regressed`` flipped.

        Not a move: the state stays ``verified`` and the version is unchanged (a button shown
        before the re-check still works).
        """
        with self.db.session() as session:
            row = self._locked(session, finding_id)
            if row.state != FindingState.VERIFIED:
                raise TransitionError(f"finding #{finding_id} is {row.state}: only verified findings are re-checked")
            flipped = row.regressed != result.regressed
            evidence = result.to_dict()
            session.execute(update(Finding).where(col(Finding.id) == finding_id).values(
                regressed=result.regressed, recheck=evidence, rechecked_on=as_of))
            session.add(FindingVerification(finding_id=finding_id, kind="recheck", as_of=as_of,
                                            outcome="regressed" if result.regressed else "holding",
                                            saving_monthly_micros=to_micros(float(cents(result.saving_monthly))),
                                            evidence=evidence, created_at=at))
            add_audit(session, actor="system", subject_kind=SUBJECT, subject_id=finding_id, action="recheck",
                      from_state=row.state, to_state=row.state, reason=result.summary(), at=at,
                      detail={"regressed": result.regressed, "as_of": as_of.isoformat()})
        return self.get(finding_id), flipped

    def note_unmeasurable(self, finding_id: int, *, reason: str, at: datetime) -> bool:
        """Record once (per distinct reason) that verification cannot measure the finding; True if new."""
        with self.db.session() as session:
            last = session.exec(select(AuditRow).where(AuditRow.subject_kind == SUBJECT,
                                                       AuditRow.subject_id == str(finding_id),
                                                       AuditRow.action == "cannot_verify")
                                .order_by(col(AuditRow.id).desc())).first()
            if last is not None and last.reason == reason:
                return False
            row = session.get(Finding, finding_id)
            add_audit(session, actor="system", subject_kind=SUBJECT, subject_id=finding_id, action="cannot_verify",
                      from_state=row.state if row else None, to_state=row.state if row else None,
                      reason=reason, at=at)
            return True

    # reminders --------------------------------------------------------------------------------
    def claim_reminder(self, finding_id: int, reason: str, *, recipient: str | None, at: datetime) -> bool:
        """Take the right to send the one reminder for (finding, reason) to ``recipient``; False if
        it was taken already for them.

        A finding reassigned after its reminder (or one that had no one to remind then) earns one
        reminder for its new recipient, held as ``reason@recipient``: the new assignee would
        otherwise never hear that it is late. Reassigning back earns nothing more.
        """
        if self._claim(finding_id, reason, recipient, at):
            return True
        if recipient is None:
            return False
        with self.db.session() as session:
            reasons = select(FindingReminder).where(FindingReminder.finding_id == finding_id)
            held = {r.recipient for r in session.exec(reasons).all()
                    if r.reason == reason or r.reason.startswith(f"{reason}@")}
        return recipient not in held and self._claim(finding_id, f"{reason}@{recipient}", recipient, at)

    def _claim(self, finding_id: int, reason: str, recipient: str | None, at: datetime) -> bool:
        try:
            with self.db.session() as session:
                session.add(FindingReminder(finding_id=finding_id, reason=reason, recipient=recipient, sent_at=at))
            return True
        except IntegrityError:
            return False

    def reminders(self, finding_id: int) -> list[tuple[str, str | None, datetime]]:
        """(reason, recipient, sent_at) of the reminders taken for a finding."""
        with self.db.session() as session:
            rows = session.exec(select(FindingReminder).where(FindingReminder.finding_id == finding_id)
                                .order_by(FindingReminder.sent_at)).all()
            return [(r.reason, r.recipient, r.sent_at) for r in rows]
