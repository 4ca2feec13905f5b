"""Slack wants every request acked within 3 s, and a Web API call can take longer: /cost subcommands
that need one (a modal, a channel's members) ack first and answer through response_url after.
Slack is slowed down with FakeSlack ``delay`` and rate limited with ``fail_next``."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from finops.units import UnitValue
from storage.audit import AuditLog
from storage.db import Database
from storage.units import UnitStore
from tests.handlers.test_commands import wait_for
from tests.harness import TEAMS_YAML, RunningBot, start_bot

SLOW = 4.0  # seconds: longer than Slack waits for an ack
TEAMS_WITH_ORDERS = TEAMS_YAML.replace("    members: [U_PAY_DEV]\n", "    members: [U_PAY_DEV]\n    unit_metrics: [orders]\n")
RECORDED = (":white_check_mark: Recorded 100 orders for payments, 2026-10-01 to 2026-10-31. "
            "The weekly digest shows the cost per unit once the period's cost data is complete.")


@pytest.fixture
def bot(sqlite_db: Database, fake_slack):
    running = start_bot(sqlite_db, fake_slack, teams_yaml=TEAMS_WITH_ORDERS)
    running.slack.add_channel("#team-payments")
    running.slack.add_members("#team-payments", "U_PAY_CHANNEL")
    try:
        yield running
    finally:
        running.stop()


def no_ack_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Bolt's complaints about a listener that did not ack in time (none expected)."""
    return [r.getMessage() for r in caplog.records if "ack()" in r.getMessage()]


def slash_while_slack_is_slow(bot: RunningBot, method: str, command: str, user: str):
    """Send ``/cost command`` while Slack answers ``method`` only after SLOW seconds; the ack must
    come within a second all the same. Returns the ack and the command's response_url."""
    bot.slack.delay(method, SLOW)
    url = bot.slack.response_url()
    ack = bot.client.slash(command, user_id=user, response_url=url)
    assert ack.status == 200 and ack.elapsed < 1.0, ack.elapsed
    return ack, url


def test_finding_new_is_acked_before_a_slow_views_open_and_the_form_opens_after(
        bot: RunningBot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    ack, url = slash_while_slack_is_slow(bot, "views.open", "finding new", "U_PAY_DEV")
    assert ack.json() == {"text": ":memo: Fill in the form to open a savings finding.", "response_type": "ephemeral"}
    # views.open answers after SLOW seconds; the scope pickers are filled in once it has.
    update = wait_for(lambda: bot.slack.calls("views.update"), timeout=SLOW + 10)[-1]
    assert bot.slack.view(update["view_id"])["callback_id"] == "finding_new"
    (opened,) = bot.slack.calls("views.open")
    assert opened["trigger_id"] == ack.sent["trigger_id"]
    assert bot.slack.response_url_calls(url) == []  # the ack said it all
    assert no_ack_warnings(caplog) == []
    assert bot.slack.violations == []


def test_a_rate_limited_views_open_tells_the_user_slack_is_busy(bot: RunningBot) -> None:
    bot.slack.fail_next("views.open", status=429, retry_after=1)
    url = bot.slack.response_url()
    ack = bot.client.slash("finding new", user_id="U_PAY_DEV", response_url=url)
    assert ack.status == 200 and ack.json()["text"] == ":memo: Fill in the form to open a savings finding."
    (answer,) = wait_for(lambda: bot.slack.response_url_calls(url))
    assert answer == {"text": ":hourglass_flowing_sand: Slack is busy right now, so costbot could not open the "
                              "new-finding form. Please try again in 1 second.",
                      "response_type": "ephemeral", "replace_original": False}
    assert bot.slack.calls("views.update") == []
    assert bot.slack.violations == []


def test_unit_record_by_a_channel_member_is_acked_before_a_slow_members_lookup(
        bot: RunningBot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    ack, url = slash_while_slack_is_slow(bot, "conversations.members", "unit record payments orders 2026-10 100",
                                         "U_PAY_CHANNEL")
    assert ack.json() == {"text": "Recording orders for payments…", "response_type": "ephemeral"}
    (answer,) = wait_for(lambda: bot.slack.response_url_calls(url), timeout=SLOW + 10)
    assert (answer["text"], answer["response_type"]) == (RECORDED, "ephemeral")
    assert UnitStore(bot.ctx.db).values() == [UnitValue("payments", "orders", date(2026, 10, 1), date(2026, 10, 31),
                                                        100.0)]
    assert [a.actor for a in AuditLog(bot.ctx.db).history("unit_metric", "payments:orders")] == ["U_PAY_CHANNEL"]
    assert no_ack_warnings(caplog) == []
    assert bot.slack.violations == []


def test_unit_record_by_a_listed_member_answers_in_the_ack_without_asking_slack(bot: RunningBot) -> None:
    ack, _ = slash_while_slack_is_slow(bot, "conversations.members", "unit record payments orders 2026-10 100",
                                       "U_PAY_DEV")
    assert ack.json()["text"] == RECORDED
    assert bot.slack.calls("conversations.members") == []  # teams.yml lists U_PAY_DEV: nothing to ask


def test_a_rate_limited_members_lookup_records_nothing_and_says_slack_is_busy(bot: RunningBot) -> None:
    bot.slack.fail_next("conversations.members", status=429, retry_after=2)
    url = bot.slack.response_url()
    ack = bot.client.slash("unit record payments orders 2026-10 100", user_id="U_PAY_CHANNEL", response_url=url)
    assert ack.json()["text"] == "Recording orders for payments…"
    (answer,) = wait_for(lambda: bot.slack.response_url_calls(url))
    assert answer["text"] == (":hourglass_flowing_sand: Slack is busy right now, so costbot could not check "
                              "that you are on payments. Please try again in 2 seconds.")
    assert UnitStore(bot.ctx.db).values() == []
