"""``/cost forecast [team]`` and ``/cost budget [team]``: month-end forecasts and budgets.

Both read up to 19 months of daily sums (bot/services/forecast.py), so they are ``slow``: acked at
once, answered through ``response_url``, ephemeral.
"""

from __future__ import annotations

from bot.blocks.costs import cut
from bot.blocks.forecast import budget_message, forecast_message
from bot.blocks.help import user_text
from bot.services.forecast import budgets_of, find_team, load_forecast
from finops.errors import QuestionError
from finops.forecast import budget_status
from handlers.commands import CommandRequest, Reply, did_you_mean_team, subcommand
from storage.costs import CostStore


def _team_argument(request: CommandRequest, command: str) -> str | None:
    name = request.args.strip()
    if not name:
        return None
    found = find_team(request.ctx.teams, name)
    if found is None:
        examples = tuple(f"/cost {command} {t}" for t in request.ctx.teams.team_names[:2]) or (f"/cost {command}",)
        words = name.split()
        hint = (f" One team at a time: `/cost {command} {user_text(words[0])}`." if len(words) > 1
                and find_team(request.ctx.teams, words[0]) else did_you_mean_team(request.ctx, name))
        raise QuestionError(f"No team called `{user_text(name)}` in teams.yml.{hint}", word=cut(name, 40),
                            examples=examples)
    return found


@subcommand("forecast", usage="/cost forecast [team]", slow=True, working_text="Forecasting the month…",
            summary="Month-end forecast for the org and each team, with its 80 % interval and budget.")
def show_forecast(request: CommandRequest) -> Reply:
    team = _team_argument(request, "forecast")
    ctx = request.ctx
    forecast = load_forecast(CostStore(ctx.db), ctx.teams, ctx.today())
    return Reply(**forecast_message(forecast, budget_status(forecast, budgets_of(ctx.teams)), team=team))


@subcommand("budget", usage="/cost budget [team]", slow=True, working_text="Checking budgets…",
            summary="Each team's month-end forecast against its monthly budget.")
def show_budget(request: CommandRequest) -> Reply:
    team = _team_argument(request, "budget")
    ctx = request.ctx
    forecast = load_forecast(CostStore(ctx.db), ctx.teams, ctx.today())
    return Reply(**budget_message(forecast, budget_status(forecast, budgets_of(ctx.teams)), team=team))
