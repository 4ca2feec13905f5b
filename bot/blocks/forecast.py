"""Block Kit for month-end forecasts and budgets: ``/cost forecast``, ``/cost budget`` and the
budget alert posted in a team's channel. Pure functions from forecast results to messages.

Lists are packed into sections and cut with a pointer to ``costbot forecast`` (which has no
limit) when they would pass the 50-block message limit, whatever the number of teams.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import pandas as pd

from bot.blocks.costs import cut, packed_sections
from finops.forecast import BUDGET_WARNING_SHARE, BudgetStatus, MonthForecast, TeamForecast
from finops.model import UNALLOCATED
from finops.money import format_usd

MAX_BLOCKS = 50
LEVEL_EMOJI = {"ok": ":large_green_circle:", "warning": ":large_yellow_circle:", "over": ":red_circle:"}
LEVEL_WORDS = {"ok": "under 80 % of budget", "warning": "80 % of budget or more", "over": "over budget"}
# A $0 budget has no share to show (any spend is over it): its lines say so instead of "inf %".
NO_SPEND_BUDGETED = "no spend budgeted"


def month_label(month: str) -> str:
    """``2026-11`` -> ``November 2026``."""
    return pd.Timestamp(month).strftime("%B %Y")


def _header(text: str) -> dict:
    return {"type": "header", "text": {"type": "plain_text", "text": cut(text, 150)}}


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut(text, 3000)}}


def _context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": cut(text, 3000)}]}


def no_day_of_the_month_yet(forecast: MonthForecast) -> bool:
    """Whether the data ends before the forecast's month begins (its forecast is from past months alone)."""
    return forecast.complete_through < pd.Period(forecast.month, freq="M").start_time.date()


def past_months_text(count: int) -> str:
    """"12 past months", "1 past month"."""
    return f"{count} past month{'' if count == 1 else 's'}"


def basis_text(forecast: MonthForecast) -> str:
    """Where the numbers come from, in one line."""
    interval = (f"{forecast.coverage:.0%} interval learned from {past_months_text(forecast.interval_months)}"
                if forecast.interval_months else "no interval: the month is complete (final totals)"
                if forecast.totals_final else "no interval: every day since the data began is in"
                if forecast.month_complete else "no interval yet (less than two months of history)")
    return (f"As of {forecast.as_of:%a %d %b %Y}, from data complete through {forecast.complete_through:%d %b}; "
            f"{interval}.{estimated_days_text(forecast)} Effective cost, all charge categories, shared costs split.")


def month_span_text(month: str, data_from: date | None, through: date) -> str:
    """``through 14 Nov``; ``from 10 Nov, the cost data's first day, through 14 Nov`` when the
    month's first days precede the data (its month to date misses them; its forecast estimates them)."""
    if data_from is None or data_from <= date.fromisoformat(f"{month}-01"):
        return f"through {through.day} {through:%b}"
    return f"from {data_from.day} {data_from:%b}, the cost data's first day, through {through.day} {through:%b}"


def data_starts_in_month(forecast: MonthForecast) -> date | None:
    """The day the cost data starts when it starts inside the forecast's month, else None."""
    if not forecast.estimated_first_days:
        return None
    return date.fromisoformat(f"{forecast.month}-01") + timedelta(days=forecast.estimated_first_days)


def estimated_days_text(forecast: MonthForecast) -> str:
    """" 1–9 Jun precede the cost data: estimated at the month's usage rate.", or "" when none do."""
    if not forecast.estimated_first_days:
        return ""
    first = pd.Period(forecast.month, freq="M").start_time.date()
    last = first + timedelta(days=forecast.estimated_first_days - 1)
    days = f"{first.day} {first:%b}" if last == first else f"{first.day}–{last.day} {first:%b}"
    return f" {days} precede the cost data: estimated at the month's usage rate, fees and taxes not included."


def range_text(f: TeamForecast | Any) -> str:
    """``$88,764.12 (80 %: $88,181.21 – $89,082.34)``, or just the forecast when low == high."""
    if abs(f.high - f.low) < 0.005:
        return format_usd(f.forecast)
    return f"{format_usd(f.forecast)} ({format_usd(f.low)} – {format_usd(f.high)})"


def budget_share(status: BudgetStatus) -> str:
    """``86 %`` of the budget, or ``no spend budgeted`` when the budget is $0.

    A share just under a level's threshold keeps one decimal, cut not rounded (``79.9 %``, ``99.9 %``):
    a whole percent would read "80 %" beside a green dot and "100 %" for a team not over.
    """
    if status.budget <= 0:
        return NO_SPEND_BUDGETED
    percent = status.share * 100
    if any(percent < threshold * 100 <= round(percent) for threshold in (BUDGET_WARNING_SHARE, 1.0)):
        return f"{math.floor(percent * 10) / 10:.1f} %"
    return f"{percent:.0f} %"


def share_of_budget(status: BudgetStatus) -> str:
    """``:large_yellow_circle: 86 % of budget``, or ``:red_circle: no spend budgeted`` for a $0 budget."""
    share = f"{budget_share(status)} of budget" if status.budget > 0 else NO_SPEND_BUDGETED
    return f"{LEVEL_EMOJI[status.level]} {share}"


def status_line(status: BudgetStatus) -> str:
    """One budgeted team: emoji, forecast against budget, share."""
    if status.budget <= 0:
        return (f"{LEVEL_EMOJI[status.level]} *{status.team}*: {NO_SPEND_BUDGETED}: forecast "
                f"{format_usd(status.forecast)}, {format_usd(status.actual_to_date)} spent")
    return (f"{LEVEL_EMOJI[status.level]} *{status.team}*: forecast {format_usd(status.forecast)} of "
            f"{format_usd(status.budget)} ({budget_share(status)}), {format_usd(status.actual_to_date)} spent")


def forecast_message(forecast: MonthForecast, statuses: Sequence[BudgetStatus], *,
                     team: str | None = None) -> dict[str, Any]:
    """``/cost forecast [team]``: the org's month-end forecast, then each team's (or one team's)."""
    month = month_label(forecast.month)
    by_team = {s.team: s for s in statuses}
    org = forecast.org
    blocks: list[dict] = [_header(f"Month-end forecast: {month}" + (f" · {team}" if team else "")),
                          _section(f"*Organisation*: {range_text(org)}; {format_usd(org.actual_to_date)} spent so far")]
    teams = [t for t in forecast.teams if team is None or t.team == team]

    def budget_tail(name: str) -> str:
        budget = by_team.get(name)
        if budget is None:
            return ""
        return (f" · {LEVEL_EMOJI[budget.level]} {budget_share(budget)} of {format_usd(budget.budget)}"
                if budget.budget > 0 else f" · {share_of_budget(budget)}")

    lines = [f"*{t.team}*: {range_text(t)}; {format_usd(t.actual_to_date)} spent{budget_tail(t.team)}"
             for t in sorted(teams, key=lambda t: -t.forecast)]
    # A budgeted team with no spend yet is still listed (as `/cost budget` and `costbot forecast`
    # list it), with its budget, rather than vanishing from the org's forecast.
    with_spend = {t.team for t in forecast.teams}
    silent = [name for name in ([team] if team is not None else sorted(by_team)) if name not in with_spend]
    lines += [f"*{name}*: no spend this month{budget_tail(name)}" for name in silent]
    sections, left = packed_sections(lines, max_sections=MAX_BLOCKS - 4)
    blocks += sections
    if left:
        blocks.append(_context(f"…and {left} more teams: `costbot forecast` lists them all."))
    blocks.append(_context(basis_text(forecast)))
    text = f"Month-end forecast for {month}: {format_usd(org.forecast)} for the organisation"
    if team is not None:
        found = forecast.team(team)
        text = f"Month-end forecast for {month}: {team} {format_usd(found.forecast if found else 0)}"
    return {"text": text, "blocks": blocks}


def budget_message(forecast: MonthForecast, statuses: Sequence[BudgetStatus], *,
                   team: str | None = None) -> dict[str, Any]:
    """``/cost budget [team]``: each budgeted team's forecast against its budget, worst first."""
    month = month_label(forecast.month)
    chosen = [s for s in statuses if team is None or s.team == team]
    blocks: list[dict] = [_header(f"Budgets: {month}" + (f" · {team}" if team else ""))]
    if not chosen:
        if team == UNALLOCATED:
            # Spend no team owns cannot have a budget in teams.yml: point at what the user can do.
            advice = (f"*{UNALLOCATED}* is spend no team owns, so it has no budget: `/cost forecast {UNALLOCATED}` "
                      "shows its forecast; allocating it (a match rule in teams.yml) puts it under a team's budget.")
        elif team:
            advice = f"No budget set for *{team}*: add `budget_monthly` to the team in teams.yml."
        else:
            advice = "No team has a budget: add `budget_monthly` to teams in teams.yml."
        blocks.append(_section(advice))
        return {"text": f"Budgets for {month}: none set", "blocks": blocks}
    counts = {level: sum(1 for s in chosen if s.level == level) for level in LEVEL_EMOJI}
    if team is None:
        blocks.append(_section(f"{counts['over']} over budget · {counts['warning']} at 80 % or more · "
                               f"{counts['ok']} under 80 %"))
    ordered = sorted(chosen, key=lambda s: (-s.share, s.team))
    sections, left = packed_sections([status_line(s) for s in ordered], max_sections=MAX_BLOCKS - 4)
    blocks += sections
    if left:
        blocks.append(_context(f"…and {left} more: `costbot forecast` lists every team."))
    blocks.append(_context(basis_text(forecast)))
    text = (f"Budgets for {month}: {counts['over']} over, {counts['warning']} at 80 % or more" if team is None
            else f"{team}: forecast {format_usd(chosen[0].forecast)} of its {format_usd(chosen[0].budget)} budget")
    return {"text": text, "blocks": blocks}


def budget_alert_message(status: BudgetStatus, forecast: MonthForecast, *, announced_level: str) -> dict[str, Any]:
    """The alert in the team's channel, edited in place as the forecast moves through the month."""
    month = month_label(forecast.month)
    if forecast.month_complete:
        return _closed_budget_message(status, forecast)
    if status.budget <= 0 and status.level == "over":
        headline = f"{status.team} has no spend budgeted for {month} but is forecast to spend some"
    elif status.level == "over":
        headline = f"{status.team} is forecast to go over its {month} budget"
    elif status.level == "warning":
        headline = f"{status.team} is forecast to use {budget_share(status)} of its {month} budget"
    else:
        headline = f"{status.team} is back under 80 % of its {month} budget"
    interval = f" (80 % interval {format_usd(status.low)} – {format_usd(status.high)})" \
        if abs(status.high - status.low) >= 0.005 else ""
    left = status.budget - status.actual_to_date
    remaining = (f"{format_usd(left)} of the budget left" if left >= 0
                 else f"already {format_usd(-left)} over the budget")
    # On the first days of a month the data (a day or two behind) holds none of it: "Spent so far:
    # $0.00 through 30 Nov" under a December headline would read as a month with nothing spent.
    spent = (f"No day of {month} is in the cost data yet (complete through {forecast.complete_through:%d %b}): "
             "the forecast comes from past months." if no_day_of_the_month_yet(forecast)
             else f"Spent so far: {format_usd(status.actual_to_date)} "
                  f"{month_span_text(forecast.month, data_starts_in_month(forecast), forecast.complete_through)}; "
                  f"{remaining}.")
    body = (f"{LEVEL_EMOJI[status.level]} Forecast month-end spend *{format_usd(status.forecast)}*{interval} "
            f"against a budget of *{format_usd(status.budget)}*: *{budget_share(status)}*.\n{spent}")
    note = (f"Updated daily as the forecast moves (highest level announced: {LEVEL_WORDS[announced_level]}). "
            f"`/cost budget {status.team}` · `/cost why team={status.team} this month`")
    return {"text": f"{headline}: forecast {format_usd(status.forecast)} of {format_usd(status.budget)}",
            "blocks": [_header(headline), _section(body), _context(note)]}


def _closed_budget_message(status: BudgetStatus, forecast: MonthForecast) -> dict[str, Any]:
    # The month's data is complete: its total is final, and the alert ends with it.
    month = month_label(forecast.month)
    if status.level == "over":
        headline = f"{status.team} went over its {month} budget"
    else:
        headline = f"{status.team} used {budget_share(status)} of its {month} budget"
    difference = status.budget - status.forecast
    against = (f"{format_usd(difference)} under it" if difference >= 0 else f"{format_usd(-difference)} over it")
    body = (f"{LEVEL_EMOJI[status.level]} {month} came to *{format_usd(status.forecast)}* against a budget of "
            f"*{format_usd(status.budget)}*: *{budget_share(status)}*, {against}.")
    covered = (f"Final: the cost data covers all of {month}." if forecast.totals_final
               else f"Not final:{estimated_days_text(forecast)}")
    note = f"{covered} `/cost why team={status.team} {forecast.month}`"
    return {"text": f"{headline}: {format_usd(status.forecast)} of {format_usd(status.budget)}",
            "blocks": [_header(headline), _section(body), _context(note)]}


def budget_level_reply(status: BudgetStatus, forecast: MonthForecast) -> str:
    """The thread reply that notifies people when the level rises (an edit notifies nobody)."""
    if forecast.month_complete:
        what = "went *over budget*" if status.level == "over" else "reached *80 % of its budget*"
        return (f"{LEVEL_EMOJI[status.level]} {status.team} {what} in {month_label(forecast.month)}: "
                f"{format_usd(status.forecast)} of {format_usd(status.budget)} ({budget_share(status)})"
                + (", final." if forecast.totals_final else ", with its first days estimated."))
    what = "is now forecast *over budget*" if status.level == "over" else "has reached *80 % of its budget*"
    return (f"{LEVEL_EMOJI[status.level]} {status.team} {what} for {month_label(forecast.month)}: "
            f"{format_usd(status.forecast)} of {format_usd(status.budget)} ({budget_share(status)}).")
