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


def command_help(command: Described) -> dict[str, Any]:
    """Ephemeral help for one subcommand (``/cost why help``, ``/cost help why``): its usage and what it does."""
    return {"text": f"`{command.usage}`\n{command.summary}\n`/cost help` lists every command.",
            "response_type": "ephemeral"}


def _suggestions(words: list[str], commands: list[Described]) -> list[str]:
    """The commands the user probably meant by ``words`` (what they typed, split), most likely first."""
    first = words[0].lower() if words else ""
    two_word = [c.name for c in commands if " " in c.name]
    # "digest", "finding neu", "unit": the first word of a two-word command, whose second word is
    # missing or misspelt; "finding" may also be "findings".
    started = [name for name in two_word if name.split()[0] == first]
    if started:
        return started + [c.name for c in commands if " " not in c.name and c.name.startswith(first)]
    # Compare with one-word names and the first words of two-word ones ("dgest" -> digest preview).
    by_word = {c.name: c.name for c in commands if " " not in c.name}
    by_word.update({name.split()[0]: name for name in two_word})
    return [by_word[w] for w in difflib.get_close_matches(first, list(by_word), n=1)]


def unknown_command_message(text: str, commands: Iterable[Described]) -> dict[str, Any]:
    """The hint for ``/cost TEXT`` naming no subcommand: the word(s) not understood, the likely command."""
    commands = list(commands)
    words = text.split()
    close = _suggestions(words, commands)
    suggestion = (" Did you mean " + " or ".join(f"`/cost {name}`" for name in close) + "?") if close else ""
    usage = "\n".join(f"• `{c.usage}`" for c in sorted(commands, key=lambda c: c.name))
    # Two words when the first starts a two-word command ("digest previw"), else the first.
    typed = " ".join(words[:2]) if close and " " in close[0] and words[0].lower() == close[0].split()[0] else (
        words[0] if words else "")
    return {"text": f"I don't know `/cost {user_text(typed)}`.{suggestion}\nTry one of:\n{usage}",
            "response_type": "ephemeral"}


def user_text(text: str) -> str:
    """What a user typed, to echo inside a `code span`: cut short (a pasted paragraph is not echoed
    back whole), backticks that would end the span replaced, mrkdwn's <, >, & escaped (``<!channel>``
    and ``<@U1>`` shown as typed, not as a mention)."""
    return escape(cut(text, ECHO_CHARS).replace("`", "'"))
