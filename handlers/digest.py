"""``/cost digest preview [team]`` and the digests' "Show more" buttons.

The preview is what the next weekly run would post, shown only to the person who asked: the
named team's digest; with no team, the team the asker belongs to (owner or member in teams.yml)
when there is exactly one, else the org digest. Nothing is claimed or posted.

"Show more" (``digest_more``) answers the person who pressed it, ephemerally, with the whole list
the digest summarised: every team ranked by its change that week, or a team's open findings. It
reads cost data and findings any workspace member can list with ``/cost``, so anyone may press it.
"""

from __future__ import annotations

import logging
import secrets

from slack_bolt import Ack, App, Respond

from bot.blocks.digest import (
    MORE_ACTION,
    finding_line,
    more_message,
    parse_more_value,
    preview_note,
    rank_line,
    teams_pointer,
)
from bot.blocks.help import user_text
from bot.context import AppContext
from bot.services.forecast import find_team
from bot.services.records import load_findings
from finops.digest import OPEN_STATES, Week, compared_days
from finops.errors import QuestionError
from finops.model import UNALLOCATED
from handlers.commands import CommandRequest, Reply, did_you_mean_team, subcommand
from jobs.digest import build_org_digest, load_digest_inputs, preview_digest, preview_org_digest, week_claims
from jobs.scheduler import schedule_timezone

log = logging.getLogger(__name__)


def _team_of(request: CommandRequest) -> str | None:
    teams = request.ctx.teams
    name = request.args.strip()
    if name:
        found = find_team(teams, name)
        if found is None:
            raise QuestionError(f"No team called `{user_text(name)}` in teams.yml.{did_you_mean_team(request.ctx, name)}",
                                word=name,
                                examples=tuple(f"/cost digest preview {t}" for t in teams.team_names[:2])
                                or ("/cost digest preview",))
        # Unallocated spend has no digest of its own: it is a section of the org digest.
        return None if found == UNALLOCATED else found
    mine = _teams_of(request)
    return mine[0] if len(mine) == 1 else None


def _teams_of(request: CommandRequest) -> list[str]:
    """The teams the asker owns or is a member of, in teams.yml's order."""
    return [t.name for t in request.ctx.teams.teams if request.user_id in t.owners or request.user_id in t.members]


@subcommand("digest preview", usage="/cost digest preview [team]", slow=True, working_text="Building the digest…",
            summary="Preview this week's digest (your team's, a named team's, or the org's); only you see it.")
def show_preview(request: CommandRequest) -> Reply:
    ctx = request.ctx
    team = _team_of(request)
    digest = preview_digest(ctx, team=team)[0] if team else preview_org_digest(ctx)
    claim = week_claims(ctx).get(digest.message.key)
    text = preview_note(digest.message.channel, posted_at=claim.posted_at if claim else None,
                        started=claim is not None, with_chart=digest.chart is not None, cron=ctx.teams.digest.cron,
                        timezone=schedule_timezone(ctx))
    mine = _teams_of(request) if not request.args.strip() else []
    if len(mine) > 1:  # not silently the org's: say why, and how to see one of theirs
        text += (f" You are on {len(mine)} teams ({', '.join(mine)}), so this is the organisation's digest; "
                 f"`/cost digest preview {mine[0]}` shows a team's.")
    note = {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}
    return Reply(text=f"Preview: {digest.message.text}", blocks=[*digest.message.blocks[:49], note])  # the note, never cut off


def register(app: App, ctx: AppContext) -> None:
    @app.action(MORE_ACTION)
    def on_show_more(ack: Ack, body: dict, respond: Respond) -> None:
        ack()
        try:
            kind, week_label, team = parse_more_value(body["actions"][0].get("value", ""))
            week = Week.from_label(week_label)
        except ValueError:
            respond(replace_original=False, response_type="ephemeral",
                    text=":warning: This button is from an older costbot; `/cost digest preview` shows the digest.")
            return
        try:
            if kind == "teams":
                digest = build_org_digest(ctx, load_digest_inputs(ctx, week), None)
                days = compared_days(week, digest.through)
                by = "its spend" if digest.no_week_before else "its change"
                message = more_message(f"Every team by {by}, {week.title}{', ' + days if days else ''}",
                                       [rank_line(r, compare=not digest.no_week_before) for r in digest.teams],
                                       pointer=teams_pointer(week, digest.through))
            else:
                findings = sorted((f for f in load_findings(ctx.db) if f.team == team and f.state in OPEN_STATES),
                                  key=lambda f: (-f.estimate_monthly, f.id))
                message = more_message(f"{team}: {len(findings)} open findings",
                                       [finding_line(f) for f in findings],
                                       pointer=f"`costbot findings list --team {team}` lists all.")
        except Exception:
            reference = secrets.token_hex(3)
            log.exception("digest 'show more' failed (ref %s)", reference)
            respond(replace_original=False, response_type="ephemeral",
                    text=f":x: Something went wrong on our side. It was logged with reference `{reference}`.")
            return
        respond(replace_original=False, response_type="ephemeral", text=message["text"], blocks=message["blocks"])
