"""The "checking" and notice modals (bot/blocks/notices.py), checked against Slack's view rules."""

from __future__ import annotations

from bot.blocks.notices import checking_modal, notice_modal
from tests.slack.fake_slack import check_view


def test_checking_names_the_team_escaped_and_has_no_submit() -> None:
    view = checking_modal("Finding #12", "r&d <core>")
    assert view == {"type": "modal", "title": {"type": "plain_text", "text": "Finding #12"},
                    "close": {"type": "plain_text", "text": "Close"},
                    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": (
                        ":hourglass_flowing_sand: Checking that you are on *r&amp;d &lt;core&gt;* (its channel's "
                        "members)… the form opens here in a moment.")}}]}
    assert check_view(view) == []


def test_a_notice_keeps_within_the_title_and_section_limits() -> None:
    view = notice_modal("Anomaly #123456789012345678", "x" * 3500)
    assert view["title"]["text"] == "Anomaly #12345678901234…" and len(view["title"]["text"]) == 24
    assert len(view["blocks"][0]["text"]["text"]) == 3000 and view["blocks"][0]["text"]["text"].endswith("…")
    assert check_view(view) == []
