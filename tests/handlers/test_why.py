"""/cost why through the real app over HTTP, with the fake Slack checking every call it receives."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

import handlers.why
from bot.blocks.variance import DRILL_ACTION, MORE_ACTION, decode_question, encode_question
from finops import model
from finops.periods import parse_question
from storage.costs import CostStore
from storage.db import Database
from tests.handlers.test_commands import wait_for
from tests.harness import RunningBot, start_bot
from tests.slack.fake_slack import FakeSlack

ASKED_ON = datetime(2026, 9, 5, 9, 0, tzinfo=UTC)  # "last month" is August 2026, "vs" July
ACCOUNTS = {"payments": "111222330440", "search": "111222331441"}  # tests/harness.py's teams.yml


def costs(start: str, end: str, *, daily: float, quantity: float | None = None, team: str = "payments",
          service: str = "Amazon EC2") -> pd.DataFrame:
    """Daily rows (CostStore conforms them when it writes them), in the account the harness's
    teams.yml gives ``team`` (the bot re-allocates stored rows to its rules at start-up)."""
    days = pd.date_range(start, end)
    return pd.DataFrame({
        "ChargePeriodStart": days, "ProviderName": "AWS", "SubAccountId": ACCOUNTS[team], "ServiceName": service,
        "RegionId": "us-east-1", "ChargeCategory": "Usage", "EffectiveCost": daily, "BilledCost": daily,
        "PricingQuantity": np.nan if quantity is None else quantity, "PricingUnit": "Hrs" if quantity else "",
        model.TEAM: team})


@pytest.fixture
def why_bot(sqlite_db: Database, fake_slack: FakeSlack) -> Iterator[RunningBot]:
    store = CostStore(sqlite_db)
    store.replace_daily_costs("aws", pd.concat([
        costs("2026-07-01", "2026-07-31", daily=50.0, quantity=100.0),
        costs("2026-08-01", "2026-08-31", daily=75.0, quantity=150.0),
        costs("2026-07-01", "2026-08-31", daily=20.0, quantity=10.0, team="search", service="Amazon OpenSearch"),
    ]))
    fake_slack.add_user("U_FINANCE", name="finance.lead")
    running = start_bot(sqlite_db, fake_slack, now=lambda: ASKED_ON)
    try:
        yield running
    finally:
        running.stop()


def texts(blocks: list[dict]) -> str:
    return "\n".join(block.get("text", {}).get("text", "") for block in blocks)


def test_why_last_month_acks_at_once_then_answers_privately_with_the_chart_in_a_dm(why_bot: RunningBot) -> None:
    channel = why_bot.slack.add_channel("#finops")
    response_url = why_bot.slack.response_url(channel=channel)
    ack = why_bot.client.slash("why last month", user_id="U_FINANCE", channel_id=channel, response_url=response_url)
    assert ack.status == 200 and ack.elapsed < 1.0
    assert ack.json() == {"text": "Working out why spend changed…", "response_type": "ephemeral"}

    (answer,) = wait_for(lambda: why_bot.slack.response_url_calls(response_url))
    assert answer["response_type"] == "ephemeral"
    assert answer["blocks"][0]["text"]["text"] == "Why spend changed: July 2026 → August 2026"
    body = texts(answer["blocks"])
    assert "Spend rose $775.00 (+35.7 %) from July 2026 to August 2026 ($2,170.00 → $2,945.00)." in body
    assert "*payments / Amazon EC2*  +$775.00  ($1,550.00 → $2,325.00)\nusage +$775.00" in body
    assert handlers.why.CHART_IN_DM in answer["blocks"][-1]["elements"][0]["text"]
    assert why_bot.slack.messages(channel) == []  # nothing public in the channel

    (chart,) = wait_for(lambda: why_bot.slack.files())
    assert chart.channel == why_bot.slack.dm_channel("U_FINANCE")
    assert chart.content.startswith(b"\x89PNG") and chart.filename == "why-20260701-20260801.png"
    assert why_bot.slack.violations == []


def test_an_in_channel_answer_and_its_chart_go_to_the_channel(why_bot: RunningBot) -> None:
    channel = why_bot.slack.add_channel("#finops", members=(why_bot.slack.bot_user_id,))
    response_url = why_bot.slack.response_url(channel=channel)
    why_bot.client.slash("why team=payments last month in-channel", user_id="U_FINANCE", channel_id=channel,
                         response_url=response_url)
    (answer,) = wait_for(lambda: why_bot.slack.response_url_calls(response_url))
    assert answer["response_type"] == "in_channel"
    assert "Spend for team=payments rose $775.00" in texts(answer["blocks"])
    (chart,) = wait_for(lambda: why_bot.slack.files(channel))
    assert chart.initial_comment.startswith("Spend for team=payments rose $775.00 (+50.0 %)")
    assert why_bot.slack.messages(channel)[0]["blocks"][0]["text"]["text"].startswith("Why spend changed")


def test_a_question_it_cannot_parse_gets_the_one_line_correction_privately(why_bot: RunningBot) -> None:
    response_url = why_bot.slack.response_url()
    ack = why_bot.client.slash("why last fortnight", user_id="U_FINANCE", response_url=response_url)
    assert ack.status == 200 and ack.elapsed < 1.0
    (answer,) = wait_for(lambda: why_bot.slack.response_url_calls(response_url))
    assert answer == {"text": ":warning: I didn't understand 'fortnight' in 'last fortnight': say last month, "
                              "quarter, week, year or last N days. Try: `last month` or `Q2 2026 vs Q1 2026`",
                      "response_type": "ephemeral", "replace_original": False}
    assert why_bot.slack.files() == []


def test_a_typo_in_a_filter_gets_the_closest_team_and_no_chart(why_bot: RunningBot) -> None:
    response_url = why_bot.slack.response_url()
    why_bot.client.slash("why team=paymnts last month", user_id="U_FINANCE", response_url=response_url)
    (answer,) = wait_for(lambda: why_bot.slack.response_url_calls(response_url))
    assert answer["response_type"] == "ephemeral"
    assert answer["text"].startswith(":warning: I don't know team 'paymnts' in 'team=paymnts last month' "
                                     "(did you mean payments?). Try: `team=payments last month`")


def test_an_answer_where_nothing_moved_has_no_chart(why_bot: RunningBot) -> None:
    response_url = why_bot.slack.response_url()
    why_bot.client.slash("why team=search last month", user_id="U_FINANCE", response_url=response_url)
    (answer,) = wait_for(lambda: why_bot.slack.response_url_calls(response_url))
    body = texts(answer["blocks"])
    assert "Spend for team=search did not change from July 2026 to August 2026 ($620.00 → $620.00)." in body
    assert "Chart:" not in answer["blocks"][-1]["elements"][0]["text"]
    handlers.why.CHART_WORKERS.submit(lambda: None).result(timeout=10)  # any chart job queued before has run
    assert why_bot.slack.files() == [] and why_bot.slack.calls("chat.postMessage") == []


def test_hundreds_of_services_stay_within_block_kit_limits_and_page_with_show_more(sqlite_db: Database,
                                                                                    fake_slack: FakeSlack) -> None:
    # 300 services, service i growing by $i a day in August: every line moves by a different amount.
    parts = []
    for i in range(1, 301):
        service = f"Service {i:03d} " + "with a long name " * 4
        parts += [costs("2026-07-01", "2026-07-31", daily=10.0, service=service),
                  costs("2026-08-01", "2026-08-31", daily=10.0 + i, service=service)]
    CostStore(sqlite_db).replace_daily_costs("aws", pd.concat(parts))
    bot = start_bot(sqlite_db, fake_slack, now=lambda: ASKED_ON)
    try:
        response_url = fake_slack.response_url()
        bot.client.slash("why last month", response_url=response_url)
        (answer,) = wait_for(lambda: fake_slack.response_url_calls(response_url), timeout=20)
        blocks = answer["blocks"]
        assert len(blocks) <= 50 and fake_slack.violations == []
        lines = [b for b in blocks if b.get("accessory", {}).get("action_id") == DRILL_ACTION]
        assert len(lines) == 10 and lines[0]["text"]["text"].startswith("*payments / Service 300 ")
        assert "*payments / 290 other services*  +$" in texts(blocks)
        (more,) = [b for b in blocks if b["type"] == "actions"]
        assert more["elements"][0]["action_id"] == MORE_ACTION

        page_url = fake_slack.response_url()
        bot.client.action(MORE_ACTION, more["elements"][0]["value"], response_url=page_url)
        (page,) = wait_for(lambda: fake_slack.response_url_calls(page_url), timeout=20)
        assert page["response_type"] == "ephemeral" and page["replace_original"] is False
        body = texts(page["blocks"])
        assert "_Lines 11 to 21:_" in body
        assert "*payments / Service 290 " in body and "*payments / 280 other services*" in body
        assert "*payments / Service 291 " not in body  # shown on the first page

        drill_url = fake_slack.response_url()
        bot.client.action(DRILL_ACTION, lines[0]["accessory"]["value"], response_url=drill_url)
        (drilled,) = wait_for(lambda: fake_slack.response_url_calls(drill_url), timeout=20)
        assert "Spend for team=payments, service=\"Service 300 with a long name" in texts(drilled["blocks"])
        assert "rose $9,300.00" in texts(drilled["blocks"])  # $300 a day more, 31 days
        assert fake_slack.violations == []
    finally:
        bot.stop()


def test_acks_stay_under_a_second_while_an_answer_is_being_computed(why_bot: RunningBot, monkeypatch) -> None:
    release, computing = threading.Event(), threading.Event()
    real = handlers.why.answer_parsed

    def slow_answer(*args, **kwargs):
        computing.set()
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(handlers.why, "answer_parsed", slow_answer)
    first_url = why_bot.slack.response_url()
    why_bot.client.slash("why last month", user_id="U_FINANCE", response_url=first_url)
    assert computing.wait(5)
    try:
        acks = [why_bot.client.slash(text, user_id="U_FINANCE") for text in ("why 2026-08", "help", "why team=payments 2026-08")]
        assert [a.status for a in acks] == [200, 200, 200]
        assert max(a.elapsed for a in acks) < 1.0
    finally:
        release.set()
    wait_for(lambda: why_bot.slack.response_url_calls(first_url))
    wait_for(lambda: len(why_bot.slack.files()) == 3)  # the two answers' charts, before the fake stops


def test_button_values_carry_the_question_exactly() -> None:
    question = parse_question('service="Amazon EC2" this month --billed', today=ASKED_ON.date())
    decoded, page = decode_question(encode_question(question, page=3))
    assert page == 3
    assert (decoded.scope, decoded.period_a, decoded.period_b, decoded.metric, decoded.note) == \
        (question.scope, question.period_a, question.period_b, question.metric, question.note)
    with pytest.raises(ValueError, match="not a variance question"):
        decode_question('{"t": "x"}')
