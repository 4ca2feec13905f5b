"""Savings findings: the ticket's state machine, its audit trail, and the savings ledger.

The state machine is the SPEC diagram, enforced by :func:`apply_action` and nothing else::

    identified ─accept→ accepted ─start→ in_progress ─implemented→ implemented ─(auto)→ verifying
        │                  │                                                        │
        └─reject→ rejected ┘                                       verified ←───────┴──→ not_realized

Who may do what (decisions where the SPEC is silent are marked *):

- the finding's team (owners/members; the config decides who counts) accepts, rejects (with a
  reason), starts, marks implemented (with a date not after the day of the move) and reassigns*;
  reassigning is possible while the finding is open (identified .. verifying)* and keeps the state;
- the verification job (the system) moves implemented → verifying and verifying → verified or
  not_realized, and nothing else;
- finance approvers override by hand, always with a reason*: ``verify`` from implemented,
  verifying or not_realized, ``not_realized`` from implemented, verifying or verified; and
  ``reopen`` (reason required*): rejected → identified (triage again), not_realized or verified →
  in_progress* (the team already accepted the work; marking it implemented again re-verifies).
  Finance approvers do not make the team's moves unless they are on the team too*.

Every accepted move is one :class:`AuditEntry`; the trail is append-only (entries are frozen).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

import numpy as np
import pandas as pd

from finops.errors import InputError, TransitionError
from finops.money import cents


class FindingState(StrEnum):
    """Where a savings finding is in its life."""

    IDENTIFIED = "identified"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    IN_PROGRESS = "in_progress"
    IMPLEMENTED = "implemented"
    VERIFYING = "verifying"
    VERIFIED = "verified"
    NOT_REALIZED = "not_realized"


class FindingAction(StrEnum):
    """What someone (or the verification job) can do to a finding; the order is the button order."""

    ACCEPT = "accept"
    REJECT = "reject"
    START = "start"
    IMPLEMENTED = "implemented"
    REASSIGN = "reassign"
    BEGIN_VERIFICATION = "begin_verification"
    VERIFY = "verify"
    NOT_REALIZED = "not_realized"
    REOPEN = "reopen"


class Role(StrEnum):
    """The capacity in which an actor moves a finding."""

    TEAM = "team"
    FINANCE = "finance"
    SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    """Who is acting, relative to one finding.

    ``on_team``: an owner/member of the finding's team (the caller decides from the config);
    ``finance``: a finance approver; ``system``: the verification job, which acts for no person.
    """

    user: str
    on_team: bool = False
    finance: bool = False
    system: bool = False

    @property
    def roles(self) -> frozenset[Role]:
        """The roles this actor holds for the finding."""
        if self.system:
            return frozenset({Role.SYSTEM})
        held = set()
        if self.on_team:
            held.add(Role.TEAM)
        if self.finance:
            held.add(Role.FINANCE)
        return frozenset(held)


SYSTEM_ACTOR = Actor("costbot", system=True)


@dataclass(frozen=True)
class Move:
    """One legal transition: ``action`` by ``role`` takes a finding from ``from_state`` to ``to_state``."""

    action: FindingAction
    from_state: FindingState
    to_state: FindingState
    role: Role


_S, _A = FindingState, FindingAction
_OPEN_STATES = (_S.IDENTIFIED, _S.ACCEPTED, _S.IN_PROGRESS, _S.IMPLEMENTED, _S.VERIFYING)

MOVES: tuple[Move, ...] = (
    Move(_A.ACCEPT, _S.IDENTIFIED, _S.ACCEPTED, Role.TEAM),
    Move(_A.REJECT, _S.IDENTIFIED, _S.REJECTED, Role.TEAM),
    Move(_A.REJECT, _S.ACCEPTED, _S.REJECTED, Role.TEAM),
    Move(_A.START, _S.ACCEPTED, _S.IN_PROGRESS, Role.TEAM),
    Move(_A.IMPLEMENTED, _S.IN_PROGRESS, _S.IMPLEMENTED, Role.TEAM),
    *(Move(_A.REASSIGN, state, state, Role.TEAM) for state in _OPEN_STATES),
    Move(_A.BEGIN_VERIFICATION, _S.IMPLEMENTED, _S.VERIFYING, Role.SYSTEM),
    Move(_A.VERIFY, _S.VERIFYING, _S.VERIFIED, Role.SYSTEM),
    Move(_A.NOT_REALIZED, _S.VERIFYING, _S.NOT_REALIZED, Role.SYSTEM),
    Move(_A.VERIFY, _S.IMPLEMENTED, _S.VERIFIED, Role.FINANCE),
    Move(_A.VERIFY, _S.VERIFYING, _S.VERIFIED, Role.FINANCE),
    Move(_A.VERIFY, _S.NOT_REALIZED, _S.VERIFIED, Role.FINANCE),
    Move(_A.NOT_REALIZED, _S.IMPLEMENTED, _S.NOT_REALIZED, Role.FINANCE),
    Move(_A.NOT_REALIZED, _S.VERIFYING, _S.NOT_REALIZED, Role.FINANCE),
    Move(_A.NOT_REALIZED, _S.VERIFIED, _S.NOT_REALIZED, Role.FINANCE),
    Move(_A.REOPEN, _S.REJECTED, _S.IDENTIFIED, Role.FINANCE),
    Move(_A.REOPEN, _S.NOT_REALIZED, _S.IN_PROGRESS, Role.FINANCE),
    Move(_A.REOPEN, _S.VERIFIED, _S.IN_PROGRESS, Role.FINANCE),
)

# Moves that reverse or override a decision must say why, so the audit trail can answer "why".
_NEEDS_REASON = {(_A.REJECT, Role.TEAM), (_A.REOPEN, Role.FINANCE),
                 (_A.VERIFY, Role.FINANCE), (_A.NOT_REALIZED, Role.FINANCE)}

# States in which the team says the work was done (they need an implemented_on date).
IMPLEMENTED_OR_LATER = frozenset({_S.IMPLEMENTED, _S.VERIFYING, _S.VERIFIED, _S.NOT_REALIZED})
# States that count as an implemented saving in the ledger and the implementation rate: a finding
# verification found not realized was implemented on paper only, so it counts apart (still identified).
COUNTS_AS_IMPLEMENTED = IMPLEMENTED_OR_LATER - {_S.NOT_REALIZED}
# A due date asks something of the team until the finding is implemented.
DUE_DATE_STATES = (_S.IDENTIFIED, _S.ACCEPTED, _S.IN_PROGRESS)


def days_past_due(state: str, due_on: date | None, today: date) -> int | None:
    """How many days a finding in ``state`` is past its due date on ``today`` (None: not late, no
    due date, or implemented already). App Home, ``/cost findings`` and the reminders agree on it."""
    if state not in DUE_DATE_STATES or due_on is None or due_on >= today:
        return None
    return (today - due_on).days

_WHO = {Role.TEAM: "members of the finding's team", Role.FINANCE: "finance approvers",
        Role.SYSTEM: "the verification job"}


@dataclass(frozen=True)
class AuditEntry:
    """One accepted move of a finding: who, when, from, to, why. Never edited, only appended.

    ``implemented_on`` is set by ``implemented`` moves, ``assignee`` by ``reassign`` moves
    (whose ``from_state`` equals ``to_state``).
    """

    at: datetime
    by: str
    action: FindingAction
    from_state: FindingState
    to_state: FindingState
    reason: str | None = None
    finding_id: int | str | None = None
    implemented_on: date | None = None
    assignee: str | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (dates as ISO strings), as ``findings show --json`` prints history."""
        return {
            "finding_id": self.finding_id,
            "at": self.at.isoformat(),
            "by": self.by,
            "action": str(self.action),
            "from": str(self.from_state),
            "to": str(self.to_state),
            "reason": self.reason,
            "implemented_on": self.implemented_on.isoformat() if self.implemented_on else None,
            "assignee": self.assignee,
        }


def _as_state(state: FindingState | str) -> FindingState:
    try:
        return FindingState(state)
    except ValueError:
        raise ValueError(f"unknown finding state {state!r}: one of {', '.join(FindingState)}") from None


def _as_action(action: FindingAction | str) -> FindingAction:
    try:
        return FindingAction(action)
    except ValueError:
        raise TransitionError(f"unknown action {action!r}; actions are: {', '.join(FindingAction)}") from None


def _actions_from(state: FindingState, role: Role) -> list[str]:
    actions = {m.action for m in MOVES if m.from_state is state and m.role is role}
    return [str(a) for a in FindingAction if a in actions]


def allowed_actions(state: FindingState | str, actor: Actor) -> list[str]:
    """The actions ``actor`` may take on a finding in ``state``, in button order.

    This is the list the Slack renderer shows as buttons; :func:`apply_action` accepts exactly these.
    """
    state = _as_state(state)
    actions = {m.action for m in MOVES if m.from_state is state and m.role in actor.roles}
    return [str(a) for a in FindingAction if a in actions]


def describe_allowed(state: FindingState | str) -> str:
    """What may happen to a finding in ``state``, by whom: the tail of every refusal message.

    e.g. ``finding is implemented; allowed: reassign; verification runs automatically /
    finance approvers: verify, not_realized``.
    """
    state = _as_state(state)
    team = ", ".join(_actions_from(state, Role.TEAM)) or "(none)"
    automatic = "; verification runs automatically" if _actions_from(state, Role.SYSTEM) else ""
    finance = ", ".join(_actions_from(state, Role.FINANCE)) or "(none)"
    return f"finding is {state}; allowed: {team}{automatic} / finance approvers: {finance}"


def _refusal_for_person(action: FindingAction, roles: set[Role], actor: Actor) -> str:
    if roles == {Role.SYSTEM}:
        return f"only the verification job may {action} a finding; it runs automatically"
    needed = Role.FINANCE if Role.FINANCE in roles else Role.TEAM
    by_hand = " by hand" if Role.SYSTEM in roles else ""
    if actor.system:
        lacking = "not the verification job"
    elif needed is Role.TEAM:
        lacking = f"{actor.user} is not on the team"
    else:
        lacking = f"{actor.user} is not a finance approver"
    automatic = " (verification runs automatically)" if Role.SYSTEM in roles else ""
    return f"only {_WHO[needed]} may {action} this finding{by_hand}; {lacking}{automatic}"


def apply_action(state: FindingState | str, action: FindingAction | str, *, actor: Actor, at: datetime,
                 reason: str | None = None, implemented_on: date | None = None,
                 assignee: str | None = None, finding_id: int | str | None = None) -> AuditEntry:
    """Check one move of a finding and return its audit entry (whose ``to_state`` is the new state).

    Refuses with :class:`TransitionError` when the move is not legal from ``state`` (the message
    names the state and what is allowed from it), when ``actor`` lacks the right (the message
    says who may), or when the move lacks what it needs: ``reject``, ``reopen`` and finance
    overrides need a ``reason``; ``implemented`` needs ``implemented_on``, not after ``at``'s
    day; ``reassign`` needs an ``assignee``.
    """
    state, action = _as_state(state), _as_action(action)
    candidates = [m for m in MOVES if m.from_state is state and m.action is action]
    if not candidates:
        raise TransitionError(f"cannot {action}: {describe_allowed(state)}")
    move = next((m for m in candidates if m.role in actor.roles), None)
    if move is None:
        raise TransitionError(_refusal_for_person(action, {m.role for m in candidates}, actor))
    reason = reason.strip() if reason and reason.strip() else None
    if (move.action, move.role) in _NEEDS_REASON and reason is None:
        raise TransitionError(f"{action} needs a reason: say why, it goes into the finding's history")
    if move.action is _A.IMPLEMENTED:
        if implemented_on is None:
            raise TransitionError("implemented needs the date the change went live (e.g. 2026-03-14)")
        if implemented_on > at.date():
            raise TransitionError(f"implemented date {implemented_on.isoformat()} is in the future "
                                  f"(today is {at.date().isoformat()})")
    if move.action is _A.REASSIGN and not (assignee and assignee.strip()):
        raise TransitionError("reassign needs the new assignee")
    return AuditEntry(
        at=at, by=actor.user, action=action, from_state=state, to_state=move.to_state, reason=reason,
        finding_id=finding_id,
        implemented_on=implemented_on if move.action is _A.IMPLEMENTED else None,
        assignee=assignee.strip() if move.action is _A.REASSIGN and assignee else None,
    )


# ------------------------------------------------------------------------------------- amounts

# A monthly saving of a billion dollars or more is a typo (or an overflow waiting to happen).
MAX_MONTHLY_SAVING = Decimal(1_000_000_000)
DAYS_PER_MONTH = 30.4375  # 365.25 / 12: the average month, so monthly × 12 is a year


def parse_monthly_saving(amount: Decimal | float | int | str, *, what: str = "estimate") -> Decimal:
    """A saving in dollars per month (``1200``, ``"$1,200.50"``), rounded to the cent.

    InputError (``column=what``) unless it is a number of at least $0.01 and below
    MAX_MONTHLY_SAVING once rounded: what is stored is what was checked.
    """
    text = str(amount).strip().replace(",", "").removeprefix("$")
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise InputError(f"the {what} must be a number of dollars per month, e.g. 1200", column=what, value=amount)
    rounded = cents(value) if 0 < value < MAX_MONTHLY_SAVING else value
    if rounded <= 0:
        raise InputError(f"the {what} must be a positive number of dollars per month (at least $0.01)",
                         column=what, value=amount)
    if rounded >= MAX_MONTHLY_SAVING:
        raise InputError(f"the {what} must be less than {MAX_MONTHLY_SAVING:,} dollars per month", column=what,
                         value=amount)
    return rounded


def anomaly_monthly_estimate(impact: Decimal | float, start: date, through: date) -> Decimal | None:
    """What ending an anomaly's extra spend would save a month: its impact per day over the days
    the impact covers (``start`` .. ``through``, both included) × DAYS_PER_MONTH, to the cent.

    None when there is nothing to save (a drop in spend, or less than a cent a month).
    """
    days = (through - start).days + 1
    if days < 1:
        raise ValueError(f"the anomaly's impact covers {start}..{through}: no days")
    monthly = cents(Decimal(str(impact)) / days * Decimal(str(DAYS_PER_MONTH)))
    return monthly if monthly > 0 else None


# ---------------------------------------------------------------------------------------- ledger

LEDGER_REQUIRED = ("team", "state", "estimate_monthly", "identified_on")
LEDGER_OPTIONAL = ("implemented_on", "verified_on", "realized_monthly", "regressed")
LEDGER_KEYS = ("team", "quarter")
MONTHS_PER_YEAR = 12


def _quarter(day: object) -> str:
    return str(pd.Timestamp(day).to_period("Q"))


def _cents(values: pd.Series) -> pd.Series:
    """Dollars to integer cents (:func:`finops.money.cents` per amount), so sums are exact."""
    return values.map(lambda amount: int(cents(amount).scaleb(2))).astype(np.int64)


def _ledger_input(findings: pd.DataFrame | Iterable[Mapping[str, object]]) -> pd.DataFrame:
    frame = findings.copy() if isinstance(findings, pd.DataFrame) else pd.DataFrame(list(findings))
    for column in LEDGER_REQUIRED:
        if column not in frame:
            raise InputError("savings ledger input lacks a column", column=column)
    for column in LEDGER_OPTIONAL:
        if column not in frame:
            frame[column] = None
    frame = frame.reset_index(drop=True)
    frame["state"] = [_as_state(s) for s in frame["state"]]
    frame["regressed"] = frame["regressed"].fillna(False).astype(bool)
    for row, record in frame.iterrows():
        line = int(row) + 1
        if record["state"] in IMPLEMENTED_OR_LATER and pd.isna(record["implemented_on"]):
            raise InputError(f"a finding that is {record['state']} has no implemented_on",
                             line=line, column="implemented_on")
        if record["state"] == _S.VERIFIED and (pd.isna(record["verified_on"]) or pd.isna(record["realized_monthly"])):
            raise InputError("a verified finding needs verified_on and realized_monthly", line=line,
                             column="verified_on" if pd.isna(record["verified_on"]) else "realized_monthly")
    return frame


def savings_ledger(findings: pd.DataFrame | Iterable[Mapping[str, object]],
                   by: Sequence[str] = LEDGER_KEYS) -> pd.DataFrame:
    """Identified vs implemented vs verified savings, per team and quarter (or coarser).

    ``findings``: one record per finding with ``team``, ``state``, ``estimate_monthly``,
    ``identified_on`` and, where they apply, ``implemented_on``, ``verified_on``,
    ``realized_monthly`` and ``regressed``. ``by``: any of ``("team", "quarter")``; ``()`` gives
    one total row.

    Each amount is booked in the quarter its event happened: identified $ in the quarter of
    identification, implemented $ (the estimate of findings now implemented, verifying or
    verified) in the quarter of implementation, realized $ (the measured saving of findings now
    verified) in the quarter of verification; ``regressed_*`` is the part of realized that the
    monthly re-check flagged. A finding verification found not realized is not an implemented
    saving: it counts in ``not_realized_*`` (its estimate, booked in the quarter of its
    implementation) instead of ``implemented_*``. Rejected findings count in ``identified_*`` and
    ``rejected_*``. The implementation rate is a cohort figure: of the findings identified in the
    row's quarter, not rejected (a reasoned no is not an unrealised saving), the share now
    implemented, verifying or verified, by count and by estimated $; a not-realized finding stays
    in the cohort (the opportunity was identified and not captured) but not in the share; NaN
    when there are none. Annual = monthly × 12. Amounts are rounded to cents per finding before
    summing, so rows add up to the total to the cent.
    """
    keys = list(by)
    if any(k not in LEDGER_KEYS for k in keys):
        raise ValueError(f"ledger rows are by {', '.join(LEDGER_KEYS)} (or fewer), not {keys}")
    frame = _ledger_input(findings)
    frame["estimate_cents"] = _cents(frame["estimate_monthly"].astype(float))
    frame["realized_cents"] = _cents(frame["realized_monthly"].astype(float).fillna(0.0))
    rejected = frame["state"] == _S.REJECTED
    done = frame["state"].isin(COUNTS_AS_IMPLEMENTED)
    not_realized = frame["state"] == _S.NOT_REALIZED
    verified = frame["state"] == _S.VERIFIED

    identified = pd.DataFrame({
        "team": frame["team"], "quarter": frame["identified_on"].map(_quarter),
        "identified_count": 1, "identified_cents": frame["estimate_cents"],
        "rejected_count": rejected.astype(int), "rejected_cents": frame["estimate_cents"].where(rejected, 0),
        "cohort_count": (~rejected).astype(int), "cohort_cents": frame["estimate_cents"].where(~rejected, 0),
        "cohort_done_count": done.astype(int), "cohort_done_cents": frame["estimate_cents"].where(done, 0),
    })
    implemented_on = frame["state"].isin(IMPLEMENTED_OR_LATER)
    implemented = pd.DataFrame({
        "team": frame.loc[implemented_on, "team"],
        "quarter": frame.loc[implemented_on, "implemented_on"].map(_quarter),
        "implemented_count": done[implemented_on].astype(int),
        "implemented_cents": frame.loc[implemented_on, "estimate_cents"].where(done[implemented_on], 0),
        "not_realized_count": not_realized[implemented_on].astype(int),
        "not_realized_cents": frame.loc[implemented_on, "estimate_cents"].where(not_realized[implemented_on], 0),
    })
    regressed = frame.loc[verified, "regressed"]
    realized = pd.DataFrame({
        "team": frame.loc[verified, "team"], "quarter": frame.loc[verified, "verified_on"].map(_quarter),
        "verified_count": 1, "realized_cents": frame.loc[verified, "realized_cents"],
        "regressed_count": regressed.astype(int),
        "regressed_cents": frame.loc[verified, "realized_cents"].where(regressed, 0),
    })

    parts = []
    for events in (identified, implemented, realized):
        summed = events.drop(columns=[c for c in LEDGER_KEYS if c not in keys])
        parts.append(summed.groupby(keys).sum() if keys else summed.sum().to_frame().T)
    table = pd.concat(parts, axis=1).fillna(0).astype(np.int64)
    if keys:
        table = table.sort_index().reset_index()
    else:
        table = table.reset_index(drop=True)

    def dollars(column: str, factor: int = 1) -> pd.Series:
        return table[column] * factor / 100.0

    out = table[keys].copy()
    out["identified_count"] = table["identified_count"]
    out["identified_monthly"] = dollars("identified_cents")
    out["identified_annual"] = dollars("identified_cents", MONTHS_PER_YEAR)
    out["rejected_count"] = table["rejected_count"]
    out["rejected_monthly"] = dollars("rejected_cents")
    out["implemented_count"] = table["implemented_count"]
    out["implemented_monthly"] = dollars("implemented_cents")
    out["implemented_annual"] = dollars("implemented_cents", MONTHS_PER_YEAR)
    out["not_realized_count"] = table["not_realized_count"]
    out["not_realized_monthly"] = dollars("not_realized_cents")
    out["verified_count"] = table["verified_count"]
    out["realized_monthly"] = dollars("realized_cents")
    out["realized_annual"] = dollars("realized_cents", MONTHS_PER_YEAR)
    out["regressed_count"] = table["regressed_count"]
    out["regressed_monthly"] = dollars("regressed_cents")
    with np.errstate(invalid="ignore", divide="ignore"):
        out["implementation_rate_count"] = table["cohort_done_count"] / table["cohort_count"].replace(0, np.nan)
        out["implementation_rate_usd"] = table["cohort_done_cents"] / table["cohort_cents"].replace(0, np.nan)
    return out
