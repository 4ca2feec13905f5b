"""Block Kit for the maturity scorecard: ``/cost maturity`` and the org digest's scorecard part.

Seven blocks at most (a header, five lines, the next step), so the scorecard fits in any message.
"""

from __future__ import annotations

from typing import Any

from bot.blocks.costs import cut, escape
from finops.maturity import Scorecard

RATING_MARK = {"Crawl": ":red_circle: Crawl", "Walk": ":large_yellow_circle: Walk", "Run": ":large_green_circle: Run"}
SECTION_CHARS = 2_900


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut(text, SECTION_CHARS)}}


def scorecard_blocks(card: Scorecard, *, title: str | None = None) -> list[dict]:
    """A header, one section per question (rating, the number behind it), and the next step."""
    blocks: list[dict] = [{"type": "header", "text": {"type": "plain_text", "text": cut(
        title or f"FinOps maturity: {card.overall}", 150)}}]
    for line in card.lines:
        blocks.append(_section(f"*{line.number}. {line.dimension.capitalize()}* · {RATING_MARK[line.rating]}\n"
                               f"{escape(line.figure)}"))
    weakest = card.line(card.weakest)
    blocks.append(_section(f":point_right: *Next step* ({weakest.dimension}, the weakest): "
                           f"{escape(card.next_step)}"))
    return blocks


def maturity_message(card: Scorecard) -> dict[str, Any]:
    """``/cost maturity``: the scorecard and where its numbers come from."""
    blocks = scorecard_blocks(card)
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": (
        f"As of {card.as_of:%d %b %Y}, from the bot's own data; one line per question of the FinOps maturity "
        "assessment. `costbot maturity --json` has the numbers.")}]})
    ratings = ", ".join(f"{line.dimension} {line.rating}" for line in card.lines)
    return {"text": f"FinOps maturity: {card.overall} ({ratings})", "blocks": blocks}
