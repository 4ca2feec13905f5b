"""``costbot anomalies list [--team T] [--all] [--json]`` and ``costbot anomalies import-aws``.

``list`` prints the stored anomalies (open ones unless ``--all``), newest first; ``--json`` as the
same anomaly objects ``costbot detect --json`` prints. ``import-aws`` reads AWS Cost Anomaly
Detection's anomalies (``ce.get_anomalies``, every page; the standard AWS credential chain, with
``ce:GetAnomalies`` and, for answers given in Slack, ``ce:ProvideAnomalyFeedback``) into the same
store as kind ``aws``, routes each to its owner by the teams.yml rules (account, service, region)
and alerts the open ones like costbot's own. Importing the same window again updates them.
"""

from __future__ import annotations

import argparse
from datetime import timedelta

from bot.cli._common import UsageError, open_context, parse_date, print_json, print_table
from finops.model import UNALLOCATED
from finops.money import format_usd
from jobs.detect import aws_ce_client, import_aws_anomalies
from storage.anomalies import AnomalyStore

IMPORT_DAYS = 90  # AWS keeps anomalies for 90 days


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("anomalies", help="list stored anomalies; import AWS Cost Anomaly Detection's")
    commands = parser.add_subparsers(dest="anomalies_command", metavar="COMMAND", required=True)
    listing = commands.add_parser("list", help="anomalies, newest first (open ones unless --all)")
    listing.add_argument("--team", help="only this team's")
    listing.add_argument("--all", dest="include_all", action="store_true", help="also those that ended")
    listing.add_argument("--teams", metavar="FILE", help="teams.yml (default: COSTBOT_TEAMS)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=run_list)
    aws = commands.add_parser("import-aws", help="import AWS Cost Anomaly Detection's anomalies (kind aws)")
    aws.add_argument("--from", dest="start", type=parse_date, metavar="DATE",
                     help=f"first day (default: {IMPORT_DAYS} days ago)")
    aws.add_argument("--to", dest="end", type=parse_date, metavar="DATE", help="last day (default: today)")
    aws.add_argument("--monitor-arn", metavar="ARN", help="only this anomaly monitor's")
    aws.add_argument("--teams", metavar="FILE", help="teams.yml (default: COSTBOT_TEAMS)")
    aws.add_argument("--json", action="store_true")
    aws.set_defaults(func=run_import_aws)


def run_list(args: argparse.Namespace) -> int:
    ctx = open_context(args, json_output=args.json)
    if args.team is not None and args.team not in ctx.teams.team_names and args.team != UNALLOCATED:
        raise UsageError(ctx.teams.no_team_text(args.team))
    records = AnomalyStore(ctx.db).list_anomalies(team=args.team, open_only=not args.include_all)
    if args.json:
        print_json([r.to_json(r.channel or ctx.teams.channel_for(r.team)) for r in records])
        return 0
    if not records:
        print("no anomalies" if args.include_all else "no open anomalies")
        return 0
    print_table(["id", "state", "team", "kind", "start", "end", "impact", "scope"],
                [[r.id, r.state, r.team, r.kind, r.start, r.end or "-", format_usd(r.impact, signed=True), r.label]
                 for r in records], right={0, 6})
    return 0


def run_import_aws(args: argparse.Namespace) -> int:
    ctx = open_context(args, json_output=args.json)
    end = args.end or ctx.today()
    start = args.start or end - timedelta(days=IMPORT_DAYS)
    if end < start:
        raise UsageError(f"--to {end} is before --from {start}")
    saved, alerts = import_aws_anomalies(ctx, aws_ce_client(), start, end, monitor_arn=args.monitor_arn)
    if args.json:
        print_json({"from": start, "to": end,
                    "new": [r.to_json(r.channel or ctx.teams.channel_for(r.team)) for r in saved.new],
                    "updated": [r.id for r in [*saved.updated, *saved.ended]]})
        return 0
    print(f"AWS Cost Anomaly Detection {start}..{end}: {len(saved.new)} new, "
          f"{len(saved.updated) + len(saved.ended)} already imported (updated)")
    for r in saved.new:
        print(f"  #{r.id} {r.team}: {r.label} {format_usd(r.impact, signed=True)} since {r.start} "
              f"({alerts.get(r.id, '-')})")
    return 0
