"""The App Home tab: the viewer's team dashboard. Pure functions from :class:`TeamHome` to a view.

For each of the viewer's teams (at most :data:`MAX_TEAMS`): this month's spend against its budget
and month-end forecast, open anomalies, the team's open findings with the buttons their state
allows (the same buttons as in the finding's channel message, handled by
handlers/finding_actions.py), and unit cost. A view holds at most 100 blocks: lists are cut with a
count and the command that lists everything.

A finding not yet implemented whose due date has passed is marked the way its reminder DM says it
(jobs/reminders.py: "past its due date") and listed first: the tab shows only the first few
findings, and the reminder DM comes once, so a small overdue finding must not sit below the cut
behind bigger ones that are on time. "Today" is the caller's (the handler's clock, in the
schedule's time zone), never read here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.blocks.costs import channel_ref, cut, escape, packed_sections
from bot.blocks.digest import anomaly_line, unit_line
from bot.blocks.findings import due_text, finding_message, state_label
from bot.blocks.forecast import (
    data_starts_in_month,
    month_label,
    month_span_text,
    range_text,
    share_of_budget,
)
from finops.digest import AnomalyLine
from finops.forecast import BudgetStatus, MonthForecast
from finops.money import format_usd
from finops.savings import days_past_due
from finops.units import UnitTrend
from storage.findings import FindingRecord

MAX_VIEW_BLOCKS = 100
MAX_TEAMS = 3
FINDINGS_SHOWN = 8
ANOMALIES_SHOWN = 5
UNITS_SHOWN = 5


@dataclass(frozen=True)
class TeamHome:
    """One team's dashboard data."""

    team: str
    channel: str
    month: str  # "YYYY-MM"
    month_to_date: float
    complete_through: date | None
    forecast: float | None
    budget: BudgetStatus | None
    anomalies: Sequence[AnomalyLine]  # open, the largest impact first
    findings: Sequence[FindingRecord]  # open ones, biggest first
    units: Sequence[UnitTrend]
    today: date  # the viewer's calendar day (the schedule's time zone): which due dates have passed
    no_figures: str | None = None  # why there is no spend or forecast (no data yet, data too old)
    data_from: date | None = None  # the day the cost data starts, when it starts inside the month


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut(text, 2_900)}}


def _context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": cut(text, 2_900)}]}


def is_overdue(finding: FindingRecord, today: date) -> bool:
    """Not implemented yet and its due date is before ``today``."""
    return days_past_due(finding.state, finding.due_on, today) is not None


def _none_of_the_month_yet(month: str, complete_through: date | None) -> str | None:
    """What to say instead of "$0.00 spent through 30 Nov" under December: on the first days of a
    month the data (a day or two behind) holds none of it, and the forecast is from past months."""
    if complete_through is None or complete_through >= date.fromisoformat(f"{month}-01"):
        return None
    return f"no day of it in the cost data yet (complete through {complete_through:%d %b})"


def _spend_text(home: TeamHome) -> str:
    month = month_label(home.month)
    if home.no_figures:  # not "$0.00 spent": the bot does not know what was spent
        return f"*{month}*: no spend or forecast to show: {home.no_figures}"
    none_yet = _none_of_the_month_yet(home.month, home.complete_through)
    through = (f" {month_span_text(home.month, home.data_from, home.complete_through)}"
               if home.complete_through else "")
    text = f"*{month}*: {none_yet or format_usd(home.month_to_date) + ' spent' + through}"
    if home.budget is not None:
        b = home.budget
        budget = "" if b.budget <= 0 else f"; {format_usd(b.budget)} budget" if none_yet \
            else f" of the {format_usd(b.budget)} budget"
        return text + f"{budget}\nMonth-end forecast {range_text(b)}: {share_of_budget(b)}"
    if home.forecast is not None:
        return text + f"{'; no budget' if none_yet else ' (no budget)'}\nMonth-end forecast {format_usd(home.forecast)}"
    return text


def org_text(forecast: MonthForecast) -> str:
    """The organisation's month for a viewer on no team: spent, how far the data goes, month-end forecast."""
    org = forecast.org
    spent = (_none_of_the_month_yet(forecast.month, forecast.complete_through)
             or f"{format_usd(org.actual_to_date)} spent "
                f"{month_span_text(forecast.month, data_starts_in_month(forecast), forecast.complete_through)}")
    return f"*Organisation, {month_label(forecast.month)}*: {spent}; month-end forecast {range_text(org)}"


def team_blocks(home: TeamHome, *, budget_blocks: int) -> list[dict]:
    """One team's part of the view, using at most ``budget_blocks`` blocks."""
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": cut(f"{home.team} · cost dashboard", 150)}},
        _section(_spend_text(home)),
    ]
    if not home.anomalies:
        blocks.append(_section("*Open anomalies*: none"))
    else:
        lines = [anomaly_line(a) for a in home.anomalies[:ANOMALIES_SHOWN]]
        if len(home.anomalies) > ANOMALIES_SHOWN:
            lines.append(f"…and {len(home.anomalies) - ANOMALIES_SHOWN} more: `/cost anomalies {home.team}`")
        blocks.append(_section(f"*Open anomalies* ({len(home.anomalies)})\n" + "\n".join(lines)))
    if home.units:
        lines = [unit_line(u) for u in home.units[:UNITS_SHOWN]]
        if len(home.units) > UNITS_SHOWN:  # say what is left out, as for anomalies and findings
            lines.append(f"…and {len(home.units) - UNITS_SHOWN} more: `costbot units show --team {home.team}`")
        blocks.append(_section("*Unit cost*\n" + "\n".join(lines)))
    tail = _context(f"Alerts and the weekly digest go to {channel_ref(home.channel)}. "
                    f"`/cost why team={home.team} this month` · `/cost budget {home.team}`")
    room = budget_blocks - len(blocks) - 3  # the findings heading, "…and N more", the closing context
    total = sum(float(f.estimate_monthly) for f in home.findings)
    overdue = sum(1 for f in home.findings if is_overdue(f, home.today))
    late = f"; {overdue} past {'its' if overdue == 1 else 'their'} due date, listed first" if overdue else ""
    heading = (f"*Open findings* ({len(home.findings)}, {format_usd(total)}/month identified{late})"
               if home.findings else "*Open findings*: none. `/cost finding new` opens one.")
    blocks.append(_section(heading))
    # Stable: within each group the caller's order (the biggest first) stays.
    ordered = sorted(home.findings, key=lambda f: not is_overdue(f, home.today))
    shown = 0
    for finding in ordered[:FINDINGS_SHOWN]:
        actions = [b for b in finding_message(finding)["blocks"] if b["type"] == "actions"]
        needed = 1 + len(actions)
        if needed > room:
            break
        blocks.append(_section(f"*#{finding.id} {escape(finding.title)}* · {format_usd(finding.estimate_monthly)}"
                               f"/month · {state_label(finding.state)}"
                               + due_text(finding, home.today, day_format="%d %b")))
        blocks += actions
        room -= needed
        shown += 1
    if shown < len(home.findings):
        blocks.append(_context(f"…and {len(home.findings) - shown} more: `/cost findings {home.team}`"))
    blocks.append(tail)
    return blocks


def home_error_view() -> dict[str, Any]:
    """The Home tab when the dashboard could not be built: said, not left blank or stale."""
    return {"type": "home", "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "costbot · cost dashboard"}},
        _section(":warning: Your dashboard could not be built just now; the error is in costbot's log for its "
                 "admins. Open this tab again in a minute, or use `/cost budget` and `/cost findings` meanwhile."),
    ]}


def home_view(homes: Sequence[TeamHome], *, viewer_has_team: bool, org_line: str | None = None,
              team_count: int | None = None, budget_lines: Sequence[str] | None = None,
              finance_approver: bool = False) -> dict[str, Any]:
    """The Home tab view: each team's dashboard, within the 100-block limit.

    ``team_count`` is how many teams the viewer is on (default: ``len(homes)``); the caller may
    load only the first :data:`MAX_TEAMS` of them, and the view says how many are left out.
    ``budget_lines`` (one per budgeted team, ``bot.blocks.forecast.status_line``) is given for a
    finance approver on no team: they answer for the whole organisation, so they see its budgets
    instead of being told to join a team. With ``finance_approver`` and no ``budget_lines`` (no
    forecast: no cost data yet, or too old), they get the organisation's line saying why, still
    not that advice.
    """
    team_count = max(team_count or 0, len(homes))
    blocks: list[dict] = []
    if not viewer_has_team and budget_lines is not None:
        blocks.append(_section("You are a finance approver on no team, so here is the organisation: each team's "
                               "month-end forecast against its budget, the closest to it first."))
        if org_line:
            blocks.append(_section(org_line))
        # Packed into sections: 50 teams must not take 50 of the 100 blocks.
        sections, left = packed_sections(budget_lines or ["No team has a budget: add `budget_monthly` to teams "
                                                          "in teams.yml."], title="*Budgets*",
                                         max_sections=MAX_VIEW_BLOCKS - len(blocks) - 2)
        blocks += sections
        if left:
            blocks.append(_context(f"…and {left} more teams: `costbot forecast` lists them all."))
        blocks.append(_context("`/cost budget` shows the same in any channel; `/cost forecast` adds the teams "
                               "without a budget."))
    elif not viewer_has_team and finance_approver:
        blocks.append(_section("You are a finance approver on no team, so here is the organisation. Each team's "
                               "month-end forecast against its budget shows here once this month can be forecast."))
        if org_line:
            blocks.append(_section(org_line))
    elif not viewer_has_team:
        blocks.append(_section("You are not on a team in teams.yml yet, so here is the organisation. "
                               "Ask your costbot admin to add you to your team's `owners` or `members`."))
        if org_line:
            blocks.append(_section(org_line))
    chosen = list(homes[:MAX_TEAMS])
    for i, home in enumerate(chosen):
        if i:
            blocks.append({"type": "divider"})
        room = (MAX_VIEW_BLOCKS - len(blocks) - 1) // (len(chosen) - i)
        blocks += team_blocks(home, budget_blocks=room)
    if team_count > len(chosen):
        blocks.append(_context(f"You are on {team_count} teams; the first {len(chosen)} are shown. "
                               "`/cost budget` covers every team."))
    return {"type": "home", "blocks": blocks[:MAX_VIEW_BLOCKS]}
