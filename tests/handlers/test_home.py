"""App Home through the real app: app_home_opened -> the viewer's team dashboard via views.publish,
within 100 blocks however many findings; the finding buttons work from the Home tab."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from storage.audit import AuditLog
from storage.db import Database
from storage.findings import FindingStore, NewFinding
from tests.handlers.test_commands import wait_for
from tests.handlers.test_findings import select
from tests.harness import start_bot
from tests.jobs.digest_data import (
    MONDAY_9AM,
    TEAMS_YAML,
    TWO_TEAMS_YAML,
    cost_rows,
    flat_history,
    running_org,
    store_costs,
    teams_config,
)

NOW = MONDAY_9AM  # the org fixture's clock


@pytest.fixture
def org(sqlite_db: Database, fake_slack):
    for channel in ("#team-payments", "#team-search"):  # the teams' channels exist, with nobody else in them
        fake_slack.add_channel(channel)
    with running_org(sqlite_db, fake_slack) as running:
        yield running


def open_home(bot, user: str) -> dict:
    bot.slack.reset()
    assert bot.client.event({"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home"}).status == 200
    return wait_for(lambda: bot.slack.home_view(user), timeout=20)


def texts(view: dict) -> list[str]:
    out = []
    for block in view["blocks"]:
        if block["type"] in ("section", "header"):
            out.append(block["text"]["text"])
        elif block["type"] == "context":
            out.append(block["elements"][0]["text"])
    return out


def test_the_viewer_sees_their_teams_month_findings_and_buttons(org) -> None:
    store = FindingStore(org.ctx.db)
    small = store.create(NewFinding("Delete idle volumes", "payments", {"service": "Amazon EC2"}, 120), by="U1",
                         at=NOW - timedelta(days=5))
    big = store.create(NewFinding("Rightsize RDS", "payments", {"service": "Amazon RDS"}, 900), by="U1",
                       at=NOW - timedelta(days=2))
    store.create(NewFinding("S3 lifecycle", "search", {"service": "Amazon S3"}, 50), by="U1", at=NOW)
    view = open_home(org, "U_PAY_DEV")
    assert view["type"] == "home" and len(view["blocks"]) <= 100
    shown = texts(view)
    assert shown[0] == "payments · cost dashboard"
    # Flat spend: the interval is the point, so it is not printed as "$1,980.00 ($1,980.00 – $1,980.00)".
    assert shown[1] == ("*November 2026*: $990.00 spent through 15 Nov of the $2,300.00 budget\n"
                        "Month-end forecast $1,980.00: :large_yellow_circle: 86 % of budget")
    assert "*Open findings* (2, $1,020.00/month identified)" in shown
    findings = [t for t in shown if t.startswith("*#")]
    assert [t.split(" ·")[0] for t in findings] == [f"*#{big.id} Rightsize RDS*", f"*#{small.id} Delete idle volumes*"]
    buttons = [e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert {b["action_id"] for b in buttons} >= {"finding_accept", "finding_reject"}
    assert not any("S3 lifecycle" in t for t in shown)  # search's finding is not payments'


def test_findings_past_their_due_date_where_the_team_is_are_marked_and_first(sqlite_db: Database,
                                                                             fake_slack) -> None:
    # 20:00 UTC on Sunday 15 Nov is 09:00 on Monday 16 Nov in Auckland, the org's time zone: a
    # finding due on the 15th is a day late there, though the 15th is still today in UTC.
    auckland = "timezone: Pacific/Auckland\n" + TEAMS_YAML
    running = start_bot(sqlite_db, fake_slack, teams_yaml=auckland,
                        now=lambda: datetime(2026, 11, 15, 20, 0, tzinfo=UTC))
    try:
        flat_history(sqlite_db, teams_config(auckland))
        store = FindingStore(running.ctx.db)
        at = datetime(2026, 11, 2, tzinfo=UTC)
        big = store.create(NewFinding("Rightsize RDS", "payments", {"service": "Amazon RDS"}, "900.00",
                                      due_on=date(2026, 11, 16)), by="U1", at=at)
        late = store.create(NewFinding("Delete idle volumes", "payments", {"service": "Amazon EC2"}, "120.50",
                                       due_on=date(2026, 11, 15)), by="U1", at=at)
        shown = texts(open_home(running, "U_PAY_DEV"))
        assert "*Open findings* (2, $1,020.50/month identified; 1 past its due date, listed first)" in shown
        assert [t for t in shown if t.startswith("*#")] == [
            f"*#{late.id} Delete idle volumes* · $120.50/month · :mag: identified · :warning: past its due date "
            "15 Nov (1 day)",
            f"*#{big.id} Rightsize RDS* · $900.00/month · :mag: identified · due 16 Nov"]
    finally:
        running.stop()


def test_data_too_old_to_forecast_from_is_said_not_shown_as_nothing_spent(org) -> None:
    org.ctx.now = lambda: datetime(2027, 2, 1, 9, 0, tzinfo=UTC)  # the data still ends on 15 Nov 2026
    shown = texts(open_home(org, "U_PAY_DEV"))
    assert shown[1] == ("*February 2027*: no spend or forecast to show: the cost data is complete through "
                        "2026-11-15, before January 2027: too old to forecast February 2027 from: ingest newer "
                        "cost data first")
    # Someone on no team sees the organisation's line: the same reason, not nothing.
    assert "*Organisation*: no spend or forecast to show: the cost data is complete through 2026-11-15" in \
        " ".join(texts(open_home(org, "U_STRANGER")))
    # A finance approver on no team gets the same reason, not the advice to ask to join a team.
    assert texts(open_home(org, "U_FINANCE")) == [
        "You are a finance approver on no team, so here is the organisation. Each team's month-end forecast against "
        "its budget shows here once this month can be forecast.",
        "*Organisation*: no spend or forecast to show: the cost data is complete through 2026-11-15, before January "
        "2027: too old to forecast February 2027 from: ingest newer cost data first"]


def test_on_the_first_days_of_a_month_no_day_of_it_is_said_not_nothing_spent_through_last_month(org) -> None:
    # On 1 Dec the data still ends on 15 Nov: the forecast of December comes from past months, and
    # "$0.00 spent through 15 Nov" under "December 2026" read as a month with nothing spent.
    org.ctx.now = lambda: datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert texts(open_home(org, "U_PAY_DEV"))[1] == (
        "*December 2026*: no day of it in the cost data yet (complete through 15 Nov); $2,300.00 budget\n"
        "Month-end forecast $2,046.00: :large_yellow_circle: 89 % of budget")
    assert texts(open_home(org, "U_STRANGER"))[1] == (
        "*Organisation, December 2026*: no day of it in the cost data yet (complete through 15 Nov); month-end "
        "forecast $3,100.00")


def home_buttons(view: dict, finding_id: int) -> dict[str, str]:
    """action_id -> value of the buttons of one finding on a Home view."""
    return {e["action_id"]: e["value"] for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]
            if e["value"].startswith(f"{finding_id}:")}


def test_a_move_from_home_republishes_it_and_a_refusal_reaches_the_person(org) -> None:
    store = FindingStore(org.ctx.db)
    finding = store.create(NewFinding("Rightsize RDS", "payments", {"service": "Amazon RDS"}, 900), by="U1",
                           at=NOW - timedelta(days=2))
    for user in ("U_PAY_OWNER", "U_SEARCH_OWNER"):
        org.slack.add_user(user, name=user.lower())
    view = open_home(org, "U_PAY_OWNER")
    assert set(home_buttons(view, finding.id)) == {"finding_accept", "finding_reject", "finding_reassign"}

    # Someone outside payments presses Accept on a Home tab showing the finding: a Home press has
    # no response_url, so the refusal is an ephemeral message in their DM with the app.
    org.slack.reset()
    org.client.action("finding_accept", home_buttons(view, finding.id)["finding_accept"], user_id="U_SEARCH_OWNER",
                      view=view)
    [refusal] = wait_for(lambda: org.slack.ephemerals("U_SEARCH_OWNER"), timeout=10)
    assert refusal["text"].startswith(f":no_entry: Finding #{finding.id} is not yours: it belongs to *payments*.")
    assert store.get(finding.id).state == "identified"
    assert wait_for(lambda: [a.actor for a in AuditLog(org.ctx.db).history("finding", finding.id)
                             if a.action == "refused:accept"], timeout=10) == ["U_SEARCH_OWNER"]

    # The owner accepts from Home: the finding moves, and their Home tab is published again with
    # the buttons of the new state (not the stale Accept).
    org.slack.reset()
    org.client.action("finding_accept", home_buttons(view, finding.id)["finding_accept"], user_id="U_PAY_OWNER",
                      view=view)
    wait_for(lambda: store.get(finding.id).state == "accepted", timeout=10)
    republished = wait_for(lambda: org.slack.calls("views.publish"), timeout=10)
    assert republished[-1]["user_id"] == "U_PAY_OWNER"
    assert set(home_buttons(org.slack.home_view("U_PAY_OWNER"), finding.id)) == {
        "finding_start", "finding_reject", "finding_reassign"}
    assert org.slack.ephemerals("U_PAY_OWNER") == []

    # A move through a modal opened from Home re-publishes it too.
    org.slack.reset()
    view = org.slack.home_view("U_PAY_OWNER")
    org.client.action("finding_reassign", home_buttons(view, finding.id)["finding_reassign"], user_id="U_PAY_OWNER",
                      view=view)
    modal = wait_for(lambda: org.slack.calls("views.open"), timeout=10)[-1]["view"]
    assert json.loads(modal["private_metadata"])["home"] is True
    done = org.client.view_submission("finding_move", {"team": {"value": select("search")},
                                                       "assignee": {"value": {"type": "users_select",
                                                                              "selected_user": "U_SEARCH_OWNER"}},
                                                       "reason": {"value": "search owns RDS"}},
                                      user_id="U_PAY_OWNER", view=modal)
    assert done.status == 200 and store.get(finding.id).team == "search"
    wait_for(lambda: org.slack.calls("views.publish"), timeout=10)
    assert home_buttons(org.slack.home_view("U_PAY_OWNER"), finding.id) == {}


def test_someone_on_no_team_sees_the_organisation(org) -> None:
    view = open_home(org, "U_STRANGER")
    assert texts(view) == [
        "You are not on a team in teams.yml yet, so here is the organisation. Ask your costbot admin to add you to "
        "your team's `owners` or `members`.",
        "*Organisation, November 2026*: $1,500.00 spent through 15 Nov; month-end forecast $3,000.00"]


def test_a_finance_approver_on_no_team_sees_every_budget_not_a_request_to_join_one(org) -> None:
    # U_FINANCE approves for the whole organisation; "ask your admin to add you to your team" was
    # the wrong advice, and the budgets were the figures a finance lead opens the tab for.
    assert texts(open_home(org, "U_FINANCE")) == [
        "You are a finance approver on no team, so here is the organisation: each team's month-end forecast "
        "against its budget, the closest to it first.",
        "*Organisation, November 2026*: $1,500.00 spent through 15 Nov; month-end forecast $3,000.00",
        "*Budgets*\n:large_yellow_circle: *payments*: forecast $1,980.00 of $2,300.00 (86 %), $990.00 spent\n"
        ":large_green_circle: *search*: forecast $990.00 of $1,500.00 (66 %), $495.00 spent",
        "`/cost budget` shows the same in any channel; `/cost forecast` adds the teams without a budget."]


def test_two_hundred_findings_stay_within_the_view_limit(org) -> None:
    store = FindingStore(org.ctx.db)
    for k in range(200):
        store.create(NewFinding(f"Cleanup {k:03d}", "payments", {"service": "Amazon EC2"}, 10 + k), by="U1", at=NOW)
    view = open_home(org, "U_PAY_OWNER")
    assert len(view["blocks"]) <= 100
    assert any(t.startswith("…and ") and t.endswith("more: `/cost findings payments`") for t in texts(view))
    assert org.slack.violations == []


def test_a_viewer_on_two_teams_sees_both_dashboards_within_the_limit(sqlite_db: Database, fake_slack) -> None:
    # U_BOTH is a member of payments and an owner of search: one view, payments first (teams.yml
    # order), each with its own month, findings and buttons, within 100 blocks with 200 findings each.
    with running_org(sqlite_db, fake_slack, teams_yaml=TWO_TEAMS_YAML) as running:
        store = FindingStore(running.ctx.db)
        for k in range(200):
            store.create(NewFinding(f"Payments cleanup {k:03d}", "payments", {"service": "Amazon EC2"}, 10 + k),
                         by="U1", at=NOW)
            store.create(NewFinding(f"Search cleanup {k:03d}", "search", {"service": "Amazon S3"}, 10 + k),
                         by="U1", at=NOW)
        view = open_home(running, "U_BOTH")
        assert len(view["blocks"]) <= 100
        shown = texts(view)
        assert [t for t in shown if t.endswith("· cost dashboard")] == ["payments · cost dashboard",
                                                                          "search · cost dashboard"]
        assert ("*November 2026*: $990.00 spent through 15 Nov of the $2,300.00 budget\n"
                "Month-end forecast $1,980.00: :large_yellow_circle: 86 % of budget") in shown
        assert ("*November 2026*: $495.00 spent through 15 Nov of the $1,500.00 budget\n"
                "Month-end forecast $990.00: :large_green_circle: 66 % of budget") in shown
        # Each team's biggest findings come first under its own heading, and each list says what it leaves out.
        payments_at, search_at = shown.index("payments · cost dashboard"), shown.index("search · cost dashboard")
        assert shown[payments_at:search_at].count("*Open findings* (200, $21,900.00/month identified)") == 1
        assert any(t.startswith("*#") and "Payments cleanup 199" in t for t in shown[payments_at:search_at])
        assert any(t.startswith("*#") and "Search cleanup 199" in t for t in shown[search_at:])
        assert not any("Search cleanup" in t for t in shown[payments_at:search_at])
        more = [t for t in shown if t.startswith("…and ")]
        assert [m.split(": ")[1] for m in more] == ["`/cost findings payments`", "`/cost findings search`"]
        assert running.slack.violations == []


def test_a_first_ingest_from_the_10th_shows_where_the_months_spend_starts(sqlite_db: Database, fake_slack) -> None:
    # Cost data from Tue 10 Nov to Sun 15 Nov: payments' $66.00 a day ($60 direct, 60/90 of the $9
    # support pool) is $396.00 over those 6 days, and its month-end forecast estimates 1-9 Nov too:
    # 30 x $66.00 = $1,980.00 (86 % of $2,300.00), not 21 x $66.00 = $1,386.00 (60 %).
    store_costs(sqlite_db, teams_config(), cost_rows(date(2026, 11, 10), date(2026, 11, 15)),
                complete_through=date(2026, 11, 15))
    bot = start_bot(sqlite_db, fake_slack, teams_yaml=TEAMS_YAML, now=lambda: datetime(2026, 11, 16, 9, 0, tzinfo=UTC))
    try:
        assert texts(open_home(bot, "U_PAY_DEV"))[1] == (
            "*November 2026*: $396.00 spent from 10 Nov, the cost data's first day, through 15 Nov of the "
            "$2,300.00 budget\nMonth-end forecast $1,980.00: :large_yellow_circle: 86 % of budget")
    finally:
        bot.stop()


def test_a_dashboard_that_cannot_be_built_tells_the_viewer_instead_of_leaving_the_tab_blank(org, monkeypatch,
                                                                                             caplog) -> None:
    # The database goes away under the bot: building the Home raised, and the tab stayed blank.
    org.ctx.db.engine.dispose()
    monkeypatch.setattr(org.ctx.db.engine.pool, "connect", lambda: (_ for _ in ()).throw(OSError("connection refused")))
    shown = texts(open_home(org, "U_PAY_DEV"))
    assert shown == ["costbot · cost dashboard",
                     ":warning: Your dashboard could not be built just now; the error is in costbot's log for its "
                     "admins. Open this tab again in a minute, or use `/cost budget` and `/cost findings` meanwhile."]
    assert "App Home of U_PAY_DEV could not be built" in caplog.text
