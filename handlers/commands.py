"""The ``/cost`` slash command: one listener that acks at once and dispatches subcommands.

Subcommands live in the modules of their surface (``handlers/why.py``, ...) and register with
``@subcommand``. A subcommand either answers at once (its reply goes in the ack) or is ``slow``:
the ack says it is working and the answer follows through ``response_url``. A subcommand that
answers at once from the database but needs a Slack Web API call for some requests (a modal, a
channel's members) returns :class:`AfterAck`: no Slack call is made before the ack, since one can
take longer than Slack's 3 seconds (or be rate limited). Errors a person can fix come back as a
short ephemeral hint; Slack being busy as "try again"; anything else is logged and answered with a
reference, never a stack trace.
"""

from __future__ import annotations

import difflib
import logging
import math
import secrets
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.blocks.help import command_help, help_message, unknown_command_message
from bot.context import AppContext
from bot.delivery import DeliveryError
from finops.errors import CostbotError, QuestionError
from finops.model import UNALLOCATED

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


@dataclass(frozen=True)
class AfterAck:
    """A subcommand's answer that needs Slack: the ack carries ``text`` (nothing when empty), then
    ``work`` runs on the listener's thread and its reply, if any, goes through response_url."""

    work: Callable[[], Reply | None]
    text: str = ""


Handler = Callable[[CommandRequest], Reply | AfterAck | None]


@dataclass(frozen=True)
class Subcommand:
    name: str  # one or two words: "why", "finding new"
    usage: str  # "/cost why [scope] [period] [vs period]"
    summary: str
    handler: Handler
    slow: bool = False  # True: ack first, answer through response_url
    working_text: str = "Working on it…"


SUBCOMMANDS: dict[str, Subcommand] = {}
# After a subcommand (``/cost why help``), these ask for its usage instead of being its argument.
HELP_WORDS = frozenset({"help", "-h", "--help", "?"})
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


def slack_unescaped(text: str) -> str:
    """The command text as typed: Slack sends ``&``, ``<`` and ``>`` as ``&amp;``, ``&lt;`` and
    ``&gt;`` (``service="A & B"`` arrives as ``A &amp; B``, which would match no service)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


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
    # The usage helps only when the words typed were wrong, not when the data is missing ("no cost data yet").
    if command is not None and isinstance(error, QuestionError):
        text += f"\nUsage: `{command.usage}`"
    return Reply(text=text)


def needs_channel_members(ctx: AppContext, user: str, team: str) -> bool:
    """Whether ``user`` being on ``team`` depends on its channel's members, which takes a Slack
    call (conversations.members, no faster than Slack), so it can only be asked after the ack: the
    user is not listed in teams.yml as an owner or member, and the team (for a team no longer in
    teams.yml, the defaults) takes members from its channel."""
    if team in ctx.teams.team_names:
        found = ctx.teams.team(team)
        return user not in found.owners and user not in found.members and found.members_from_channel
    return ctx.teams.defaults.members_from_channel


def one_at_a_time(what: str, first: str, second: str, command: str) -> QuestionError:
    """The error for two different values where a command reads one (``/cost anomalies payments search``):
    naming both, rather than silently answering for the last."""
    return QuestionError(f"One {what} at a time, not both `{first}` and `{second}`.", word=second,
                         examples=(f"/cost {command} {first}", f"/cost {command} {second}"))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` Did you mean `open`?`` for a misspelt word ("opne") close to one of ``choices``, else ""."""
    by_folded = {choice.casefold(): choice for choice in choices}
    close = difflib.get_close_matches(word.casefold(), list(by_folded), n=1)
    return f" Did you mean `{by_folded[close[0]]}`?" if close else ""


def did_you_mean_team(ctx: AppContext, word: str) -> str:
    """`` Did you mean `payments`?`` for a misspelt team name ("paymnts"), else ""."""
    return did_you_mean(word, (*ctx.teams.team_names, UNALLOCATED))


def slack_busy_text(doing: str, error: DeliveryError) -> str:
    """What a person is told when Slack refused or did not answer a call made for them."""
    if error.retry_after:
        seconds = math.ceil(error.retry_after)
        when = f"{seconds} second{'s' if seconds != 1 else ''}"
    else:
        when = "a few seconds"
    why = "Slack is busy right now" if error.error == "ratelimited" else f"Slack did not answer (`{error.error}`)"
    return f":hourglass_flowing_sand: {why}, so costbot could not {doing}. Please try again in {when}."


def run_subcommand(command: Subcommand, request: CommandRequest,
                   work: Callable[[], Reply | AfterAck | None] | None = None) -> Reply | AfterAck | None:
    """Call the handler (or the ``work`` it left for after the ack), turning failures into replies
    a person can act on."""
    try:
        return work() if work is not None else command.handler(request)
    except CostbotError as e:
        return error_reply(e, command)
    except DeliveryError as e:
        if not e.transient:
            return failure_reply(request)
        log.warning("/cost %s: Slack call failed (%s, retry after %s)", request.name, e.error, e.retry_after)
        return Reply(text=slack_busy_text(f"finish `/cost {request.name}`", e))
    except Exception:
        return failure_reply(request)


def failure_reply(request: CommandRequest) -> Reply:
    """Log the exception being handled (call it in an ``except``); answer with a reference to it."""
    reference = secrets.token_hex(3)
    log.exception("/cost %s failed (ref %s)", request.name, reference)
    return Reply(text=f":x: Something went wrong on our side answering `/cost {request.name}`. "
                      f"It was logged with reference `{reference}`; please try again or tell your costbot admin.")


def register(app: App, ctx: AppContext) -> None:
    @app.command("/cost")
    def on_cost_command(ack: Ack, command: dict, respond: Respond) -> None:
        text = slack_unescaped(command.get("text") or "").strip()
        if not text or text.lower() in HELP_WORDS:  # "/cost ?", "/cost --help": the list, not "I don't know"
            ack(**help_message(SUBCOMMANDS.values()))
            return
        found, name, rest = find_subcommand(text)
        if found is None:
            ack(**unknown_command_message(text, SUBCOMMANDS.values()))
            return
        if rest.lower() in HELP_WORDS:  # "/cost forecast help": its usage, not a team called "help"
            ack(**command_help(found))
            return
        if found.name == "help" and rest:  # "/cost help why": that command's usage
            about, _, _ = find_subcommand(rest)
            # "/cost help forcast": the word not understood and the likely command, not the whole list
            ack(**(command_help(about) if about is not None else unknown_command_message(rest, SUBCOMMANDS.values())))
            return
        request = CommandRequest(ctx=ctx, name=found.name, args=rest, user_id=command.get("user_id", ""),
                                 channel_id=command.get("channel_id", ""), trigger_id=command.get("trigger_id", ""),
                                 response_url=command.get("response_url", ""))
        if found.slow:
            ack(text=found.working_text, response_type="ephemeral")
            SLOW_WORK.submit(answer_later, found, request, respond)
            return
        answer = run_subcommand(found, request)
        if not isinstance(answer, AfterAck):
            ack(**(answer or Reply(text="Done.")).as_response())
            return
        if answer.text:
            ack(**Reply(text=answer.text).as_response())
        else:
            ack()
        # Here, not on SLOW_WORK: a modal's trigger_id expires 3 s after the command, so its
        # views.open must not queue behind heavy answers. Bolt has answered Slack already.
        send_answer(request, run_subcommand(found, request, answer.work), respond)


def answer_later(command: Subcommand, request: CommandRequest, respond: Respond) -> None:
    """Run a slow subcommand after its ack and send the answer through response_url."""
    reply = run_subcommand(command, request)
    if isinstance(reply, AfterAck):  # already after the ack
        reply = run_subcommand(command, request, reply.work)
    send_answer(request, reply, respond)


def send_answer(request: CommandRequest, reply: Reply | AfterAck | None, respond: Respond) -> None:
    """Send an answer given after the ack through response_url (None: nothing to say)."""
    if isinstance(reply, Reply):
        try:
            respond(**reply.as_response(), replace_original=False)
        except Exception:  # the asker is gone (expired response_url); nothing else to tell
            log.exception("could not answer /cost %s through response_url", request.name)


@subcommand("help", usage="/cost help", summary="This list of commands.")
def show_help(request: CommandRequest) -> Reply:
    message = help_message(SUBCOMMANDS.values())
    return Reply(text=message["text"], blocks=message["blocks"])
