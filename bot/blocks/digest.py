"""Block Kit for the weekly digests: pure functions from finops/digest.py results to messages.

Whatever the number of teams, anomalies or findings, a digest stays far inside the 50-block
message limit: each list shows its first lines and a count of the rest, and where the rest is
worth reading a "Show more" button (``digest_more``) answers the person who pressed it with the
whole list (handlers/digest.py), itself summarised within the limits.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.blocks.costs import channel_ref, cut, escape, packed_sections
from bot.blocks.forecast import NO_SPEND_BUDGETED, month_label, month_span_text, share_of_budget
from bot.blocks.maturity import scorecard_blocks
from finops.digest import (
    AnomalyLine,
    Change,
    OrgDigest,
    TeamDigest,
    TeamRank,
    Week,
    compared_days,
    starts_late,
)
from finops.maturity import FindingSummary
from finops.money import format_usd
from finops.units import UnitTrend, format_unit_cost, singular

MORE_ACTION = "digest_more"
TEAM_LINES = 10
MOVER_LINES = 5
ANOMALY_LINES = 5
FINDING_LINES = 3
STALLED_LINES = 3
DRIVER_LINES = 5
UNIT_LINES = 5
SECTION_CHARS = 2_900
MAX_BLOCKS = 50


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut(text, SECTION_CHARS)}}


def _context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": cut(text, SECTION_CHARS)}]}


def _header(text: str) -> dict:
    return {"type": "header", "text": {"type": "plain_text", "text": cut(text, 150)}}


def more_button(label: str, kind: str, week: str, team: str = "") -> dict:
    """An actions block with a "Show more" button; its value says which list to show."""
    value = json.dumps({"kind": kind, "week": week, "team": team}, separators=(",", ":"))
    return {"type": "actions", "elements": [{"type": "button", "action_id": MORE_ACTION, "value": value,
                                             "text": {"type": "plain_text", "text": cut(label, 75)}}]}


def parse_more_value(value: str) -> tuple[str, str, str]:
    """(kind, week, team) of a "Show more" button; ValueError when it is not one of ours."""
    data = json.loads(value)
    if not isinstance(data, dict) or data.get("kind") not in ("teams", "findings"):
        raise ValueError(f"not a digest button value: {value!r}")
    return str(data["kind"]), str(data.get("week", "")), str(data.get("team", ""))


def percent_text(pct: float) -> str:
    """A change in percent as every digest line writes it: ``+10.8 %``, ``-0.3 %``; ``<0.1 %`` for a
    change too small to show at one decimal (never a ``+0.0 %`` next to a change in $)."""
    text = f"{pct:+.1f}"
    return "<0.1 %" if pct and float(text) == 0 else f"{text} %"


def change_text(change: Change) -> str:
    """``$1,234.00 (+$120.00, +10.8 % vs $1,114.00)``."""
    pct = "" if change.pct is None else f", {percent_text(change.pct)}"
    return f"{format_usd(change.last)} ({format_usd(change.delta, signed=True)}{pct} vs {format_usd(change.before)})"


def mover_line(change: Change) -> str:
    arrow = ":arrow_up_small:" if change.delta > 0 else ":arrow_down_small:"
    pct = "new" if change.pct is None else percent_text(change.pct)
    return (f"{arrow} {escape(change.label)}: {format_usd(change.delta, signed=True)} ({pct}), "
            f"{format_usd(change.before)} → {format_usd(change.last)}")


def anomaly_line(anomaly: AnomalyLine) -> str:
    return (f"• #{anomaly.id} {escape(anomaly.label)}: {format_usd(anomaly.impact, signed=True)} since "
            f"{anomaly.start:%d %b} ({anomaly.kind})")


def finding_line(finding: FindingSummary) -> str:
    return (f"• #{finding.id} {escape(finding.title)}: {format_usd(finding.estimate_monthly)}/month, "
            f"{finding.state.replace('_', ' ')}")


def unit_line(trend: UnitTrend) -> str:
    change = ("" if trend.change_pct is None
              else f" ({percent_text(trend.change_pct)} vs the {_period_word(trend)} before)")
    history = " → ".join(format_unit_cost(cost) for _, cost in trend.history[-4:])
    return (f"• *{format_unit_cost(trend.cost_per_unit)}* per {escape(singular(trend.metric))} in {trend.period}"
            f"{change}" + (f"; {history}" if len(trend.history) > 1 else ""))


def _period_word(trend: UnitTrend) -> str:
    return "week" if "-W" in trend.period else "month"


def no_day_of_the_month(month: str, complete_through: date) -> bool:
    """Whether the cost data ends before ``month`` (``2026-11``) begins: a week ending on its first
    day(s) has no day of it in the data yet, and its forecast comes from past months alone."""
    return complete_through < date.fromisoformat(f"{month}-01")


def _no_day_text(month: str, complete_through: date, extra: str = "") -> str:
    """``*November 2026*: no day of it is in the cost data yet (complete through 31 Oct)``: not
    ``November 2026 to date $0.00 (through 31 Oct)``, a month that reads as nothing spent."""
    return (f"*{month_label(month)}*: no day of it is in the cost data yet "
            f"(complete through {complete_through:%d %b}{extra})")


def _orgmonth_span_text(digest: OrgDigest) -> str:
    """`` (10–14 Nov: the cost data starts on 10 Nov)`` when the month began before the data, else ""."""
    if digest.data_from is None or digest.data_from <= date.fromisoformat(f"{digest.month}-01"):
        return ""
    return f" ({month_span_text(digest.month, digest.data_from, min(digest.week.end, digest.complete_through))})"


def _budget_text(digest: TeamDigest) -> str:
    month = month_label(digest.month)
    if no_day_of_the_month(digest.month, digest.complete_through):
        return _budget_text_before_the_month(digest)
    to_date = month_span_text(digest.month, digest.data_from, min(digest.week.end, digest.complete_through))
    if digest.budget is None:
        forecast = "" if digest.forecast is None else f" · month-end forecast {format_usd(digest.forecast)}"
        return f"*{month} to date* {format_usd(digest.month_to_date)} ({to_date}; no budget){forecast}"
    b = digest.budget
    if b.budget <= 0:
        return (f"*{month} to date* {format_usd(digest.month_to_date)} ({to_date}; {NO_SPEND_BUDGETED}) · "
                f"month-end forecast {format_usd(b.forecast)}: {share_of_budget(b)}")
    return (f"*{month} to date* {format_usd(digest.month_to_date)} of the {format_usd(b.budget)} budget "
            f"({float(digest.month_to_date) / b.budget * 100:.0f} %, {to_date}) · month-end forecast "
            f"{format_usd(b.forecast)}: {share_of_budget(b)}")


def _budget_text_before_the_month(digest: TeamDigest) -> str:
    """The month line of a week ending in a month the cost data does not reach yet: its forecast
    (from past months) against the budget, no month to date."""
    b = digest.budget
    if b is None:
        forecast = ("" if digest.forecast is None
                    else f" · month-end forecast {format_usd(digest.forecast)}, from past months")
        return _no_day_text(digest.month, digest.complete_through, "; no budget") + forecast
    if b.budget <= 0:
        return (_no_day_text(digest.month, digest.complete_through, f"; {NO_SPEND_BUDGETED}")
                + f" · month-end forecast {format_usd(b.forecast)}, from past months: {share_of_budget(b)}")
    return (_no_day_text(digest.month, digest.complete_through)
            + f" · month-end forecast {format_usd(b.forecast)}, from past months, against the "
              f"{format_usd(b.budget)} budget: {share_of_budget(b)}")


def _listed(lines: Sequence[str], limit: int, rest: str) -> str:
    shown = list(lines[:limit])
    if len(lines) > limit:
        shown.append(f"…and {len(lines) - limit} more {rest}")
    return "\n".join(shown)


def no_data_text(complete_through: date | None) -> str:
    """Why a digest has no spend lines: the complete cost data does not reach its week."""
    if complete_through is None:
        return ":hourglass_flowing_sand: *No cost data yet*: nothing has been ingested (`costbot ingest status`)."
    return (f":hourglass_flowing_sand: *No cost data for this week yet*: the data ends {complete_through:%d %b} "
            "(`costbot ingest status`).")


def last_week_label(week: Week, through: date) -> str:
    """``Last week``, or ``Last week, Mon–Sat`` when its last days are still loading."""
    days = compared_days(week, through)
    return f"Last week, {days}" if days else "Last week"


def loading_note(week: Week, complete_through: date) -> str:
    """Why a week is compared on fewer days: which days are still loading."""
    through = min(complete_through, week.end)
    first = through + timedelta(days=1)
    if first == week.end:
        loading = f"{_day(first)} is"
    else:
        start = f"{first:%a} {first.day}" + (f" {first:%b}" if first.month != week.end.month else "")
        loading = f"{start} to {_day(week.end)} are"
    return (f" Data is complete through {_day(through)}; {loading} still loading, so only "
            f"{compared_days(week, through)} of each week is compared.")


def data_starts_text(data_from: date) -> str:
    """Why a week has no change: the cost data does not hold the whole week before it."""
    return f"the cost data starts {_day(data_from)}: no full week before to compare with"


def _day(day: date) -> str:
    """``Sat 14 Nov``, as the week's title writes days (no leading zero)."""
    return f"{day:%a} {day.day} {day:%b}"


NO_DATA_NOTE = ("Open anomalies, findings and savings come from the bot's own records; spend, budget and "
                "forecast follow once the week's cost data is in (`/cost digest preview`).")


def team_digest_message(digest: TeamDigest) -> dict[str, Any]:
    """A team channel's weekly digest (see the module docstring for the limits)."""
    week = digest.week
    blocks: list[dict] = [_header(f"{digest.team} · {week.title}")]
    if not digest.has_data:
        blocks.append(_section(no_data_text(digest.complete_through)))
    else:
        blocks.append(_section(f"*{last_week_label(week, digest.through)}* {_team_spend_text(digest)}\n"
                               f"{_budget_text(digest)}"))
    if digest.has_data and digest.movers:
        against = "against the week before" if not digest.partial else "against the same days of the week before"
        blocks.append(_section(f"*Top movers* (by service, {against})\n"
                               + "\n".join(mover_line(m) for m in digest.movers[:MOVER_LINES])))
    if not digest.anomalies:
        anomalies = "*Open anomalies*: none"
    else:
        anomalies = (f"*Open anomalies* ({len(digest.anomalies)}, "
                     f"{format_usd(sum(a.impact for a in digest.anomalies), signed=True)} so far)\n"
                     + _listed([anomaly_line(a) for a in digest.anomalies], ANOMALY_LINES,
                               f"in {channel_ref(digest.channel)}: `/cost anomalies {digest.team}`"))
    blocks.append(_section(anomalies))
    if digest.findings:
        # Estimates, as the findings were written: the realized figure is the line below.
        pipeline = " · ".join(f"{t.state.replace('_', ' ')} {t.count} (est. {format_usd(t.monthly)}/month)"
                              for t in digest.findings)
        text = f"*Findings*: {pipeline}"
        if digest.open_findings:
            text += "\nBiggest open:\n" + "\n".join(finding_line(f) for f in digest.open_findings[:FINDING_LINES])
        if digest.stalled:
            text += "\nStalled:\n" + _listed(list(digest.stalled), STALLED_LINES, "stalled")
        blocks.append(_section(text))
        if len(digest.open_findings) > FINDING_LINES:
            blocks.append(more_button(f"Show all {len(digest.open_findings)} open findings", "findings",
                                      week.label, digest.team))
    else:
        blocks.append(_section("*Findings*: none yet. `/cost finding new` opens one."))
    saved = (f"*{realized_label(digest.quarter)}*: {format_usd(digest.realized_quarter)}/month from "
             f"{digest.verified_quarter} finding{'s' if digest.verified_quarter != 1 else ''}")
    if digest.has_data and digest.units:
        saved += "\n*Unit cost*\n" + _listed([unit_line(u) for u in digest.units], UNIT_LINES, "metrics")
    blocks.append(_section(saved))
    if not digest.has_data:
        blocks.append(_context(NO_DATA_NOTE))
        return {"text": f"{digest.team} weekly digest, {week.title}: no cost data for this week yet",
                "blocks": blocks}
    partial = loading_note(week, digest.complete_through) if digest.partial else ""
    why = ("" if no_spend(digest.spend) or digest.no_week_before
           else f". `/cost why team={digest.team} last week` explains the change")
    blocks.append(_context(f"Effective cost, shared costs split{why}; the chart is in the thread.{partial}"))
    text = (f"{digest.team} weekly digest, {week.title}: "
            f"{_summary(digest.spend, week, digest.through, digest.data_from)}")
    return {"text": text, "blocks": blocks}


def no_spend(change: Change) -> bool:
    """Nothing either week: no change to explain, and likely teams.yml rules that match nothing."""
    return change.last == 0 and change.before == 0


def _team_spend_text(digest: TeamDigest) -> str:
    """The team's week against the one before; with no spend either week, says so and where the
    spend may be instead of ``$0.00 ($0.00 vs $0.00)``; when the cost data starts after the week
    before began, the week's spend alone (a change against a part of a week is no change)."""
    if digest.no_week_before and digest.data_from is not None:
        return f"{format_usd(digest.spend.last)} ({data_starts_text(digest.data_from)})"
    if not no_spend(digest.spend):
        return change_text(digest.spend)
    before = "the same days of the week before" if digest.partial else "the week before"
    return (f"no spend allocated to {digest.team}, nor {before}. If {digest.team} runs anything, the `match` "
            "rules of teams.yml find none of it: `costbot coverage` lists the spend no team owns.")


def _summary(spend: Change, week: Week, through: date, data_from: date | None = None) -> str:
    """The notification text's figures: ``$1,234.00 (+$120.00 vs the week before)``."""
    days = compared_days(week, through)
    if data_from is not None and starts_late(data_from, week):
        return f"{format_usd(spend.last)}{' for ' + days if days else ''} ({data_starts_text(data_from)})"
    if no_spend(spend):
        return (f"no spend for {days} (none the same days of the week before either)" if days
                else "no spend (none the week before either)")
    if days:
        return (f"{format_usd(spend.last)} for {days} ({format_usd(spend.delta, signed=True)} vs the same days "
                "of the week before)")
    return f"{format_usd(spend.last)} ({format_usd(spend.delta, signed=True)} vs the week before)"


def realized_label(quarter: str) -> str:
    """What the realized figure is: a monthly rate (the ledger's), of the findings verified in ``quarter``."""
    return f"Savings realized a month, findings verified in {quarter}"


def rank_line(rank: TeamRank, *, compare: bool = True) -> str:
    """A team's line in the org digest: its week and change; with ``compare`` false (no full week
    before in the cost data), its week alone."""
    change = rank.change
    pct = "" if change.pct is None else f" ({percent_text(change.pct)})"
    budget = ""
    if rank.budget is not None:
        budget = f" · {share_of_budget(rank.budget)}"
    if not compare:
        return f"*{escape(change.label)}*: {format_usd(change.last)}{budget}"
    if no_spend(change):
        return f"*{escape(change.label)}*: no spend either week{budget}"
    return (f"*{escape(change.label)}*: {format_usd(change.last)}, {format_usd(change.delta, signed=True)}{pct}"
            + budget)


def org_digest_message(digest: OrgDigest) -> dict[str, Any]:
    """The default channel's weekly digest: the org view and the maturity scorecard."""
    week = digest.week
    if not digest.has_data:
        blocks = [_header(f"Organisation · {week.title}"), _section(no_data_text(digest.complete_through)),
                  *_org_records_and_scorecard(digest)]
        return {"text": f"Weekly digest, {week.title}: no cost data for this week yet", "blocks": blocks}
    forecast = ""
    before_the_month = no_day_of_the_month(digest.month, digest.complete_through)
    if digest.forecast is not None:
        interval = (f" ({digest.forecast_coverage * 100:.0f} % interval {format_usd(digest.forecast_low)} – "
                    f"{format_usd(digest.forecast_high)})"
                    if digest.forecast_high is not None and digest.forecast_low is not None
                    and digest.forecast_coverage is not None
                    and abs(digest.forecast_high - digest.forecast_low) >= 0.005 else "")
        basis = ", from past months" if before_the_month else ""
        forecast = f" · month-end forecast {format_usd(digest.forecast)}{basis}{interval}"
    month = (_no_day_text(digest.month, digest.complete_through) if before_the_month
             else f"*{month_label(digest.month)} to date* {format_usd(digest.month_to_date)}"
             + _orgmonth_span_text(digest)) + forecast
    blocks: list[dict] = [
        _header(f"Organisation · {week.title}"),
        _section(f"*{last_week_label(week, digest.through)}* {_org_spend_text(digest)}\n{month}"),
        _section(f"*{teams_by_change_title(week, digest.through, compare=not digest.no_week_before)}*\n"
                 + _listed([rank_line(r, compare=not digest.no_week_before) for r in digest.teams], TEAM_LINES,
                           "teams")),
    ]
    if len(digest.teams) > TEAM_LINES:
        blocks.append(more_button(f"Show all {len(digest.teams)} teams", "teams", week.label))
    days = compared_days(week, digest.through)
    unallocated = (f"*Unallocated{', ' + days if days else ''}* "
                   + (format_usd(digest.unallocated.last) if digest.no_week_before
                      else change_text(digest.unallocated)))
    if not digest.untagged.empty:
        drivers = [f"• {escape(r.ServiceName or '(no service)')} in {escape(r.SubAccountId or r.ProviderName)}"
                   + (f" `{escape(cut(r.ResourceId, 60))}`" if r.ResourceId else "")
                   + f": {format_usd(r.cost)}, missing {escape(r.missing_tags)} ({escape(r.x_Team)})"
                   for r in digest.untagged.itertuples()]
        unallocated += (f"\n*Top untagged cost drivers* of {days or 'the week'}\n"
                        + _listed(drivers, DRIVER_LINES, "in `costbot coverage`"))
    blocks.append(_section(unallocated))
    blocks += _org_records_and_scorecard(digest)
    text = f"Weekly digest, {week.title}: {_summary(digest.spend, week, digest.through, digest.data_from)}"
    return {"text": text, "blocks": blocks}


def _org_spend_text(digest: OrgDigest) -> str:
    if digest.no_week_before and digest.data_from is not None:
        return f"{format_usd(digest.spend.last)} ({data_starts_text(digest.data_from)})"
    return change_text(digest.spend)


def _org_records_and_scorecard(digest: OrgDigest) -> list[dict]:
    """The org digest's lines from the bot's own records, its closing note, and the scorecard."""
    count, monthly = digest.open_findings
    blocks = [_section(f"*Open anomalies*: {digest.open_anomalies} · *Open findings*: {count} "
                       f"({format_usd(monthly)}/month identified) · *{realized_label(digest.quarter)}*: "
                       f"{format_usd(digest.realized_quarter)}/month")]
    if not digest.has_data:
        blocks.append(_context(NO_DATA_NOTE))
    else:
        partial = (loading_note(digest.week, digest.complete_through)
                   if digest.complete_through < digest.week.end else "")
        blocks.append(_context(f"Effective cost, shared costs split; each team's digest is in its channel.{partial}"))
    if digest.scorecard is not None:
        blocks += scorecard_blocks(digest.scorecard)
    return blocks


def teams_by_change_title(week: Week, through: date, *, compare: bool = True) -> str:
    """``Teams by change``, naming the days compared when the week is cut short; ``Teams by spend``
    when there is no full week before in the cost data (``compare`` false)."""
    days = compared_days(week, through)
    title = "Teams by change" if compare else "Teams by spend"
    return f"{title}, {days}" if days else title


def teams_pointer(week: Week, through: date | None = None) -> str:
    """Where every team's spend of ``week`` (through ``through``, when its last days are still
    loading) is listed without a limit."""
    end = week.end if through is None else min(through, week.end)
    days = compared_days(week, end)
    return (f"`costbot costs --by team --from {week.start} --to {end}` lists every team's spend of "
            + (f"{days}." if days else "the week."))


def posted_when(posted_at: datetime, timezone: str) -> str:
    """``Mon 16 Nov 09:00 (UTC)``: when a digest was posted, in the schedule's time zone."""
    when = posted_at.astimezone(ZoneInfo(timezone))
    return f"{when:%a} {when.day} {when:%b %H:%M} ({timezone})"


def preview_note(channel: str, *, posted_at: datetime | None, started: bool, with_chart: bool, cron: str,
                 timezone: str) -> str:
    """What a preview is next to the week's digest: already posted (the preview is how it would
    read now), started but not posted in full (a placeholder or a retry the catch-up completes),
    or still to be posted at the schedule."""
    where, schedule = channel_ref(channel), f"`{cron}` ({timezone})"
    if posted_at is not None:
        return (f"Already posted in {where} on {posted_when(posted_at, timezone)}; this preview is that digest "
                f"as it would read now. The next one goes at {schedule}.")
    if started:
        return (f"Started in {where}, not posted in full yet (a placeholder waiting for the week's cost data, or a "
                "retry): the bot's hourly catch-up or `costbot digest` completes it in place.")
    return (f"Preview, not posted. The digest goes to {where} at {schedule}"
            + (", with its chart in the thread." if with_chart
               else "; if the week's cost data is not in by then, as a placeholder completed in place once it is."))


def more_message(title: str, lines: Sequence[str], *, pointer: str) -> dict[str, Any]:
    """The answer to "Show more": every line, packed; past the block limit, a count and ``pointer``."""
    sections, left = packed_sections(list(lines), max_sections=MAX_BLOCKS - 2)
    blocks = [_header(title), *sections]
    if left:
        blocks.append(_context(f"…and {left} more: {pointer}"))
    return {"text": title, "blocks": blocks}
