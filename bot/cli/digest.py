"""``costbot digest [--team NAME] [--dry-run]``: the weekly digest of the last complete ISO week.

Without ``--dry-run`` it posts, exactly as the scheduled run does (jobs/digest.py): each digest is
claimed first, so one already posted this week (by the scheduler or another run) is not posted
again, and the command says so. A placeholder, posted before the week's cost data was in, does not
count as posted: a run once the data is in edits it into the full digest (the same message).
``--team`` posts (or shows) only that team's digest; without it, every team's and the org's.
``unallocated`` is not a team: it has no channel or digest of its own (its spend is in the org's),
so ``--team unallocated`` is refused like an unknown team (exit code 2).
``--dry-run`` prints the digests as text and posts nothing. With no Slack token, "posting" prints
them too (the terminal transport).
"""

from __future__ import annotations

import argparse

from bot.blocks.text import blocks_to_text
from bot.cli._common import UsageError, open_context
from bot.cli.forecast import resolve_team
from finops.digest import week_reported
from finops.model import UNALLOCATED
from finops.teams import TeamsConfig
from jobs.digest import post_weekly_digests, preview_digest, run_day


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("digest", help="post (or print with --dry-run) the weekly digests")
    parser.add_argument("--team", metavar="NAME", help="only this team's digest")
    parser.add_argument("--dry-run", action="store_true", help="print the digests; post nothing")
    parser.add_argument("--teams", metavar="FILE", help="teams.yml (default: $COSTBOT_TEAMS)")
    parser.set_defaults(func=run_digest)


def digest_team(teams: TeamsConfig, name: str) -> str:
    """The team of ``--team`` as teams.yml spells it; UsageError naming the teams for an unknown
    name and for ``unallocated`` (spend no team owns: the org digest shows it)."""
    team = resolve_team(teams, name)
    if team == UNALLOCATED:
        raise UsageError(f"{teams.no_team_text(name.strip())}; unallocated spend is in the org digest "
                         "(costbot digest without --team)")
    return team


def run_digest(args: argparse.Namespace) -> int:
    ctx = open_context(args)
    team = digest_team(ctx.teams, args.team) if args.team is not None else None
    week = week_reported(run_day(ctx))
    if args.dry_run:
        for digest in preview_digest(ctx, team=team):
            print(f"── {digest.message.channel} ({digest.message.key}) " + "─" * 20)
            print(blocks_to_text(digest.message.blocks, digest.message.text))
            print(f"(chart in the thread: {digest.chart.filename})\n" if digest.chart else "(no chart: no cost data "
                  "for the week)\n")
        return 0
    posted = post_weekly_digests(ctx, teams=[team] if team else None, org=team is None)
    wanted = 1 if team else len(ctx.teams.team_names) + 1
    waiting = sum(d.placeholder for d in posted)
    print(f"{week.title}: {len(posted)} digest{'s' if len(posted) != 1 else ''} posted"
          + (f" ({waiting} without the week's cost data yet: once it is in, the bot's hourly catch-up or "
             f"`costbot digest` again completes {'it' if waiting == 1 else 'them'} in place)" if waiting else "")
          + (f"; {wanted - len(posted)} already posted this week (or failed: see the log)"
             if len(posted) < wanted else ""))
    for digest in posted:
        print(f"  {digest.message.channel}: {digest.message.key}" + (" (no cost data yet)" if digest.placeholder else ""))
    return 0
