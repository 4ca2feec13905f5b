"""``costbot findings new|move|verify|show|list|import``: savings findings from the command line.

Scripts rely on these names and JSON shapes (``findings show --json``: ``id``, ``state``,
``estimate_monthly``, ``realized_monthly`` (null until measured), ``regressed``, ``baseline`` and
``after`` (``start``, ``end``, ``daily_cost``; null until measured), ``history``).

Who a CLI move acts as (``--by``):

- ``--by U…`` (a Slack user ID, the only thing ``--by`` takes): that person, with the rights
  teams.yml gives them for the finding's team: owners and members (and channel members where
  the team takes them, when a Slack token is set) make the team's moves; finance approvers
  their overrides. A refusal says why. Any other ``--by`` is a usage error: a name proves
  nothing, and rights come from teams.yml.
- no ``--by``: an operator with shell access to the bot's database, who holds both the team's
  and the finance approvers' rights (``reopen`` needs finance rights, ``accept`` the team's).
  The audit trail records them as ``cli:$USER``.

``--at DATE``: for ``implemented``, the day the change went live (default today); for the other
moves, the day the move is recorded on (default now; never in the future).

Who may act, scopes, imports and publishing live in :mod:`bot.services.findings`, shared with Slack.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from datetime import UTC, date, datetime, time
from typing import Any

from bot.cli._common import UsageError, open_context, parse_date, print_json, print_table
from bot.context import AppContext
from bot.delivery import DeliveryError
from bot.services.findings import (
    default_assignee,
    finding_actor,
    import_recommendations,
    known_team,
    parse_scope,
    past_due_date_error,
    publish_finding,
)
from finops.errors import InputError
from finops.money import format_usd
from finops.savings import Actor, FindingAction, FindingState
from finops.sources.recommendations import RecommendationSource
from jobs.verify import verify_findings
from storage.costs import CostStore
from storage.findings import FindingEvent, FindingRecord, FindingStore, NewFinding, describe_scope

SLACK_USER = re.compile(r"^[UW][A-Z0-9_]+$")
CLI_MOVES = ("accept", "reject", "start", "implemented", "reopen")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("findings", help="savings findings: open, move, verify, show, list, import")
    commands = parser.add_subparsers(dest="findings_command", metavar="ACTION", required=True)

    new = commands.add_parser("new", help="open a finding (state identified)")
    new.add_argument("--title", required=True)
    new.add_argument("--team", required=True, help="the owner team (teams.yml)")
    new.add_argument("--scope", action="append", required=True, metavar="KEY=VALUE",
                     help="cost filter, repeatable: provider, sub_account_id, service, region, resource_id, sku_id, "
                          "tag:KEY (the same key twice means either value)")
    new.add_argument("--estimate", required=True, metavar="USD_PER_MONTH", help="estimated saving, dollars a month")
    new.add_argument("--due", type=parse_date, metavar="DATE")
    new.add_argument("--notes", metavar="TEXT", help="anything the team should know (shown with the finding)")
    new.add_argument("--assignee", metavar="USER", help="Slack user ID (default: the team's first owner)")
    new.add_argument("--json", action="store_true", help="print the finding as JSON")
    new.set_defaults(func=run_new)

    move = commands.add_parser("move", help="move a finding: accept, reject, start, implemented, reopen")
    move.add_argument("id", type=int)
    move.add_argument("action", choices=CLI_MOVES)
    move.add_argument("--at", type=parse_date, metavar="DATE",
                      help="implemented: the day it went live (default today); others: the day of the move")
    move.add_argument("--by", metavar="SLACK_USER_ID", help="act as this Slack user, with their rights from teams.yml "
                                                            "(without --by: the operator, cli:$USER, with team and "
                                                            "finance rights)")
    move.add_argument("--reason", metavar="TEXT", help="why (needed to reject and reopen)")
    move.add_argument("--json", action="store_true", help="print the finding as JSON")
    move.set_defaults(func=run_move)

    verify = commands.add_parser("verify", help="run verification and the monthly re-check as that day would")
    verify.add_argument("--as-of", dest="as_of", type=parse_date, metavar="DATE",
                        help="the day the job runs (default today); it uses data complete through the day before")
    verify.add_argument("--json", action="store_true")
    verify.set_defaults(func=run_verify)

    show = commands.add_parser("show", help="one finding with its evidence and history")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=run_show)

    listing = commands.add_parser("list", help="findings, optionally of a team and in a state")
    listing.add_argument("--team")
    listing.add_argument("--state", choices=[str(s) for s in FindingState])
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=run_list)

    imports = commands.add_parser("import", help="open findings from provider recommendations (deduplicated)")
    sources = imports.add_subparsers(dest="import_source", metavar="SOURCE", required=True)
    coh = sources.add_parser("aws-coh", help="AWS Cost Optimization Hub (standard AWS credential chain)")
    coh.add_argument("--account", action="append", default=[], metavar="ID", help="only these member accounts")
    coh.add_argument("--all", dest="include_all", action="store_true",
                     help="every recommendation, also those the hub marks as overlapping (default: one per resource)")
    coh.add_argument("--json", action="store_true")
    coh.set_defaults(func=run_import)
    advisor = sources.add_parser("azure-advisor", help="Azure Advisor cost recommendations of a subscription "
                                                       "(DefaultAzureCredential; Reader suffices)")
    advisor.add_argument("--subscription", required=True, metavar="ID")
    advisor.add_argument("--json", action="store_true")
    advisor.set_defaults(func=run_import)
    gcp = sources.add_parser("gcp-recommender", help="GCP Recommender cost recommendations of a project (Application "
                                                     "Default Credentials; roles/recommender.*Viewer suffice)")
    gcp.add_argument("--project", required=True, metavar="ID", help="the project ID (as cost data names it)")
    gcp.add_argument("--location", action="append", default=[], metavar="LOCATION",
                     help="repeatable: a zone (us-central1-a; VMs, disks, and its region's addresses, Cloud SQL, "
                          "commitments), a region (regional recommenders only) or global (default: us-central1's "
                          "zones, global, and the zones and regions the project's cost data names)")
    gcp.add_argument("--recommender", action="append", default=[], metavar="ID",
                     help="repeatable: only these recommenders (default: every cost recommender costbot knows)")
    gcp.add_argument("--api-endpoint", metavar="URL", help="Recommender API endpoint (default: Google's)")
    gcp.add_argument("--json", action="store_true")
    gcp.set_defaults(func=run_import)


# ------------------------------------------------------------------------------ who may act

def cli_actor(ctx: AppContext, by: str | None, team: str) -> Actor:
    """Who a CLI move acts as (see the module docstring); UsageError for a ``--by`` that is no Slack user ID."""
    if by is None:
        return Actor(f"cli:{os.environ.get('USER') or 'operator'}", on_team=True, finance=True)
    if not SLACK_USER.match(by):
        raise UsageError(f"--by {by!r} is not a Slack user ID (like U0123ABCD); leave --by out to act as the "
                         "operator")
    try:
        return finding_actor(ctx, by, team)
    except DeliveryError as error:  # whether they are on the team is the team channel's members
        raise UsageError(f"cannot tell whether {by} is on {team}: Slack did not give the members of "
                         f"{ctx.teams.channel_for(team)} ({error.error}); list {by} in teams.yml, or leave --by out "
                         "to act as the operator") from None


# --------------------------------------------------------------------------------------- JSON

def finding_json(finding: FindingRecord, history: list[FindingEvent] | None = None) -> dict[str, Any]:
    """The finding as ``findings show --json`` prints it (money in dollars to the cent)."""
    document: dict[str, Any] = {
        "id": finding.id, "title": finding.title, "team": finding.team, "assignee": finding.assignee,
        "state": str(finding.state), "scope": finding.scope, "estimate_monthly": float(finding.estimate_monthly),
        "realized_monthly": None if finding.realized_monthly is None else float(finding.realized_monthly),
        "regressed": finding.regressed, "source": finding.source, "external_id": finding.external_id,
        "notes": finding.notes,
        "due_on": finding.due_on, "identified_on": finding.identified_on, "implemented_on": finding.implemented_on,
        "verified_on": finding.verified_on, "version": finding.version,
        "baseline": finding.baseline, "after": finding.after,
        "verification": finding.evidence, "recheck": finding.recheck, "rechecked_on": finding.rechecked_on,
    }
    if history is not None:
        document["history"] = [event.to_dict() for event in history]
    return document


# --------------------------------------------------------------------------------- commands

def _print_finding(finding: FindingRecord) -> None:
    realized = "not measured" if finding.realized_monthly is None else f"{format_usd(finding.realized_monthly)}/month"
    print(f"#{finding.id} {finding.title}")
    print(f"  {finding.state} · team {finding.team} · assignee {finding.assignee or '-'} · "
          f"estimate {format_usd(finding.estimate_monthly)}/month · realized {realized}"
          + (" · REGRESSED" if finding.regressed else ""))
    print(f"  scope {describe_scope(finding.scope)} · due {finding.due_on or '-'} · source {finding.source}")
    if finding.notes:
        print(f"  notes: {finding.notes}")


def run_new(args: argparse.Namespace) -> int:
    ctx = open_context(args, json_output=args.json)
    team = known_team(ctx, args.team)
    late = past_due_date_error(ctx, args.due)
    if late:
        raise InputError(late, column="due", value=str(args.due))
    new = NewFinding(title=args.title, team=team, scope=parse_scope(args.scope), estimate_monthly=args.estimate,
                     assignee=args.assignee or default_assignee(ctx, team), due_on=args.due, notes=args.notes)
    by = f"cli:{os.environ.get('USER') or 'operator'}"
    finding = FindingStore(ctx.db).create(new, by=by, at=ctx.now())
    publish_finding(ctx, finding.id)
    if args.json:
        print_json(finding_json(finding))
    else:
        print(f"Opened finding #{finding.id} for {finding.team} (posted in {ctx.teams.channel_for(team)}).")
        _print_finding(finding)
    return 0


def _move_time(ctx: AppContext, action: str, at: date | None) -> tuple[datetime, date | None]:
    now = ctx.now()
    if action == FindingAction.IMPLEMENTED:
        return now, at or now.date()
    if at is None or at == now.date():
        return now, None
    if at > now.date():
        raise UsageError(f"--at {at} is in the future (today is {now.date()})")
    return datetime.combine(at, time(0), tzinfo=UTC), None


def run_move(args: argparse.Namespace) -> int:
    ctx = open_context(args, json_output=args.json)
    store = FindingStore(ctx.db)
    finding = store.get(args.id)
    actor = cli_actor(ctx, args.by, finding.team)
    at, implemented_on = _move_time(ctx, args.action, args.at)
    moved = store.move(finding.id, args.action, actor=actor, at=at, reason=args.reason,
                       implemented_on=implemented_on)
    publish_finding(ctx, moved.id)
    if args.json:
        print_json(finding_json(moved, store.history(moved.id)))
    else:
        print(f"Finding #{moved.id}: {finding.state} → {moved.state} ({args.action} by {actor.user}).")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    ctx = open_context(args, json_output=args.json)
    run = verify_findings(ctx, today=args.as_of or ctx.today())
    if args.json:
        print_json(run.to_dict())
        return 0
    print(f"Verification as of {run.today}: data complete through {run.data_through or '(no data)'}")
    for finding_id in run.begun:
        print(f"  #{finding_id}: implemented → verifying")
    for finding_id, state, realized in run.concluded:
        print(f"  #{finding_id}: verifying → {state}, realized {format_usd(realized)}/month")
    for finding_id, ready in run.waiting:
        print(f"  #{finding_id}: verifying; its settling window has complete data on {ready}")
    for finding_id, regressed, saving in run.rechecked:
        print(f"  #{finding_id}: re-checked, saving {format_usd(saving)}/month"
              + (" — REGRESSED" if regressed else ", holding"))
    for finding_id, reason in run.unmeasurable:
        print(f"  #{finding_id}: cannot measure: {reason}")
    if not (run.begun or run.concluded or run.waiting or run.rechecked or run.unmeasurable):
        print("  nothing to verify")
    return 0


def run_show(args: argparse.Namespace) -> int:
    ctx = open_context(args, json_output=args.json)
    store = FindingStore(ctx.db)
    finding = store.get(args.id)
    history = store.history(finding.id)
    if args.json:
        print_json(finding_json(finding, history))
        return 0
    _print_finding(finding)
    if finding.evidence:
        base, after = finding.evidence["baseline"], finding.evidence["after"]
        print(f"  baseline {base['start']}..{base['end']} {format_usd(base['daily_cost'])}/day · after "
              f"{after['start']}..{after['end']} {format_usd(after['daily_cost'])}/day · expected without the "
              f"change {format_usd(finding.evidence['expected_daily_after'])}/day")
    print("history:")
    for event in history:
        print(history_line(event))
    return 0


def history_line(event: FindingEvent) -> str:
    """``  2026-11-20 10:00 system not_realized verifying → not_realized: realized $0.00/month, …``.

    A verification's reason repeats its outcome ("not realized: realized $0.00 …"): said once.
    """
    change = f"{event.from_state or '-'} → {event.to_state}" if event.to_state else ""
    reason = event.reason or ""
    if event.to_state and reason.startswith(f"{event.to_state.replace('_', ' ')}: "):
        reason = reason[len(event.to_state) + 2:]
    return f"  {event.at:%Y-%m-%d %H:%M} {event.by} {event.action} {change}{': ' + reason if reason else ''}"


def _gcp_locations(ctx: AppContext, project: str) -> tuple[str, ...]:
    """Where to ask the Recommender when ``--location`` is not given: Google's default region (its
    zones and global), and the zones and regions the project's cost data names. Said on stderr,
    so --json stays clean."""
    from finops.sources.gcp_recommender import (
        DEFAULT_LOCATIONS,
        PROVIDER,
        REGION,
        location_kind,
        locations_in_cost_data,
        region_of,
    )

    series = CostStore(ctx.db).series()
    mine = series[(series["ProviderName"] == PROVIDER) & (series["SubAccountId"] == project)]
    found = [loc for loc in locations_in_cost_data(mine["RegionId"], mine["ResourceId"])
             if loc not in DEFAULT_LOCATIONS]
    note = "gcp-recommender: asking us-central1's zones and global (Google's default region)"
    if found:
        note += f", and the locations {project}'s cost data names: {', '.join(found)}"
    # VM and disk recommenders run per zone, and a region does not stand for its zones.
    zoneless = [loc for loc in found if location_kind(loc) == REGION and region_of(loc) != "us-central1"]
    if zoneless:
        note += (f"; the cost data names no zone in {', '.join(zoneless)}: for VM and disk advice there, "
                 "give its zones with --location")
    print(note + " (--location to choose)", file=sys.stderr)
    return (*found, *DEFAULT_LOCATIONS)


def _recommendation_source(ctx: AppContext, args: argparse.Namespace) -> RecommendationSource:
    # Each provider's SDK is imported only when its import is asked for.
    if args.import_source == "azure-advisor":
        from finops.sources.azure_advisor import AzureAdvisor

        return AzureAdvisor(args.subscription)
    if args.import_source == "gcp-recommender":
        from finops.sources import config
        from finops.sources.gcp_recommender import COST_RECOMMENDERS, GcpRecommender

        try:
            return GcpRecommender(args.project, locations=args.location or _gcp_locations(ctx, args.project),
                                  recommenders=args.recommender or tuple(COST_RECOMMENDERS),
                                  api_endpoint=args.api_endpoint, credentials=config.gcp_credentials())
        except ValueError as error:  # a location or recommender it does not know
            raise UsageError(str(error)) from None
    from finops.sources.aws_cost_optimization_hub import CostOptimizationHub

    return CostOptimizationHub(account_ids=args.account, include_all=args.include_all)


def run_import(args: argparse.Namespace) -> int:
    ctx = open_context(args, json_output=args.json)
    source = _recommendation_source(ctx, args)
    result = import_recommendations(ctx, source, by=f"cli:{os.environ.get('USER') or 'operator'}")
    if args.json:
        print_json({"source": source.source, "created": [finding_json(f) for f in result.created],
                    "existing": [f.id for f in result.existing],
                    "left_out": [{"external_id": r.external_id, "title": r.title, "reason": why}
                                 for r, why in result.left_out]})
        return 0
    print(f"{source.source}: {len(result.created)} new findings, {len(result.existing)} already imported, "
          f"{len(result.left_out)} left out")
    for finding in result.created:
        print(f"  #{finding.id} {finding.team}: {finding.title} ({format_usd(finding.estimate_monthly)}/month)")
    for recommendation, why in result.left_out:
        print(f"  left out {recommendation.external_id}: {recommendation.title}: {why}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    ctx = open_context(args, json_output=args.json)
    team = known_team(ctx, args.team) if args.team is not None else None
    findings = FindingStore(ctx.db).list_findings(team=team, states=[args.state] if args.state else None)
    if args.json:
        print_json([finding_json(f) for f in findings])
        return 0
    if not findings:
        print("no findings", file=sys.stdout)
        return 0
    print_table(["id", "state", "team", "estimate/month", "realized/month", "title"],
                [[f.id, f.state + (" (regressed)" if f.regressed else ""), f.team, format_usd(f.estimate_monthly),
                  "-" if f.realized_monthly is None else format_usd(f.realized_monthly), f.title] for f in findings],
                right={0, 3, 4})
    return 0
