"""Anomalies in the database: the only module that reads or writes the anomaly tables.

Detection results are saved idempotently by the domain's stable key (scope and first day): a new
anomaly is inserted once, later runs update the same row (figures so far, last day seen, end),
and a re-run of the same day changes nothing but the figures. The owner's answers (acknowledge,
expected, not ours, snooze) are verbs here, each one transaction with its audit entry; the first
answer is the alert's first human response. The alert's timeline (cost day -> detected -> posted
-> first response) is plain columns, read by :meth:`AnomalyStore.alert_timings`.

States: ``open`` (no answer yet, or a snooze that ran out), ``acknowledged``, ``expected``,
``snoozed``, ``resolved`` (the event is over; the last answer stays in ``answer``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from finops.anomaly_model import Anomaly, Contributor, DetectionResult, SeriesPoint
from finops.errors import InputError, TransitionError
from finops.money import cents, from_micros, to_micros
from storage.audit import AuditLog, AuditRecord, add_audit
from storage.db import Database
from storage.tables.anomalies import AnomalyDetectionRun, AnomalyRow

SUBJECT = "anomaly"
SYSTEM = "system"
REFUSED = "refused:"  # audit actions of presses that changed nothing
STATES = ("open", "acknowledged", "expected", "snoozed", "resolved")
ANSWERS = ("acknowledged", "expected", "snoozed", "not_ours")
# Column-to-dimension names of a scope, in the order a person reads them.
SCOPE_ORDER = ("service", "sub_account_id", "region", "charge_category")


def scope_label(dimensions: dict[str, str], level: str = "series") -> str:
    """A scope in words: ``Amazon EC2 in 111100000001 (us-east-1)``, ``all services in 1111...``."""
    service, account, region = (dimensions.get(k, "") for k in ("service", "sub_account_id", "region"))
    if level == "account" or (account and not service):
        text = f"all services in {account}" if account else "spend"
    elif level == "service" or (service and not account):
        text = f"{service} across accounts" if service else "spend"
    else:
        text = f"{service} in {account}"
    if region:
        text += f" ({region})"
    category = dimensions.get("charge_category", "")
    if category and category != "Usage":
        text += f" [{category}]"
    return text


@dataclass(frozen=True)
class AnomalyRecord:
    """A detached copy of an anomaly row (safe to pass between threads); money in Decimal dollars."""

    id: int
    key: str
    scope: str
    source: str
    external_id: str | None
    level: str
    kind: str
    direction: str
    team: str  # the owner now (after "Not ours", the team it was moved to)
    detected_team: str  # the owner the allocation gave
    dimensions: dict[str, str]
    start: date
    end: date | None
    last_seen: date
    through: date
    detected_on: date
    expected_cost: Decimal
    actual_cost: Decimal
    impact: Decimal
    impact_pct: float | None
    alert: bool
    root_cause: tuple[Contributor, ...]
    series: tuple[SeriesPoint, ...]
    state: str
    answer: str | None
    answered_by: str | None
    answered_at: datetime | None
    answer_reason: str | None
    snoozed_until: date | None
    expected_until: date | None
    channel: str | None
    message_key: str | None
    announced_step: int | None
    routed_to_owner: bool | None
    detected_at: datetime
    posted_at: datetime | None
    first_response_at: datetime | None
    first_response_by: str | None

    @property
    def is_open(self) -> bool:
        """True while the event lasts (no end day yet)."""
        return self.end is None

    @property
    def moved(self) -> bool:
        """True once someone said "Not ours" and the anomaly went to another team."""
        return self.team != self.detected_team

    @property
    def label(self) -> str:
        """The scope in words (see :func:`scope_label`)."""
        return scope_label(self.dimensions, self.level)

    def silenced(self, today: date) -> bool:
        """Whether growth goes unannounced today: expected, or snoozed until after today."""
        return self.state == "expected" or (self.state == "snoozed" and self.snoozed_until is not None
                                            and self.snoozed_until > today)

    def to_anomaly(self) -> Anomaly:
        """The domain's view, to carry an open (or recently ended) anomaly into the next run."""
        return Anomaly(key=self.key, detected_on=self.detected_on, start=self.start, end=self.end,
                       last_seen=self.last_seen, level=self.level, dimensions=dict(self.dimensions), team=self.detected_team,
                       kind=self.kind, direction=self.direction,  # type: ignore[arg-type]
                       expected_cost=float(self.expected_cost), actual_cost=float(self.actual_cost),
                       impact=float(self.impact), impact_pct=self.impact_pct, alert=self.alert,
                       root_cause=self.root_cause, series=self.series, source=self.source,
                       source_id=self.external_id or "")

    def to_json(self, channel: str) -> dict[str, Any]:
        """The CLI's anomaly object (SPEC "Command-line contract"); ``channel`` is where it goes."""
        dimensions = {**self.dimensions, "team": self.team}
        return {
            "id": self.id, "key": self.key, "detected_on": self.detected_on.isoformat(),
            "start": self.start.isoformat(), "end": self.end.isoformat() if self.end else None,
            "last_seen": self.last_seen.isoformat(), "through": self.through.isoformat(),
            "dimensions": dimensions, "level": self.level, "kind": self.kind, "direction": self.direction,
            "expected_cost": float(self.expected_cost), "actual_cost": float(self.actual_cost),
            "impact": float(self.impact),
            "impact_pct": None if self.impact_pct is None else round(self.impact_pct, 4),
            "team": self.team, "channel": channel, "alert": self.alert, "state": self.state,
            "source": self.source, "external_id": self.external_id,
            "root_cause": [{"dimension": c.dimension, "value": c.value, "impact": float(cents(c.impact)),
                            "share": round(c.share, 4)} for c in self.root_cause],
        }


@dataclass(frozen=True)
class SavedDetection:
    """What saving a run did: the rows it inserted, updated and ended (as they are now)."""

    new: list[AnomalyRecord]
    updated: list[AnomalyRecord]
    ended: list[AnomalyRecord]

    @property
    def all(self) -> list[AnomalyRecord]:
        return [*self.new, *self.updated, *self.ended]


def _money(micros: int) -> Decimal:
    return cents(from_micros(micros))


def _contributors(items: Iterable[dict]) -> tuple[Contributor, ...]:
    return tuple(Contributor(c["dimension"], c["value"], float(c["impact"]), float(c["share"])) for c in items)


def _points(items: Iterable[dict]) -> tuple[SeriesPoint, ...]:
    return tuple(SeriesPoint(date.fromisoformat(p["day"]), float(p["actual"]), float(p["expected"]),
                             float(p["low"]), float(p["high"])) for p in items)


def _record(row: AnomalyRow) -> AnomalyRecord:
    return AnomalyRecord(
        id=int(row.id), key=row.key, scope=row.scope, source=row.source, external_id=row.external_id,  # type: ignore[arg-type]
        level=row.level, kind=row.kind, direction=row.direction, team=row.team, detected_team=row.detected_team,
        dimensions={str(k): str(v) for k, v in row.dimensions.items()}, start=row.start, end=row.end,
        last_seen=row.last_seen, through=row.through, detected_on=row.detected_on,
        expected_cost=_money(row.expected_micros), actual_cost=_money(row.actual_micros),
        impact=_money(row.impact_micros), impact_pct=row.impact_pct, alert=row.alert,
        root_cause=_contributors(row.root_cause), series=_points(row.series), state=row.state, answer=row.answer,
        answered_by=row.answered_by, answered_at=row.answered_at, answer_reason=row.answer_reason,
        snoozed_until=row.snoozed_until, expected_until=row.expected_until, channel=row.channel,
        message_key=row.message_key, announced_step=row.announced_step, routed_to_owner=row.routed_to_owner,
        detected_at=row.detected_at, posted_at=row.posted_at, first_response_at=row.first_response_at,
        first_response_by=row.first_response_by)


def _figures(anomaly: Anomaly, through: date) -> dict[str, Any]:
    """The columns a detection run (re)writes: everything the domain knows, nothing people said."""
    data = anomaly.to_dict()
    return dict(
        level=anomaly.level, kind=anomaly.kind, direction=anomaly.direction, dimensions=dict(anomaly.dimensions),
        end=anomaly.end, last_seen=anomaly.last_seen, through=anomaly.end or through,
        # cents first, the impact their difference: expected + impact = actual, as in every message
        expected_micros=to_micros(cents(anomaly.expected_cost)), actual_micros=to_micros(cents(anomaly.actual_cost)),
        impact_micros=to_micros(anomaly.impact_cents), impact_pct=anomaly.impact_pct, alert=anomaly.alert,
        root_cause=data["root_cause"], series=data["series"],
    )


class AlreadyAnswered(Exception):
    """The anomaly already has this answer; ``record`` says who gave it and when."""

    def __init__(self, record: AnomalyRecord) -> None:
        super().__init__(f"anomaly #{record.id} is already {record.answer}")
        self.record = record


class AnomalyStore:
    """Anomalies, their answers and their timeline (see the module docstring)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # detection -------------------------------------------------------------------------------
    def save_detection(self, result: DetectionResult, *, through: date, at: datetime) -> SavedDetection:
        """Save a daily run: insert ``new`` (or update the row its key already has), update
        ``updated``, end ``ended``. ``through`` is the last complete day the run read.

        A new anomaly on a scope someone declared expected until a later day (``expected_until``)
        is saved as ``expected`` with that answer's reason: it is known, and not alerted.
        """
        with self.db.session() as session:
            new = [self._save(session, a, through=through, at=at) for a in result.new]
            updated = [self._save(session, a, through=through, at=at) for a in result.updated]
            ended = [self._save(session, a, through=through, at=at) for a in result.ended]
        return SavedDetection(new, updated, ended)

    def save_imported(self, anomalies: Sequence[tuple[Anomaly, str]], *, at: datetime) -> SavedDetection:
        """Save anomalies another detector reported (AWS), each with the team the ownership rules
        gave it; importing the same one again updates its row. ``new`` are those seen first now."""
        new, updated, ended = [], [], []
        with self.db.session() as session:
            for anomaly, team in anomalies:
                known = session.exec(select(AnomalyRow.id).where(AnomalyRow.key == anomaly.key)).first() is not None
                record = self._save(session, anomaly, through=anomaly.end or anomaly.last_seen, at=at, team=team)
                (updated if known and record.end is None else ended if known else new).append(record)
        return SavedDetection(new, updated, ended)

    def _save(self, session: Session, anomaly: Anomaly, *, through: date, at: datetime,
              team: str | None = None) -> AnomalyRecord:
        row = session.exec(select(AnomalyRow).where(AnomalyRow.key == anomaly.key).with_for_update()).first()
        figures = _figures(anomaly, through)
        if row is None:
            owner = team or anomaly.team
            row = AnomalyRow(key=anomaly.key, scope=anomaly.scope_id, source=anomaly.source,
                             external_id=anomaly.source_id or None, team=owner, detected_team=owner,
                             start=anomaly.start, detected_on=anomaly.detected_on, state="open", detected_at=at,
                             created_at=at, updated_at=at, **figures)
            silencer = self._silencer(session, anomaly.scope_id, anomaly.detected_on)
            if silencer is not None:
                row.state, row.answer = "expected", "expected"
                row.answered_by, row.answered_at = silencer.answered_by, at
                row.expected_until = silencer.expected_until
                row.answer_reason = f"expected until {silencer.expected_until} (anomaly #{silencer.id}): " \
                                    f"{silencer.answer_reason or ''}".rstrip(": ")
            if row.end is not None:
                row.state = "resolved"
            session.add(row)
            session.flush()
            add_audit(session, actor=SYSTEM, subject_kind=SUBJECT, subject_id=int(row.id), action="detected",  # type: ignore[arg-type]
                      to_state=row.state, reason=row.answer_reason if silencer else None,
                      detail={"key": anomaly.key, "impact": float(cents(anomaly.impact))}, at=at)
            return _record(row)
        was_open, before = row.end is None, row.state
        for name, value in figures.items():
            setattr(row, name, value)
        if was_open and row.end is not None:
            row.state = "resolved"
            add_audit(session, actor=SYSTEM, subject_kind=SUBJECT, subject_id=int(row.id), action="ended",  # type: ignore[arg-type]
                      from_state=before, to_state="resolved",
                      detail={"end": row.end.isoformat(), "impact": float(cents(anomaly.impact))}, at=at)
        elif not was_open and row.end is None:  # a restatement reopened it
            row.state = "open" if row.answer in (None, "not_ours") else row.answer
        row.updated_at = at
        session.add(row)
        session.flush()
        return _record(row)

    def _silencer(self, session: Session, scope: str, day: date) -> AnomalyRow | None:
        return session.exec(select(AnomalyRow).where(AnomalyRow.scope == scope, col(AnomalyRow.expected_until) >= day)
                            .order_by(col(AnomalyRow.expected_until).desc())).first()

    def detection_inputs(self, *, ended_since: date) -> tuple[list[Anomaly], list[Anomaly]]:
        """(open, ended since ``ended_since``) costbot anomalies, as the detector takes them."""
        with self.db.session() as session:
            rows = session.exec(select(AnomalyRow).where(
                AnomalyRow.source == "costbot",
                or_(col(AnomalyRow.end).is_(None), col(AnomalyRow.end) >= ended_since)).order_by(AnomalyRow.id)).all()
            records = [_record(r) for r in rows]
        return ([r.to_anomaly() for r in records if r.is_open], [r.to_anomaly() for r in records if not r.is_open])

    def end_expired_snoozes(self, today: date, *, at: datetime) -> list[AnomalyRecord]:
        """Snoozes that ran out by ``today`` go back to ``open`` (growth is announced again)."""
        with self.db.session() as session:
            rows = session.exec(select(AnomalyRow).where(AnomalyRow.state == "snoozed",
                                                         col(AnomalyRow.snoozed_until) <= today)).all()
            for row in rows:
                row.state, row.updated_at = "open", at
                session.add(row)
                add_audit(session, actor=SYSTEM, subject_kind=SUBJECT, subject_id=int(row.id), action="snooze_ended",  # type: ignore[arg-type]
                          from_state="snoozed", to_state="open", at=at)
            session.flush()
            return [_record(r) for r in rows]

    # reading ---------------------------------------------------------------------------------
    def get(self, anomaly_id: int) -> AnomalyRecord:
        """The anomaly with this id; InputError if there is none."""
        with self.db.session() as session:
            row = session.get(AnomalyRow, anomaly_id)
            if row is None:
                raise InputError(f"no anomaly #{anomaly_id}", column="id", value=anomaly_id)
            return _record(row)

    def find(self, key: str) -> AnomalyRecord | None:
        """The anomaly with this domain key (``scope|start`` or ``aws:<id>``), or None."""
        with self.db.session() as session:
            row = session.exec(select(AnomalyRow).where(AnomalyRow.key == key)).first()
            return _record(row) if row else None

    def list_anomalies(self, *, team: str | None = None, open_only: bool = True, alerts_only: bool = False,
                       start: date | None = None, end: date | None = None) -> list[AnomalyRecord]:
        """Anomalies, newest first: of one team, open only (by default), alerting only, or those
        whose days overlap ``start``..``end``."""
        query = select(AnomalyRow)
        if team is not None:
            query = query.where(AnomalyRow.team == team)
        if open_only:
            query = query.where(col(AnomalyRow.end).is_(None))
        if alerts_only:
            query = query.where(col(AnomalyRow.alert).is_(True))
        if end is not None:
            query = query.where(AnomalyRow.start <= end)
        if start is not None:
            query = query.where(AnomalyRow.through >= start)
        with self.db.session() as session:
            rows = session.exec(query.order_by(col(AnomalyRow.start).desc(), col(AnomalyRow.id).desc())).all()
            return [_record(r) for r in rows]

    def history(self, anomaly_id: int) -> list[AuditRecord]:
        """The anomaly's audit trail, oldest first (detection, answers, refusals, end)."""
        return AuditLog(self.db).history(SUBJECT, anomaly_id)

    def alert_timings(self) -> list[dict[str, Any]]:
        """Each alerting anomaly's timeline, as ``finops.maturity.AlertTiming`` keyword arguments:
        cost day (its first day) -> detected -> posted -> first human response."""
        return [{"anomaly_id": r.id, "team": r.team, "cost_day": r.start, "detected_at": r.detected_at,
                 "posted_at": r.posted_at, "first_response_at": r.first_response_at,
                 "routed_to_owner": bool(r.routed_to_owner), "impact": float(r.impact), "scope": r.label}
                for r in self.list_anomalies(open_only=False, alerts_only=True)]

    def digest_lines(self) -> list[dict[str, Any]]:
        """Open alerting anomalies as ``finops.digest.AnomalyLine`` keyword arguments."""
        return [{"id": r.id, "team": r.team, "label": r.label, "start": r.start, "impact": float(r.impact),
                 "kind": r.kind} for r in self.list_anomalies(alerts_only=True)]

    # the alert -------------------------------------------------------------------------------
    def mark_posted(self, anomaly_id: int, *, channel: str, message_key: str, at: datetime, step: int,
                    routed_to_owner: bool) -> AnomalyRecord:
        """The alert reached Slack: where, under which key, and the impact step it showed."""
        with self.db.session() as session:
            row = self._locked(session, anomaly_id)
            if row.posted_at is None:
                row.posted_at, row.routed_to_owner = at, routed_to_owner
            row.channel, row.message_key, row.announced_step = channel, message_key, step
            session.add(row)
            session.flush()
            return _record(row)

    def announce_step(self, anomaly_id: int, step: int) -> None:
        """The thread was told the impact crossed ``step`` dollars."""
        with self.db.session() as session:
            row = self._locked(session, anomaly_id)
            row.announced_step = step
            session.add(row)

    # people's answers ------------------------------------------------------------------------
    def _locked(self, session: Session, anomaly_id: int) -> AnomalyRow:
        # A write that changes nothing, first: SQLite takes its write lock before the row is read
        # (a concurrent press waits, then reads the first one's answer); FOR UPDATE does the same
        # on PostgreSQL.
        session.execute(update(AnomalyRow).where(col(AnomalyRow.id) == anomaly_id)
                        .values(updated_at=AnomalyRow.updated_at))
        row = session.get(AnomalyRow, anomaly_id, with_for_update=True)
        if row is None:
            raise InputError(f"no anomaly #{anomaly_id}", column="id", value=anomaly_id)
        return row

    def _answer(self, anomaly_id: int, answer: str, *, by: str, at: datetime, reason: str | None = None,
                detail: dict[str, Any] | None = None, once: bool = False, **values: Any) -> AnomalyRecord:
        with self.db.session() as session:
            row = self._locked(session, anomaly_id)
            if once and row.answer == answer:
                raise AlreadyAnswered(_record(row))
            before = row.state
            if answer == "snoozed" and row.end is not None:
                raise TransitionError(f"anomaly #{anomaly_id} is already over (ended {row.end}): nothing to snooze")
            after = before if answer == "not_ours" or row.end is not None else answer
            for name, value in values.items():
                setattr(row, name, value)
            row.state, row.answer, row.answered_by, row.answered_at = after, answer, by, at
            if reason is not None:
                row.answer_reason = reason
            if row.first_response_at is None:
                row.first_response_at, row.first_response_by = at, by
            row.updated_at = at
            session.add(row)
            add_audit(session, actor=by, subject_kind=SUBJECT, subject_id=anomaly_id, action=answer,
                      from_state=before, to_state=after, reason=reason, detail=detail, at=at)
            session.flush()
            return _record(row)

    def acknowledge(self, anomaly_id: int, *, by: str, at: datetime) -> AnomalyRecord:
        """The owner saw it and is on it. :class:`AlreadyAnswered` when it is acknowledged already
        (two presses at once: the second is told, not recorded again)."""
        return self._answer(anomaly_id, "acknowledged", by=by, at=at, once=True)

    def expect(self, anomaly_id: int, *, by: str, at: datetime, reason: str, until: date | None = None) -> AnomalyRecord:
        """The change is expected (``reason``); with ``until``, new anomalies on the same scope
        detected up to that day are saved as expected and not alerted."""
        return self._answer(anomaly_id, "expected", by=by, at=at, reason=reason, expected_until=until,
                            detail={"until": until.isoformat()} if until else None)

    def snooze(self, anomaly_id: int, *, by: str, at: datetime, until: date) -> AnomalyRecord:
        """No thread replies about growth before ``until`` (the message itself stays up to date)."""
        return self._answer(anomaly_id, "snoozed", by=by, at=at, snoozed_until=until,
                            detail={"until": until.isoformat()})

    def reroute(self, anomaly_id: int, *, to_team: str, by: str, at: datetime, reason: str | None,
                channel: str, message_key: str, rule: str | None = None) -> AnomalyRecord:
        """"Not ours": the anomaly moves to ``to_team`` (its alert now under ``message_key`` in
        ``channel``); ``rule`` is the ownership rule that sent it to the wrong team."""
        current = self.get(anomaly_id)
        if to_team == current.team:
            raise TransitionError(f"anomaly #{anomaly_id} already belongs to {to_team}")
        return self._answer(anomaly_id, "not_ours", by=by, at=at, reason=reason, team=to_team, channel=channel,
                            message_key=message_key, routed_to_owner=False,
                            detail={"from_team": current.team, "to_team": to_team, "rule": rule or ""})

    def record_finding_opened(self, anomaly_id: int, *, finding_id: int, by: str, at: datetime) -> None:
        """Audit "Open savings finding" on the anomaly: who opened which finding from it (its
        state does not change)."""
        with self.db.session() as session:
            add_audit(session, actor=by, subject_kind=SUBJECT, subject_id=anomaly_id, action="finding_opened",
                      detail={"finding_id": finding_id}, at=at)

    def record_refusal(self, anomaly_id: int, *, by: str, action: str, reason: str, at: datetime) -> None:
        """Audit a press that changed nothing (someone not on the team, an answer not possible now)."""
        with self.db.session() as session:
            add_audit(session, actor=by, subject_kind=SUBJECT, subject_id=anomaly_id, action=f"{REFUSED}{action}",
                      reason=reason, at=at)

    # detection runs --------------------------------------------------------------------------
    def claim_run(self, complete_through: date, *, as_of: date, by: str, at: datetime) -> bool:
        """Claim the detection of the data complete through ``complete_through``; False when a
        run (on this or another replica) already has it."""
        try:
            with self.db.session() as session:
                session.add(AnomalyDetectionRun(complete_through=complete_through, as_of=as_of, claimed_by=by,
                                                started_at=at))
        except IntegrityError:
            return False
        return True

    def release_run(self, complete_through: date) -> None:
        """Give up an unfinished claim (the run failed), so the next check runs it again."""
        with self.db.session() as session:
            row = session.exec(select(AnomalyDetectionRun).where(
                AnomalyDetectionRun.complete_through == complete_through,
                col(AnomalyDetectionRun.finished_at).is_(None))).first()
            if row is not None:
                session.delete(row)

    def finish_run(self, complete_through: date, *, as_of: date, by: str, at: datetime, new: int, updated: int,
                   ended: int) -> None:
        """Record a finished run (creating its row when it was not claimed first, as from the CLI)."""
        with self.db.session() as session:
            row = session.exec(select(AnomalyDetectionRun)
                               .where(AnomalyDetectionRun.complete_through == complete_through)).first()
            if row is None:
                row = AnomalyDetectionRun(complete_through=complete_through, as_of=as_of, claimed_by=by, started_at=at)
            row.finished_at, row.new, row.updated, row.ended = at, new, updated, ended
            session.add(row)

    def has_finished_run(self) -> bool:
        """Whether any detection run finished here (False on a first install)."""
        with self.db.session() as session:
            return session.exec(select(AnomalyDetectionRun.id)
                                .where(col(AnomalyDetectionRun.finished_at).is_not(None))).first() is not None

    def last_run_through(self) -> date | None:
        """The latest complete day a detection run claimed or recorded."""
        with self.db.session() as session:
            return session.exec(select(AnomalyDetectionRun.complete_through)
                                .order_by(col(AnomalyDetectionRun.complete_through).desc())).first()

    def last_finished_through(self) -> date | None:
        """The latest complete day a finished detection run read (None before the first run)."""
        with self.db.session() as session:
            return session.exec(select(AnomalyDetectionRun.complete_through)
                                .where(col(AnomalyDetectionRun.finished_at).is_not(None))
                                .order_by(col(AnomalyDetectionRun.complete_through).desc())).first()
