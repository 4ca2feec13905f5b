"""The daily detection job through the Slack harness: ingest -> detect -> one alert per anomaly in its
owner's channel, edited in place as it grows (thread replies at impact steps) and once more when
it ends; silenced ones stay quiet; the scheduled job runs once per completed day; a first run learns
the history; AWS's own anomalies are imported into the same store (botocore Stubber)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import boto3
import pandas as pd
import pytest
from botocore.stub import Stubber

import jobs.detect
from bot.blocks.anomalies import alert_key
from bot.variance_service import answer_question
from finops.model import UNALLOCATED
from jobs.detect import (
    detect_when_data_lands,
    impact_step,
    import_aws_anomalies,
    replay_anomalies,
    run_detection,
)
from jobs.ingest import ingest_cost_files
from storage.anomalies import AnomalyStore
from storage.costs import CostStore
from storage.db import Database
from tests.finops.sources.cost_file_helpers import write_csv
from tests.harness import RunningBot, start_bot
from tests.jobs.anomaly_data import FIRST_DAY, HEADER, SEARCH_ACCOUNT, SHIFT_FROM, focus_row, ingest_through

DAY_ONE = date(2026, 11, 16)  # data through the 14th


class Clock:
    """The bot's clock, moved by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def day(self, day: date, hour: int = 9) -> None:
        self.at = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 16, 9, tzinfo=UTC))


@pytest.fixture
def org(db: Database, fake_slack, clock, tmp_path):
    running = start_bot(db, fake_slack, now=clock)
    ingest_through(running.ctx, date(2026, 11, 14), tmp_path)
    try:
        yield running
    finally:
        running.stop()


def top_level(bot: RunningBot, channel: str) -> list[dict]:
    return [m for m in bot.slack.messages(channel) if not m.get("thread_ts") or m["thread_ts"] == m["ts"]]


def thread(bot: RunningBot, channel: str, parent: dict) -> list[str]:
    return [m["text"] for m in bot.slack.messages(channel) if m.get("thread_ts") == parent["ts"] and m["ts"] != parent["ts"]]


def test_each_alert_lands_once_in_its_owners_channel_and_is_edited_as_it_grows_and_ends(org, clock, tmp_path) -> None:
    slack, store = org.slack, AnomalyStore(org.ctx.db)
    run = run_detection(org.ctx, as_of=DAY_ONE)
    assert run.complete_through == date(2026, 11, 14)
    by_team = {r.team: r for r in run.saved.all}
    ec2, s3, drop = by_team["payments"], by_team[UNALLOCATED], by_team["search"]
    assert run.alerts == {ec2.id: "posted", s3.id: "posted", drop.id: "silent"}
    # exact figures: EC2 +$1,600 a day on the 12th..14th against $1,000 a day; S3 +$900 on the 14th
    assert (ec2.start, ec2.expected_cost, ec2.actual_cost, ec2.impact) == (SHIFT_FROM, 3000, 7800, 4800)
    assert (s3.start, s3.impact, drop.impact, drop.alert) == (date(2026, 11, 14), 900, -800, False)
    assert [(c.dimension, c.value, c.share) for c in ec2.root_cause if c.dimension == "ResourceId"] == [
        ("ResourceId", "i-bbb", 1.0), ("ResourceId", "i-aaa", 0.0)]

    (payments_alert,) = top_level(org, "#team-payments")
    (finops_alert,) = top_level(org, "#finops")
    with pytest.raises(KeyError):
        slack.messages("#team-search")  # the drop is recorded, not alerted
    assert payments_alert["text"] == ("Cost spike: Amazon EC2 in 111222330440 (us-east-1) for payments: "
                                      f"+$4,800.00 (+160%) so far, since 2026-11-12 (anomaly #{ec2.id})")
    assert payments_alert["metadata"]["event_payload"]["key"] == alert_key(ec2.id)
    assert len(payments_alert["blocks"]) <= 50
    buttons = [e["action_id"] for b in payments_alert["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["anomaly_ack", "anomaly_expected", "anomaly_not_ours", "anomaly_snooze_day",
                       "anomaly_snooze_week", "anomaly_open_finding"]
    assert [(f.filename, f.thread_ts) for f in slack.files("#team-payments")] == [
        (f"anomaly-{ec2.id}.png", payments_alert["ts"])]
    assert slack.files("#team-payments")[0].content.startswith(b"\x89PNG")
    posted = store.get(ec2.id)
    assert (posted.posted_at, posted.channel, posted.routed_to_owner, posted.announced_step) == (
        clock.at, "#team-payments", True, 2000)
    assert store.get(s3.id).routed_to_owner is False  # unallocated: the default channel

    # the same day again: nothing new reaches Slack
    calls = len(slack.all_calls())
    run_detection(org.ctx, as_of=DAY_ONE)
    assert len(slack.all_calls()) == calls

    # the next day: edited in place, and a thread reply where the impact crossed a step
    ingest_through(org.ctx, date(2026, 11, 15), tmp_path)
    clock.day(date(2026, 11, 17))
    run = run_detection(org.ctx, as_of=date(2026, 11, 17))
    assert run.alerts == {ec2.id: "grew", s3.id: "grew", drop.id: "silent"}
    assert [m["ts"] for m in top_level(org, "#team-payments")] == [payments_alert["ts"]]
    edited = slack.message("#team-payments", payments_alert["ts"])
    assert edited["text"].startswith("Cost shift: Amazon EC2 in 111222330440 (us-east-1) for payments: "
                                     "+$6,400.00 (+160%) so far")
    assert thread(org, "#team-payments", payments_alert) == [
        "Daily cost against the expected band (shaded: the anomaly's days)",
        ":arrow_up: Still growing: +$6,400.00 (+160%) through 2026-11-15 (past $5,000.00)."]
    assert len(slack.files("#team-payments")) == 1  # the chart is shared once

    # three normal days after the S3 spike: it ends, and its alert is edited once more
    ingest_through(org.ctx, date(2026, 11, 18), tmp_path)
    clock.day(date(2026, 11, 20))
    run = run_detection(org.ctx, as_of=date(2026, 11, 20))
    assert run.alerts[s3.id] == "updated" and s3.id in [r.id for r in run.saved.ended]
    resolved = store.get(s3.id)
    assert (resolved.state, resolved.end, resolved.impact) == ("resolved", date(2026, 11, 15), 1800)
    closed = slack.message("#finops", finops_alert["ts"])
    assert closed["blocks"][0]["text"]["text"].startswith("Resolved · Cost spike")
    updates = len(slack.calls("chat.update"))
    clock.day(date(2026, 11, 21))
    run_detection(org.ctx, as_of=date(2026, 11, 21))
    assert s3.id not in run_detection(org.ctx, as_of=date(2026, 11, 21)).alerts  # over: left alone
    assert all(c["ts"] != finops_alert["ts"] for c in slack.calls("chat.update")[updates:])


def test_snoozed_and_expected_anomalies_grow_without_thread_replies(sqlite_db, fake_slack, clock, tmp_path) -> None:
    bot = start_bot(sqlite_db, fake_slack, now=clock)
    try:
        ingest_through(bot.ctx, date(2026, 11, 14), tmp_path)
        store = AnomalyStore(bot.ctx.db)
        first = run_detection(bot.ctx, as_of=DAY_ONE)
        ec2 = next(r for r in first.saved.all if r.team == "payments")
        s3 = next(r for r in first.saved.all if r.team == UNALLOCATED)
        store.snooze(ec2.id, by="U_PAY_DEV", at=clock.at, until=date(2026, 11, 18))
        store.expect(s3.id, by="U_FINANCE", at=clock.at, reason="backfill of the data lake")
        ingest_through(bot.ctx, date(2026, 11, 15), tmp_path)
        run = run_detection(bot.ctx, as_of=date(2026, 11, 17))
        assert (run.alerts[ec2.id], run.alerts[s3.id]) == ("updated", "updated")
        assert [m for m in fake_slack.messages("#team-payments") if m.get("thread_ts") and "Still" in m["text"]] == []
        # the snooze runs out on the 18th: the next growth past a step is announced again
        run = run_detection(bot.ctx, as_of=date(2026, 11, 18))
        assert store.get(ec2.id).state == "open"
        assert store.history(ec2.id)[-1].action == "snooze_ended"
        assert run.alerts[ec2.id] == "grew"
    finally:
        bot.stop()


def test_an_expected_scope_is_not_alerted_again_until_the_day_given(sqlite_db, fake_slack, clock, tmp_path) -> None:
    bot = start_bot(sqlite_db, fake_slack, now=clock)
    try:
        spikes = (date(2026, 11, 14), date(2026, 11, 15), date(2026, 11, 25))
        ingest_through(bot.ctx, date(2026, 11, 14), tmp_path, spike_days=spikes)
        store = AnomalyStore(bot.ctx.db)
        s3 = next(r for r in run_detection(bot.ctx, as_of=DAY_ONE).saved.all if r.team == UNALLOCATED)
        store.expect(s3.id, by="U_FINANCE", at=clock.at, reason="monthly reprocessing", until=date(2026, 11, 30))
        ingest_through(bot.ctx, date(2026, 11, 25), tmp_path, spike_days=spikes)
        assert s3.id in [r.id for r in run_detection(bot.ctx, as_of=date(2026, 11, 19)).saved.ended]
        run = run_detection(bot.ctx, as_of=date(2026, 11, 26))
        (again,) = [r for r in run.saved.new if r.team == UNALLOCATED]
        assert (again.start, again.state, run.alerts[again.id]) == (date(2026, 11, 25), "expected", "silent")
        assert len([m for m in top_level(bot, "#finops")]) == 1
    finally:
        bot.stop()


def test_a_first_run_learns_the_events_already_in_the_history(sqlite_db, fake_slack, clock, tmp_path) -> None:
    """A spike that ended weeks ago is stored resolved and never alerted; the shift going on now is
    alerted once, from its real first day."""
    bot = start_bot(sqlite_db, fake_slack, now=clock)
    try:
        spikes = (date(2026, 10, 1), date(2026, 10, 2), date(2026, 11, 14))
        ingest_through(bot.ctx, date(2026, 11, 14), tmp_path, spike_days=spikes)
        run = run_detection(bot.ctx, as_of=DAY_ONE)
        records = AnomalyStore(bot.ctx.db).list_anomalies(open_only=False)
        assert [(r.team, r.start, r.end, r.state, r.posted_at is not None) for r in records] == [
            (UNALLOCATED, date(2026, 11, 14), None, "open", True),
            ("search", date(2026, 11, 13), None, "open", False),
            ("payments", SHIFT_FROM, None, "open", True),
            (UNALLOCATED, date(2026, 10, 1), date(2026, 10, 2), "resolved", False)]
        assert sorted(run.alerts.values()) == ["posted", "posted", "silent"]
        assert len(top_level(bot, "#finops")) == 1
    finally:
        bot.stop()


def test_new_spend_in_a_new_region_is_one_alert_not_one_per_scope_above_it(sqlite_db, fake_slack, clock,
                                                                           tmp_path) -> None:
    """Search's OpenSearch opens a second region: the region's new spend is the event; its series
    and the account roll-up (all of search's services there) rise with it but are not alerted again."""
    bot = start_bot(sqlite_db, fake_slack, now=clock)
    try:
        rows, day = [], FIRST_DAY
        while day <= date(2026, 11, 14):
            rows.append(focus_row(day, SEARCH_ACCOUNT, "Amazon OpenSearch Service", "ESInstance", "search-main", 600.0))
            rows.append(focus_row(day, SEARCH_ACCOUNT, "Amazon OpenSearch Service", "ESInstance", "search-west", 20.0,
                                  region="us-west-2"))
            rows.append(focus_row(day, SEARCH_ACCOUNT, "Amazon EC2", "BoxUsage", "i-search", 400.0))
            if day >= date(2026, 11, 12):
                rows.append(focus_row(day, SEARCH_ACCOUNT, "Amazon OpenSearch Service", "ESInstance", "search-eu",
                                      470.0, region="eu-west-1"))
            day += timedelta(days=1)
        path = write_csv(tmp_path / "costs.csv", HEADER, rows)
        ingest_cost_files(CostStore(bot.ctx.db), bot.ctx.teams, [path], today=date(2026, 11, 16))
        run = run_detection(bot.ctx, as_of=DAY_ONE)
        assert [(r.level, r.kind, r.dimensions.get("region"), r.impact) for r in run.saved.all] == [
            ("region", "new_spend", "eu-west-1", 3 * 470)]
        assert len(top_level(bot, "#team-search")) == 1
    finally:
        bot.stop()


def test_the_scheduled_job_runs_once_per_completed_day(sqlite_db, fake_slack, clock, tmp_path, monkeypatch) -> None:
    bot = start_bot(sqlite_db, fake_slack, now=clock)
    try:
        assert detect_when_data_lands(bot.ctx) is None  # no data yet
        ingest_through(bot.ctx, date(2026, 11, 14), tmp_path)
        with monkeypatch.context() as broken:  # a failed run gives its day back for the next check
            broken.setattr(jobs.detect, "detect_anomalies", lambda *args, **kwargs: 1 / 0)
            with pytest.raises(ZeroDivisionError):
                detect_when_data_lands(bot.ctx)
        run = detect_when_data_lands(bot.ctx)
        assert run is not None and run.complete_through == date(2026, 11, 14)
        clock.at += timedelta(minutes=30)
        assert detect_when_data_lands(bot.ctx) is None  # the same day is not detected twice
        assert len(fake_slack.calls("chat.postMessage")) == 2
        ingest_through(bot.ctx, date(2026, 11, 15), tmp_path)
        clock.day(date(2026, 11, 17))
        again = detect_when_data_lands(bot.ctx)
        assert again is not None and again.complete_through == date(2026, 11, 15)
    finally:
        bot.stop()


def test_replay_is_an_analysis_and_leaves_the_store_alone(sqlite_db, fake_slack, clock, tmp_path) -> None:
    bot = start_bot(sqlite_db, fake_slack, now=clock)
    try:
        ingest_through(bot.ctx, date(2026, 11, 15), tmp_path)
        raised = replay_anomalies(bot.ctx, date(2026, 11, 1), date(2026, 11, 15))
        assert [(a.team, a.start, a.detected_on) for a in raised] == [
            ("payments", SHIFT_FROM, SHIFT_FROM), ("search", date(2026, 11, 13), date(2026, 11, 13)),
            (UNALLOCATED, date(2026, 11, 14), date(2026, 11, 14))]
        assert AnomalyStore(bot.ctx.db).list_anomalies(open_only=False) == []
        assert fake_slack.all_calls() == []
    finally:
        bot.stop()


def test_variance_answers_name_the_stored_anomalies(sqlite_db, fake_slack, clock, tmp_path) -> None:
    bot = start_bot(sqlite_db, fake_slack, now=clock)
    try:
        ingest_through(bot.ctx, date(2026, 11, 14), tmp_path)
        ec2 = next(r for r in run_detection(bot.ctx, as_of=DAY_ONE).saved.all if r.team == "payments")
        answer = answer_question(bot.ctx.db, "team=payments 2026-11-12..2026-11-14", today=DAY_ONE)
        assert answer.delta == Decimal("4800.00")
        (item,) = answer.explained_by
        assert (item.explainer.kind, item.explainer.id, item.explainer.state, item.in_a, item.in_b, item.amount) == (
            "anomaly", ec2.id, "open", Decimal("4800.00"), Decimal("0.00"), Decimal("4800.00"))
        assert item.explainer.label == "spike in Amazon EC2 in 111222330440 (us-east-1)"
        assert answer.explained_share == 1.0
        everyone = answer_question(bot.ctx.db, "2026-11-12..2026-11-14", today=DAY_ONE)
        assert sorted(float(i.amount) for i in everyone.explained_by) == [-800.0, 900.0, 4800.0]
    finally:
        bot.stop()


def test_impact_steps_go_one_two_five() -> None:
    assert [impact_step(x) for x in (0.5, 99.99, 100, 199, 200, 499.5, 500, 4_999, 5_000, 12_345, -2_500)] == [
        0, 50, 100, 100, 200, 200, 500, 2_000, 5_000, 10_000, 2_000]


AWS_ANOMALY = {
    "AnomalyId": "a1b2c3", "AnomalyStartDate": "2026-11-12", "AnomalyEndDate": "2026-11-14",
    "DimensionValue": "Amazon Elastic Compute Cloud - Compute", "MonitorArn": "arn:aws:ce::1:anomalymonitor/m",
    "AnomalyScore": {"MaxScore": 0.9, "CurrentScore": 0.4},
    "Impact": {"MaxImpact": 900.0, "TotalImpact": 2100.5, "TotalActualSpend": 5100.5, "TotalExpectedSpend": 3000.0,
               "TotalImpactPercentage": 70.02},
    "RootCauses": [{"Service": "Amazon Elastic Compute Cloud - Compute", "Region": "us-east-1",
                    "LinkedAccount": "111222331441", "UsageType": "BoxUsage:c6i.4xlarge",
                    "Impact": {"Contribution": 2100.5}}],
}


def test_aws_anomalies_are_imported_routed_and_alerted_like_ours(sqlite_db, fake_slack, clock) -> None:
    bot = start_bot(sqlite_db, fake_slack, now=clock)
    try:
        client = boto3.client("ce", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        stub = Stubber(client)
        window = {"DateInterval": {"StartDate": "2026-11-01", "EndDate": "2026-11-16"}}
        still_open = {k: v for k, v in AWS_ANOMALY.items() if k != "AnomalyEndDate"}
        stub.add_response("get_anomalies", {"Anomalies": [still_open]}, window)
        stub.add_response("get_anomalies", {"Anomalies": [AWS_ANOMALY]}, window)
        with stub:
            saved, alerts = import_aws_anomalies(bot.ctx, client, date(2026, 11, 1), DAY_ONE)
            (record,) = saved.new
            assert (record.key, record.source, record.kind, record.team, record.impact) == (
                "aws:a1b2c3", "aws", "aws", "search", 2100.5)
            assert alerts == {record.id: "posted"}
            (alert,) = top_level(bot, "#team-search")
            assert "from AWS Cost Anomaly Detection (a1b2c3)" in str(alert["blocks"])
            saved, alerts = import_aws_anomalies(bot.ctx, client, date(2026, 11, 1), DAY_ONE)
        assert saved.new == [] and [r.end for r in saved.ended] == [date(2026, 11, 14)]
        assert alerts == {record.id: "updated"} and len(top_level(bot, "#team-search")) == 1
        assert AnomalyStore(bot.ctx.db).get(record.id).state == "resolved"
    finally:
        bot.stop()


def test_the_detection_loader_reads_what_the_full_daily_frame_holds(db: Database) -> None:
    """The lean scan detection reads (three integers per row, text attached per series) gives the
    same cost per day and detection column as the full daily frame, on both backends, with rows of
    one series and day from two sources kept apart (detection sums them) and days outside left out."""
    from finops.anomalies import DETECTION_COLUMNS
    from finops.model import DAY, conform_daily_frame
    from jobs.detect import load_detection_frame

    def frame(rows: list[tuple[str, str, str, float]]) -> object:
        return conform_daily_frame(pd.DataFrame({
            "ChargePeriodStart": [pd.Timestamp(d) for d, *_ in rows], "ProviderName": "AWS",
            "SubAccountId": [a for _, a, _, _ in rows], "ServiceName": [s for _, _, s, _ in rows],
            "ChargeCategory": "Usage", "RegionId": "us-east-1", "SkuId": "Box", "ResourceId": "i-1",
            "EffectiveCost": [c for *_, c in rows], "BilledCost": [c for *_, c in rows],
            "x_Team": [("payments" if a == "111" else "") for _, a, _, _ in rows]}))

    costs = CostStore(db)
    costs.replace_daily_costs("cur", frame([("2026-03-01", "111", "Amazon EC2", 10.25),
                                            ("2026-03-02", "111", "Amazon EC2", 11.50),
                                            ("2026-03-02", "222", "Amazon S3", 3.01),
                                            ("2026-03-03", "222", "Amazon S3", 99.0)]))
    costs.replace_daily_costs("marketplace", frame([("2026-03-02", "111", "Amazon EC2", 0.75)]))

    lean = load_detection_frame(costs, date(2026, 3, 1), date(2026, 3, 2))
    assert list(lean.columns) == [DAY, "EffectiveCost", *DETECTION_COLUMNS]
    assert all(isinstance(lean[c].dtype, pd.CategoricalDtype) for c in DETECTION_COLUMNS)
    assert len(lean) == 4  # the two sources' rows of EC2 on the 2nd stay two rows
    summed = (lean.groupby([DAY, "SubAccountId", "ServiceName", "x_Team"], observed=True)["EffectiveCost"].sum()
              .round(2).to_dict())
    assert summed == {(pd.Timestamp("2026-03-01"), "111", "Amazon EC2", "payments"): 10.25,
                      (pd.Timestamp("2026-03-02"), "111", "Amazon EC2", "payments"): 12.25,
                      (pd.Timestamp("2026-03-02"), "222", "Amazon S3", ""): 3.01}
    full = costs.load_daily_costs(start=date(2026, 3, 1), end=date(2026, 3, 2))
    assert round(float(full["EffectiveCost"].sum()), 2) == round(float(lean["EffectiveCost"].sum()), 2) == 25.51
    assert load_detection_frame(costs, date(2026, 4, 1), date(2026, 4, 30)).empty


def test_a_run_after_missed_days_detects_each_of_them_once(sqlite_db, fake_slack, clock, tmp_path) -> None:
    """The job was down from the 13th to the 21st: the run on the 22nd detects every day it missed,
    so the S3 spike that came and went meanwhile (14th-15th) is raised, already resolved, and told
    once; what it finds is what daily runs over those days would have found (the replay); the next
    day's run raises nothing again and edits instead of posting."""
    bot = start_bot(sqlite_db, fake_slack, now=clock)
    try:
        store = AnomalyStore(bot.ctx.db)
        ingest_through(bot.ctx, date(2026, 11, 11), tmp_path)
        clock.day(date(2026, 11, 13))
        assert run_detection(bot.ctx, as_of=date(2026, 11, 13)).saved.all == []

        ingest_through(bot.ctx, date(2026, 11, 20), tmp_path)
        clock.day(date(2026, 11, 22))
        run = run_detection(bot.ctx, as_of=date(2026, 11, 22))
        by_team = {r.team: r for r in run.saved.new}
        assert sorted(by_team) == ["payments", "search", UNALLOCATED] and len(run.saved.new) == 3
        ec2, s3, drop = by_team["payments"], by_team[UNALLOCATED], by_team["search"]
        assert (s3.start, s3.end, s3.state, s3.expected_cost, s3.actual_cost, s3.impact) == (
            date(2026, 11, 14), date(2026, 11, 15), "resolved", 600, 2400, 1800)
        assert (ec2.start, ec2.end, ec2.expected_cost, ec2.actual_cost, ec2.impact) == (
            SHIFT_FROM, None, 9000, 23400, 14400)  # nine days of +$1,600
        assert (drop.start, drop.end) == (date(2026, 11, 13), None)
        assert {r.detected_on for r in run.saved.new} == {date(2026, 11, 22)}  # found today
        assert run.alerts == {ec2.id: "posted", s3.id: "posted", drop.id: "silent"}
        (finops_alert,) = top_level(bot, "#finops")
        assert finops_alert["blocks"][0]["text"]["text"].startswith("Resolved · Cost spike")
        assert len(top_level(bot, "#team-payments")) == 1

        replayed = replay_anomalies(bot.ctx, date(2026, 11, 12), date(2026, 11, 20))
        assert sorted((a.key, a.start, a.end) for a in replayed) == sorted(
            (r.key, r.start, r.end) for r in run.saved.new)

        ingest_through(bot.ctx, date(2026, 11, 21), tmp_path)
        clock.day(date(2026, 11, 23))
        calls = len(fake_slack.calls("chat.postMessage"))
        run = run_detection(bot.ctx, as_of=date(2026, 11, 23))
        assert run.saved.new == [] and s3.id not in run.alerts
        assert run.alerts == {ec2.id: "updated", drop.id: "silent"}  # +$16,000: still under the $20,000 step
        assert len(store.list_anomalies(open_only=False)) == 3
        assert [len(top_level(bot, c)) for c in ("#finops", "#team-payments")] == [1, 1]
        assert len(fake_slack.calls("chat.postMessage")) == calls
        edited = fake_slack.message("#team-payments", top_level(bot, "#team-payments")[0]["ts"])
        assert "+$16,000.00 (+160%) so far" in edited["text"]
    finally:
        bot.stop()


def test_missed_days_start_after_the_last_finished_run_and_go_back_at_most_run_days() -> None:
    from finops.anomalies import RUN_DAYS
    from jobs.detect import missed_since

    today = date(2026, 11, 20)
    assert missed_since(None, today) == today  # a first run learns the history instead
    assert missed_since(today, today) == today  # the same day again
    assert missed_since(date(2026, 11, 25), today) == today  # an earlier day re-run by hand
    assert missed_since(date(2026, 11, 19), today) == today  # no day missed
    assert missed_since(date(2026, 11, 10), today) == date(2026, 11, 11)
    assert RUN_DAYS == 56 and missed_since(date(2026, 6, 1), today) == date(2026, 9, 25)  # 56 days back at most
