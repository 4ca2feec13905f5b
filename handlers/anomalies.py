"""``/cost anomalies [team] [open|all]``: the anomalies of a team (or all teams), open ones by default."""

from __future__ import annotations

from bot.blocks.anomalies import anomalies_list_message
from bot.blocks.help import user_text
from bot.context import AppContext
from bot.services.forecast import find_team
from finops.errors import QuestionError
from handlers.commands import (
    CommandRequest,
    Reply,
    did_you_mean,
    did_you_mean_team,
    one_at_a_time,
    subcommand,
)
from storage.anomalies import AnomalyStore

WHICH = ("open", "all")


def parse_anomaly_filters(ctx: AppContext, args: str) -> tuple[str | None, str]:
    """``payments all`` (either order, either optional) -> (team, "open" | "all")."""
    team, which = None, "open"
    seen_which: str | None = None
    for word in args.split():
        if (named := find_team(ctx.teams, word)) is not None:  # any case: "Payments"
            if team not in (None, named):
                raise one_at_a_time("team", team, named, "anomalies")
            team = named
        elif word.lower() in WHICH:
            if seen_which not in (None, word.lower()):
                raise one_at_a_time("of `open`/`all`", seen_which, word.lower(), "anomalies")
            which = seen_which = word.lower()
        else:
            hint = did_you_mean(word, WHICH) or did_you_mean_team(ctx, word)  # "opne", "al", "paymnts"
            raise QuestionError(f"`{user_text(word)}` is neither a team nor `open`/`all`.{hint}",
                                word=word,
                                examples=tuple(f"/cost anomalies {t}" for t in ctx.teams.team_names[:2])
                                + ("/cost anomalies all",))
    return team, which


@subcommand("anomalies", usage="/cost anomalies [team] [open|all]",
            summary="Cost anomalies of a team (or every team): open ones, or all of them.")
def list_anomalies(request: CommandRequest) -> Reply:
    team, which = parse_anomaly_filters(request.ctx, request.args)
    records = AnomalyStore(request.ctx.db).list_anomalies(team=team, open_only=which == "open")
    return Reply(**anomalies_list_message(records, team=team, which=which))

