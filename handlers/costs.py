"""``/cost teams [NAME]`` and ``/cost coverage``: who owns what, and how much of the spend has an owner.

Both read a month or more of daily costs, so they are ``slow``: acked at once, answered through
``response_url`` (ephemeral: only the person who asked sees it).
"""

from __future__ import annotations

import difflib
import re

from bot.blocks.costs import coverage_message, team_message, teams_message
from bot.blocks.help import user_text
from bot.services.ownership import load_coverage, load_team_spend
from finops.errors import QuestionError
from finops.teams import Team, TeamsConfig
from handlers.commands import CommandRequest, Reply, subcommand
from storage.costs import CostStore


@subcommand("teams", usage="/cost teams [NAME]", slow=True, working_text="Looking up the teams…",
            summary="Teams, their channels, owners and rules, and this month's spend against budget.")
def show_teams(request: CommandRequest) -> Reply:
    config = request.ctx.teams
    spend = load_team_spend(CostStore(request.ctx.db), config, request.ctx.today())
    name = request.args.strip()
    if not name:
        return Reply(**teams_message(config, spend))
    by_folded = {t.name.casefold(): t for t in config.teams}
    team = by_folded.get(name.casefold()) or team_of_channel(config, name)
    if team is None:
        close = difflib.get_close_matches(name.casefold(), list(by_folded), n=1)
        hint = f" Did you mean `{by_folded[close[0]].name}`?" if close else ""
        raise QuestionError(f"No team called `{user_text(name)}` in teams.yml.{hint}", word=name,
                            examples=tuple(f"/cost teams {t}" for t in config.team_names[:3]))
    return Reply(**team_message(config, team, spend))


# A channel as Slack sends it in a command's text when it escapes channels: <#C0123|team-payments>
_ESCAPED_CHANNEL = re.compile(r"<#(\w+)(?:\|([^>]*))?>")


def team_of_channel(config: TeamsConfig, text: str) -> Team | None:
    """The team whose channel ``text`` names (``#team-payments``, or Slack's ``<#C0123|team-payments>``):
    people name a team by where it talks."""
    escaped = _ESCAPED_CHANNEL.fullmatch(text)
    names = {escaped.group(1), f"#{escaped.group(2)}"} if escaped else {text}
    folded = {n.casefold() for n in names if n.strip("#")}
    return next((t for t in config.teams if t.channel.casefold() in folded), None)


@subcommand("coverage", usage="/cost coverage", slow=True, working_text="Measuring coverage…",
            summary="How much spend has an owner (per month), tag coverage, the top untagged cost drivers.")
def show_coverage(request: CommandRequest) -> Reply:
    if request.args.strip():
        raise QuestionError(f"`/cost coverage` takes no options (got `{user_text(request.args.strip())}`).",
                            word=request.args.split()[0], examples=("/cost coverage",))
    report = load_coverage(CostStore(request.ctx.db), request.ctx.teams)
    return Reply(**coverage_message(report, request.ctx.teams))
