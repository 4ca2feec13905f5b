"""The ``/cost`` slash command: one listener that acks at once and dispatches subcommands.

Subcommands live in the modules of their surface (``handlers/why.py``, ...) and register with
``@subcommand``. A subcommand either answers at once (its reply goes in the ack) or is ``slow``:
the ack says it is working and the answer follows through ``response_url``. Errors a person can
fix come back as a short ephemeral hint; anything else is logged and answered with a reference,
never a stack trace.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.blocks.help import help_message, unknown_command_message
from bot.context import AppContext
from finops.errors import CostbotError, QuestionError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    """What a subcommand answers: text (the notification fallback) and optional blocks."""

    text: str
    blocks: list[dict] = field(default_factory=list)
    in_channel: bool = False

    def as_response(self) -> dict[str, Any]:
        response: dict[str, Any] = {"text": self.text,
                                    "response_type": "in_channel" if self.in_channel else "ephemeral"}
        if self.blocks:
            response["blocks"] = self.blocks
        return response


@dataclass(frozen=True)
class CommandRequest:
    ctx: AppContext
    name: str
    args: str
    user_id: str
    channel_id: str
    trigger_id: str
    response_url: str


Handler = Callable[[CommandRequest], Reply | None]


@dataclass(frozen=True)
class Subcommand:
    name: str  # one or two words: "why", "finding new"
    usage: str  # "/cost why [scope] [period] [vs period]"
    summary: str
    handler: Handler
    slow: bool = False  # True: ack first, answer through response_url
    working_text: str = "Working on it…"


SUBCOMMANDS: dict[str, Subcommand] = {}
# Slow answers run here, not on Bolt's listener threads, so a flood of heavy questions queues
# its answers but never delays the 3-second acks of everyone else.
SLOW_WORK = ThreadPoolExecutor(max_workers=4, thread_name_prefix="costbot-slow")


def subcommand(name: str, *, usage: str, summary: str, slow: bool = False,
               working_text: str = "Working on it…") -> Callable[[Handler], Handler]:
    """Register a ``/cost <name>`` handler."""

    def decorate(handler: Handler) -> Handler:
        SUBCOMMANDS[name] = Subcommand(name, usage, summary, handler, slow, working_text)
        return handler

    return decorate


def find_subcommand(text: str) -> tuple[Subcommand | None, str, str]:
    """Split ``text`` into (subcommand, its name as typed, the rest). Longest name wins."""
    words = text.split()
    for length in (2, 1):
        name = " ".join(words[:length]).lower()
        if len(words) >= length and name in SUBCOMMANDS:
            rest = text.split(None, length)[length] if len(words) > length else ""
            return SUBCOMMANDS[name], name, rest.strip()
    return None, (words[0] if words else ""), ""


def error_reply(error: CostbotError, command: Subcommand | None) -> Reply:
    text = f":warning: {error}"
    if isinstance(error, QuestionError) and error.examples:
        text += "\nFor example: " + " · ".join(f"`{e}`" for e in error.examples)
    if command is not None:
        text += f"\nUsage: `{command.usage}`"
    return Reply(text=text)


def run_subcommand(command: Subcommand, request: CommandRequest) -> Reply | None:
    """Call the handler, turning failures into replies a person can act on."""
    try:
        return command.handler(request)
    except CostbotError as e:
        return error_reply(e, command)
    except Exception:
        reference = secrets.token_hex(3)
        log.exception("/cost %s failed (ref %s)", request.name, reference)
        return Reply(text=f":x: Something went wrong on our side answering `/cost {request.name}`. "
                          f"It was logged with reference `{reference}`; please try again or tell your costbot admin.")


def register(app: App, ctx: AppContext) -> None:
    @app.command("/cost")
    def on_cost_command(ack: Ack, command: dict, respond: Respond) -> None:
        text = (command.get("text") or "").strip()
        if not text:
            ack(**help_message(SUBCOMMANDS.values()))
            return
        found, name, rest = find_subcommand(text)
        if found is None:
            ack(**unknown_command_message(name, SUBCOMMANDS.values()))
            return
        request = CommandRequest(ctx=ctx, name=found.name, args=rest, user_id=command.get("user_id", ""),
                                 channel_id=command.get("channel_id", ""), trigger_id=command.get("trigger_id", ""),
                                 response_url=command.get("response_url", ""))
        if not found.slow:
            reply = run_subcommand(found, request)
            ack(**(reply or Reply(text="Done.")).as_response())
            return
        ack(text=found.working_text, response_type="ephemeral")
        SLOW_WORK.submit(answer_later, found, request, respond)


def answer_later(command: Subcommand, request: CommandRequest, respond: Respond) -> None:
    """Run a slow subcommand after its ack and send the answer through response_url."""
    reply = run_subcommand(command, request)
    if reply is not None:
        try:
            respond(**reply.as_response(), replace_original=False)
        except Exception:  # the asker is gone (expired response_url); nothing else to tell
            log.exception("could not answer /cost %s through response_url", request.name)


@subcommand("help", usage="/cost help", summary="This list of commands.")
def show_help(request: CommandRequest) -> Reply:
    message = help_message(SUBCOMMANDS.values())
    return Reply(text=message["text"], blocks=message["blocks"])
