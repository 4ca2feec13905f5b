"""The anomaly store on SQLite and PostgreSQL: idempotent saves by key, the life of an alert
(answers, audit, first response), silencing by "expected until", timelines for the scorecard."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from finops.anomaly_model import Anomaly, Contributor, DetectionResult, SeriesPoint
from finops.digest import AnomalyLine
from finops.errors import InputError, TransitionError
from finops.maturity import AlertTiming
from storage.anomalies import AlreadyAnswered, AnomalyStore, scope_label
from storage.db import Database

AT = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
SCOPE = "series|AWS|111100000001|Amazon EC2|payments|Usage"


def anomaly(start: date = date(2026, 11, 11), *, scope: str = SCOPE, impact: float = 1234.565,
            expected: float = 4000.0, end: date | None = None, team: str = "payments",
            direction: str = "increase", detected_on: date = date(2026, 11, 13)) -> Anomaly:
    return Anomaly(
        key=f"{scope}|{start.isoformat()}", detected_on=detected_on, start=start, end=end,
        last_seen=end or detected_on, level="series",
        dimensions={"provider": "AWS", "sub_account_id": "111100000001", "service": "Amazon EC2",
                    "region": "us-east-1", "charge_category": "Usage"},
        team=team, kind="shift" if direction == "increase" else "drop", direction=direction,  # type: ignore[arg-type]
        expected_cost=expected, actual_cost=round(expected + impact, 6), impact=impact, impact_pct=impact / expected,
        alert=direction == "increase",
        root_cause=(Contributor("RegionId", "us-east-1", impact, 1.0),),
        series=(SeriesPoint(start, 1500.0, 1000.0, 800.0, 1250.0),),
    )


@pytest.fixture
def store(db: Database) -> AnomalyStore:
    return AnomalyStore(db)


def test_a_new_anomaly_is_stored_once_and_later_runs_update_the_same_row(store: AnomalyStore) -> None:
    first = store.save_detection(DetectionResult(new=(anomaly(),)), through=date(2026, 11, 13), at=AT)
    (saved,) = first.new
    assert (saved.state, saved.team, saved.detected_team, saved.detected_at) == ("open", "payments", "payments", AT)
    assert saved.impact == Decimal("1234.56") and saved.expected_cost == Decimal("4000.00")
    assert saved.root_cause == (Contributor("RegionId", "us-east-1", 1234.56, 1.0),)  # cents, half to even

    # the same day run again, and the next day's run: the same row, figures brought up to date
    again = store.save_detection(DetectionResult(new=(anomaly(),)), through=date(2026, 11, 13), at=AT)
    grown = replace(anomaly(impact=2000.0), last_seen=date(2026, 11, 14))
    later = store.save_detection(DetectionResult(updated=(grown,)), through=date(2026, 11, 14),
                                 at=AT + timedelta(days=1))
    assert again.new[0].id == saved.id == later.updated[0].id
    current = store.get(saved.id)
    assert (current.impact, current.through, current.last_seen, current.detected_on, current.detected_at) == (
        Decimal("2000.00"), date(2026, 11, 14), date(2026, 11, 14), date(2026, 11, 13), AT)
    assert len(store.list_anomalies(open_only=False)) == 1
    assert [e.action for e in store.history(saved.id)] == ["detected"]


def test_stored_figures_add_up_to_the_cent(store: AnomalyStore) -> None:
    # each rounded on its own: expected $100.00, actual $300.01, impact $200.00
    odd = replace(anomaly(), expected_cost=100.004, actual_cost=300.006, impact=200.002,
                  root_cause=(Contributor("ResourceId", "i-a", 100.001, 0.5), Contributor("ResourceId", "i-b", 100.001, 0.5)))
    (saved,) = store.save_detection(DetectionResult(new=(odd,)), through=date(2026, 11, 13), at=AT).new
    assert (saved.expected_cost, saved.actual_cost, saved.impact) == (Decimal("100.00"), Decimal("300.01"),
                                                                       Decimal("200.01"))
    assert sorted(c.impact for c in saved.root_cause) == [100.0, 100.01]
    assert saved.to_json("#team-payments")["impact"] == 200.01


def test_an_ended_anomaly_is_resolved_keeps_its_answer_and_is_handed_back_as_ended(store: AnomalyStore) -> None:
    (saved,) = store.save_detection(DetectionResult(new=(anomaly(),)), through=date(2026, 11, 13), at=AT).new
    store.acknowledge(saved.id, by="U_PAY", at=AT + timedelta(hours=1))
    over = anomaly(end=date(2026, 11, 14))
    (ended,) = store.save_detection(DetectionResult(ended=(over,)), through=date(2026, 11, 17), at=AT).ended
    assert (ended.state, ended.answer, ended.end, ended.through) == ("resolved", "acknowledged", date(2026, 11, 14),
                                                                      date(2026, 11, 14))
    open_now, recently_ended = store.detection_inputs(ended_since=date(2026, 11, 1))
    assert open_now == [] and [a.key for a in recently_ended] == [over.key]
    assert recently_ended[0].end == date(2026, 11, 14) and recently_ended[0].team == "payments"
    assert store.detection_inputs(ended_since=date(2026, 11, 15)) == ([], [])
    history = store.history(saved.id)
    assert [(e.action, e.from_state, e.to_state) for e in history] == [
        ("detected", None, "open"), ("acknowledged", "open", "acknowledged"), ("ended", "acknowledged", "resolved")]


def test_the_first_answer_is_the_first_human_response_and_every_answer_is_audited(store: AnomalyStore) -> None:
    (saved,) = store.save_detection(DetectionResult(new=(anomaly(),)), through=date(2026, 11, 13), at=AT).new
    snoozed = store.snooze(saved.id, by="U_DEV", at=AT + timedelta(hours=2), until=date(2026, 11, 17))
    assert (snoozed.state, snoozed.snoozed_until, snoozed.first_response_by) == ("snoozed", date(2026, 11, 17), "U_DEV")
    assert snoozed.silenced(date(2026, 11, 16)) and not snoozed.silenced(date(2026, 11, 17))
    expected = store.expect(saved.id, by="U_LEAD", at=AT + timedelta(hours=5), reason="load test until Friday",
                            until=date(2026, 11, 20))
    assert (expected.state, expected.answer_reason, expected.expected_until) == (
        "expected", "load test until Friday", date(2026, 11, 20))
    assert (expected.first_response_at, expected.first_response_by) == (AT + timedelta(hours=2), "U_DEV")
    store.record_refusal(saved.id, by="U_STRANGER", action="acknowledged", reason="not yours", at=AT)
    assert [(e.actor, e.action) for e in store.history(saved.id)] == [
        ("system", "detected"), ("U_DEV", "snoozed"), ("U_LEAD", "expected"), ("U_STRANGER", "refused:acknowledged")]
    assert store.history(saved.id)[2].detail == {"until": "2026-11-20"}


def test_expected_until_silences_new_anomalies_of_the_same_scope_only(store: AnomalyStore) -> None:
    (first,) = store.save_detection(DetectionResult(new=(anomaly(end=date(2026, 11, 12)),)),
                                    through=date(2026, 11, 13), at=AT).new
    store.expect(first.id, by="U_LEAD", at=AT, reason="migration", until=date(2026, 11, 30))
    same_scope = anomaly(date(2026, 11, 20), detected_on=date(2026, 11, 21))
    other_scope = anomaly(date(2026, 11, 20), scope="series|AWS|111100000001|Amazon RDS|payments|Usage",
                          detected_on=date(2026, 11, 21))
    after = anomaly(date(2026, 12, 2), detected_on=date(2026, 12, 3))
    saved = store.save_detection(DetectionResult(new=(same_scope, other_scope, after)), through=date(2026, 12, 3),
                                 at=AT).new
    assert [(r.state, r.answered_by) for r in saved] == [("expected", "U_LEAD"), ("open", None), ("open", None)]
    assert saved[0].answer_reason == f"expected until 2026-11-30 (anomaly #{first.id}): migration"
    assert saved[0].first_response_at is None  # nobody answered this one


def test_not_ours_moves_the_anomaly_and_remembers_who_it_was_detected_for(store: AnomalyStore) -> None:
    (saved,) = store.save_detection(DetectionResult(new=(anomaly(),)), through=date(2026, 11, 13), at=AT).new
    store.mark_posted(saved.id, channel="#team-payments", message_key=f"anomaly:{saved.id}", at=AT, step=1000,
                      routed_to_owner=True)
    moved = store.reroute(saved.id, to_team="search", by="U_PAY", at=AT + timedelta(minutes=3), reason="their fleet",
                          channel="#team-search", message_key=f"anomaly:{saved.id}:to:search",
                          rule="payments: sub_account_id=111100000001 (teams.yml line 14)")
    assert (moved.team, moved.detected_team, moved.moved, moved.state, moved.answer) == (
        "search", "payments", True, "open", "not_ours")
    assert (moved.channel, moved.message_key, moved.routed_to_owner, moved.posted_at) == (
        "#team-search", f"anomaly:{saved.id}:to:search", False, AT)
    assert store.history(saved.id)[-1].detail == {
        "from_team": "payments", "to_team": "search", "rule": "payments: sub_account_id=111100000001 (teams.yml line 14)"}
    assert [r.id for r in store.list_anomalies(team="search")] == [saved.id]
    assert store.list_anomalies(team="payments") == []
    # a later run keeps the new owner
    store.save_detection(DetectionResult(updated=(anomaly(impact=3000.0),)), through=date(2026, 11, 14), at=AT)
    assert store.get(saved.id).team == "search"
    with pytest.raises(TransitionError, match="already belongs to search"):
        store.reroute(saved.id, to_team="search", by="U_X", at=AT, reason=None, channel="#x", message_key="k")


def test_snoozing_an_anomaly_that_is_over_is_refused(store: AnomalyStore) -> None:
    (saved,) = store.save_detection(DetectionResult(new=(anomaly(end=date(2026, 11, 12)),)),
                                    through=date(2026, 11, 13), at=AT).new
    with pytest.raises(TransitionError, match="already over"):
        store.snooze(saved.id, by="U_DEV", at=AT, until=date(2026, 11, 20))
    assert store.get(saved.id).first_response_at is None
    with pytest.raises(InputError, match="no anomaly #999"):
        store.get(999)


def test_expired_snoozes_reopen(store: AnomalyStore) -> None:
    (saved,) = store.save_detection(DetectionResult(new=(anomaly(),)), through=date(2026, 11, 13), at=AT).new
    store.snooze(saved.id, by="U_DEV", at=AT, until=date(2026, 11, 17))
    assert store.end_expired_snoozes(date(2026, 11, 16), at=AT) == []
    (reopened,) = store.end_expired_snoozes(date(2026, 11, 17), at=AT)
    assert (reopened.state, reopened.answer) == ("open", "snoozed")
    assert store.history(saved.id)[-1].action == "snooze_ended"


def test_timings_and_digest_lines_fit_the_scorecard_and_digest(store: AnomalyStore) -> None:
    increase, drop = anomaly(), anomaly(scope="series|AWS|111100000001|AWS Lambda|payments|Usage",
                                        direction="decrease", impact=-500.0)
    saved = store.save_detection(DetectionResult(new=(increase, drop)), through=date(2026, 11, 13), at=AT).new
    posted = AT + timedelta(minutes=1)
    store.mark_posted(saved[0].id, channel="#team-payments", message_key="anomaly:1", at=posted, step=1000,
                      routed_to_owner=True)
    store.acknowledge(saved[0].id, by="U_PAY", at=AT + timedelta(hours=3))
    (timing,) = [AlertTiming(**t) for t in store.alert_timings()]  # the decrease does not alert
    assert timing == AlertTiming(anomaly_id=saved[0].id, team="payments", cost_day=date(2026, 11, 11),
                                 detected_at=AT, posted_at=posted, first_response_at=AT + timedelta(hours=3),
                                 routed_to_owner=True, impact=1234.56,
                                 scope="Amazon EC2 in 111100000001 (us-east-1)")
    assert timing.hours_to_alert == pytest.approx(4 * 24 + 9 + 1 / 60)
    assert [AnomalyLine(**line) for line in store.digest_lines()] == [
        AnomalyLine(saved[0].id, "payments", "Amazon EC2 in 111100000001 (us-east-1)", date(2026, 11, 11),
                    1234.56, "shift")]


def test_lists_filter_by_team_state_and_days(store: AnomalyStore) -> None:
    old = anomaly(date(2026, 9, 1), end=date(2026, 9, 3), detected_on=date(2026, 9, 1))
    new = anomaly(date(2026, 11, 11))
    other = anomaly(date(2026, 11, 12), scope="series|AWS|111100000002|Amazon OpenSearch|search|Usage", team="search")
    store.save_detection(DetectionResult(new=(old, new, other)), through=date(2026, 11, 13), at=AT)
    keys = lambda records: [r.key for r in records]  # noqa: E731
    assert keys(store.list_anomalies()) == [other.key, new.key]
    assert keys(store.list_anomalies(team="payments", open_only=False)) == [new.key, old.key]
    assert keys(store.list_anomalies(open_only=False, start=date(2026, 9, 2), end=date(2026, 9, 30))) == [old.key]


def test_imported_anomalies_keep_the_routed_team_and_update_on_reimport(store: AnomalyStore) -> None:
    aws = replace(anomaly(), key="aws:a-1", level="aws", kind="aws", team="unallocated", source="aws",
                  source_id="a-1", series=())
    first = store.save_imported([(aws, "payments")], at=AT)
    assert [(r.team, r.source, r.external_id, r.scope) for r in first.new] == [("payments", "aws", "a-1", "aws:a-1")]
    again = store.save_imported([(replace(aws, impact=99.0, actual_cost=4099.0, end=date(2026, 11, 14)), "payments")],
                                at=AT)
    assert again.new == [] and [r.impact for r in again.ended] == [Decimal("99.00")]
    assert store.detection_inputs(ended_since=date(2026, 1, 1)) == ([], [])  # AWS's own are not fed to our detector


def test_a_detection_run_is_claimed_once(store: AnomalyStore) -> None:
    assert not store.has_finished_run() and store.last_run_through() is None
    assert store.claim_run(date(2026, 11, 15), as_of=date(2026, 11, 16), by="host:1", at=AT)
    assert not store.claim_run(date(2026, 11, 15), as_of=date(2026, 11, 16), by="host:2", at=AT)
    assert not store.has_finished_run()
    store.release_run(date(2026, 11, 15))  # the run failed: the day may be claimed again
    assert store.claim_run(date(2026, 11, 15), as_of=date(2026, 11, 16), by="host:2", at=AT)
    store.finish_run(date(2026, 11, 15), as_of=date(2026, 11, 16), by="host:1", at=AT, new=2, updated=1, ended=0)
    store.finish_run(date(2026, 11, 16), as_of=date(2026, 11, 17), by="cli", at=AT, new=0, updated=3, ended=0)
    assert store.has_finished_run() and store.last_run_through() == date(2026, 11, 16)


def test_scope_labels_read_as_words() -> None:
    dims = {"service": "Amazon EC2", "sub_account_id": "1111", "region": "us-east-1"}
    assert scope_label(dims) == "Amazon EC2 in 1111 (us-east-1)"
    assert scope_label({"sub_account_id": "1111", "charge_category": "Usage"}, "account") == "all services in 1111"
    assert scope_label({"service": "Amazon EC2", "charge_category": "Purchase"}, "service") == \
        "Amazon EC2 across accounts [Purchase]"


def test_two_acknowledges_at_the_same_moment_record_one_and_tell_the_other(store: AnomalyStore) -> None:
    # Two owners press Acknowledge at once: both read "not acknowledged yet" and both were recorded
    # (two audit entries, two thread replies). The row is locked before it is read: one is
    # recorded, the others learn who was first.
    (saved,) = store.save_detection(DetectionResult(new=(anomaly(),)), through=date(2026, 11, 13), at=AT).new
    start = threading.Barrier(4)
    outcomes: list[str] = []

    def press(user: str) -> None:
        start.wait()
        try:
            store.acknowledge(saved.id, by=user, at=AT + timedelta(hours=1))
            outcomes.append("recorded")
        except AlreadyAnswered as already:
            outcomes.append(f"told: {already.record.answered_by}")

    threads = [threading.Thread(target=press, args=(f"U{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    first = store.get(saved.id).answered_by
    assert sorted(outcomes) == ["recorded", *[f"told: {first}"] * 3]
    assert [e.action for e in store.history(saved.id)].count("acknowledged") == 1
