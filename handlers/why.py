"""``/cost why [scope] [period] [vs period]``: variance answers in Slack.

The dispatcher acks at once ("Working out why spend changed…"); the answer is computed after the
ack (bot/variance_service.py) and sent through ``response_url``: ephemeral by default, in the
channel when the question says ``in-channel`` (or ``public``). A question it cannot parse gets the
parser's one-line correction (the word it did not understand, two examples), ephemeral.

The waterfall chart is rendered and uploaded after the answer is sent, so a slow upload never
delays the answer (an answer where nothing moved gets no chart). Where it goes follows who may see the answer: an in-channel answer gets its
chart in the same channel; an ephemeral answer is private to the person who asked, and a file
shared in the channel would show everyone what they asked, so its chart goes to their direct
message with the bot instead (the answer says where). Slack cannot attach files to ephemeral
messages.

"Drill down" (one contributor: the same periods, scope narrowed to its dimensions) and "Show
more" (the next page of lines) answer the person who clicked, ephemerally. They only read cost
data anyone in the workspace can ask ``/cost why`` about, so anyone who sees the button may use it.
"""

from __future__ import annotations

import difflib
import logging
import re
import secrets
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import Ack, App, Respond

from bot.blocks.costs import escape
from bot.blocks.variance import DRILL_ACTION, MORE_ACTION, PAGE_SIZE, decode_question, variance_message
from bot.charts.waterfall import waterfall_chart, worth_charting
from bot.context import AppContext
from bot.delivery import FileUpload, Message
from bot.services.forecast import find_team
from bot.variance_service import answer_parsed, parse_why
from finops.errors import QuestionError
from finops.variance import VarianceAnswer, summary_lines
from handlers.commands import CommandRequest, Reply, subcommand

log = logging.getLogger(__name__)

# Charts are drawn off the listener threads, after the answer went out; two at a time is plenty
# for people asking questions (matplotlib holds the GIL while it draws).
CHART_WORKERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="costbot-why-chart")
CHART_IN_CHANNEL = "Chart: posted in this channel."
CHART_IN_DM = "Chart: sent to you in a direct message (this answer is visible only to you)."


@subcommand("why", usage="/cost why [scope] [period] [vs period] [--billed] [in-channel]", slow=True,
            working_text="Working out why spend changed…",
            summary="Why spend changed: who and what drove it, usage vs rate vs day count, anomalies and findings. "
                    "Example: `/cost why team=payments last quarter`.")
def answer_why(request: CommandRequest) -> Reply:
    ctx = request.ctx
    try:
        question = parse_why(ctx.db, undo_autocorrect(request.args), today=ctx.today())
    except QuestionError as error:
        # The parser's one line already holds two examples; a bare team name gets the scope syntax.
        return Reply(text=f":warning: {error}{team_scope_hint(ctx, error.word)}{syntax_hint(error.word)}")
    answer = answer_parsed(ctx.db, question)
    charted = worth_charting(answer)
    chart_note = (CHART_IN_CHANNEL if question.in_channel else CHART_IN_DM) if charted else None
    message = variance_message(answer, chart_note=chart_note)
    if charted:
        CHART_WORKERS.submit(deliver_chart, ctx, answer, channel_id=request.channel_id, user_id=request.user_id,
                             asked=request.args)
    return Reply(text=message["text"], blocks=message["blocks"], in_channel=question.in_channel)


# Slack clients on macOS and iOS turn a typed "--" into a dash: "—billed" is "--billed".
_AUTOCORRECTED_DASHES = re.compile(r"(?<!\S)[\u2013\u2014](?=[A-Za-z])")
_COLON_FILTER = re.compile(r"([A-Za-z_]+):(\S+)")
# "2026-8", "2026/08", "08/2026": a month the parser reads only as 2026-08
_MONTH_WRITTEN_OTHERWISE = re.compile(r"(?:(\d{4})[-/](\d{1,2})|(\d{1,2})/(\d{4}))")
_PERIOD_UNITS = ("month", "quarter", "week", "year", "days")


def undo_autocorrect(args: str) -> str:
    """The question as typed, before the Slack client turned ``--`` into an en or em dash."""
    return _AUTOCORRECTED_DASHES.sub("--", args)


def syntax_hint(word: str | None) -> str:
    """How to write what ``word`` seems to try: ``in channel`` -> ``in-channel``,
    ``team:payments`` -> ``team=payments``; else ""."""
    if word and word.casefold() == "in":
        return "\nTo post the answer in this channel, write `in-channel` (one word)."
    if word and (colon := _COLON_FILTER.fullmatch(word)):
        return f"\nFilters take `=`: write `{colon.group(1)}={colon.group(2)}`."
    if word and (month := _MONTH_WRITTEN_OTHERWISE.fullmatch(word)):
        year, number = month.group(1) or month.group(4), month.group(2) or month.group(3)
        if 1 <= int(number) <= 12:
            return f"\nWrite a month as `{year}-{int(number):02d}`."
    if word and (unit := difflib.get_close_matches(word.casefold(), _PERIOD_UNITS, n=1, cutoff=0.75)):
        return f"\nDid you mean `{unit[0]}`?"  # "last quater", "last moth"
    return ""


def team_scope_hint(ctx: AppContext, word: str | None) -> str:
    """For ``/cost why payments`` (a team named without ``team=``, in any case or a little
    misspelt): how to ask about that team; else ""."""
    if not word or "=" in word:
        return ""
    named = find_team(ctx.teams, word)
    if named is None:
        close = difflib.get_close_matches(word.casefold(), [t.casefold() for t in ctx.teams.team_names], n=1,
                                          cutoff=0.8)
        named = next((t for t in ctx.teams.team_names if close and t.casefold() == close[0]), None)
    if named is None:
        return ""
    return f"\nTo ask about team {named}, write `team={named}`, e.g. `/cost why team={named} last month`."


def deliver_chart(ctx: AppContext, answer: VarianceAnswer, *, channel_id: str, user_id: str, asked: str) -> None:
    """Upload the answer's waterfall: into the channel (in-channel answers) or the asker's DM."""
    try:
        q = answer.question
        key = f"why:{user_id}:{secrets.token_hex(6)}"
        title = f"Why spend changed: {q.period_b.label} → {q.period_a.label}"
        filename = f"why-{q.period_b.start:%Y%m%d}-{q.period_a.start:%Y%m%d}.png"
        headline = summary_lines(answer)[0]
        png = waterfall_chart(answer)
        if q.in_channel:
            ctx.delivery.upload(FileUpload(key=f"{key}:chart", channel=channel_id, filename=filename, content=png,
                                           title=title, comment=escape(headline)))
            return
        # A file needs a conversation ID: posting to the user ID opens the DM and tells us its ID.
        ctx.delivery.send(Message(key=key, channel=user_id,
                                  text=f"The chart of your `/cost why {escape(asked)}`: {escape(headline)}"))
        link = ctx.delivery.message_link(key)
        if link is None:
            log.warning("no DM with %s for the chart of /cost why %s (kept in the outbox)", user_id, asked)
            return
        ctx.delivery.upload(FileUpload(key=f"{key}:chart", channel=link[0], filename=filename, content=png,
                                       title=title))
    except Exception:
        log.exception("the chart of /cost why %s for %s failed", asked, user_id)


def register(app: App, ctx: AppContext) -> None:
    @app.action(re.compile(f"^({DRILL_ACTION}|{MORE_ACTION})$"))
    def on_drill_down(ack: Ack, body: dict, respond: Respond) -> None:
        ack()
        try:
            question, page = decode_question(body["actions"][0].get("value", ""))
        except ValueError:
            respond(replace_original=False, response_type="ephemeral",
                    text=":warning: This button is from an older costbot; ask again with `/cost why ...`.")
            return
        try:
            answer = answer_parsed(ctx.db, question, top_n=page * PAGE_SIZE)
        except Exception:
            reference = secrets.token_hex(3)
            log.exception("/cost why drill-down failed (ref %s)", reference)
            respond(replace_original=False, response_type="ephemeral",
                    text=f":x: Something went wrong on our side. It was logged with reference `{reference}`.")
            return
        message = variance_message(answer, page=page)
        respond(replace_original=False, response_type="ephemeral", text=message["text"], blocks=message["blocks"])
