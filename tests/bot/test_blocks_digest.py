"""Digest renderers: "Show more" answers stay within the limits and point to a command that lists all."""

from __future__ import annotations

from bot.blocks.digest import more_message, teams_pointer
from finops.digest import Week
from tests.slack.fake_slack import check_message


def test_every_team_past_the_block_limit_points_to_the_weeks_costs_by_team() -> None:
    week = Week.from_label("2026-W46")
    lines = [f"*platform-infrastructure-team-{i:04d}*: $1,000.00, +$10.00 (+1.0 %)" for i in range(5000)]
    message = more_message(f"Every team by its change, {week.title}", lines, pointer=teams_pointer(week))
    assert len(message["blocks"]) <= 50 and check_message(message) == (None, [])
    more = message["blocks"][-1]["elements"][0]["text"]
    shown = sum(b["text"]["text"].count("\n") + 1 for b in message["blocks"] if b["type"] == "section")
    assert more == (f"…and {5000 - shown} more: `costbot costs --by team --from 2026-11-09 --to 2026-11-15` lists "
                    "every team's spend of the week.")
