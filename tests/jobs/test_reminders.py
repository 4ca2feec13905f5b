"""Reminders for stalled findings: one DM per finding and reason (no storms, across days and replicas),
and the team's weekly-view lines."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, date, datetime

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from bot.context import AppContext
from finops.savings import Actor, FindingState
from jobs.reminders import schedule, send_reminders, stalled_findings, weekly_view_lines
from storage.db import Database
from storage.findings import FindingStore, NewFinding
from tests.jobs.test_verify import OWNER, flat, implemented, ingest, make_context, step, write_org

AT = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def ctx(db: Database) -> AppContext:
    return make_context(db)


def dms(ctx: AppContext) -> list[str]:
    """The reminder DMs the terminal transport printed, in order."""
    return [chunk for chunk in ctx.delivery.transport.stream.getvalue().split("\n── ") if "past its due date" in chunk]


def open_finding(ctx: AppContext, *, due: date | None = date(2026, 11, 10), team: str = "payments",
                 assignee: str | None = "U_PAY_DEV") -> int:
    finding = FindingStore(ctx.db).create(
        NewFinding("Delete idle volumes", team, {"service": "Amazon EBS"}, 300, assignee=assignee, due_on=due),
        by="U_PAY_OWNER", at=AT)
    return finding.id


def test_a_past_due_finding_gets_one_dm_and_a_weekly_line_every_week(ctx: AppContext):
    finding_id = open_finding(ctx)
    assert send_reminders(ctx, today=date(2026, 11, 10)) == []  # due today: not late yet
    (sent,) = send_reminders(ctx, today=date(2026, 11, 16))
    assert (sent.kind, sent.reason, sent.recipient) == ("past_due", "past_due:2026-11-10", "U_PAY_DEV")
    (dm,) = dms(ctx)
    assert dm.startswith("U_PAY_DEV ")
    assert ("Finding #1 Delete idle volumes (payments, identified): past its due date 2026-11-10 (6 days) and "
            "still identified: move it on, or reject it with a reason") in dm
    for day in (17, 18, 23):  # the daily job runs again: no storm
        assert send_reminders(ctx, today=date(2026, 11, day)) == []
    assert len(dms(ctx)) == 1
    assert weekly_view_lines(ctx, "payments", today=date(2026, 11, 23)) == [
        f"• *#{finding_id}* Delete idle volumes: past its due date 2026-11-10 (13 days) and still identified: "
        "move it on, or reject it with a reason"]
    assert weekly_view_lines(ctx, "search", today=date(2026, 11, 23)) == []


def test_a_finding_without_an_assignee_reminds_the_team_owner_and_one_without_anyone_only_has_its_line(
        ctx: AppContext):
    open_finding(ctx, assignee=None)
    open_finding(ctx, assignee=None, team="unallocated")
    sent = send_reminders(ctx, today=date(2026, 11, 16))
    assert [(r.finding.id, r.recipient) for r in sent] == [(1, "U_PAY_OWNER")]
    assert [r.reason for r in stalled_findings(ctx, today=date(2026, 11, 16))] == ["past_due:2026-11-10"] * 2
    assert FindingStore(ctx.db).reminders(2)[0][:2] == ("past_due:2026-11-10", None)
    assert send_reminders(ctx, today=date(2026, 11, 17)) == []


def test_moving_on_clears_the_line(ctx: AppContext):
    finding_id = open_finding(ctx)
    FindingStore(ctx.db).move(finding_id, "reject", actor=OWNER, at=AT, reason="DR copies")
    assert stalled_findings(ctx, today=date(2026, 11, 16)) == []


def test_implemented_with_no_movement_is_nudged_once_a_week_after(ctx: AppContext, tmp_path):
    ingest(ctx, write_org(tmp_path, flat(100.0)))
    finding_id = implemented(ctx)
    assert send_reminders(ctx, today=date(2026, 10, 27)) == []  # data through 10-26: six days after
    (sent,) = send_reminders(ctx, today=date(2026, 10, 28))
    assert (sent.kind, sent.reason, sent.recipient) == ("no_movement", "no_movement:2026-10-20", "U_PAY_OWNER")
    assert sent.detail == ("implemented on 2026-10-20, but its cost has not moved: $100.00/day before, $100.00/day "
                           "since (the estimate means about $32.85/day less). Is the change live? (verification "
                           "concludes with the data of 2026-11-03)")
    assert send_reminders(ctx, today=date(2026, 10, 29)) == []
    assert FindingStore(ctx.db).get(finding_id).state is FindingState.IMPLEMENTED


def test_implemented_with_its_cost_down_is_not_nudged(ctx: AppContext, tmp_path):
    ingest(ctx, write_org(tmp_path, step(100.0, 80.0)))  # $20/day down: more than half of the $32.85 estimated
    implemented(ctx)
    assert send_reminders(ctx, today=date(2026, 10, 28)) == []


def test_a_scope_with_no_cost_is_nudged(ctx: AppContext, tmp_path):
    ingest(ctx, write_org(tmp_path, flat(100.0)))
    implemented(ctx, scope={"service": ["Amazon Redshift"]})
    (sent,) = send_reminders(ctx, today=date(2026, 10, 28))
    assert "its scope matches no cost data: check its filters" in sent.detail


def test_replicas_sending_at_once_send_one_dm(ctx: AppContext):
    replicas = 3
    open_finding(ctx)
    barrier = threading.Barrier(replicas)
    sent: list = []

    def replica() -> None:
        barrier.wait()
        sent.extend(send_reminders(ctx, today=date(2026, 11, 16)))

    threads = [threading.Thread(target=replica) for _ in range(replicas)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(sent) == 1 and len(dms(ctx)) == 1


def test_schedule_runs_it_daily(ctx: AppContext):
    scheduler = BackgroundScheduler(timezone="UTC")
    schedule(scheduler, ctx)
    (job,) = scheduler.get_jobs()
    assert (job.id, str(job.trigger.fields[5]), str(job.trigger.fields[6])) == ("finding_reminders", "10", "0")


def test_a_finding_reassigned_after_its_reminder_reminds_its_new_assignee_once(ctx: AppContext):
    finding_id = open_finding(ctx)
    (first,) = send_reminders(ctx, today=date(2026, 11, 16))
    assert first.recipient == "U_PAY_DEV"
    FindingStore(ctx.db).move(finding_id, "reassign", actor=OWNER, at=AT, assignee="U_SEARCH_OWNER", team="search")
    (second,) = send_reminders(ctx, today=date(2026, 11, 17))
    assert (second.reason, second.recipient) == ("past_due:2026-11-10", "U_SEARCH_OWNER")
    assert [dm.split(" ")[0] for dm in dms(ctx)] == ["U_PAY_DEV", "U_SEARCH_OWNER"]
    assert send_reminders(ctx, today=date(2026, 11, 18)) == []
    FindingStore(ctx.db).move(finding_id, "reassign", actor=Actor("U_SEARCH_OWNER", on_team=True), at=AT,
                              assignee="U_PAY_DEV", team="payments")
    assert send_reminders(ctx, today=date(2026, 11, 19)) == []  # back to someone already told
    assert [(reason, to) for reason, to, _ in FindingStore(ctx.db).reminders(finding_id)] == [
        ("past_due:2026-11-10", "U_PAY_DEV"), ("past_due:2026-11-10@U_SEARCH_OWNER", "U_SEARCH_OWNER")]


def test_the_reminder_counts_the_due_date_on_the_schedules_day(db: Database):
    # 10:00 in Auckland on 16 Nov is 21:00 on the 15th in UTC: a finding due on the 15th is late
    # there (App Home marks it so), though not yet in UTC.
    auckland = dataclasses.replace(make_context(db), now=lambda: datetime(2026, 11, 15, 21, 0, tzinfo=UTC))
    auckland.settings = dataclasses.replace(auckland.settings, timezone="Pacific/Auckland")
    open_finding(auckland, due=date(2026, 11, 15))
    (sent,) = send_reminders(auckland)
    assert (sent.kind, sent.reason) == ("past_due", "past_due:2026-11-15")
    assert "past its due date 2026-11-15 (1 day)" in dms(auckland)[0]


def test_a_past_due_date_is_judged_on_the_schedules_day(db: Database):
    # The form and `costbot findings new --due` refuse a due date before the day the reminders and
    # App Home count on: in Auckland the 15th is already past at 21:00 UTC on the 15th; in Los
    # Angeles at 01:00 UTC on the 16th it is still the 15th.
    from bot.services.findings import past_due_date_error

    def at(now: datetime, zone: str) -> AppContext:
        ctx = dataclasses.replace(make_context(db), now=lambda: now)
        ctx.settings = dataclasses.replace(ctx.settings, timezone=zone)
        return ctx

    auckland = at(datetime(2026, 11, 15, 21, 0, tzinfo=UTC), "Pacific/Auckland")
    assert past_due_date_error(auckland, date(2026, 11, 15)) == (
        "the due date 2026-11-15 is in the past (today is 2026-11-16): pick a later day")
    assert past_due_date_error(auckland, date(2026, 11, 16)) is None
    los_angeles = at(datetime(2026, 11, 16, 1, 0, tzinfo=UTC), "America/Los_Angeles")
    assert past_due_date_error(los_angeles, date(2026, 11, 15)) is None
    assert past_due_date_error(los_angeles, None) is None
