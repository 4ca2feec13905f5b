"""The command list (``/cost help``) and the hint for a subcommand we don't know."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, Protocol

from bot.blocks.costs import cut, escape

ECHO_CHARS = 40  # of an unknown subcommand, repeated in the answer


class Described(Protocol):
    name: str
    usage: str
    summary: str


def _lines(commands: Iterable[Described]) -> list[str]:
    return [f"`{c.usage}`: {c.summary}" for c in sorted(commands, key=lambda c: c.name)]


def help_message(commands: Iterable[Described]) -> dict[str, Any]:
    """Ephemeral help: every subcommand with its usage, in one section per ~20 lines."""
    lines = _lines(commands)
    blocks: list[dict] = [{"type": "header", "text": {"type": "plain_text", "text": "costbot: /cost commands"}}]
    chunk: list[str] = []
    for line in lines:
        # 3,000 characters per section text: start a new section well before the limit.
        if chunk and sum(len(x) + 1 for x in chunk) + len(line) > 2800:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(chunk)}})
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(chunk)}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text":
                   "Periods: `last month`, `Q3 2026`, `2026-09-01..2026-09-30`. Scope: `team=payments service=\"Amazon EC2\"`."}]})
    text = "costbot commands:\n" + "\n".join(lines)
    return {"text": text, "blocks": blocks, "response_type": "ephemeral"}


def unknown_command_message(word: str, commands: Iterable[Described]) -> dict[str, Any]:
    commands = list(commands)
    names = [c.name for c in commands]
    close = difflib.get_close_matches(word.lower(), names, n=1)
    suggestion = f" Did you mean `/cost {close[0]}`?" if close else ""
    usage = "\n".join(f"• `{c.usage}`" for c in sorted(commands, key=lambda c: c.name))
    # The word is the user's own text: cut short (a pasted paragraph is not echoed back whole),
    # with backticks that would end the code span replaced and mrkdwn's <, >, & escaped.
    shown = escape(cut(word, ECHO_CHARS).replace("`", "'"))
    return {"text": f"I don't know `/cost {shown}`.{suggestion}\nTry one of:\n{usage}", "response_type": "ephemeral"}
