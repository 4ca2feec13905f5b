"""Modals that only tell something: "checking…" while a form waits on Slack, and a notice in its place.

A button's trigger_id opens a view for 3 seconds only; a form that first needs a slow Slack answer
(the team channel's members) opens as :func:`checking_modal` at once, and is then replaced
(views.update, which has no such limit) by the form or by :func:`notice_modal` (a refusal, or
Slack being busy).
"""

from __future__ import annotations

from typing import Any

from bot.blocks.costs import cut, escape

TITLE_CHARS = 24  # Block Kit: a modal's title (and its submit and close texts)
SECTION_CHARS = 3000


def checking_modal(title: str, team: str) -> dict[str, Any]:
    """Shown at once while costbot reads ``team``'s channel members to know whether the presser is on it."""
    return _notice(title, f":hourglass_flowing_sand: Checking that you are on *{escape(team)}* "
                          "(its channel's members)… the form opens here in a moment.")


def notice_modal(title: str, text: str) -> dict[str, Any]:
    """A modal that only tells ``text`` (mrkdwn), with a Close button."""
    return _notice(title, text)


def _notice(title: str, text: str) -> dict[str, Any]:
    return {"type": "modal", "title": {"type": "plain_text", "text": cut(title, TITLE_CHARS)},
            "close": {"type": "plain_text", "text": "Close"},
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": cut(text, SECTION_CHARS)}}]}
