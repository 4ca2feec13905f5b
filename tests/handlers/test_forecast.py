"""/cost forecast and /cost budget through the real app: acked at once, answered via response_url,
exact figures, within Block Kit limits with many teams."""

from __future__ import annotations

from datetime import date

import pytest

from storage.db import Database
from tests.handlers.test_commands import wait_for
from tests.harness import start_bot
from tests.jobs.digest_data import MONDAY_9AM, cost_rows, running_org, store_costs

NOW = MONDAY_9AM  # the org fixture's clock


@pytest.fixture
def org(sqlite_db: Database, fake_slack):
    with running_org(sqlite_db, fake_slack) as running:
        yield running


def ask(bot, text: str) -> dict:
    url = bot.slack.response_url()
    ack = bot.client.slash(text, response_url=url)
    assert ack.status == 200 and ack.elapsed < 3.0
    return wait_for(lambda: bot.slack.response_url_calls(url), timeout=20)[0]


def section_texts(answer: dict) -> list[str]:
    return [b["text"]["text"] for b in answer["blocks"] if b["type"] == "section"]


def test_forecast_for_the_org_and_one_team(org) -> None:
    answer = ask(org, "forecast")
    assert answer["response_type"] == "ephemeral"
    assert answer["text"] == "Month-end forecast for November 2026: $3,000.00 for the organisation"
    assert section_texts(answer) == [
        "*Organisation*: $3,000.00; $1,500.00 spent so far",
        "*payments*: $1,980.00; $990.00 spent · :large_yellow_circle: 86 % of $2,300.00\n"
        "*search*: $990.00; $495.00 spent · :large_green_circle: 66 % of $1,500.00\n"
        "*unallocated*: $30.00; $15.00 spent",
    ]
    one = ask(org, "forecast Search")
    assert one["text"] == "Month-end forecast for November 2026: search $990.00"
    assert section_texts(one)[1] == "*search*: $990.00; $495.00 spent · :large_green_circle: 66 % of $1,500.00"


def test_budget_lists_teams_worst_first(org) -> None:
    answer = ask(org, "budget")
    assert answer["text"] == "Budgets for November 2026: 0 over, 1 at 80 % or more"
    assert section_texts(answer) == [
        "0 over budget · 1 at 80 % or more · 1 under 80 %",
        ":large_yellow_circle: *payments*: forecast $1,980.00 of $2,300.00 (86 %), $990.00 spent\n"
        ":large_green_circle: *search*: forecast $990.00 of $1,500.00 (66 %), $495.00 spent",
    ]


def test_an_unknown_team_gets_a_correction(org) -> None:
    answer = ask(org, "budget payment")
    assert answer["text"].startswith(":warning: No team called `payment` in teams.yml.")
    assert "`/cost budget payments`" in answer["text"]


def test_many_teams_stay_within_block_kit_limits(sqlite_db: Database, fake_slack) -> None:
    teams = "\n".join(f"  - name: team-{i:03d}\n    channel: \"#team-{i:03d}\"\n    budget_monthly: {1000 + i}\n"
                      f"    match:\n      - sub_account_id: \"{i:03d}\"" for i in range(120))
    yaml = f'default_channel: "#finops"\nteams:\n{teams}\n'
    running = start_bot(sqlite_db, fake_slack, teams_yaml=yaml, now=lambda: NOW)
    try:
        frame = cost_rows(date(2026, 9, 1), date(2026, 11, 15))
        frames = []
        for i in range(120):
            part = frame[frame["SubAccountId"] == "222"].copy()
            part["SubAccountId"] = f"{i:03d}"
            part["EffectiveCost"] = part["BilledCost"] = 10.0 + i
            frames.append(part)
        import pandas as pd

        store_costs(sqlite_db, running.ctx.teams, pd.concat(frames), complete_through=date(2026, 11, 15))
        for text in ("forecast", "budget"):
            answer = ask(running, text)
            assert len(answer["blocks"]) <= 50
            shown = "\n".join(section_texts(answer))
            assert all(f"*team-{i:03d}*" in shown for i in range(120))
        assert fake_slack.violations == []
    finally:
        running.stop()
