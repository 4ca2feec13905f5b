"""Savings findings through the real app over HTTP, as Slack drives it: the modal, the buttons, the
verification job and the ledger, on SQLite and PostgreSQL; refusals that change nothing; the
message edited in place with its history in the thread."""

from __future__ import annotations

import ast
import json
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

import handlers.finding_actions
import handlers.findings
import jobs.detect
from bot.blocks.findings import finding_key, history_key
from bot.services.findings import publish_finding
from finops.savings import Actor, FindingState
from jobs.detect import run_detection
from jobs.ingest import ingest_cost_files
from jobs.verify import verify_findings
from storage.anomalies import AnomalyStore
from storage.audit import AuditLog
from storage.costs import CostStore
from storage.db import Database
from storage.findings import FindingRecord, FindingStore, NewFinding
from tests.finops.sources.cost_file_helpers import FOCUS_HEADER, focus_row, write_csv
from tests.handlers.test_commands import wait_for
from tests.harness import RunningBot, start_bot
from tests.jobs.anomaly_data import ingest_through

NOW = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
IMPLEMENTED_ON = date(2026, 10, 20)
CHANNEL = "#team-payments"


def org_rows(*, step_on: date = IMPLEMENTED_ON, before: float = 100.0, after: float = 60.0,
             start: str = "2026-08-01", end: str = "2026-11-15") -> list[list[object]]:
    """payments' RDS at ``before`` $/day, ``after`` from the day after ``step_on``; search's EC2 at $300/day."""
    rows = []
    for day in pd.date_range(start, end):
        stamp = day.strftime("%Y-%m-%dT00:00:00Z")
        rds = before if day.date() <= step_on else after
        rows.append(focus_row(stamp, account="111222330440", service="Amazon RDS", billed=f"{rds:.2f}",
                              effective=f"{rds:.2f}", listed=f"{rds:.2f}"))
        rows.append(focus_row(stamp, account="111222331441", service="Amazon EC2", billed="300.00",
                              effective="300.00", listed="300.00"))
    return rows


def workspace(bot: RunningBot) -> RunningBot:
    """The team channels and the people of tests/harness.py's teams.yml, as in a real workspace."""
    for channel in (CHANNEL, "#team-search", "#finops"):
        bot.slack.add_channel(channel)
    for user in ("U_PAY_OWNER", "U_PAY_DEV", "U_SEARCH_OWNER", "U_FINANCE", "U_STRANGER"):
        bot.slack.add_user(user, name=user.lower())
    return bot


@pytest.fixture
def team_bot(bot: RunningBot) -> RunningBot:
    """The ``bot`` fixture (SQLite, real clock) with the workspace's channels and people."""
    return workspace(bot)


@pytest.fixture
def any_db_bot(db: Database, fake_slack):
    """The workspace's bot on SQLite and on PostgreSQL (the ``db`` fixture), real clock."""
    running = workspace(start_bot(db, fake_slack))
    try:
        yield running
    finally:
        running.stop()


def ingest(db: Database, bot: RunningBot, rows: list[list[object]], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "costs.csv", FOCUS_HEADER, rows)
    ingest_cost_files(CostStore(db), bot.ctx.teams, [path], today=NOW.date())


@pytest.fixture
def org(db: Database, fake_slack, tmp_path):
    """The app on the test backend, the clock at 2026-11-16 09:00 UTC, costs through 2026-11-15."""
    running = workspace(start_bot(db, fake_slack, now=lambda: NOW, files_dir=tmp_path / "files"))
    ingest(db, running, org_rows(), tmp_path)
    try:
        yield running
    finally:
        running.stop()


def main_message(bot: RunningBot, finding_id: int) -> dict:
    (message,) = [m for m in bot.slack.messages(CHANNEL) if not m.get("thread_ts")
                  and (m.get("metadata") or {}).get("event_payload", {}).get("key") == f"finding:{finding_id}"]
    return message


def thread(bot: RunningBot, parent_ts: str) -> list[str]:
    return [m["text"] for m in bot.slack.messages(CHANNEL) if m.get("thread_ts") == parent_ts and m["ts"] != parent_ts]


def buttons(message: dict) -> list[str]:
    return [e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]


def press(bot: RunningBot, finding_id: int, action: str, user: str, *, version: int | None = None):
    """Press a button on the finding's message; returns (ack, response_url) for reading an ephemeral answer."""
    message = main_message(bot, finding_id)
    value = version if version is not None else FindingStore(bot.ctx.db).get(finding_id).version
    url = bot.slack.response_url(channel=CHANNEL, message_ts=message["ts"])
    channel_id = bot.slack.channel_id(CHANNEL)
    ack = bot.client.action(f"finding_{action}", f"{finding_id}:{value}", user_id=user, channel_id=channel_id,
                            message_ts=message["ts"], response_url=url)
    assert ack.status == 200
    return ack, url


def select(value: str) -> dict:
    return {"type": "static_select", "selected_option": {"text": {"type": "plain_text", "text": value},
                                                         "value": value}}


def multi(*values: str) -> dict:
    return {"type": "multi_static_select", "selected_options": [
        {"text": {"type": "plain_text", "text": v}, "value": v} for v in values]}


def date_pick(day: str | None) -> dict:
    return {"type": "datepicker", "selected_date": day}


NEW_FORM = {"title": {"value": "Rightsize the payments RDS instance"}, "team": {"value": select("payments")},
            "scope_service": {"value": multi("Amazon RDS")}, "scope_more": {"value": "sub_account_id=111222330440"},
            "estimate": {"value": "1,000"}, "due": {"value": date_pick("2026-11-30")},
            "notes": {"value": "db.r6g.4xlarge at 12 % CPU for a month"}}


def filled_form(bot: RunningBot) -> dict:
    """The new-finding form as Slack holds it once its scope pickers are filled in (the views.update
    that follows the views.open)."""
    updates = wait_for(lambda: [c for c in bot.slack.calls("views.update") if c["view"].get("callback_id") == "finding_new"])
    return bot.slack.view(updates[-1]["view_id"])


def open_finding(bot: RunningBot, user: str = "U_PAY_OWNER", form: dict = NEW_FORM) -> int:
    ack = bot.client.slash("finding new", user_id=user)
    assert ack.status == 200 and ack.json()["text"].startswith(":memo:")
    view = filled_form(bot)
    submitted = bot.client.view_submission("finding_new", form, user_id=user, view=view)
    assert submitted.status == 200
    answer = submitted.json()
    assert answer["response_action"] == "update", answer
    finding = FindingStore(bot.ctx.db).list_findings()[-1]
    wait_for(lambda: [m for m in bot.slack.messages(CHANNEL) if not m.get("thread_ts")])
    return finding.id


def moved_to(bot: RunningBot, finding_id: int, state: FindingState) -> None:
    """Wait until the finding is in ``state`` and its message and thread show it (the listener's
    work after the ack), so the next press does not race the last one's delivery."""
    store = FindingStore(bot.ctx.db)
    wait_for(lambda: store.get(finding_id).state is state)
    last_reply = history_key(finding_id, len(store.history(finding_id)) - 1)
    outbox = bot.ctx.delivery.outbox
    wait_for(lambda: all((record := outbox.get(key)) is not None and not record.needs_sending
                         for key in (finding_key(finding_id), last_reply)))


def test_a_form_submitted_before_its_scope_pickers_fill_is_not_put_back(org: RunningBot):
    # The scope pickers fill in with a views.update after the form opens; here that update reaches
    # Slack only after the person has submitted. Slack then shows the confirmation (a new hash), and
    # the late update, sent with the form's hash, must not put the form back (a second submit would
    # open the finding twice).
    bot = org
    bot.slack.delay("views.update", 1.5)
    bot.client.slash("finding new", user_id="U_PAY_OWNER")
    (late_update,) = wait_for(lambda: bot.slack.calls("views.update"), timeout=10)  # sent, not yet answered
    form = bot.slack.view(late_update["view_id"])  # the form as opened
    assert form["callback_id"] == "finding_new" and late_update["hash"] == form["hash"]
    answer = bot.client.view_submission("finding_new", NEW_FORM, user_id="U_PAY_OWNER", view=form).json()
    assert answer["response_action"] == "update"
    bot.slack.apply_response_update(form["id"], answer["view"])
    time.sleep(2)  # the late update has been answered (hash_conflict)
    shown = bot.slack.view(form["id"])
    assert shown["callback_id"] != "finding_new" and shown["title"] == answer["view"]["title"]
    assert len(FindingStore(bot.ctx.db).list_findings()) == 1


def test_the_life_of_a_finding_modal_buttons_verification_ledger(org: RunningBot):
    bot = org
    ack = bot.client.slash("finding new", user_id="U_PAY_OWNER")
    view = filled_form(bot)
    assert view["callback_id"] == "finding_new"
    blocks = {b["block_id"]: b for b in view["blocks"] if "block_id" in b}
    assert blocks["team"]["element"]["initial_option"]["value"] == "payments"
    assert [o["value"] for o in blocks["scope_service"]["element"]["options"]] == ["Amazon EC2", "Amazon RDS"]
    assert ack.json()["response_type"] == "ephemeral"

    finding_id = open_finding(bot)
    finding = FindingStore(bot.ctx.db).get(finding_id)
    assert (finding.state, finding.estimate_monthly, finding.assignee, finding.due_on) == (
        FindingState.IDENTIFIED, 1000, "U_PAY_OWNER", date(2026, 11, 30))
    assert finding.scope == {"service": ["Amazon RDS"], "sub_account_id": ["111222330440"]}
    assert finding.notes == "db.r6g.4xlarge at 12 % CPU for a month"
    message = wait_for(lambda: main_message(bot, finding_id))
    assert "*Notes:* db.r6g.4xlarge at 12 % CPU for a month" in str(message["blocks"])
    assert buttons(message) == ["finding_accept", "finding_reject", "finding_reassign"]
    assert message["blocks"][0]["text"]["text"] == f"Savings finding #{finding_id}"

    # Someone from another team presses Accept: told it is not theirs; nothing changes.
    _, url = press(bot, finding_id, "accept", "U_STRANGER")
    (answer,) = wait_for(lambda: bot.slack.response_url_calls(url))
    assert "is not yours" in answer["text"] and answer["response_type"] == "ephemeral"
    assert FindingStore(bot.ctx.db).get(finding_id).version == 1
    assert bot.slack.calls("chat.update") == []

    press(bot, finding_id, "accept", "U_PAY_DEV")
    moved_to(bot, finding_id, FindingState.ACCEPTED)
    press(bot, finding_id, "start", "U_PAY_OWNER")
    moved_to(bot, finding_id, FindingState.IN_PROGRESS)

    # Mark implemented opens a modal asking for the date the change went live.
    press(bot, finding_id, "implemented", "U_PAY_DEV")
    modal = wait_for(lambda: [c["view"] for c in bot.slack.calls("views.open") if c["view"]["callback_id"] == "finding_move"])[-1]
    assert modal["blocks"][1]["element"]["initial_date"] == "2026-11-16"
    done = bot.client.view_submission("finding_move", {"implemented_on": {"value": date_pick("2026-10-20")},
                                                       "reason": {"value": "db.r6g.2xlarge since Tuesday"}},
                                      user_id="U_PAY_DEV", view=modal)
    assert done.status == 200 and done.body == ""
    moved_to(bot, finding_id, FindingState.IMPLEMENTED)

    run = verify_findings(bot.ctx)
    assert run.begun == [finding_id]
    assert [(i, s, str(r)) for i, s, r in run.concluded] == [(finding_id, "verified", "1217.50")]
    verified = FindingStore(bot.ctx.db).get(finding_id)
    assert verified.realized_monthly == pytest.approx(1217.50)  # $40/day less × 30.4375
    assert verified.baseline == {"start": "2026-09-22", "end": "2026-10-19", "daily_cost": 100.0}
    assert verified.after == {"start": "2026-10-21", "end": "2026-11-03", "daily_cost": 60.0}

    message = wait_for(lambda: main_message(bot, finding_id))
    assert buttons(message) == ["finding_not_realized", "finding_reopen"]
    assert any("Realized *$1,217.50/month*" in b.get("text", {}).get("text", "") for b in message["blocks"])
    # One message for the finding, edited in place; every move a reply in its thread.
    assert len([m for m in bot.slack.messages(CHANNEL) if not m.get("thread_ts")]) == 1
    replies = wait_for(lambda: len(thread(bot, message["ts"])) == 6 and thread(bot, message["ts"]))
    assert replies[0] == "<@U_PAY_DEV> accepted it · identified → accepted"
    assert replies[2] == ("<@U_PAY_DEV> marked it implemented (live on 2026-10-20) · in progress → implemented\n"
                          "> db.r6g.2xlarge since Tuesday")
    assert replies[4].startswith(":white_check_mark: verified: realized $1,217.50/month, 122% of the $1,000.00")
    assert replies[5] == "Evidence: actual vs expected without the change, data through 2026-11-14"
    (chart,) = bot.slack.files(CHANNEL)
    assert chart.content.startswith(b"\x89PNG") and chart.thread_ts == message["ts"]

    url = bot.slack.response_url()
    bot.client.slash("savings", user_id="U_FINANCE", response_url=url)
    (ledger,) = wait_for(lambda: bot.slack.response_url_calls(url))
    assert ledger["text"] == "Savings ledger (all teams, all quarters): $1,217.50/mo verified of $1,000.00/mo identified"
    assert bot.slack.violations == []


def test_the_form_opens_at_once_and_gets_its_scope_pickers_when_the_costs_are_read(org: RunningBot, monkeypatch):
    # On a large store, reading what has cost something lately takes seconds; Slack's trigger
    # expires 3 s after the press. Hold that read until the form is open.
    bot, released = org, threading.Event()
    grouped_costs = CostStore.grouped_costs

    def held(self, **kwargs):
        released.wait(10)
        return grouped_costs(self, **kwargs)

    monkeypatch.setattr(CostStore, "grouped_costs", held)
    started = time.monotonic()
    ack = bot.client.slash("finding new", user_id="U_PAY_OWNER")
    assert ack.status == 200 and time.monotonic() - started < 2
    opened = wait_for(lambda: bot.slack.calls("views.open"))[-1]["view"]  # opened right after the ack
    assert opened["callback_id"] == "finding_new" and "Looking up the accounts" in str(opened["blocks"])
    assert not [b for b in opened["blocks"] if b.get("block_id", "").startswith("scope_service")]
    assert bot.slack.calls("views.update") == []
    released.set()
    filled = filled_form(bot)
    pickers = {b["block_id"]: b["element"] for b in filled["blocks"] if b["type"] == "input"}
    assert [o["value"] for o in pickers["scope_service"]["options"]] == ["Amazon EC2", "Amazon RDS"]
    assert "Looking up" not in str(filled["blocks"])


def test_a_stale_button_is_told_who_moved_it_where_and_changes_nothing(any_db_bot: RunningBot):
    bot = any_db_bot
    store = FindingStore(bot.ctx.db)
    finding = store.create(NewFinding("Delete idle volumes", "payments", {"service": "Amazon EBS"}, 200),
                           by="U_PAY_OWNER", at=datetime.now(UTC))
    publish_finding(bot.ctx, finding.id)
    press(bot, finding.id, "accept", "U_PAY_OWNER")
    moved_to(bot, finding.id, FindingState.ACCEPTED)
    _, url = press(bot, finding.id, "reject", "U_PAY_DEV", version=1)
    (answer,) = wait_for(lambda: bot.slack.response_url_calls(url))
    assert answer["text"].startswith(f":warning: Finding #{finding.id} was already moved by <@U_PAY_OWNER> "
                                     "to *accepted* (accept, ")
    assert store.get(finding.id).version == 2
    assert not [c for c in bot.slack.calls("views.open") if c["view"].get("callback_id") == "finding_move"]
    refused = [a for a in AuditLog(bot.ctx.db).history("finding", finding.id) if a.action.startswith("refused:")]
    assert [(a.actor, a.action) for a in refused] == [("U_PAY_DEV", "refused:reject")]


def test_finance_cannot_make_the_teams_moves_and_the_team_cannot_override(any_db_bot: RunningBot):
    bot = any_db_bot
    store = FindingStore(bot.ctx.db)
    finding = store.create(NewFinding("Delete idle volumes", "payments", {"service": "Amazon EBS"}, 200),
                           by="U_PAY_OWNER", at=datetime.now(UTC))
    publish_finding(bot.ctx, finding.id)
    _, url = press(bot, finding.id, "accept", "U_FINANCE")
    (answer,) = wait_for(lambda: bot.slack.response_url_calls(url))
    assert answer["text"] == (f":no_entry: You cannot accept finding #{finding.id} (a finance approver): finding is "
                              "identified; allowed: accept, reject, reassign / finance approvers: (none).")
    assert store.get(finding.id).state is FindingState.IDENTIFIED

    # The team takes it to implemented; a measured outcome is finance's to override, not the team's.
    owner = Actor("U_PAY_OWNER", on_team=True)
    for action in ("accept", "start"):
        store.move(finding.id, action, actor=owner, at=datetime.now(UTC))
    store.move(finding.id, "implemented", actor=owner, at=datetime.now(UTC), implemented_on=datetime.now(UTC).date())
    publish_finding(bot.ctx, finding.id)
    version = store.get(finding.id).version
    _, url = press(bot, finding.id, "not_realized", "U_PAY_OWNER")
    (answer,) = wait_for(lambda: bot.slack.response_url_calls(url))
    assert answer["text"] == (f":no_entry: You cannot not_realized finding #{finding.id} (on the team): finding is "
                              "implemented; allowed: reassign; verification runs automatically / finance "
                              "approvers: verify, not_realized.")
    (after,) = [store.get(finding.id)]
    assert (after.state, after.version) == (FindingState.IMPLEMENTED, version)


def test_two_people_pressing_at_once_one_wins_and_the_other_is_told(any_db_bot: RunningBot):
    """Two real HTTP requests on the same button version at the same moment, each listener with its
    own database session: exactly one move lands; the other presser is told who moved it where."""
    bot = any_db_bot
    store = FindingStore(bot.ctx.db)
    finding = store.create(NewFinding("Delete idle volumes", "payments", {"service": "Amazon EBS"}, 200),
                           by="U_PAY_OWNER", at=datetime.now(UTC))
    publish_finding(bot.ctx, finding.id)
    message = main_message(bot, finding.id)
    channel_id = bot.slack.channel_id(CHANNEL)
    urls = {user: bot.slack.response_url(channel=CHANNEL, message_ts=message["ts"])
            for user in ("U_PAY_OWNER", "U_PAY_DEV")}
    start = threading.Barrier(2)
    acks: dict[str, int] = {}

    def press_accept(user: str) -> None:
        start.wait(5)
        acks[user] = bot.client.action("finding_accept", f"{finding.id}:1", user_id=user, channel_id=channel_id,
                                       message_ts=message["ts"], response_url=urls[user]).status

    threads = [threading.Thread(target=press_accept, args=(user,)) for user in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    assert acks == {"U_PAY_OWNER": 200, "U_PAY_DEV": 200}
    wait_for(lambda: store.get(finding.id).state is FindingState.ACCEPTED)
    (accepted,) = [e for e in store.history(finding.id) if e.action == "accept"]
    winner = accepted.by
    (loser,) = [user for user in urls if user != winner]
    (answer,) = wait_for(lambda: bot.slack.response_url_calls(urls[loser]))
    assert answer["response_type"] == "ephemeral"
    assert answer["text"].startswith(f":warning: Finding #{finding.id} was already moved by <@{winner}> "
                                     "to *accepted* (accept, ")
    assert store.get(finding.id).version == 2
    refused = [a for a in AuditLog(bot.ctx.db).history("finding", finding.id) if a.action.startswith("refused:")]
    assert [(a.actor, a.action) for a in refused] == [(loser, "refused:accept")]


def test_reject_asks_for_a_reason_in_the_modal(team_bot: RunningBot):
    bot = team_bot
    store = FindingStore(bot.ctx.db)
    finding = store.create(NewFinding("Delete idle volumes", "payments", {"service": "Amazon EBS"}, 200),
                           by="U_PAY_OWNER", at=datetime.now(UTC))
    publish_finding(bot.ctx, finding.id)
    press(bot, finding.id, "reject", "U_PAY_OWNER")
    modal = wait_for(lambda: bot.slack.calls("views.open"))[-1]["view"]
    empty = bot.client.view_submission("finding_move", {"reason": {"value": ""}}, user_id="U_PAY_OWNER", view=modal)
    assert empty.json() == {"response_action": "errors", "errors": {
        "reason": "finding #1: reject needs a reason: say why, it goes into the finding's history"}}
    assert store.get(finding.id).state is FindingState.IDENTIFIED
    ok = bot.client.view_submission("finding_move", {"reason": {"value": "volumes are DR copies"}},
                                    user_id="U_PAY_OWNER", view=modal)
    assert ok.status == 200 and ok.body == ""
    assert store.get(finding.id).state is FindingState.REJECTED
    assert store.history(finding.id)[-1].reason == "volumes are DR copies"


def finding_for_a_channel_member(bot: RunningBot) -> tuple[FindingStore, FindingRecord]:
    """A published payments finding, and U_PAY_CHANNEL in payments' channel (on the team only through it)."""
    bot.slack.add_user("U_PAY_CHANNEL", name="u_pay_channel")
    bot.slack.add_members(CHANNEL, "U_PAY_CHANNEL")
    store = FindingStore(bot.ctx.db)
    finding = store.create(NewFinding("Delete idle volumes", "payments", {"service": "Amazon EBS"}, 200),
                           by="U_PAY_OWNER", at=datetime.now(UTC))
    publish_finding(bot.ctx, finding.id)
    return store, finding


def test_a_move_form_waiting_on_a_slow_members_lookup_opens_in_time(team_bot: RunningBot):
    # Slack lets a trigger_id open a view for 3 s (FakeSlack refuses it later); the lookup of the
    # channel's members takes 4 s here. The form opens at once as "checking" and becomes the form,
    # or the refusal (audited), when the lookup answers.
    bot = team_bot
    store, finding = finding_for_a_channel_member(bot)
    bot.slack.delay("conversations.members", 4)
    _, url = press(bot, finding.id, "reject", "U_PAY_CHANNEL")
    (checking,) = wait_for(lambda: bot.slack.calls("views.open"))
    assert checking["view"]["title"]["text"] == f"Finding #{finding.id}"
    assert checking["view"]["blocks"][0]["text"]["text"].startswith(
        ":hourglass_flowing_sand: Checking that you are on *payments*")
    (form,) = wait_for(lambda: bot.slack.calls("views.update"), timeout=15)
    held = bot.slack.view(form["view_id"])
    assert held["callback_id"] == "finding_move" and held["submit"]["text"] == "Save"
    assert json.loads(held["private_metadata"])["action"] == "reject"

    _, url = press(bot, finding.id, "reject", "U_STRANGER")
    wait_for(lambda: len(bot.slack.calls("views.update")) == 2, timeout=15)
    refused = bot.slack.calls("views.update")[-1]["view"]
    assert refused["blocks"][0]["text"]["text"] == handlers.finding_actions.not_yours(finding)
    assert bot.slack.response_url_calls(url) == []
    assert [(e.action, e.actor) for e in AuditLog(bot.ctx.db).history("finding", finding.id)
            if e.action.startswith("refused")] == [("refused:reject", "U_STRANGER")]
    assert store.get(finding.id).state is FindingState.IDENTIFIED
    assert bot.slack.violations == []  # no trigger_id used too late


def test_a_channel_members_move_is_acked_before_a_slow_members_lookup(team_bot: RunningBot):
    # U_PAY_CHANNEL and U_STRANGER are not in teams.yml: whether they are in payments' channel is a
    # conversations.members call, which may take longer than Slack waits for the ack.
    bot = team_bot
    store, finding = finding_for_a_channel_member(bot)
    press(bot, finding.id, "reject", "U_PAY_CHANNEL")  # a members lookup: "checking", then the form
    modal = wait_for(lambda: bot.slack.calls("views.update"))[-1]["view"]
    bot.slack.delay("conversations.members", 4)

    empty = bot.client.view_submission("finding_move", {"reason": {"value": ""}}, user_id="U_PAY_CHANNEL", view=modal)
    assert empty.elapsed < 1.0 and empty.json() == {"response_action": "errors", "errors": {
        "reason": f"finding #{finding.id}: reject needs a reason: say why, it goes into the finding's history"}}

    stranger = bot.client.view_submission("finding_move", {"reason": {"value": "not needed"}}, user_id="U_STRANGER",
                                          view=modal)
    assert stranger.status == 200 and stranger.body == "" and stranger.elapsed < 1.0, stranger.elapsed
    (refused,) = wait_for(lambda: bot.slack.ephemerals("U_STRANGER"), timeout=15)
    assert refused["text"] == handlers.finding_actions.not_yours(finding)
    assert refused["channel"] == bot.slack.channel_id(CHANNEL)
    assert store.get(finding.id).state is FindingState.IDENTIFIED

    ok = bot.client.view_submission("finding_move", {"reason": {"value": "volumes are DR copies"}},
                                    user_id="U_PAY_CHANNEL", view=modal)
    assert ok.status == 200 and ok.body == "" and ok.elapsed < 1.0, ok.elapsed
    wait_for(lambda: store.get(finding.id).state is FindingState.REJECTED, timeout=15)
    last = store.history(finding.id)[-1]
    assert (last.by, last.reason) == ("U_PAY_CHANNEL", "volumes are DR copies")
    refusals = [(e.action, e.actor) for e in AuditLog(bot.ctx.db).history("finding", finding.id)
                if e.action.startswith("refused")]
    assert refusals == [("refused:reject", "U_PAY_CHANNEL"), ("refused:reject", "U_STRANGER")]
    assert bot.slack.ephemerals("U_PAY_CHANNEL") == []
    assert bot.slack.violations == []


def test_finance_verifies_by_hand_with_the_amount_to_book(team_bot: RunningBot):
    bot = team_bot
    store = FindingStore(bot.ctx.db)
    now = datetime.now(UTC)
    finding = store.create(NewFinding("Delete idle volumes", "payments", {"service": "Amazon EBS"}, 200),
                           by="U_PAY_OWNER", at=now)
    owner = Actor("U_PAY_OWNER", on_team=True)
    for action in ("accept", "start"):
        store.move(finding.id, action, actor=owner, at=now)
    store.move(finding.id, "implemented", actor=owner, at=now, implemented_on=now.date())
    publish_finding(bot.ctx, finding.id)
    assert buttons(main_message(bot, finding.id)) == ["finding_reassign", "finding_verify", "finding_not_realized"]
    # Verifying is finance's move: being on the team does not matter, so no members lookup (slow
    # here) stands between the press and the form, which opens while the trigger_id is fresh.
    bot.slack.delay("conversations.members", 4)
    press(bot, finding.id, "verify", "U_FINANCE")
    modal = wait_for(lambda: bot.slack.calls("views.open"))[-1]["view"]
    assert modal["blocks"][1]["element"]["initial_value"] == "200.00"
    assert bot.slack.calls("conversations.members") == []
    bot.slack.delay("conversations.members", 0)
    for amount, error in (("-5", "The realized saving must be a positive number of dollars per month (at least $0.01)"),
                          ("1e400", "The realized saving must be less than 1,000,000,000 dollars per month")):
        bad = bot.client.view_submission("finding_move", {"realized": {"value": amount}, "reason": {"value": "invoice"}},
                                         user_id="U_FINANCE", view=modal)
        assert bad.status == 200 and bad.json()["errors"] == {"realized": error}
    # A finance move does not depend on being on the team: no members lookup, answered in the ack.
    bot.slack.delay("conversations.members", 4)
    ok = bot.client.view_submission("finding_move", {"realized": {"value": "187.25"}, "reason": {"value": "invoice"}},
                                    user_id="U_FINANCE", view=modal)
    assert ok.status == 200 and ok.elapsed < 1.0, ok.elapsed
    verified = store.get(finding.id)
    assert (verified.state, verified.realized_monthly) == (FindingState.VERIFIED, 187.25)


def test_the_new_finding_form_shows_mistakes_next_to_their_fields(team_bot: RunningBot):
    bot = team_bot
    bot.client.slash("finding new", user_id="U_PAY_OWNER")
    view = wait_for(lambda: bot.slack.calls("views.open"))[-1]["view"]  # opened right after the ack
    form = {"title": {"value": "Cheaper"}, "team": {"value": select("payments")},
            "scope_more": {"value": "account=1"}, "estimate": {"value": "a lot"}, "due": {"value": date_pick(None)}}
    answer = bot.client.view_submission("finding_new", form, user_id="U_PAY_OWNER", view=view).json()
    assert answer == {"response_action": "errors", "errors": {
        "scope_more": "Unknown scope key 'account': use provider, sub_account_id, service, region, resource_id, "
                      "sku_id or tag:KEY",
        "estimate": "The estimate must be a number of dollars per month, e.g. 1200"}}
    form["scope_more"] = {"value": ""}
    answer = bot.client.view_submission("finding_new", form, user_id="U_PAY_OWNER", view=view).json()
    assert answer["errors"]["scope_more"] == "Pick at least one scope (what the saving is measured on)"
    form["scope_service"] = {"value": multi("Amazon RDS")}
    for estimate, error in (("0.001", "The estimate must be a positive number of dollars per month (at least $0.01)"),
                            ("1e13", "The estimate must be less than 1,000,000,000 dollars per month"),
                            ("1e400", "The estimate must be less than 1,000,000,000 dollars per month")):
        form["estimate"] = {"value": estimate}
        answer = bot.client.view_submission("finding_new", form, user_id="U_PAY_OWNER", view=view)
        assert answer.status == 200 and answer.json() == {"response_action": "errors", "errors": {"estimate": error}}
    form["estimate"] = {"value": "1,200"}
    yesterday, today = bot.ctx.schedule_today() - timedelta(days=1), bot.ctx.schedule_today()
    form["due"] = {"value": date_pick(yesterday.isoformat())}
    answer = bot.client.view_submission("finding_new", form, user_id="U_PAY_OWNER", view=view).json()
    assert answer == {"response_action": "errors", "errors": {
        "due": f"The due date {yesterday} is in the past (today is {today}): pick a later day"}}
    assert FindingStore(bot.ctx.db).list_findings() == []


def test_findings_list_by_team_and_state(team_bot: RunningBot):
    bot = team_bot
    store = FindingStore(bot.ctx.db)
    now = datetime.now(UTC)
    for title, team in (("Delete idle volumes", "payments"), ("Shrink the search cluster", "search")):
        store.create(NewFinding(title, team, {"service": "Amazon EC2"}, "120.50"), by="cli:ops", at=now)
    answer = bot.client.slash("findings payments identified", user_id="U_ANYONE").json()
    assert answer["text"] == "1 savings findings (payments identified)"
    assert answer["blocks"][1]["text"]["text"] == ":mag: *#1* Delete idle volumes · payments · est. $120.50/mo"
    wrong = bot.client.slash("findings paymnts", user_id="U_ANYONE").json()
    assert wrong["text"].startswith(":warning: `paymnts` is neither a team nor a finding state")
    # Past its due date on the bot's day: marked as App Home and the reminder mark it.
    today = bot.ctx.schedule_today()
    late, later = today - timedelta(days=4), today + timedelta(days=4)
    store.create(NewFinding("Stop the old cluster", "search", {"service": "Amazon EC2"}, "80", due_on=late),
                 by="cli:ops", at=now)
    store.create(NewFinding("Trim the logs", "search", {"service": "Amazon EC2"}, "40", due_on=later),
                 by="cli:ops", at=now)
    lines = bot.client.slash("findings search", user_id="U_ANYONE").json()["blocks"][1]["text"]["text"].splitlines()
    assert lines[:2] == [f":mag: *#4* Trim the logs · search · est. $40.00/mo · due {later}",
                         f":mag: *#3* Stop the old cluster · search · est. $80.00/mo · :warning: past its due date "
                         f"{late} (4 days)"]


def test_reassign_to_another_team_posts_there_too(team_bot: RunningBot):
    bot = team_bot
    store = FindingStore(bot.ctx.db)
    finding = store.create(NewFinding("Shrink the search cluster", "payments", {"service": "Amazon EC2"}, 500),
                           by="U_PAY_OWNER", at=datetime.now(UTC))
    publish_finding(bot.ctx, finding.id)
    press(bot, finding.id, "reassign", "U_PAY_OWNER")
    modal = wait_for(lambda: bot.slack.calls("views.open"))[-1]["view"]
    done = bot.client.view_submission("finding_move", {"team": {"value": select("search")},
                                                       "assignee": {"value": {"type": "users_select",
                                                                              "selected_user": None}},
                                                       "reason": {"value": "their cluster"}},
                                      user_id="U_PAY_OWNER", view=modal)
    assert done.status == 200 and done.body == ""
    moved = store.get(finding.id)
    assert (moved.team, moved.assignee, moved.state) == ("search", "U_SEARCH_OWNER", FindingState.IDENTIFIED)
    copy = wait_for(lambda: [m for m in bot.slack.messages("#team-search") if "Savings finding" in m["text"]])
    assert copy[0]["metadata"]["event_payload"]["key"] == f"finding:{finding.id}:team:search"
    # The payments owner is no longer on the finding's team; the search owner is.
    _, url = press(bot, finding.id, "accept", "U_PAY_OWNER")
    assert "is not yours" in wait_for(lambda: bot.slack.response_url_calls(url))[0]["text"]
    press(bot, finding.id, "accept", "U_SEARCH_OWNER")
    moved_to(bot, finding.id, FindingState.ACCEPTED)


@pytest.fixture
def anomalous(db: Database, fake_slack, tmp_path, monkeypatch):
    """The app on the test backend with the anomaly data of tests/jobs/anomaly_data.py through
    2026-11-14 and the detection of 2026-11-16 done: payments' EC2 is $1,600/day over its usual
    since 2026-11-12 (impact $4,800 over 2026-11-12..14)."""
    monkeypatch.setattr(jobs.detect, "anomaly_chart", lambda *args, **kwargs: b"\x89PNG stand-in")
    running = workspace(start_bot(db, fake_slack, now=lambda: NOW, files_dir=tmp_path / "files"))
    ingest_through(running.ctx, date(2026, 11, 14), tmp_path)
    run_detection(running.ctx, as_of=NOW.date())
    try:
        yield running
    finally:
        running.stop()


def test_open_finding_from_an_anomaly_prefills_scope_and_estimate(anomalous: RunningBot):
    bot = anomalous
    (anomaly,) = AnomalyStore(bot.ctx.db).list_anomalies(team="payments")
    assert (anomaly.start, anomaly.through, anomaly.detected_on, anomaly.impact) == (
        date(2026, 11, 12), date(2026, 11, 14), date(2026, 11, 12), 4800)
    channel = bot.slack.channel_id(CHANNEL)
    url = bot.slack.response_url(channel=CHANNEL)
    bot.client.action("anomaly_open_finding", str(anomaly.id), user_id="U_STRANGER", channel_id=channel,
                      response_url=url)
    # Whether U_STRANGER is in the channel is a members lookup: "checking", then the refusal in its place.
    (refused,) = wait_for(lambda: bot.slack.calls("views.update"))
    assert refused["view"]["blocks"][0]["text"]["text"] == (
        f":no_entry: Anomaly #{anomaly.id} is not yours: it belongs to *payments*. Nothing was changed.")
    assert bot.slack.response_url_calls(url) == [] and len(bot.slack.calls("views.open")) == 1

    bot.client.action("anomaly_open_finding", str(anomaly.id), user_id="U_PAY_DEV", channel_id=channel)
    # On the team in teams.yml: the form opens at once, filled from the anomaly.
    view = wait_for(lambda: len(bot.slack.calls("views.open")) == 2 and bot.slack.calls("views.open"))[-1]["view"]
    blocks = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert blocks["title"]["initial_value"] == f"Reduce Amazon EC2 after anomaly #{anomaly.id}"
    assert blocks["estimate"]["initial_value"] == "48700.00"  # $4,800 over 3 days = $1,600/day × 30.4375
    assert [o["value"] for o in blocks["scope_service"]["initial_options"]] == ["Amazon EC2"]
    assert [o["value"] for o in blocks["scope_sub_account_id"]["initial_options"]] == ["111222330440"]
    assert blocks["team"]["initial_option"]["value"] == "payments"
    form = {"title": {"value": "Stop the load-test fleet"}, "team": {"value": select("payments")},
            "scope_service": {"value": multi("Amazon EC2")}, "scope_region": {"value": multi("us-east-1")},
            "estimate": {"value": "48700.00"}, "due": {"value": date_pick(None)}}
    form_view = filled_form(bot)
    answer = bot.client.view_submission("finding_new", form, user_id="U_PAY_DEV", view=form_view).json()
    assert answer["response_action"] == "update"
    (finding,) = FindingStore(bot.ctx.db).list_findings()
    # The same form submitted again (a second window, a double click): told plainly, next to the title.
    again = bot.client.view_submission("finding_new", form, user_id="U_PAY_DEV", view=form_view).json()
    assert again == {"response_action": "errors",
                     "errors": {"title": f"Anomaly {anomaly.id} is already finding #{finding.id}"}}
    assert len(FindingStore(bot.ctx.db).list_findings()) == 1
    assert (finding.source, finding.external_id, finding.assignee) == ("anomaly", str(anomaly.id), "U_PAY_OWNER")
    # Both presses are in the anomaly's audit trail: the stranger's refusal, then who opened which
    # finding (written just after the submission's ack, so waited for).
    def trail() -> list[tuple]:
        return [(e.actor, e.action, e.reason, e.detail) for e in AnomalyStore(bot.ctx.db).history(anomaly.id)
                if e.action in ("refused:open_finding", "finding_opened")]

    assert wait_for(lambda: len(trail()) == 2 and trail(), timeout=10) == [
        ("U_STRANGER", "refused:open_finding",
         f"Anomaly #{anomaly.id} is not yours: it belongs to *payments*. Nothing was changed.", None),
        ("U_PAY_DEV", "finding_opened", None, {"finding_id": finding.id})]

    again = bot.slack.response_url(channel=CHANNEL)
    bot.client.action("anomaly_open_finding", str(anomaly.id), user_id="U_PAY_DEV", channel_id=channel,
                      response_url=again)
    assert wait_for(lambda: bot.slack.response_url_calls(again))[0]["text"].startswith(
        f"Finding #{finding.id} was already opened from this anomaly (identified)")


def test_the_findings_listeners_call_the_service_not_the_cli_or_the_jobs():
    for module in (handlers.findings, handlers.finding_actions):
        tree = ast.parse(Path(module.__file__).read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert not [name for name in imported if name.startswith(("bot.cli", "jobs"))], module.__name__


def test_a_channel_member_opens_a_finding_from_an_anomaly_through_checking(anomalous: RunningBot):
    # U_PAY_CHANNEL is on payments only as a member of its channel, and the lookup takes 4 s: the
    # "checking" modal opens at once, the pre-filled form replaces it, then its scope pickers fill in.
    bot = anomalous
    bot.slack.add_user("U_PAY_CHANNEL", name="u_pay_channel")
    bot.slack.add_members(CHANNEL, "U_PAY_CHANNEL")
    (anomaly,) = AnomalyStore(bot.ctx.db).list_anomalies(team="payments")
    bot.slack.delay("conversations.members", 4)
    bot.client.action("anomaly_open_finding", str(anomaly.id), user_id="U_PAY_CHANNEL",
                      channel_id=bot.slack.channel_id(CHANNEL))
    (checking,) = wait_for(lambda: bot.slack.calls("views.open"))
    assert checking["view"]["title"]["text"] == f"Anomaly #{anomaly.id}" and "callback_id" not in checking["view"]
    form, filled = wait_for(lambda: len(bot.slack.calls("views.update")) == 2 and bot.slack.calls("views.update"),
                            timeout=15)
    assert form["view"]["callback_id"] == "finding_new" and "Looking up the accounts" in str(form["view"]["blocks"])
    assert filled["view_id"] == form["view_id"]
    held = bot.slack.view(filled["view_id"])
    inputs = {b["block_id"]: b["element"] for b in held["blocks"] if b["type"] == "input"}
    assert inputs["title"]["initial_value"] == f"Reduce Amazon EC2 after anomaly #{anomaly.id}"
    assert [o["value"] for o in inputs["scope_service"]["initial_options"]] == ["Amazon EC2"]
    assert bot.slack.violations == []


def test_a_button_or_form_of_a_finding_costbot_no_longer_has_is_told_so(team_bot: RunningBot):
    bot = team_bot
    gone = "This finding is no longer known to costbot. Nothing was changed; /cost findings lists the current ones."
    for value in ("999:1", "not-a-finding"):
        url = bot.slack.response_url(channel=CHANNEL)
        ack = bot.client.action("finding_accept", value, user_id="U_PAY_OWNER",
                                channel_id=bot.slack.channel_id(CHANNEL), message_ts="1.000001", response_url=url)
        assert ack.status == 200
        (answer,) = wait_for(lambda url=url: bot.slack.response_url_calls(url))
        assert (answer["text"], answer["response_type"]) == (f":warning: {gone}", "ephemeral")
    submitted = bot.client.view_submission("finding_move", {"reason": {"value": "no longer needed"}}, user_id="U_PAY_OWNER",
                                           private_metadata=json.dumps({"id": 999, "version": 1, "action": "reject"}))
    assert submitted.json() == {"response_action": "errors", "errors": {"reason": gone}}
    assert bot.slack.calls("chat.postMessage") == []
