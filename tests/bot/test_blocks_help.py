"""The answer to an unknown /cost subcommand, rendered without Slack."""

from __future__ import annotations

from dataclasses import dataclass

from bot.blocks.help import ECHO_CHARS, unknown_command_message


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    summary: str = ""


COMMANDS = [Command("help", "/cost help"), Command("why", "/cost why [scope] [period]")]


def test_an_unknown_word_is_named_with_the_closest_command_and_the_usage():
    assert unknown_command_message("hepl", COMMANDS) == {
        "response_type": "ephemeral",
        "text": "I don't know `/cost hepl`. Did you mean `/cost help`?\nTry one of:\n• `/cost help`\n"
                "• `/cost why [scope] [period]`"}


def test_the_users_word_is_cut_short_and_cannot_break_the_formatting():
    text = unknown_command_message("x" * 3_900, COMMANDS)["text"]
    assert text.startswith(f"I don't know `/cost {'x' * (ECHO_CHARS - 1)}…`.\nTry one of:")
    assert len(text) < 200
    assert unknown_command_message("a`b<@U1>&", COMMANDS)["text"].startswith(
        "I don't know `/cost a'b&lt;@U1&gt;&amp;`.")
