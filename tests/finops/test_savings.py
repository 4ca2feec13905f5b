from datetime import date, datetime
from decimal import Decimal

import pandas as pd
import pytest

from finops.errors import InputError, TransitionError
from finops.money import cents
from finops.savings import (
    SYSTEM_ACTOR,
    Actor,
    AuditEntry,
    FindingAction,
    FindingState,
    allowed_actions,
    anomaly_monthly_estimate,
    apply_action,
    describe_allowed,
    parse_monthly_saving,
    savings_ledger,
)

AT = datetime(2026, 3, 20, 14, 30)
TEAM = Actor("U_OWNER", on_team=True)
FINANCE = Actor("U_FIN", finance=True)
OUTSIDER = Actor("U_OTHER")
ROLES = {"team": TEAM, "finance": FINANCE, "system": SYSTEM_ACTOR}

# The SPEC diagram plus the decisions documented in finops/savings.py, written out by hand:
# (from, action, role) -> to.
LEGAL = {
    ("identified", "accept", "team"): "accepted",
    ("identified", "reject", "team"): "rejected",
    ("accepted", "reject", "team"): "rejected",
    ("accepted", "start", "team"): "in_progress",
    ("in_progress", "implemented", "team"): "implemented",
    ("identified", "reassign", "team"): "identified",
    ("accepted", "reassign", "team"): "accepted",
    ("in_progress", "reassign", "team"): "in_progress",
    ("implemented", "reassign", "team"): "implemented",
    ("verifying", "reassign", "team"): "verifying",
    ("implemented", "begin_verification", "system"): "verifying",
    ("verifying", "verify", "system"): "verified",
    ("verifying", "not_realized", "system"): "not_realized",
    ("implemented", "verify", "finance"): "verified",
    ("verifying", "verify", "finance"): "verified",
    ("not_realized", "verify", "finance"): "verified",
    ("implemented", "not_realized", "finance"): "not_realized",
    ("verifying", "not_realized", "finance"): "not_realized",
    ("verified", "not_realized", "finance"): "not_realized",
    ("rejected", "reopen", "finance"): "identified",
    ("not_realized", "reopen", "finance"): "in_progress",
    ("verified", "reopen", "finance"): "in_progress",
}
EVERYTHING = dict(reason="because", implemented_on=date(2026, 3, 14), assignee="U_NEW")


def _move(state, action, actor, **kwargs):
    return apply_action(state, action, actor=actor, at=AT, **{**EVERYTHING, **kwargs})


@pytest.mark.parametrize("state", list(FindingState))
@pytest.mark.parametrize("action", list(FindingAction))
@pytest.mark.parametrize("role", ["team", "finance", "system"])
def test_every_state_action_and_role_follows_the_table(state, action, role):
    key = (str(state), str(action), role)
    if key in LEGAL:
        entry = _move(state, action, ROLES[role])
        assert (entry.from_state, entry.to_state, entry.action) == (state, FindingState(LEGAL[key]), action)
        assert entry.by == ROLES[role].user and entry.at == AT
    else:
        with pytest.raises(TransitionError):
            _move(state, action, ROLES[role])


@pytest.mark.parametrize("state", list(FindingState))
def test_allowed_actions_are_exactly_the_legal_moves_in_button_order(state):
    for role, actor in ROLES.items():
        expected = [str(a) for a in FindingAction if (str(state), str(a), role) in LEGAL]
        assert allowed_actions(state, actor) == expected
    assert allowed_actions(state, OUTSIDER) == []


def test_allowed_actions_for_someone_on_the_team_who_is_also_a_finance_approver():
    both = Actor("U_BOTH", on_team=True, finance=True)
    assert allowed_actions("implemented", both) == ["reassign", "verify", "not_realized"]
    assert allowed_actions("identified", both) == ["accept", "reject", "reassign"]


def test_an_illegal_move_names_the_state_and_what_is_allowed_from_it():
    with pytest.raises(TransitionError) as refused:
        apply_action("implemented", "start", actor=TEAM, at=AT)
    assert str(refused.value) == ("cannot start: finding is implemented; allowed: reassign; verification runs "
                                  "automatically / finance approvers: verify, not_realized")
    with pytest.raises(TransitionError) as refused:
        apply_action("rejected", "accept", actor=TEAM, at=AT)
    assert str(refused.value) == "cannot accept: finding is rejected; allowed: (none) / finance approvers: reopen"
    with pytest.raises(TransitionError) as refused:
        apply_action("identified", "start", actor=FINANCE, at=AT)
    assert str(refused.value) == ("cannot start: finding is identified; allowed: accept, reject, reassign / "
                                  "finance approvers: (none)")


def test_describe_allowed_for_verified_lists_only_finance_moves():
    assert describe_allowed("verified") == ("finding is verified; allowed: (none) / "
                                            "finance approvers: not_realized, reopen")


def test_someone_outside_the_team_cannot_move_the_teams_finding():
    with pytest.raises(TransitionError) as refused:
        apply_action("identified", "accept", actor=OUTSIDER, at=AT)
    assert str(refused.value) == "only members of the finding's team may accept this finding; U_OTHER is not on the team"


def test_a_finance_approver_not_on_the_team_cannot_make_team_moves():
    with pytest.raises(TransitionError, match="only members of the finding's team may start"):
        apply_action("accepted", "start", actor=FINANCE, at=AT)


def test_only_finance_approvers_verify_by_hand():
    with pytest.raises(TransitionError) as refused:
        apply_action("verifying", "verify", actor=TEAM, at=AT, reason="we saw the bill")
    assert str(refused.value) == ("only finance approvers may verify this finding by hand; U_OWNER is not a "
                                  "finance approver (verification runs automatically)")


def test_only_finance_approvers_reopen():
    with pytest.raises(TransitionError) as refused:
        apply_action("rejected", "reopen", actor=TEAM, at=AT, reason="changed our mind")
    assert str(refused.value) == "only finance approvers may reopen this finding; U_OWNER is not a finance approver"


def test_people_cannot_start_verification_and_the_job_cannot_make_team_moves():
    with pytest.raises(TransitionError) as refused:
        apply_action("implemented", "begin_verification", actor=FINANCE, at=AT)
    assert str(refused.value) == "only the verification job may begin_verification a finding; it runs automatically"
    with pytest.raises(TransitionError) as refused:
        apply_action("identified", "accept", actor=SYSTEM_ACTOR, at=AT)
    assert str(refused.value) == "only members of the finding's team may accept this finding; not the verification job"


def test_an_illegal_state_is_reported_before_a_missing_right():
    with pytest.raises(TransitionError, match="^cannot reopen: finding is identified"):
        apply_action("identified", "reopen", actor=OUTSIDER, at=AT)


def test_reject_needs_a_reason_and_records_it():
    with pytest.raises(TransitionError, match="reject needs a reason"):
        apply_action("identified", "reject", actor=TEAM, at=AT)
    with pytest.raises(TransitionError, match="reject needs a reason"):
        apply_action("identified", "reject", actor=TEAM, at=AT, reason="   ")
    entry = apply_action("identified", "reject", actor=TEAM, at=AT, reason=" reserved capacity for Q4 ", finding_id=7)
    assert entry == AuditEntry(at=AT, by="U_OWNER", action=FindingAction.REJECT, from_state=FindingState.IDENTIFIED,
                               to_state=FindingState.REJECTED, reason="reserved capacity for Q4", finding_id=7)


@pytest.mark.parametrize(("state", "action"), [("rejected", "reopen"), ("verifying", "verify"),
                                               ("verified", "not_realized")])
def test_finance_overrides_and_reopen_need_a_reason(state, action):
    with pytest.raises(TransitionError, match=f"{action} needs a reason"):
        apply_action(state, action, actor=FINANCE, at=AT)


def test_the_verification_job_needs_no_reason():
    entry = apply_action("verifying", "verify", actor=SYSTEM_ACTOR, at=AT)
    assert entry.to_state is FindingState.VERIFIED and entry.reason is None and entry.by == "costbot"


def test_implemented_needs_a_date_not_in_the_future():
    with pytest.raises(TransitionError, match="implemented needs the date the change went live"):
        apply_action("in_progress", "implemented", actor=TEAM, at=AT)
    with pytest.raises(TransitionError) as refused:
        apply_action("in_progress", "implemented", actor=TEAM, at=AT, implemented_on=date(2026, 3, 21))
    assert str(refused.value) == "implemented date 2026-03-21 is in the future (today is 2026-03-20)"
    entry = apply_action("in_progress", "implemented", actor=TEAM, at=AT, implemented_on=date(2026, 3, 20))
    assert entry.implemented_on == date(2026, 3, 20) and entry.to_state is FindingState.IMPLEMENTED


def test_reassign_keeps_the_state_and_records_the_assignee():
    entry = apply_action("in_progress", "reassign", actor=TEAM, at=AT, assignee="U_NEW", implemented_on=date(2026, 1, 1))
    assert (entry.from_state, entry.to_state, entry.assignee, entry.implemented_on) == (
        FindingState.IN_PROGRESS, FindingState.IN_PROGRESS, "U_NEW", None)
    with pytest.raises(TransitionError, match="reassign needs the new assignee"):
        apply_action("in_progress", "reassign", actor=TEAM, at=AT)


def test_unknown_action_lists_the_actions():
    with pytest.raises(TransitionError) as refused:
        apply_action("identified", "approve", actor=TEAM, at=AT)
    assert str(refused.value) == ("unknown action 'approve'; actions are: accept, reject, start, implemented, "
                                  "reassign, begin_verification, verify, not_realized, reopen")


def test_audit_entries_are_frozen_and_print_as_json():
    entry = apply_action("in_progress", "implemented", actor=TEAM, at=AT, implemented_on=date(2026, 3, 14),
                         finding_id=3)
    with pytest.raises(AttributeError):
        entry.to_state = FindingState.VERIFIED
    assert entry.to_dict() == {"finding_id": 3, "at": "2026-03-20T14:30:00", "by": "U_OWNER",
                               "action": "implemented", "from": "in_progress", "to": "implemented",
                               "reason": None, "implemented_on": "2026-03-14", "assignee": None}


def test_the_whole_life_of_a_finding():
    state, history = FindingState.IDENTIFIED, []
    for action, actor, extra in [("accept", TEAM, {}), ("start", TEAM, {}),
                                 ("implemented", TEAM, {"implemented_on": date(2026, 3, 1)}),
                                 ("begin_verification", SYSTEM_ACTOR, {}), ("not_realized", SYSTEM_ACTOR, {}),
                                 ("reopen", FINANCE, {"reason": "partly rolled back; redo"}),
                                 ("implemented", TEAM, {"implemented_on": date(2026, 3, 18)}),
                                 ("begin_verification", SYSTEM_ACTOR, {}), ("verify", SYSTEM_ACTOR, {})]:
        entry = apply_action(state, action, actor=actor, at=AT, **extra)
        history.append(entry)
        state = entry.to_state
    assert state is FindingState.VERIFIED
    assert [str(e.to_state) for e in history] == [
        "accepted", "in_progress", "implemented", "verifying", "not_realized", "in_progress", "implemented",
        "verifying", "verified"]


# ---------------------------------------------------------------------------------------- ledger

def _findings():
    return [
        {"id": 1, "team": "payments", "state": "verified", "estimate_monthly": 1000.005,
         "identified_on": date(2026, 1, 5), "implemented_on": date(2026, 2, 1),
         "verified_on": date(2026, 2, 16), "realized_monthly": 900.10, "regressed": False},
        {"id": 2, "team": "payments", "state": "verified", "estimate_monthly": 300.0,
         "identified_on": date(2026, 2, 10), "implemented_on": date(2026, 3, 25),
         "verified_on": date(2026, 4, 9), "realized_monthly": 250.25, "regressed": True},
        {"id": 3, "team": "payments", "state": "rejected", "estimate_monthly": 500.0,
         "identified_on": date(2026, 3, 1)},
        {"id": 4, "team": "payments", "state": "in_progress", "estimate_monthly": 200.0,
         "identified_on": date(2026, 4, 2)},
        {"id": 5, "team": "search", "state": "not_realized", "estimate_monthly": 120.33,
         "identified_on": date(2026, 1, 20), "implemented_on": date(2026, 1, 30), "realized_monthly": 10.0},
        {"id": 6, "team": "search", "state": "identified", "estimate_monthly": 80.0,
         "identified_on": date(2026, 3, 3)},
        {"id": 7, "team": "search", "state": "verifying", "estimate_monthly": 45.5,
         "identified_on": date(2026, 4, 1), "implemented_on": date(2026, 5, 2)},
    ]


def test_ledger_books_each_amount_in_its_events_quarter():
    ledger = savings_ledger(_findings())
    rows = {(r.team, r.quarter): r for r in ledger.itertuples()}
    assert list(rows) == [("payments", "2026Q1"), ("payments", "2026Q2"), ("search", "2026Q1"), ("search", "2026Q2")]

    q1 = rows["payments", "2026Q1"]
    assert (q1.identified_count, q1.identified_monthly, q1.identified_annual) == (3, 1800.0, 21600.0)
    assert (q1.rejected_count, q1.rejected_monthly) == (1, 500.0)
    assert (q1.implemented_count, q1.implemented_monthly, q1.implemented_annual) == (2, 1300.0, 15600.0)
    assert (q1.verified_count, q1.realized_monthly, q1.realized_annual) == (1, 900.10, 10801.2)
    assert (q1.regressed_count, q1.regressed_monthly) == (0, 0.0)
    # cohort: findings 1 and 2 (3 is rejected) are both implemented or later
    assert (q1.implementation_rate_count, q1.implementation_rate_usd) == (1.0, 1.0)

    q2 = rows["payments", "2026Q2"]
    assert (q2.identified_count, q2.identified_monthly, q2.implemented_count) == (1, 200.0, 0)
    assert (q2.verified_count, q2.realized_monthly, q2.regressed_count, q2.regressed_monthly) == (1, 250.25, 1, 250.25)
    assert (q2.implementation_rate_count, q2.implementation_rate_usd) == (0.0, 0.0)

    s1 = rows["search", "2026Q1"]
    assert (s1.identified_count, s1.identified_monthly, s1.implemented_count, s1.implemented_monthly) == (
        2, 200.33, 0, 0.0)
    # Finding 5 was implemented in Q1 but verification found it not realized: not an implemented saving.
    assert (s1.not_realized_count, s1.not_realized_monthly) == (1, 120.33)
    assert s1.verified_count == 0 and s1.realized_monthly == 0.0  # not_realized is not realized
    # Still identified (in the cohort), not captured: 0 of 2 findings, $0 of $200.33.
    assert (s1.implementation_rate_count, s1.implementation_rate_usd) == (0.0, 0.0)


def test_ledger_rows_add_up_to_the_total_to_the_cent():
    detail = savings_ledger(_findings())
    total = savings_ledger(_findings(), by=())
    assert len(total) == 1
    for column in ("identified_monthly", "implemented_monthly", "not_realized_monthly", "realized_monthly",
                   "regressed_monthly", "identified_annual", "implemented_annual", "realized_annual"):
        assert cents(sum(detail[column])) == cents(total[column].iloc[0])
    assert total["identified_monthly"].iloc[0] == 2245.83  # 1000.00 (half-even) + 300 + 500 + 200 + 120.33 + 80 + 45.50
    assert total["implemented_monthly"].iloc[0] == 1345.50  # 1000.00 + 300 + 45.50; not the not-realized 120.33
    assert (total["not_realized_count"].iloc[0], total["not_realized_monthly"].iloc[0]) == (1, 120.33)
    assert total["realized_monthly"].iloc[0] == 1150.35
    assert total["implementation_rate_count"].iloc[0] == 3 / 6  # 1, 2, 7 of the six not rejected
    assert total["implementation_rate_usd"].iloc[0] == 134550 / 174583  # $1,345.50 of $1,745.83
    by_team = savings_ledger(pd.DataFrame(_findings()), by=("team",))
    assert by_team["team"].tolist() == ["payments", "search"]
    assert by_team["identified_monthly"].tolist() == [2000.0, 245.83]


def test_a_finding_verification_found_not_realized_is_identified_but_not_implemented():
    # The demo's data-platform finding: $3,800/month estimated, $30.53/month measured.
    base = {"team": "data-platform", "estimate_monthly": 3800.0, "identified_on": date(2026, 10, 1),
            "implemented_on": date(2026, 10, 22)}
    (row,) = savings_ledger([{**base, "state": "not_realized", "realized_monthly": 30.53}]).to_dict("records")
    assert (row["identified_count"], row["identified_monthly"]) == (1, 3800.0)
    assert (row["implemented_count"], row["implemented_monthly"], row["implemented_annual"]) == (0, 0.0, 0.0)
    assert (row["not_realized_count"], row["not_realized_monthly"]) == (1, 3800.0)
    assert (row["verified_count"], row["realized_monthly"]) == (0, 0.0)
    assert (row["implementation_rate_count"], row["implementation_rate_usd"]) == (0.0, 0.0)
    # While it is verifying it counts as implemented; reopened, it is in progress again.
    (verifying,) = savings_ledger([{**base, "state": "verifying"}]).to_dict("records")
    assert (verifying["implemented_count"], verifying["implemented_monthly"], verifying["not_realized_count"],
            verifying["implementation_rate_usd"]) == (1, 3800.0, 0, 1.0)
    (reopened,) = savings_ledger([{**base, "state": "in_progress", "implemented_on": None}]).to_dict("records")
    assert (reopened["implemented_count"], reopened["not_realized_count"], reopened["implementation_rate_usd"]) == (
        0, 0, 0.0)


def test_ledger_of_no_rows_in_a_quarter_has_no_rate():
    ledger = savings_ledger([{"team": "a", "state": "rejected", "estimate_monthly": 10.0,
                              "identified_on": date(2026, 1, 1)}])
    assert ledger["implementation_rate_count"].isna().all() and ledger["implementation_rate_usd"].isna().all()


def test_ledger_refuses_input_it_cannot_book():
    with pytest.raises(InputError, match="column 'identified_on'"):
        savings_ledger([{"team": "a", "state": "identified", "estimate_monthly": 1.0}])
    with pytest.raises(InputError, match="line 1, column 'implemented_on'"):
        savings_ledger([{"team": "a", "state": "verifying", "estimate_monthly": 1.0, "identified_on": date(2026, 1, 1)}])
    with pytest.raises(InputError, match="column 'verified_on'"):
        savings_ledger([{"team": "a", "state": "verified", "estimate_monthly": 1.0, "identified_on": date(2026, 1, 1),
                         "implemented_on": date(2026, 1, 2), "realized_monthly": 1.0}])
    with pytest.raises(ValueError, match="ledger rows are by"):
        savings_ledger(_findings(), by=("service",))


@pytest.mark.parametrize(("amount", "saving"), [
    ("1200", Decimal("1200.00")), ("$1,200.50", Decimal("1200.50")), (0.006, Decimal("0.01")),
    (999_999_999.99, Decimal("999999999.99")),
])
def test_a_monthly_saving_is_read_to_the_cent(amount, saving):
    assert parse_monthly_saving(amount) == saving


@pytest.mark.parametrize(("amount", "message"), [
    ("0.001", "the estimate must be a positive number of dollars per month (at least $0.01)"),
    ("0.005", "the estimate must be a positive number of dollars per month (at least $0.01)"),  # half to even: $0
    ("-3", "the estimate must be a positive number of dollars per month (at least $0.01)"),
    ("-1e400", "the estimate must be a positive number of dollars per month (at least $0.01)"),
    ("1e13", "the estimate must be less than 1,000,000,000 dollars per month"),
    ("1e400", "the estimate must be less than 1,000,000,000 dollars per month"),
    (999_999_999.996, "the estimate must be less than 1,000,000,000 dollars per month"),  # once rounded
    ("nan", "the estimate must be a number of dollars per month, e.g. 1200"),
    ("inf", "the estimate must be a number of dollars per month, e.g. 1200"),
    ("a lot", "the estimate must be a number of dollars per month, e.g. 1200"),
])
def test_a_monthly_saving_that_cannot_be_stored_is_refused_by_name(amount, message):
    with pytest.raises(InputError) as error:
        parse_monthly_saving(amount)
    assert str(error.value) == f"column 'estimate': {message} (value {amount!r})"


def test_an_anomalys_estimate_is_its_extra_spend_per_day_over_the_days_it_covers():
    # $4,800 over 12..14 November: $1,600/day, a month of it.
    assert anomaly_monthly_estimate(Decimal("4800"), date(2026, 11, 12), date(2026, 11, 14)) == Decimal("48700.00")
    assert anomaly_monthly_estimate(900.0, date(2026, 11, 14), date(2026, 11, 14)) == Decimal("27393.75")
    assert anomaly_monthly_estimate(Decimal("-800"), date(2026, 11, 13), date(2026, 11, 14)) is None  # a drop
    assert anomaly_monthly_estimate(Decimal("0.0001"), date(2026, 11, 1), date(2026, 11, 14)) is None
    with pytest.raises(ValueError, match="no days"):
        anomaly_monthly_estimate(100, date(2026, 11, 14), date(2026, 11, 13))


def test_days_past_due_counts_only_until_the_finding_is_implemented() -> None:
    from finops.savings import days_past_due

    today = date(2026, 11, 16)
    assert days_past_due("in_progress", date(2026, 11, 12), today) == 4
    assert days_past_due("identified", date(2026, 11, 15), today) == 1
    assert days_past_due("accepted", date(2026, 11, 16), today) is None  # due today: not late yet
    assert days_past_due("implemented", date(2026, 11, 1), today) is None  # done: the date asks nothing
    assert days_past_due("rejected", date(2026, 11, 1), today) is None
    assert days_past_due("identified", None, today) is None
