"""The weekly digest through the Slack harness: every team's digest in its channel once per ISO week,
charts uploaded, within Block Kit limits with 50 teams and 200 open findings ("Show more"); the
persistent schedule (a missed run runs once on start, never twice); two replica processes on the
real PostgreSQL post each digest once."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from bot.blocks.digest import MORE_ACTION
from finops.digest import week_reported
from jobs.digest import CATCH_UP_JOB_ID, JOB_ID, catch_up_digests, post_weekly_digests, schedule
from jobs.scheduler import PERSISTENT
from storage.db import Database
from storage.digests import DigestRunStore, scheduled_next_run
from storage.findings import FindingStore, NewFinding
from storage.tables.digests import SCHEDULER_JOB_TABLE
from tests.conftest import make_database
from tests.handlers.test_commands import wait_for
from tests.harness import start_bot
from tests.jobs.digest_data import (
    MONDAY_9AM,
    TEAMS_YAML,
    break_digest_of,
    cost_rows,
    flat_history,
    running_org,
    store_costs,
    teams_config,
)
from tests.slack.fake_slack import FakeSlack

NOW = MONDAY_9AM  # the org fixture's clock
ROOT = Path(__file__).resolve().parents[2]


def keys(slack: FakeSlack, method: str = "chat.postMessage") -> list[str]:
    return [c["metadata"]["event_payload"]["key"] for c in slack.calls(method) if "metadata" in c]


@pytest.fixture
def org(sqlite_db: Database, fake_slack):
    with running_org(sqlite_db, fake_slack, payments_rose_last_week=True) as running:
        yield running


def test_each_digest_lands_in_its_channel_once_per_week_with_its_chart(org) -> None:
    slack = org.slack
    posted = post_weekly_digests(org.ctx)
    assert [d.message.key for d in posted] == ["digest:payments:2026-W46", "digest:search:2026-W46",
                                               "digest-org:2026-W46"]
    assert keys(slack) == ["digest:payments:2026-W46", "digest:search:2026-W46", "digest-org:2026-W46"]
    payments = slack.messages("#team-payments")
    assert payments[0]["text"] == ("payments weekly digest, Week 46 · 9–15 Nov 2026: $890.40 "
                                   "(+$428.40 vs the week before)")
    summary = payments[0]["blocks"][1]["text"]["text"]
    assert summary.startswith("*Last week* $890.40 (+$428.40, +92.7 % vs $462.00)\n*November 2026 to date* "
                              "$1,418.40 of the $2,300.00 budget (62 %, through 15 Nov)")
    assert ":red_circle: 145 % of budget" in summary  # forecast $3,326.40
    assert slack.messages("#team-search")[0]["text"].startswith("search weekly digest, Week 46")
    org_blocks = slack.messages("#finops")[0]["blocks"]
    assert org_blocks[0]["text"]["text"] == "Organisation · Week 46 · 9–15 Nov 2026"
    assert any(b["type"] == "header" and b["text"]["text"].startswith("FinOps maturity:") for b in org_blocks)
    # One chart per digest, in the digest's thread.
    for channel, name in (("#team-payments", "digest-payments-2026-W46.png"),
                          ("#team-search", "digest-search-2026-W46.png"), ("#finops", "digest-org-2026-W46.png")):
        [chart] = slack.files(channel)
        assert chart.filename == name and chart.content.startswith(b"\x89PNG")
        assert chart.thread_ts == slack.messages(channel)[0]["ts"]
    assert [(r.team, r.audience, r.posted_at is not None) for r in DigestRunStore(org.ctx.db).runs("2026-W46")] == [
        ("payments", "team", True), ("search", "team", True), ("", "org", True)]

    # The same week again (a restart, a second replica, a manual run): nothing is posted.
    calls = len(slack.all_calls())
    assert post_weekly_digests(org.ctx, today=date(2026, 11, 18)) == []
    assert len(slack.all_calls()) == calls
    # The next week is a new digest.
    assert [d.message.key for d in post_weekly_digests(org.ctx, today=date(2026, 11, 23), org=False)] == [
        "digest:payments:2026-W47", "digest:search:2026-W47"]


def test_the_org_digest_shows_unallocated_spend_and_its_untagged_drivers_once(org) -> None:
    post_weekly_digests(org.ctx)
    sections = [b["text"]["text"] for b in org.slack.messages("#finops")[0]["blocks"] if b["type"] == "section"]
    [unallocated] = [s for s in sections if s.startswith("*Unallocated*")]
    assert unallocated.startswith("*Unallocated* $7.00 ($0.00, +0.0 % vs $7.00)\n*Top untagged cost drivers* of the week\n")
    assert sum(s.count("*Top untagged cost drivers*") for s in sections) == 1


def test_a_failing_digest_is_released_and_the_others_still_go_out(org, monkeypatch) -> None:
    mend = break_digest_of(monkeypatch, "search")
    posted = post_weekly_digests(org.ctx)
    assert [d.message.key for d in posted] == ["digest:payments:2026-W46", "digest-org:2026-W46"]
    assert [(r.team, r.claimed_by) for r in DigestRunStore(org.ctx.db).pending("2026-W46")] == [("search", "")]
    # The hourly catch-up tries again, in vain while it still fails, then posts it once.
    assert catch_up_digests(org.ctx) == []
    mend()
    assert [d.message.key for d in catch_up_digests(org.ctx)] == ["digest:search:2026-W46"]
    assert catch_up_digests(org.ctx) == [] and post_weekly_digests(org.ctx) == []
    assert keys(org.slack) == ["digest:payments:2026-W46", "digest-org:2026-W46", "digest:search:2026-W46"]


def test_the_catch_up_posts_what_a_crashed_run_claimed_and_nothing_else(org) -> None:
    runs = DigestRunStore(org.ctx.db)
    # Before the week's run nothing is pending: the catch-up does not post ahead of the schedule.
    assert catch_up_digests(org.ctx) == [] and runs.runs() == []
    # A run claimed everything at 09:00 and died: within 30 minutes the claims are still its own.
    for team, channel in (("payments", "#team-payments"), ("search", "#team-search")):
        runs.claim("2026-W46", "team", team, channel=channel, message_key=f"digest:{team}:2026-W46", by="dead:1",
                   at=NOW - timedelta(minutes=10))
    runs.claim("2026-W46", "org", "", channel="#finops", message_key="digest-org:2026-W46", by="dead:1",
               at=NOW - timedelta(minutes=10))
    assert catch_up_digests(org.ctx) == []
    later = dataclasses.replace(org.ctx, now=lambda: NOW + timedelta(minutes=45))
    posted = catch_up_digests(later)
    assert [d.message.key for d in posted] == ["digest:payments:2026-W46", "digest:search:2026-W46",
                                               "digest-org:2026-W46"]
    assert keys(org.slack) == [d.message.key for d in posted] and len(org.slack.files()) == 3
    assert runs.pending("2026-W46") == [] and catch_up_digests(later) == []
    # From the next run day on, the catch-up looks after the next week only.
    runs.claim("2026-W47", "team", "search", channel="#team-search", message_key="digest:search:2026-W47",
               by="dead:2", at=NOW + timedelta(days=7))
    runs.release("2026-W47", "team", "search", by="dead:2")
    sunday = dataclasses.replace(org.ctx, now=lambda: NOW + timedelta(days=6))
    assert week_reported(sunday.schedule_today()).label == "2026-W46" and catch_up_digests(sunday) == []
    next_monday = dataclasses.replace(org.ctx, now=lambda: NOW + timedelta(days=7, hours=1))
    assert [d.message.key for d in catch_up_digests(next_monday)] == ["digest:search:2026-W47"]


def test_the_catch_up_runs_hourly(org) -> None:
    scheduler = persistent_scheduler(org.ctx.db)
    schedule(scheduler, org.ctx)
    [job] = [j for j in scheduler.get_jobs() if j.id == CATCH_UP_JOB_ID]
    assert [str(f) for f in job.trigger.fields][5:7] == ["*", "45"]
    assert job.func is catch_up_digests and job.args == (org.ctx,)


def test_fifty_teams_and_two_hundred_open_findings_stay_within_limits(sqlite_db: Database, fake_slack,
                                                                      monkeypatch) -> None:
    # Charts are checked above; here 50 of them would only cost time.
    monkeypatch.setattr("jobs.digest.team_week_chart", lambda digest: b"\x89PNG team chart")
    names = [f"team-{i:02d}" for i in range(50)]
    yaml = 'default_channel: "#finops"\nteams:\n' + "".join(
        f'  - name: {n}\n    channel: "#{n}"\n    budget_monthly: 5000\n    match:\n      - sub_account_id: "{i:03d}"\n'
        for i, n in enumerate(names))
    running = start_bot(sqlite_db, fake_slack, teams_yaml=yaml, now=lambda: NOW)
    try:
        base = cost_rows(date(2026, 9, 1), date(2026, 11, 15))
        base = base[base["SubAccountId"] == "222"]
        frames = []
        for i in range(50):
            part = base.assign(SubAccountId=f"{i:03d}", EffectiveCost=10.0 + i, BilledCost=10.0 + i)
            frames.append(part)
        store_costs(sqlite_db, running.ctx.teams, pd.concat(frames), complete_through=date(2026, 11, 15))
        findings = FindingStore(sqlite_db)
        for k in range(200):
            findings.create(NewFinding(f"Rightsize cluster {k:03d}", "team-07", {"service": "Amazon S3"}, 10 + k),
                            by="U1", at=NOW - timedelta(days=3))
        posted = post_weekly_digests(running.ctx)
        assert len(posted) == 51
        for call in fake_slack.calls("chat.postMessage"):
            assert len(call["blocks"]) <= 50
        assert fake_slack.violations == []
        team7 = fake_slack.messages("#team-07")[0]
        [button] = [e for b in team7["blocks"] if b["type"] == "actions" for e in b["elements"]]
        assert button["text"]["text"] == "Show all 200 open findings"
        assert "#200 Rightsize cluster 199: $209.00/month, identified" in json.dumps(team7["blocks"])
        org_message = fake_slack.messages("#finops")[0]
        [teams_button] = [e for b in org_message["blocks"] if b["type"] == "actions" for e in b["elements"]]
        assert teams_button["text"]["text"] == "Show all 50 teams"

        for pressed, expected_title, expected_lines in ((button, "team-07: 200 open findings", 200),
                                                        (teams_button, "Every team by its change", 50)):
            url = fake_slack.response_url()
            response = running.client.action(MORE_ACTION, pressed["value"], user_id="U_ANYONE", response_url=url)
            assert response.status == 200
            answer = wait_for(lambda url=url: fake_slack.response_url_calls(url), timeout=20)[0]
            assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
            assert answer["blocks"][0]["text"]["text"].startswith(expected_title)
            lines = sum(b["text"]["text"].count("\n") + 1 for b in answer["blocks"] if b["type"] == "section")
            assert lines == expected_lines and len(answer["blocks"]) <= 50
        assert fake_slack.violations == []
    finally:
        running.stop()


def persistent_scheduler(db: Database) -> BackgroundScheduler:
    return BackgroundScheduler(timezone="UTC", jobstores={
        "default": MemoryJobStore(), PERSISTENT: SQLAlchemyJobStore(engine=db.engine, tablename=SCHEDULER_JOB_TABLE)})


def simulate_downtime(db: Database, ctx, *, due: datetime) -> None:
    """Leave the digest job stored as a bot that was down when it fell due leaves it.

    A bot runs and stops (the store holds the next Monday 09:00); then the stored job's run time
    is moved to ``due`` in the past through the job store itself (its pickled state and the
    indexed column together), with no scheduler loop running: a loop would pick a due job up
    while shutting down.
    """
    first = persistent_scheduler(db)
    schedule(first, ctx)
    first.start()
    first.shutdown()
    store = SQLAlchemyJobStore(engine=db.engine, tablename=SCHEDULER_JOB_TABLE)
    store.start(BackgroundScheduler(timezone="UTC"), PERSISTENT)
    job = store.lookup_job(JOB_ID)
    state = job.__getstate__()
    state["next_run_time"] = due
    job.__setstate__(state)
    store.update_job(job)
    assert scheduled_next_run(db, JOB_ID) == due


def test_a_missed_run_runs_once_on_start_and_never_twice(org) -> None:
    ctx, slack = org.ctx, org.slack
    simulate_downtime(ctx.db, ctx, due=datetime.now(UTC) - timedelta(hours=5))

    restarted = persistent_scheduler(ctx.db)
    schedule(restarted, ctx)
    restarted.start()
    try:
        wait_for(lambda: len(slack.files()) == 3, timeout=60)
    finally:
        restarted.shutdown()
    assert keys(slack) == ["digest:payments:2026-W46", "digest:search:2026-W46", "digest-org:2026-W46"]
    # The store now holds the next Monday 09:00, not the missed run.
    following = scheduled_next_run(ctx.db, JOB_ID)
    assert following > datetime.now(UTC) and (following.weekday(), following.hour) == (0, 9)

    again = persistent_scheduler(ctx.db)
    schedule(again, ctx)
    again.start()
    time.sleep(1.5)
    again.shutdown()
    assert len(slack.calls("chat.postMessage")) == 3
    assert scheduled_next_run(ctx.db, JOB_ID) == following


def test_the_schedule_follows_teams_yml_and_the_time_zone_setting(org) -> None:
    from finops.teams import DigestSchedule

    ctx = dataclasses.replace(org.ctx, teams=dataclasses.replace(
        org.ctx.teams, digest=DigestSchedule(cron="30 7 * * FRI", timezone="Europe/Paris")))
    scheduler = persistent_scheduler(ctx.db)
    schedule(scheduler, ctx)
    [job] = [j for j in scheduler.get_jobs() if j.id == JOB_ID]
    assert (str(job.trigger.timezone), [str(f) for f in job.trigger.fields][4:7]) == ("Europe/Paris", ["fri", "7", "30"])
    ctx = dataclasses.replace(ctx, settings=dataclasses.replace(ctx.settings, timezone="America/New_York"))
    scheduler = persistent_scheduler(ctx.db)
    schedule(scheduler, ctx)
    assert str(scheduler.get_job(JOB_ID).trigger.timezone) == "America/New_York"


@pytest.mark.postgres
@pytest.mark.parametrize("mode", ["scheduler", "direct"])
def test_two_replica_processes_post_each_digest_once(request, tmp_path, fake_slack, mode) -> None:
    """``scheduler``: both run the production scheduler on the shared job store, the missed run due;
    ``direct``: both run the digest job at the same instant (both schedulers fired at 09:00)."""
    db = make_database("postgres", request, tmp_path)
    try:
        running = start_bot(db, fake_slack, teams_yaml=TEAMS_YAML, now=lambda: NOW)
        try:
            flat_history(db, teams_config(), through=date(2026, 11, 15))
            simulate_downtime(db, running.ctx, due=datetime.now(UTC) - timedelta(minutes=5))
        finally:
            running.stop()
        start_at = time.time() + 6  # both processes import and schedule first, then start together
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        replicas = [subprocess.Popen([sys.executable, "-m", "tests.jobs.digest_replica", db.url, fake_slack.base_url,
                                      str(start_at), mode], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outcomes = []
        for replica in replicas:
            out, err = replica.communicate(timeout=120)
            assert replica.returncode == 0, err[-3000:]
            outcomes.append(json.loads(out.strip().splitlines()[-1]))
        assert all("error" not in o for o in outcomes), outcomes
        assert any(o["ran"] for o in outcomes) if mode == "scheduler" else all(o["ran"] for o in outcomes)
        # Whichever replicas ran the job, each digest was posted by exactly one of them, once.
        posted = sorted(key for o in outcomes for key in o["posted"])
        assert posted == ["digest-org:2026-W46", "digest:payments:2026-W46", "digest:search:2026-W46"]
        assert sorted(keys(fake_slack)) == posted
        assert len(fake_slack.files()) == 3
        claims = DigestRunStore(db).runs("2026-W46")
        assert len(claims) == 3 and all(c.posted_at is not None for c in claims)
    finally:
        db.dispose()


def test_open_anomalies_from_the_anomaly_store_are_in_the_team_digest(org) -> None:
    from tests.bot.test_cli_maturity import save_alerted_anomaly

    anomaly_id = save_alerted_anomaly(org.ctx.db)
    post_weekly_digests(org.ctx, org=False)
    blocks = org.slack.messages("#team-payments")[0]["blocks"]
    anomalies = next(b["text"]["text"] for b in blocks
                     if b["type"] == "section" and b["text"]["text"].startswith("*Open anomalies*"))
    assert anomalies == (f"*Open anomalies* (1, +$122.40 so far)\n• #{anomaly_id} Amazon EC2 in 111: +$122.40 since "
                         "09 Nov (spike)")
    search = org.slack.messages("#team-search")[0]["blocks"]
    assert any(b["type"] == "section" and b["text"]["text"] == "*Open anomalies*: none" for b in search)


def test_a_team_with_no_spend_budgeted_gets_its_digest(sqlite_db: Database, fake_slack) -> None:
    teams_yaml = TEAMS_YAML.replace("budget_monthly: 1500", "budget_monthly: 0")
    running = start_bot(sqlite_db, fake_slack, teams_yaml=teams_yaml, now=lambda: NOW)
    try:
        flat_history(sqlite_db, teams_config(teams_yaml))
        posted = post_weekly_digests(running.ctx)
        assert [d.message.key for d in posted] == ["digest:payments:2026-W46", "digest:search:2026-W46",
                                                   "digest-org:2026-W46"]
        # Search: $33 a day, $495 through Nov 15, $990 forecast, against a $0 budget.
        summary = fake_slack.messages("#team-search")[0]["blocks"][1]["text"]["text"]
        assert summary.splitlines()[1] == ("*November 2026 to date* $495.00 (through 15 Nov; no spend budgeted) · "
                                           "month-end forecast $990.00: :red_circle: no spend budgeted")
        ranking = next(b["text"]["text"] for b in fake_slack.messages("#finops")[0]["blocks"]
                       if b["type"] == "section" and b["text"]["text"].startswith("*Teams by change*"))
        assert "*search*: $231.00, $0.00 (+0.0 %) · :red_circle: no spend budgeted" in ranking.splitlines()
        assert not any("inf %" in json.dumps(m["blocks"]) for m in fake_slack.calls("chat.postMessage"))
    finally:
        running.stop()


def test_a_week_the_cost_data_does_not_reach_is_not_reported_as_zero(sqlite_db: Database, fake_slack) -> None:
    monday = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # reports week 47 (16-22 Nov)
    running = start_bot(sqlite_db, fake_slack, teams_yaml=TEAMS_YAML, now=lambda: monday)
    try:
        flat_history(sqlite_db, teams_config(), through=date(2026, 10, 31))
        posted = post_weekly_digests(running.ctx)
        assert [d.message.key for d in posted] == ["digest:payments:2026-W47", "digest:search:2026-W47",
                                                   "digest-org:2026-W47"]
        payments = fake_slack.messages("#team-payments")[0]
        assert payments["text"] == "payments weekly digest, Week 47 · 16–22 Nov 2026: no cost data for this week yet"
        sections = [b["text"]["text"] for b in payments["blocks"] if b["type"] == "section"]
        assert sections[0] == (":hourglass_flowing_sand: *No cost data for this week yet*: the data ends 31 Oct "
                               "(`costbot ingest status`).")
        assert sections[1:] == ["*Open anomalies*: none", "*Findings*: none yet. `/cost finding new` opens one.",
                                "*Savings realized a month, findings verified in Q4 2026*: $0.00/month from 0 findings"]
        org_blocks = fake_slack.messages("#finops")[0]["blocks"]
        assert org_blocks[1]["text"]["text"].startswith(":hourglass_flowing_sand: *No cost data for this week yet*")
        assert not any("Last week" in json.dumps(m["blocks"]) or "Teams by change" in json.dumps(m["blocks"])
                       for m in fake_slack.calls("chat.postMessage"))
        assert any(b["type"] == "header" and b["text"]["text"].startswith("FinOps maturity:") for b in org_blocks)
        assert fake_slack.files() == []  # no chart of a week without data
    finally:
        running.stop()


def test_a_placeholder_becomes_the_full_digest_in_place_once_the_weeks_data_is_in(sqlite_db: Database,
                                                                                   fake_slack) -> None:
    monday = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # reports week 47 (16-22 Nov)
    running = start_bot(sqlite_db, fake_slack, teams_yaml=TEAMS_YAML, now=lambda: monday)
    try:
        teams = teams_config()
        flat_history(sqlite_db, teams, through=date(2026, 11, 15))
        wanted = ["digest:payments:2026-W47", "digest:search:2026-W47", "digest-org:2026-W47"]
        posted = post_weekly_digests(running.ctx)
        assert [(d.message.key, d.placeholder) for d in posted] == [(key, True) for key in wanted]
        placeholder = fake_slack.messages("#team-payments")[0]
        assert placeholder["text"].endswith("no cost data for this week yet") and fake_slack.files() == []
        # Not posted yet: the claims are released, for the next run to complete.
        runs = DigestRunStore(sqlite_db)
        assert [(r.message_key, r.claimed_by) for r in runs.pending("2026-W47")] == [(key, "") for key in wanted]
        # An hour later the data is still missing: the placeholders stay as they are.
        calls = len(fake_slack.all_calls())
        an_hour_later = dataclasses.replace(running.ctx, now=lambda: monday + timedelta(hours=1))
        assert all(d.placeholder for d in catch_up_digests(an_hour_later))
        assert len(fake_slack.all_calls()) == calls and len(runs.pending("2026-W47")) == 3

        # The week's data comes in; the next hourly catch-up edits each placeholder into the full
        # digest (the same message) and shares its chart in the message's thread.
        store_costs(sqlite_db, teams, cost_rows(date(2026, 11, 16), date(2026, 11, 22)),
                    complete_through=date(2026, 11, 22))
        later = dataclasses.replace(running.ctx, now=lambda: monday + timedelta(hours=2))
        posted = catch_up_digests(later)
        assert [(d.message.key, d.placeholder) for d in posted] == [(key, False) for key in wanted]
        assert keys(fake_slack) == wanted  # no second chat.postMessage
        assert [c["ts"] for c in fake_slack.calls("chat.update")] == [
            fake_slack.messages(channel)[0]["ts"] for channel in ("#team-payments", "#team-search", "#finops")]
        [payments] = [m for m in fake_slack.messages("#team-payments") if m.get("thread_ts") in (None, m["ts"])]
        assert payments["ts"] == placeholder["ts"]
        assert payments["text"] == ("payments weekly digest, Week 47 · 16–22 Nov 2026: $462.00 "
                                    "($0.00 vs the week before)")
        assert payments["blocks"][1]["text"]["text"].startswith("*Last week* $462.00")
        assert "follow once the week's cost data is in" not in json.dumps(fake_slack.messages("#finops"))
        for channel in ("#team-payments", "#team-search", "#finops"):
            [chart] = fake_slack.files(channel)
            assert chart.thread_ts == fake_slack.messages(channel)[0]["ts"]
        assert runs.pending("2026-W47") == [] and all(r.posted_at for r in runs.runs("2026-W47"))

        # Posted in full: no run changes anything any more.
        calls = len(fake_slack.all_calls())
        assert catch_up_digests(later) == [] and post_weekly_digests(later) == []
        assert len(fake_slack.all_calls()) == calls
        assert fake_slack.violations == []
    finally:
        running.stop()


def test_with_no_cost_data_at_all_the_digest_says_so(org_without_costs) -> None:
    [payments] = [d for d in post_weekly_digests(org_without_costs.ctx, org=False) if d.team == "payments"]
    assert payments.message.blocks[1]["text"]["text"] == (
        ":hourglass_flowing_sand: *No cost data yet*: nothing has been ingested (`costbot ingest status`).")
    assert payments.chart is None


@pytest.fixture
def org_without_costs(sqlite_db: Database, fake_slack):
    running = start_bot(sqlite_db, fake_slack, teams_yaml=TEAMS_YAML, now=lambda: NOW)
    try:
        yield running
    finally:
        running.stop()


def test_each_run_says_what_became_of_each_digest(org) -> None:
    from jobs.digest import run_weekly_digests

    slack, runs = org.slack, DigestRunStore(org.ctx.db)
    # Another replica claimed the org digest a minute ago; Slack refuses the payments channel.
    runs.claim("2026-W46", "org", "", channel="#finops", message_key="digest-org:2026-W46", by="replica:2",
               at=NOW - timedelta(minutes=1))
    slack.fail_next("chat.postMessage", error="channel_not_found")
    run = run_weekly_digests(org.ctx)
    assert [(o.key, o.channel, o.outcome, o.error) for o in run.outcomes] == [
        ("digest:payments:2026-W46", "#team-payments", "refused", "channel_not_found"),
        ("digest:search:2026-W46", "#team-search", "posted", ""),
        ("digest-org:2026-W46", "#finops", "in progress", "")]
    assert [(d.message.key, d.outcome) for d in run.delivered] == [("digest:payments:2026-W46", "refused"),
                                                                    ("digest:search:2026-W46", "posted")]
    # Next run: the refused digest is still not in Slack (its outbox row says so), not "already posted".
    run = run_weekly_digests(org.ctx)
    assert [(o.key, o.outcome, o.error) for o in run.outcomes] == [
        ("digest:payments:2026-W46", "refused", "channel_not_found"),
        ("digest:search:2026-W46", "already posted", ""),
        ("digest-org:2026-W46", "in progress", "")]
    assert run.delivered == []


def test_a_run_stopped_midway_releases_the_digests_it_had_not_posted(org, monkeypatch) -> None:
    from jobs.digest import run_weekly_digests

    mend = break_digest_of(monkeypatch, "search", KeyboardInterrupt())  # Ctrl-C during `costbot digest`
    with pytest.raises(KeyboardInterrupt):
        run_weekly_digests(org.ctx)
    runs = DigestRunStore(org.ctx.db)
    # payments went out; search and the org are released, not left claimed for 30 minutes.
    assert [(r.message_key, r.claimed_by) for r in runs.pending("2026-W46")] == [
        ("digest:search:2026-W46", ""), ("digest-org:2026-W46", "")]
    mend()
    # Run again at once: it posts them (it said both were "being posted by another run").
    run = run_weekly_digests(org.ctx)
    assert [(o.key, o.outcome) for o in run.outcomes] == [("digest:payments:2026-W46", "already posted"),
                                                          ("digest:search:2026-W46", "posted"),
                                                          ("digest-org:2026-W46", "posted")]

    # The week's cost data cannot be read: each digest failed (logged), every claim released for
    # the next run (it raised, and left them claimed for 30 minutes).
    runs_before = len(runs.runs())

    def unreadable(ctx, week):
        raise RuntimeError("database gone")

    monkeypatch.setattr("jobs.digest.load_digest_inputs", unreadable)
    run = run_weekly_digests(org.ctx, today=date(2026, 11, 23), org=False)
    assert [(o.key, o.outcome) for o in run.outcomes] == [("digest:payments:2026-W47", "failed"),
                                                          ("digest:search:2026-W47", "failed")]
    assert [(r.message_key, r.claimed_by) for r in runs.pending("2026-W47")] == [
        ("digest:payments:2026-W47", ""), ("digest:search:2026-W47", "")]
    assert len(runs.runs()) == runs_before + 2


def test_a_first_digest_whose_week_before_the_cost_data_only_partly_holds_reports_no_change(
        sqlite_db: Database, fake_slack) -> None:
    # The data starts Thu 5 Nov: of week 45 (2-8 Nov) only Thu-Sun is in it. Flat at $66 a day (support split in),
    # payments read "$462.00 (+$198.00, +75.0 % vs $264.00)", its EC2 a top mover, and the org
    # ranked its teams by that change.
    running = start_bot(sqlite_db, fake_slack, teams_yaml=TEAMS_YAML, now=lambda: NOW)
    try:
        flat_history(sqlite_db, teams_config(), start=date(2026, 11, 5), through=date(2026, 11, 15))
        post_weekly_digests(running.ctx)
        payments = fake_slack.messages("#team-payments")[0]
        sections = [b["text"]["text"] for b in payments["blocks"] if b["type"] == "section"]
        assert sections[0].splitlines()[0] == (
            "*Last week* $462.00 (the cost data starts Thu 5 Nov: no full week before to compare with)")
        assert not any(s.startswith("*Top movers*") for s in sections)
        assert payments["text"] == ("payments weekly digest, Week 46 · 9–15 Nov 2026: $462.00 (the cost data "
                                    "starts Thu 5 Nov: no full week before to compare with)")
        assert "explains the change" not in json.dumps(payments["blocks"])
        org_sections = [b["text"]["text"] for b in fake_slack.messages("#finops")[0]["blocks"]
                        if b["type"] == "section"]
        # $60 payments + $30 search + $9 support split between them + $1 unallocated a day.
        assert org_sections[0].splitlines()[0] == (
            "*Last week* $700.00 (the cost data starts Thu 5 Nov: no full week before to compare with)")
        assert org_sections[1].startswith("*Teams by spend*\n*payments*: $")
        assert org_sections[2].startswith("*Unallocated* $7.00")
    finally:
        running.stop()
