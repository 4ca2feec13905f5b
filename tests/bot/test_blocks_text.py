"""Slack mrkdwn as the terminal prints it (demo, runs without a Slack token, digest --dry-run)."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest

from bot.blocks.digest import team_digest_message
from bot.blocks.text import blocks_to_text, mrkdwn_to_text
from bot.delivery import TerminalTransport
from finops.digest import AnomalyLine, Change, TeamDigest, Week
from finops.forecast import BudgetStatus


@pytest.mark.parametrize(("mrkdwn", "printed"), [
    ("*Attribution:* 95.3 % of $598,683.25; *$27,956.34* unallocated.",
     "Attribution: 95.3 % of $598,683.25; $27,956.34 unallocated."),
    ("_the weekly digest_ for *payments*", "the weekly digest for payments"),
    ("state new_spend, 2*3*4, a * b * c and * a bullet", "state new_spend, 2*3*4, a * b * c and * a bullet"),
    ("run `/cost why *x*` or `a_b_` as written, then *$1,200*", "run `/cost why *x*` or `a_b_` as written, then $1,200"),
    ("```*kept* :x:```", "```*kept* :x:```"),
    ("See <https://x.test/a_b_|the *report*> or <https://y.test>", "See the report (https://x.test/a_b_) or https://y.test"),
    ("<https://z.test|https://z.test>", "https://z.test"),
    ("<@U123>, <@U1|alice>, <#C1|team-payments>, <#C2>, <!here>, <!subteam^S1|@sre>",
     "@U123, @alice, #team-payments, #C2, @here, @sre"),
    ("`&lt;@U1&gt;` &amp; &lt;b&gt;", "`<@U1>` & <b>"),
    (":red_circle: open · :large_yellow_circle: 83 % · :large_green_circle: Run", "[alert] open · [warning] 83 % · [ok] Run"),
    (":arrow_up_small: EC2 :arrow_down_small: RDS", "▲ EC2 ▼ RDS"),
    (":white_check_mark: verified, :x: not realized, :warning: late, :rotating_light: *+$3.00*",
     "✓ verified, ✗ not realized, ! late, !! +$3.00"),
    (":eyes: Acknowledged · :hourglass_flowing_sand: verifying", "Acknowledged · verifying"),
    ("digest:payments:2026-W46 at 10:00:12", "digest:payments:2026-W46 at 10:00:12"),
])
def test_mrkdwn_prints_as_plain_text(mrkdwn: str, printed: str) -> None:
    assert mrkdwn_to_text(mrkdwn) == printed


def test_plain_text_keeps_its_stars_but_not_emoji_codes() -> None:
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": ":red_circle: *Over* budget"}},
              {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "*"}}]}]
    assert blocks_to_text(blocks) == "[ALERT] *OVER* BUDGET\n=====================\n[*]"


def test_a_digest_prints_without_bold_markers_or_emoji_codes() -> None:
    week = Week.of(date(2026, 11, 9))
    digest = TeamDigest(
        team="payments", channel="#team-payments", week=week, complete_through=date(2026, 11, 14),
        spend=Change("payments", Decimal("14635.82"), Decimal("10657.58")), month="2026-11",
        month_to_date=Decimal("38492.98"),
        budget=BudgetStatus(team="payments", budget=75000.0, forecast=83256.08, low=82888.24, high=83485.43,
                            actual_to_date=38492.98, share=1.11, level="over"),
        forecast=83256.08,
        movers=(Change("Amazon DynamoDB", Decimal("1040.27"), Decimal("1075.43")),
                Change("AWS Lambda", Decimal("244.50"), Decimal("230.16"))),
        anomalies=(AnomalyLine(4, "payments", "Amazon EC2 in 111100000001", date(2026, 11, 11), 4098.95),),
        findings=(), open_findings=(), stalled=(), quarter="2026Q4", realized_quarter=Decimal("0"),
        verified_quarter=0, units=(), daily=())
    message = team_digest_message(digest)
    assert "*" in str(message["blocks"]) and ":red_circle:" in str(message["blocks"])  # Slack gets mrkdwn
    out = io.StringIO()
    TerminalTransport(stream=out).post(channel="#team-payments", text=message["text"], blocks=message["blocks"],
                                       thread_ts=None, key="digest:payments:2026-W46")
    printed = out.getvalue()
    assert "*" not in printed and ":red_circle:" not in printed
    assert ("November 2026 to date $38,492.98 of the $75,000.00 budget (51 %, through 14 Nov) · month-end forecast "
            "$83,256.08: [alert] 111 % of budget") in printed
    assert "▼ Amazon DynamoDB: -$35.16 (-3.3 %), $1,075.43 → $1,040.27" in printed


def test_each_line_of_a_field_is_indented_under_its_label() -> None:
    blocks = [{"type": "section", "fields": [{"type": "mrkdwn", "text": "*Scope*\nService `Amazon SageMaker`"},
                                             {"type": "mrkdwn", "text": "*First day*\n2026-11-13"}]}]
    assert blocks_to_text(blocks) == "  Scope\n  Service `Amazon SageMaker`\n  First day\n  2026-11-13"
