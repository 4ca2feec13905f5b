"""The findings repository on SQLite and PostgreSQL: moves, audit, evidence, imports, and two people
pressing the same button at the same moment."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

import storage.findings as findings_module
from finops.errors import InputError, TransitionError
from finops.savings import SYSTEM_ACTOR, Actor, FindingState, savings_ledger
from finops.verification import recheck_verified, verify_saving
from storage.audit import AuditLog
from storage.db import Database
from storage.findings import FindingConflict, FindingStore, NewFinding

AT = datetime(2026, 9, 15, 10, 0, tzinfo=UTC)
OWNER = Actor("U_PAY_OWNER", on_team=True)
DEV = Actor("U_PAY_DEV", on_team=True)
FINANCE = Actor("U_FINANCE", finance=True)
RDS = NewFinding(title="Rightsize payments RDS", team="payments",
                 scope={"service": "Amazon Relational Database Service", "sub_account_id": ["111100000001"]},
                 estimate_monthly="4800.10", assignee="U_PAY_OWNER", due_on=date(2026, 10, 31))


def later(days: float) -> datetime:
    return AT + timedelta(days=days)


def implemented(store: FindingStore, on: date = date(2026, 10, 9)) -> int:
    finding = store.create(RDS, by="U_PAY_OWNER", at=AT)
    store.move(finding.id, "accept", actor=OWNER, at=later(1))
    store.move(finding.id, "start", actor=DEV, at=later(2))
    store.move(finding.id, "implemented", actor=DEV, at=later(30), implemented_on=on)
    return finding.id


def rds_costs(step_on: date = date(2026, 10, 9), until: date = date(2026, 11, 15)) -> pd.Series:
    """$420/day stepping down to $260.40/day (× 0.62) after ``step_on``, with a little noise."""
    days = pd.date_range("2026-08-01", until)
    rng = np.random.default_rng(7)
    level = np.where(days > pd.Timestamp(step_on), 420 * 0.62, 420.0)
    return pd.Series(level * (1 + rng.normal(0, 0.01, len(days))), index=days)


def test_a_new_finding_is_identified_with_exact_money_and_a_normalised_scope(db: Database):
    store = FindingStore(db)
    finding = store.create(RDS, by="U_PAY_OWNER", at=AT)
    assert finding.state is FindingState.IDENTIFIED and finding.version == 1
    assert finding.estimate_monthly == Decimal("4800.10")
    assert finding.scope == {"service": ["Amazon Relational Database Service"], "sub_account_id": ["111100000001"]}
    assert (finding.identified_on, finding.due_on, finding.source) == (date(2026, 9, 15), date(2026, 10, 31), "manual")
    assert (finding.realized_monthly, finding.regressed, finding.baseline, finding.after) == (None, False, None, None)
    assert store.get(finding.id) == finding
    (created,) = store.history(finding.id)
    assert (created.action, created.from_state, created.to_state, created.by) == ("create", None, "identified",
                                                                                 "U_PAY_OWNER")


@pytest.mark.parametrize(("change", "message"), [
    ({"scope": {"account": "1"}}, "unknown scope key 'account'"),
    ({"scope": {}}, "a finding needs a scope"),
    ({"scope": {"service": ["  "]}}, "scope key 'service' has no value"),
    ({"estimate_monthly": "0"}, "must be a positive number"),
    ({"estimate_monthly": "lots"}, "must be a number"),
    ({"estimate_monthly": "0.001"}, r"must be a positive number of dollars per month \(at least \$0.01\)"),
    ({"estimate_monthly": 1e13}, "must be less than 1,000,000,000 dollars per month"),
    ({"estimate_monthly": "1e400"}, "must be less than 1,000,000,000 dollars per month"),
    ({"title": "   "}, "needs a title"),
    ({"source": "jira"}, "unknown source 'jira'"),
])
def test_bad_fields_are_refused_and_nothing_is_written(db: Database, change, message):
    store = FindingStore(db)
    fields = {**RDS.__dict__, **change}
    with pytest.raises(InputError, match=message):
        store.create(NewFinding(**fields), by="cli:ops", at=AT)
    assert store.list_findings() == []


def test_the_life_of_a_finding_is_audited_move_by_move(db: Database):
    store = FindingStore(db)
    finding_id = implemented(store)
    store.move(finding_id, "begin_verification", actor=SYSTEM_ACTOR, at=later(31))
    result = verify_saving(rds_costs(), implemented_on=date(2026, 10, 9), estimate_monthly=4800.10,
                           as_of=date(2026, 11, 15))
    done = store.conclude_verification(finding_id, result, chart=b"\x89PNG chart", as_of=date(2026, 11, 15),
                                       at=later(62))
    assert done.state is FindingState.VERIFIED and done.version == 6
    assert done.verified_on == date(2026, 11, 16) and done.implemented_on == date(2026, 10, 9)
    assert done.realized_monthly == Decimal(str(result.to_dict()["realized_monthly"]))
    assert done.baseline == result.baseline.to_dict() and done.after == result.after.to_dict()
    assert "series" not in done.evidence
    (stored,) = store.verifications(finding_id)
    assert (stored.kind, stored.outcome, stored.chart, stored.as_of) == ("verification", "verified", b"\x89PNG chart",
                                                                        date(2026, 11, 15))
    assert len(stored.evidence["series"]) == 28 + 1 + 14
    steps = [(e.action, e.from_state, e.to_state, e.by) for e in store.history(finding_id)]
    assert steps == [("create", None, "identified", "U_PAY_OWNER"),
                     ("accept", "identified", "accepted", "U_PAY_OWNER"),
                     ("start", "accepted", "in_progress", "U_PAY_DEV"),
                     ("implemented", "in_progress", "implemented", "U_PAY_DEV"),
                     ("begin_verification", "implemented", "verifying", "system"),
                     ("verify", "verifying", "verified", "system")]
    history = store.history(finding_id)
    assert history[3].implemented_on == date(2026, 10, 9)
    assert history[-1].reason == result.summary()
    assert history[-1].realized_monthly == done.realized_monthly


def test_an_illegal_move_names_the_state_what_is_allowed_and_the_last_move(db: Database):
    store = FindingStore(db)
    finding = store.create(RDS, by="U_PAY_OWNER", at=AT)
    store.move(finding.id, "accept", actor=OWNER, at=later(1))
    with pytest.raises(TransitionError) as refused:
        store.move(finding.id, "accept", actor=DEV, at=later(2))
    assert str(refused.value) == (
        f"finding #{finding.id}: cannot accept: finding is accepted; allowed: reject, start, reassign / "
        "finance approvers: (none) (last move: accept by U_PAY_OWNER at 2026-09-16 10:00 UTC)")
    with pytest.raises(TransitionError, match="only members of the finding's team may start"):
        store.move(finding.id, "start", actor=FINANCE, at=later(2))
    assert store.get(finding.id).version == 2
    assert [e.action for e in store.history(finding.id)] == ["create", "accept"]


def test_a_stale_version_is_a_conflict_that_says_who_moved_it_where(db: Database):
    store = FindingStore(db)
    finding = store.create(RDS, by="U_PAY_OWNER", at=AT)
    store.move(finding.id, "accept", actor=OWNER, at=later(1), expected_version=1)
    with pytest.raises(FindingConflict) as conflict:
        store.move(finding.id, "reject", actor=DEV, at=later(1), reason="not worth it", expected_version=1)
    assert str(conflict.value) == (f"finding #{finding.id} was already moved by U_PAY_OWNER to accepted "
                                   "(accept at 2026-09-16 10:00 UTC); nothing was changed")
    assert store.get(finding.id).state is FindingState.ACCEPTED


def test_two_concurrent_presses_on_the_same_finding_one_wins_the_other_is_told(db: Database, monkeypatch):
    """Real threads, each with its own session and connection. The first presser is held inside the
    move (after reading the row) while the second presses: on PostgreSQL the second waits for the
    first's row lock and then finds it moved; on SQLite the second writes first and the held one's
    UPDATE matches no row. Either way exactly one wins and the other learns who moved it where."""
    store = FindingStore(db)
    finding = store.create(RDS, by="U_PAY_OWNER", at=AT)
    first_inside, release = threading.Event(), threading.Event()
    real_apply = findings_module.apply_action
    calls = []

    def held_apply(*args, **kwargs):
        calls.append(kwargs["actor"].user)
        if len(calls) == 1:
            first_inside.set()
            assert release.wait(10)
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(findings_module, "apply_action", held_apply)
    outcomes: dict[str, str] = {}

    def press(actor: Actor) -> None:
        try:
            store.move(finding.id, "accept", actor=actor, at=later(1), expected_version=1)
            outcomes[actor.user] = "won"
        except FindingConflict as conflict:
            outcomes[actor.user] = str(conflict)

    first = threading.Thread(target=press, args=(OWNER,))
    first.start()
    assert first_inside.wait(10)
    second = threading.Thread(target=press, args=(DEV,))
    second.start()
    second.join(0.5)
    second_waited = second.is_alive()
    release.set()
    first.join(10)
    second.join(10)

    winner = next(user for user, outcome in outcomes.items() if outcome == "won")
    loser = next(user for user in outcomes if user != winner)
    assert sorted(outcomes) == ["U_PAY_DEV", "U_PAY_OWNER"]
    assert outcomes[loser] == (f"finding #{finding.id} was already moved by {winner} to accepted "
                               "(accept at 2026-09-16 10:00 UTC); nothing was changed")
    if db.dialect == "postgresql":
        assert second_waited and winner == "U_PAY_OWNER"
    else:
        assert not second_waited and winner == "U_PAY_DEV"
    after = store.get(finding.id)
    assert (after.state, after.version) == (FindingState.ACCEPTED, 2)
    assert [(e.action, e.by) for e in store.history(finding.id)] == [("create", "U_PAY_OWNER"), ("accept", winner)]


def test_concurrent_moves_without_a_version_serialise_and_the_second_is_refused(db: Database):
    store = FindingStore(db)
    finding = store.create(RDS, by="U_PAY_OWNER", at=AT)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def press(actor: Actor) -> None:
        barrier.wait()
        try:
            store.move(finding.id, "accept", actor=actor, at=later(1))
            outcomes.append("won")
        except TransitionError as refused:
            outcomes.append(str(refused))

    threads = [threading.Thread(target=press, args=(actor,)) for actor in (OWNER, DEV)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(outcomes)[-1] == "won" and outcomes.count("won") == 1
    assert "finding is accepted" in sorted(outcomes)[0] or "already moved by" in sorted(outcomes)[0]
    assert store.get(finding.id).version == 2


def test_reassign_to_another_team_keeps_the_state(db: Database):
    store = FindingStore(db)
    finding = store.create(RDS, by="U_PAY_OWNER", at=AT)
    moved = store.move(finding.id, "reassign", actor=OWNER, at=later(1), assignee="U_SEARCH_OWNER", team="search")
    assert (moved.state, moved.team, moved.assignee, moved.version) == (FindingState.IDENTIFIED, "search",
                                                                       "U_SEARCH_OWNER", 2)
    event = store.history(finding.id)[-1]
    assert (event.action, event.assignee, event.team) == ("reassign", "U_SEARCH_OWNER", "search")


def test_finance_overrides_book_a_saving_and_reopen_clears_the_measurement(db: Database):
    store = FindingStore(db)
    finding_id = implemented(store)
    verified = store.move(finding_id, "verify", actor=FINANCE, at=later(40), reason="confirmed on the invoice",
                          realized_monthly=Decimal("4000.004"))
    assert (verified.state, verified.realized_monthly, verified.verified_on) == (
        FindingState.VERIFIED, Decimal("4000.00"), date(2026, 10, 25))
    with pytest.raises(TransitionError, match="reopen needs a reason"):
        store.move(finding_id, "reopen", actor=FINANCE, at=later(41))
    reopened = store.move(finding_id, "reopen", actor=FINANCE, at=later(41), reason="the invoice was wrong")
    assert (reopened.state, reopened.realized_monthly, reopened.verified_on) == (FindingState.IN_PROGRESS, None, None)


def test_a_monthly_recheck_flags_a_regression_without_moving_the_finding(db: Database):
    store = FindingStore(db)
    finding_id = implemented(store)
    store.move(finding_id, "begin_verification", actor=SYSTEM_ACTOR, at=later(31))
    costs = rds_costs(until=date(2027, 1, 31))
    result = verify_saving(costs, implemented_on=date(2026, 10, 9), estimate_monthly=4800.10, as_of=date(2026, 11, 15))
    verified = store.conclude_verification(finding_id, result, chart=None, as_of=date(2026, 11, 15), at=later(62))
    back = costs.copy()
    back[back.index > "2026-12-15"] = 420.0  # rolled back
    check = recheck_verified(back, implemented_on=date(2026, 10, 9),
                             verified_monthly=float(verified.realized_monthly), as_of=date(2027, 1, 31))
    assert check.regressed
    flagged, flipped = store.record_recheck(finding_id, check, as_of=date(2027, 1, 31), at=later(140))
    assert flipped and flagged.regressed and flagged.rechecked_on == date(2027, 1, 31)
    assert (flagged.state, flagged.version) == (FindingState.VERIFIED, verified.version)
    _, again = store.record_recheck(finding_id, check, as_of=date(2027, 1, 31), at=later(141))
    assert not again
    assert [v.outcome for v in store.verifications(finding_id)] == ["verified", "regressed", "regressed"]
    assert store.history(finding_id)[-1].action == "recheck"


def test_imports_are_deduplicated_by_source_and_external_id(db: Database):
    store = FindingStore(db)
    recs = [NewFinding(title=f"Rightsize i-{n}", team="payments", scope={"resource_id": f"i-{n}"},
                       estimate_monthly=10 * n, source="aws-coh", external_id=f"rec-{n}") for n in (1, 2, 2)]
    first = store.import_findings(recs, by="cli:ops", at=AT)
    assert [f.external_id for f in first.created] == ["rec-1", "rec-2"] and first.existing == []
    again = store.import_findings(recs[:2] + [NewFinding(title="new", team="search", scope={"resource_id": "i-3"},
                                                         estimate_monthly=5, source="aws-coh", external_id="rec-3")],
                                  by="cli:ops", at=later(7))
    assert [f.external_id for f in again.created] == ["rec-3"]
    assert [f.id for f in again.existing] == [f.id for f in first.created]
    assert len(store.list_findings()) == 3
    with pytest.raises(InputError, match="aws-coh rec-1 is already finding #1"):
        store.create(recs[0], by="cli:ops", at=AT)


def test_ledger_records_feed_the_ledger_to_the_cent(db: Database):
    store = FindingStore(db)
    finding_id = implemented(store)
    store.move(finding_id, "verify", actor=FINANCE, at=later(40), reason="invoice", realized_monthly="3999.99")
    store.create(NewFinding(title="Delete idle volumes", team="search", scope={"service": "EBS"},
                            estimate_monthly="120.05"), by="U_SEARCH_OWNER", at=later(50))
    (total,) = savings_ledger(store.ledger_records(), by=()).to_dict("records")
    assert (total["identified_monthly"], total["implemented_monthly"], total["realized_monthly"]) == (
        4920.15, 4800.10, 3999.99)
    assert store.ledger_records(team="search")[0]["estimate_monthly"] == 120.05


def test_one_reminder_per_finding_and_reason(db: Database):
    store = FindingStore(db)
    finding = store.create(RDS, by="U_PAY_OWNER", at=AT)
    assert store.claim_reminder(finding.id, "past_due:2026-10-31", recipient="U_PAY_OWNER", at=later(47))
    assert not store.claim_reminder(finding.id, "past_due:2026-10-31", recipient="U_PAY_OWNER", at=later(48))
    assert store.claim_reminder(finding.id, "no_movement:2026-10-09", recipient=None, at=later(48))
    assert [r[0] for r in store.reminders(finding.id)] == ["past_due:2026-10-31", "no_movement:2026-10-09"]


def test_refused_presses_are_audited_but_not_in_the_history(db: Database):
    store = FindingStore(db)
    finding = store.create(RDS, by="U_PAY_OWNER", at=AT)
    store.record_refusal(finding.id, by="U_STRANGER", action="accept", reason="not on the team", at=later(1))
    assert [e.action for e in store.history(finding.id)] == ["create"]
    audit = AuditLog(db).history("finding", finding.id)
    assert [(a.actor, a.action) for a in audit] == [("U_PAY_OWNER", "create"), ("U_STRANGER", "refused:accept")]
    assert store.get(finding.id).version == 1


def test_a_saving_booked_by_hand_is_checked_like_an_estimate(db: Database):
    store = FindingStore(db)
    finding_id = implemented(store)
    for amount in ("0.001", "1e13"):
        with pytest.raises(InputError, match="column 'realized saving'"):
            store.move(finding_id, "verify", actor=FINANCE, at=later(40), reason="invoice", realized_monthly=amount)
    assert store.get(finding_id).state is FindingState.IMPLEMENTED
    booked = store.move(finding_id, "verify", actor=FINANCE, at=later(40), reason="invoice", realized_monthly="4,500.5")
    assert booked.realized_monthly == Decimal("4500.50")
