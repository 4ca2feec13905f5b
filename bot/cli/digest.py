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

After posting it says what became of each digest, by channel and key: posted, updated in place (a
placeholder completed), already posted (unchanged, or earlier this week), being posted by another
run, queued or refused by Slack, or failed. Exit code 1 when a digest failed or Slack refused it
(it is not in Slack and will not get there on its own), else 0, also when nothing was new.
"""

from __future__ import annotations

import argparse
from collections import Counter
from zoneinfo import ZoneInfo

from bot.blocks.digest import posted_when
from bot.blocks.text import blocks_to_text
from bot.cli._common import UsageError, open_context
from bot.cli.forecast import resolve_team
from finops.model import UNALLOCATED
from finops.teams import TeamsConfig
from jobs.digest import (
    ALREADY_POSTED,
    DELIVERED,
    FAILED,
    IN_PROGRESS,
    POSTED,
    QUEUED,
    REFUSED,
    UNCHANGED,
    UPDATED,
    DigestOutcome,
    DigestRun,
    preview_digest,
    run_weekly_digests,
    week_claims,
)
from jobs.scheduler import schedule_timezone
from storage.digests import STALE_CLAIM, DigestRunRecord


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


def dry_run_state(claim: DigestRunRecord | None, timezone: str) -> str:
    """After a dry run's digest, whether the week's digest was already posted or started ("" if not)."""
    if claim is None:
        return ""
    if claim.posted_at is not None:
        return (f"; already posted in {claim.channel} on {posted_when(claim.posted_at, timezone)}: "
                "`costbot digest` does not post it again")
    return (f"; started in {claim.channel}, not posted in full yet: `costbot digest` completes it in place")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


# The summary line's parts, in order: a count of each outcome (posted always shown).
SUMMARY = ((UPDATED, "updated in place"), (UNCHANGED, "already posted, unchanged"),
           (ALREADY_POSTED, "already posted this week"), (IN_PROGRESS, "being posted by another run"),
           (QUEUED, "queued: Slack has not taken {them} yet"), (REFUSED, "refused by Slack"),
           (FAILED, "failed (see the log)"))


def outcome_note(outcome: DigestOutcome, timezone: str = "UTC") -> str:
    """What happened to one digest, after its channel and key ("" for a digest posted in full)."""
    no_data = "no cost data yet"
    elsewhere = "being posted by another run"
    if outcome.claimed_at is not None:
        since, stale = (outcome.claimed_at.astimezone(ZoneInfo(timezone)),
                        (outcome.claimed_at + STALE_CLAIM).astimezone(ZoneInfo(timezone)))
        elsewhere += (f": {outcome.claimed_by} since {since:%H:%M} ({timezone}); if that run stopped, "
                      f"`costbot digest` takes it over from {stale:%H:%M}")
    notes = {
        POSTED: no_data if outcome.placeholder else "",
        UPDATED: f"updated in place; still {no_data}" if outcome.placeholder
        else "updated in place, now with the week's cost data",
        UNCHANGED: f"already posted, unchanged: {no_data}" if outcome.placeholder else "already posted, unchanged",
        ALREADY_POSTED: "already posted",
        IN_PROGRESS: elsewhere,
        QUEUED: f"queued: Slack answered {outcome.error or 'nothing'}; the bot's outbox sends it",
        REFUSED: f"not posted: Slack refused it ({outcome.error}); fix it, then `costbot outbox retry`",
        FAILED: "not posted: failed, see the log; `costbot digest` again (or the bot's hourly catch-up) retries it",
    }
    return f" ({notes[outcome.outcome]})" if notes[outcome.outcome] else ""


def run_summary(run: DigestRun, timezone: str = "UTC") -> list[str]:
    """The lines ``costbot digest`` prints after posting: counts by outcome, then each digest."""
    counts = Counter(o.outcome for o in run.outcomes)
    parts = [f"{_plural(counts[POSTED], 'digest')} posted"] + [
        f"{counts[outcome]} {label.format(them='it' if counts[outcome] == 1 else 'them')}"
        for outcome, label in SUMMARY if counts[outcome]]
    waiting = sum(o.placeholder for o in run.outcomes if o.outcome in DELIVERED)
    note = (f" ({waiting} without the week's cost data yet: once it is in, the bot's hourly catch-up or "
            f"`costbot digest` again completes {'it' if waiting == 1 else 'them'} in place)" if waiting else "")
    return [f"{run.week.title}: {'; '.join(parts)}{note}"] + [
        f"  {o.channel}: {o.key}{outcome_note(o, timezone)}" for o in run.outcomes]


def run_digest(args: argparse.Namespace) -> int:
    ctx = open_context(args)
    team = digest_team(ctx.teams, args.team) if args.team is not None else None
    if args.dry_run:
        claims = week_claims(ctx)
        for digest in preview_digest(ctx, team=team):
            print(f"── {digest.message.channel} ({digest.message.key}) " + "─" * 20)
            print(blocks_to_text(digest.message.blocks, digest.message.text))
            chart = (f"chart in the thread: {digest.chart.filename}" if digest.chart
                     else "no chart: no cost data for the week")
            print(f"({chart}{dry_run_state(claims.get(digest.message.key), schedule_timezone(ctx))})\n")
        return 0
    run = run_weekly_digests(ctx, teams=[team] if team else None, org=team is None)
    print("\n".join(run_summary(run, schedule_timezone(ctx))))
    # A digest that is not in Slack and will not get there on its own is a failed operation (exit 1).
    return 1 if any(o.outcome in (REFUSED, FAILED) for o in run.outcomes) else 0
