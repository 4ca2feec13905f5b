"""``/cost maturity``: the FinOps maturity scorecard (bot/cli/maturity.py), ephemeral, ``slow``
(it reads a month of coverage, the findings and last quarter's variance answer)."""

from __future__ import annotations

from bot.blocks.help import user_text
from bot.blocks.maturity import maturity_message
from bot.services.maturity import load_scorecard
from finops.errors import QuestionError
from handlers.commands import CommandRequest, Reply, subcommand


@subcommand("maturity", usage="/cost maturity", slow=True, working_text="Scoring FinOps maturity…",
            summary="The FinOps maturity scorecard: attribution, anomaly routing, savings implemented, "
                    "variance explained, unit cost; Crawl / Walk / Run and the next step.")
def show_maturity(request: CommandRequest) -> Reply:
    if request.args.strip():
        raise QuestionError(f"`/cost maturity` takes no options (got `{user_text(request.args.strip())}`).",
                            word=request.args.split()[0], examples=("/cost maturity",))
    card = load_scorecard(request.ctx.db, request.ctx.teams, request.ctx.today())
    return Reply(**maturity_message(card))
