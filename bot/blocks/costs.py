"""Block Kit for ``/cost teams`` and ``/cost coverage``: pure functions from report data to messages.

Every message stays inside Slack's limits whatever the data: lines are packed into sections of
at most ``SECTION_CHARS`` characters, long values (ARNs, rule lists) are cut, and when a list
would pass ``MAX_BLOCKS`` the rest is summarised with a pointer to the CLI, which has no limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from bot.services.ownership import CoverageReport, MonthSpend, budget_used, coverage_parts
from finops.model import UNALLOCATED
from finops.money import format_usd
from finops.teams import Team, TeamsConfig

MAX_BLOCKS = 50  # per message
SECTION_CHARS = 2_900  # under the 3,000 of a section text, with room for a closing line
HEADER_CHARS = 150
SLACK_DRIVERS = 10  # untagged drivers shown in Slack; `costbot coverage` lists 20


def escape(text: str) -> str:
    """Text from data (rule values, resource IDs) made safe for mrkdwn."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int) -> str:
    """At most ``limit`` characters, with an ellipsis when cut.

    Never inside an escape (``&amp;``, ``&lt;``, ``&gt;``) or a Slack reference (``<@U1>``,
    ``<#C1>``, ``<!here>``, ``<https://…|label>``): half of one shows as "&gt…" or breaks the
    markup, so the cut moves back to before it."""
    if len(text) <= limit:
        return text
    kept = text[:limit - 1]
    amp = kept.rfind("&")
    if amp != -1 and any(entity.startswith(kept[amp:]) and kept[amp:] != entity for entity in ("&amp;", "&lt;", "&gt;")):
        kept = kept[:amp]
    ref = kept.rfind("<")
    if ref != -1 and ">" not in kept[ref:] and kept[ref + 1:ref + 2] in ("@", "#", "!", "h", ""):
        kept = kept[:ref]
    return kept + "…"


def channel_ref(channel: str) -> str:
    """A channel ID becomes a link (``<#C0123>``); a ``#name`` stays as written."""
    return channel if channel.startswith("#") else f"<#{channel}>"


def _header(text: str) -> dict:
    return {"type": "header", "text": {"type": "plain_text", "text": cut(text, HEADER_CHARS)}}


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": cut(text, SECTION_CHARS)}]}


def packed_sections(lines: Iterable[str], *, title: str = "", max_sections: int) -> tuple[list[dict], int]:
    """Lines packed into at most ``max_sections`` sections; returns them and how many lines did not fit."""
    lines = [cut(line, SECTION_CHARS) for line in lines]
    sections: list[dict] = []
    chunk: list[str] = [title] if title else []
    size = len(title)
    for i, line in enumerate(lines):
        if chunk and size + 1 + len(line) > SECTION_CHARS:
            if len(sections) + 1 == max_sections:
                sections.append(_section("\n".join(chunk)))
                return sections, len(lines) - i
            sections.append(_section("\n".join(chunk)))
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 1
    if chunk:
        sections.append(_section("\n".join(chunk)))
    return sections, 0


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.1f} %"


# ---------------------------------------------------------------------------------------------
# /cost teams


def _team_line(team: Team, spend: MonthSpend) -> str:
    mine = spend.of(team.name)
    used = budget_used(team, mine)
    owners = " ".join(f"<@{u}>" for u in team.owners) or "no owners"
    budget = "no budget" if team.budget_monthly is None else (
        f"{_percent(used)} of {format_usd(team.budget_monthly)}")
    rules = f"{len(team.match)} rule" + ("" if len(team.match) == 1 else "s")
    return (f"*{team.name}* → {channel_ref(team.channel)} · {owners} · *{format_usd(mine.in_cents()[2])}* "
            f"({budget}) · {rules}")


def teams_message(config: TeamsConfig, spend: MonthSpend) -> dict[str, Any]:
    """Every team on one line (channel, owners, month-to-date spend vs budget, rule count), then
    unallocated spend and the shared pools. Any number of teams fits: lines that would pass the
    block limit are counted in a closing line pointing to ``costbot teams``."""
    title = f"Teams · {spend.start:%B %Y} to date ({spend.metric} cost)"
    blocks: list[dict] = [_header(title)]
    unallocated = spend.of(UNALLOCATED).in_cents()[2]
    pools = [f"shared pool *{escape(pool.name)}*: {pool.split} across {len(pool.teams)} teams"
             for pool in config.shared_costs]
    tail = [f"*{UNALLOCATED}* → {channel_ref(config.default_channel)} · *{format_usd(unallocated)}*", *pools]
    # Header + team sections + one section for the tail + one context.
    sections, left = packed_sections((_team_line(t, spend) for t in config.teams),
                                     max_sections=MAX_BLOCKS - 3)
    blocks += sections
    blocks += packed_sections(tail, max_sections=1)[0]
    more = f"{left} more teams not shown: `costbot teams` lists all. " if left else ""
    blocks.append(_context(f"{more}`/cost teams NAME` shows a team's rules. Owners by {escape(config.file)}; "
                           f"spend {spend.through_text()}."))
    text = f"{len(config.teams)} teams; unallocated this month {format_usd(unallocated)}"
    return {"text": text, "blocks": blocks}


def team_message(config: TeamsConfig, team: Team, spend: MonthSpend) -> dict[str, Any]:
    """One team: channel, owners, members, budget, this month's spend, thresholds, tags, rules."""
    direct, shared, total = spend.of(team.name).in_cents()
    used = budget_used(team, spend.of(team.name))
    people = lambda users: " ".join(f"<@{u}>" for u in users) or "–"  # noqa: E731
    thresholds = team.thresholds
    fields = [
        f"*Channel*\n{channel_ref(team.channel)}",
        f"*Owners*\n{people(team.owners)}",
        f"*Members*\n{people(team.members)}" + (" + channel members" if team.members_from_channel else ""),
        "*Budget*\n" + ("–" if team.budget_monthly is None else
                         f"{format_usd(team.budget_monthly)} a month ({_percent(used)} used)"),
        f"*{spend.start:%B} to date*\n{format_usd(total)} (direct {format_usd(direct)}, shared {format_usd(shared)})",
        f"*Alerts from*\n{format_usd(thresholds.min_impact_usd)} and {thresholds.min_pct * 100:g} %"
        + (", decreases too" if thresholds.alert_on_decrease else ""),
        f"*Mandatory tags*\n{', '.join(config.mandatory_tags_for(team.name)) or '–'}",
    ]
    blocks: list[dict] = [_header(f"Team {team.name}"),
                          {"type": "section", "fields": [{"type": "mrkdwn", "text": cut(f, 2_000)} for f in fields]}]
    rules = [f"• {escape(rule.describe())} _(line {rule.line})_" for rule in team.match] or ["• no rules"]
    sections, left = packed_sections(rules, title="*Rules* (the most specific wins: resource > tag > account)",
                                     max_sections=MAX_BLOCKS - 4)  # header, fields, "more rules", the through line
    blocks += sections
    if left:
        blocks.append(_context(f"{left} more rules: `costbot teams` lists them all."))
    blocks.append(_context(f"{spend.start:%B} to date: spend {spend.through_text()}."))
    return {"text": f"Team {team.name}: {format_usd(total)} this month", "blocks": blocks}


# ---------------------------------------------------------------------------------------------
# /cost coverage


def _required_by(required: Sequence[str], config: TeamsConfig) -> str:
    teams = [t for t in required if t != UNALLOCATED]
    if set(config.team_names) <= set(teams):
        return "all teams"
    return cut(", ".join(teams) or "unallocated spend", 200)


def coverage_message(report: CoverageReport, config: TeamsConfig) -> dict[str, Any]:
    """Attribution coverage (whole window and per month), tag coverage per mandatory tag, the top
    untagged cost drivers, and how complete the data is."""
    whole = coverage_parts(report.attribution)
    blocks: list[dict] = [_header(f"Cost coverage · {report.start or '–'} to {report.end or '–'}")]
    blocks.append(_section(
        f"*Attribution:* {_percent(report.attribution.share)} of {format_usd(whole['total'])} has an owner "
        f"(direct {format_usd(whole['direct'])}, shared pools {format_usd(whole['shared'])}); "
        f"*{format_usd(whole['unallocated'])}* unallocated."))
    months = [f"`{m.period}` {_percent(p['share'])} of {format_usd(p['total'])}"
              + (f" · shared {format_usd(p['shared'])}" if p["shared"] else "")
              for m, p in ((m, coverage_parts(m)) for m in report.attribution.by_period[-24:])]
    if months:
        blocks += packed_sections(months, title="*By month*", max_sections=2)[0]
    if report.tags:
        lines = [f"`{escape(t.tag)}` {_percent(t.share)} of taggable usage · required by "
                 f"{_required_by(t.required_by, config)}" for t in report.tags[:30]]
        blocks += packed_sections(lines, title="*Tag coverage*", max_sections=2)[0]
    else:
        blocks.append(_section("*Tag coverage:* no mandatory tags in teams.yml (e.g. `mandatory_tags: [team, env]`)."))
    if not report.untagged.empty:
        lines = [f"{format_usd(r.cost)} · {escape(r.ProviderName)} {escape(r.SubAccountId)} · "
                 f"{escape(r.ServiceName)} · `{escape(cut(r.ResourceId, 120)) or '(no resource)'}` · "
                 f"missing {escape(r.missing_tags)} · owner {escape(cut(r.x_Team, 80))}"
                 for r in report.untagged.head(SLACK_DRIVERS).itertuples()]
        blocks += packed_sections(lines, title=f"*Top untagged cost drivers* ({min(len(report.untagged), SLACK_DRIVERS)}"
                                               f" of {len(report.untagged)})", max_sections=3)[0]
    blocks.append(_context(_freshness_line(report.complete_through, report.sources)
                           + " `costbot coverage` has the full lists."))
    text = (f"Attribution coverage {_percent(report.attribution.share)}; "
            f"{format_usd(whole['unallocated'])} unallocated")
    return {"text": text, "blocks": blocks}


def _freshness_line(complete_through: date | None, sources: Sequence) -> str:
    if complete_through is None:
        return "No cost data yet."
    partial = sorted({day for s in sources for day in s.partial_days})
    failing = [s.source for s in sources if s.last_run_status == "failed"]
    line = f"Data complete through {complete_through}."
    if partial:
        line += f" Partial (still loading): {partial[0]}" + (f" to {partial[-1]}." if len(partial) > 1 else ".")
    if failing:
        line += f" Last pull failed: {escape(cut(', '.join(failing), 300))}."
    return line
