"""The daily budget check through the Slack harness: one alert per team and month, posted when the
forecast crosses 80 %, edited (never re-posted) as it moves, a thread reply when it goes over."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from jobs.budgets import check_budgets
from storage.db import Database
from storage.digests import BudgetAlertStore
from tests.harness import start_bot
from tests.jobs.digest_data import TEAMS_YAML, cost_rows, flat_history, store_costs, teams_config

NOW = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)


@pytest.fixture
def org(sqlite_db: Database, fake_slack):
    running = start_bot(sqlite_db, fake_slack, teams_yaml=TEAMS_YAML, now=lambda: NOW)
    teams = teams_config()
    flat_history(sqlite_db, teams, through=date(2026, 11, 5))
    # Payments' EC2 doubles from November 6 ($60 -> $120 a day direct; it then takes 120/150 of
    # the $9 support pool: $127.20 a day in all).
    store_costs(sqlite_db, teams, cost_rows(date(2026, 11, 6), date(2026, 11, 15), payments=120.0),
                complete_through=date(2026, 11, 15))
    try:
        yield running
    finally:
        running.stop()


def posted(slack, channel: str) -> list[dict]:
    """The channel's messages; none when nothing was ever posted there (the fake has no such channel)."""
    try:
        return slack.messages(channel)
    except KeyError:
        return []


def texts(messages: list[dict]) -> list[str]:
    return [m["text"] for m in messages]


def test_budget_alert_fires_once_and_is_updated_in_place(org) -> None:
    slack = org.slack
    # Nov 4: payments $1,980 of $2,300 (86 %): a warning, posted once; search $990 of $1,500 is 66 %.
    outcomes = check_budgets(org.ctx, as_of=date(2026, 11, 4))
    assert [(o.team, o.level, o.action) for o in outcomes] == [("payments", "warning", "posted"),
                                                               ("search", "ok", "none")]
    assert texts(slack.messages("#team-payments")) == [
        "payments is forecast to use 86 % of its November 2026 budget: forecast $1,980.00 of $2,300.00"]
    assert slack.calls("chat.postMessage")[0]["channel"] == "#team-payments"
    with pytest.raises(KeyError):
        slack.messages("#team-search")  # no channel was ever posted to

    # Nov 5: the same forecast; only "spent so far" moves: the same message is edited.
    check_budgets(org.ctx, as_of=date(2026, 11, 5))
    assert len(slack.calls("chat.postMessage")) == 1
    assert len(slack.calls("chat.update")) == 1

    # Nov 12: the doubling is a new level (7 days): 5 x $66 + 25 x $127.20 = $3,510 (153 %): over.
    # The alert is edited, and a thread reply notifies people (an edit notifies nobody).
    outcomes = check_budgets(org.ctx, as_of=date(2026, 11, 12))
    assert (outcomes[0].level, outcomes[0].action) == ("over", "raised")
    messages = slack.messages("#team-payments")
    assert texts(messages) == [
        "payments is forecast to go over its November 2026 budget: forecast $3,510.00 of $2,300.00",
        ":red_circle: payments is now forecast *over budget* for November 2026: $3,510.00 of $2,300.00 (153 %).",
    ]
    assert messages[1]["thread_ts"] == messages[0]["ts"]
    assert "*153 %*" in messages[0]["blocks"][1]["text"]["text"]

    # The same day again: nothing changes, no Slack call at all.
    calls = len(slack.all_calls())
    assert [o.action for o in check_budgets(org.ctx, as_of=date(2026, 11, 12))] == ["updated", "none"]
    assert len(slack.all_calls()) == calls

    # Back to the warning level (as of Nov 4 again): edited, no new reply, "over" stays announced.
    outcomes = check_budgets(org.ctx, as_of=date(2026, 11, 4))
    assert (outcomes[0].level, outcomes[0].action) == ("warning", "updated")
    assert len(slack.calls("chat.postMessage")) == 2  # the alert and its one reply
    saved = BudgetAlertStore(org.ctx.db).get("payments", "2026-11")
    assert (saved.level, saved.announced_level, saved.forecast) == ("warning", "over", Decimal("1980"))
    assert slack.messages("#team-payments")[0]["text"].startswith("payments is forecast to use 86 %")
    # Rising again does not announce "over" a second time.
    assert check_budgets(org.ctx, as_of=date(2026, 11, 12))[0].action == "updated"
    assert len(slack.calls("chat.postMessage")) == 2


def test_a_new_month_is_a_new_alert(org) -> None:
    check_budgets(org.ctx, as_of=date(2026, 11, 12))
    store_costs(org.ctx.db, teams_config(), cost_rows(date(2026, 11, 16), date(2026, 12, 3), payments=120.0),
                complete_through=date(2026, 12, 3))
    outcomes = check_budgets(org.ctx, as_of=date(2026, 12, 3))
    assert (outcomes[0].month, outcomes[0].level, outcomes[0].action) == ("2026-12", "over", "posted")
    keys = [c["metadata"]["event_payload"]["key"] for c in org.slack.calls("chat.postMessage")]
    assert keys == ["budget:payments:2026-11", "budget:payments:2026-12"]


def test_data_too_old_to_forecast_from_skips_the_check_and_leaves_the_alert(org, caplog) -> None:
    check_budgets(org.ctx, as_of=date(2026, 11, 15))
    before = org.slack.calls("chat.postMessage") + org.slack.calls("chat.update")
    # January 2027 with data only through 15 November: nothing to alert from, nothing posted.
    assert check_budgets(org.ctx, as_of=date(2027, 1, 10)) == []
    assert org.slack.calls("chat.postMessage") + org.slack.calls("chat.update") == before
    assert "budget check skipped: the cost data is complete through 2026-11-15, before December 2026" in caplog.text
    assert BudgetAlertStore(org.ctx.db).get("payments", "2026-11") is not None
    assert BudgetAlertStore(org.ctx.db).get("payments", "2027-01") is None


def test_an_alert_slack_failed_to_take_is_retried_not_lost_or_doubled(org) -> None:
    slack = org.slack
    # Slack fails every inline attempt: the alert waits in the outbox, its state is saved.
    slack.fail_next("chat.postMessage", status=500, times=org.ctx.delivery.max_inline_attempts)
    outcomes = check_budgets(org.ctx, as_of=date(2026, 11, 4))
    assert [(o.team, o.action) for o in outcomes] == [("payments", "posted"), ("search", "none")]
    assert posted(slack, "#team-payments") == []
    assert BudgetAlertStore(org.ctx.db).get("payments", "2026-11").level == "warning"

    # The next day's check does not post a second alert: it refreshes the one still owed...
    check_budgets(org.ctx, as_of=date(2026, 11, 5))
    # ...and the outbox flush delivers it once it is due.
    org.ctx.delivery.flush(now=datetime.now(UTC) + timedelta(hours=1))
    assert texts(slack.messages("#team-payments")) == [
        "payments is forecast to use 86 % of its November 2026 budget: forecast $1,980.00 of $2,300.00"]
    # Every attempt carried the alert's key (the failed ones included): one key, one message in the channel.
    keys = {c["metadata"]["event_payload"]["key"] for c in slack.calls("chat.postMessage")}
    assert keys == {"budget:payments:2026-11"}


def test_last_months_alert_ends_with_its_final_total_not_the_forecast_of_its_last_check(org) -> None:
    # Nov 4: payments is forecast at $1,980.00 (86 %): a warning. Its spend then doubled; by Dec 3
    # all of November is in: 5 x $66 + 25 x $127.20 = $3,510.00. Before, the November alert kept
    # saying "forecast $1,980.00 ... updated daily" for good.
    check_budgets(org.ctx, as_of=date(2026, 11, 4))
    store_costs(org.ctx.db, teams_config(), cost_rows(date(2026, 11, 16), date(2026, 12, 3), payments=120.0),
                complete_through=date(2026, 12, 3))
    outcomes = check_budgets(org.ctx, as_of=date(2026, 12, 3))
    assert [(o.team, o.month, o.level, o.action) for o in outcomes] == [
        ("payments", "2026-12", "over", "posted"), ("search", "2026-12", "ok", "none"),
        ("payments", "2026-11", "over", "raised")]  # search had no November alert: none is posted now
    november = org.slack.messages("#team-payments")[0]
    assert november["text"] == "payments went over its November 2026 budget: $3,510.00 of $2,300.00"
    assert november["blocks"][1]["text"]["text"] == (
        ":red_circle: November 2026 came to *$3,510.00* against a budget of *$2,300.00*: *153 %*, "
        "$1,210.00 over it.")
    assert november["blocks"][2]["elements"][0]["text"] == (
        "Final: the cost data covers all of November 2026. `/cost why team=payments 2026-11`")
    replies = [m["text"] for m in org.slack.messages("#team-payments") if m.get("thread_ts") == november["ts"]]
    assert replies == [":red_circle: payments went *over budget* in November 2026: $3,510.00 of $2,300.00 "
                       "(153 %), final."]
    # The next day nothing about November has changed: no Slack call for it.
    calls = len(org.slack.calls("chat.update")) + len(org.slack.calls("chat.postMessage"))
    check_budgets(org.ctx, as_of=date(2026, 12, 3))
    assert len(org.slack.calls("chat.update")) + len(org.slack.calls("chat.postMessage")) == calls


def test_last_months_alert_closes_on_the_budget_it_was_alerted_on_not_next_months(org) -> None:
    # November's alert was about its $2,300.00 budget; on 1 December payments' budget rises to
    # $5,000.00 in teams.yml. November still closes over its $2,300.00 ($3,510.00, 153 %), not
    # "70 % of its November budget" against a budget it never had.
    check_budgets(org.ctx, as_of=date(2026, 11, 4))
    store_costs(org.ctx.db, teams_config(), cost_rows(date(2026, 11, 16), date(2026, 12, 3), payments=120.0),
                complete_through=date(2026, 12, 3))
    org.ctx.teams = teams_config(TEAMS_YAML.replace("budget_monthly: 2300", "budget_monthly: 5000"))
    outcomes = check_budgets(org.ctx, as_of=date(2026, 12, 3))
    assert [(o.team, o.month, o.level) for o in outcomes] == [
        ("payments", "2026-12", "ok"), ("search", "2026-12", "ok"), ("payments", "2026-11", "over")]
    assert org.slack.messages("#team-payments")[0]["text"] == (
        "payments went over its November 2026 budget: $3,510.00 of $2,300.00")
    assert BudgetAlertStore(org.ctx.db).get("payments", "2026-11").budget == Decimal("2300")


def test_last_months_alert_is_closed_even_when_this_month_cannot_be_forecast(org, caplog) -> None:
    # All of November is in, then the source stops. On 5 January, January cannot be forecast
    # (data through 30 Nov stops before December): no January alert. December's alert, posted on
    # 1 December, is still brought up to date; the check used to stop before reaching it.
    check_budgets(org.ctx, as_of=date(2026, 11, 4))
    store_costs(org.ctx.db, teams_config(), cost_rows(date(2026, 11, 16), date(2026, 11, 30), payments=120.0),
                complete_through=date(2026, 11, 30))
    check_budgets(org.ctx, as_of=date(2026, 12, 1))
    assert BudgetAlertStore(org.ctx.db).get("payments", "2026-12").level == "over"
    outcomes = check_budgets(org.ctx, as_of=date(2027, 1, 5))
    assert "budget check skipped: the cost data is complete through 2026-11-30, before December 2026" in caplog.text
    assert [(o.team, o.month, o.action) for o in outcomes] == [("payments", "2026-12", "updated")]
