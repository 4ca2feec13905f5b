"""``costbot ingest aws-ce|aws-cur|azure|gcp`` and ``costbot ingest all``: the cloud connectors.

Each subcommand turns its options into the same source spec a sources.yml entry makes
(:mod:`finops.sources.config`), builds the connector, and runs one
:func:`jobs.ingest.ingest_from_connector`: the open days only (or ``--start/--end``), recorded
in ``costbot ingest runs``. A provider failure prints one line and exits 1; the stored data is
unchanged and the next run asks for the same days again.
"""

from __future__ import annotations

import argparse
import sys

from bot.cli._common import UsageError, open_context, parse_date, print_json
from bot.cli.ingest import replacement_warning
from finops.errors import ConfigError
from finops.money import format_usd, from_micros
from finops.sources.config import (
    SOURCES_ENV,
    AwsCostExplorerSource,
    AwsS3ExportSource,
    AzureCostSource,
    GcpBillingSource,
    SourceSpec,
)
from jobs.ingest import ConnectorRun, configured_sources, ingest_from_connector, ingest_sources
from storage.costs import CostStore


def register(kinds: argparse._SubParsersAction) -> None:
    """Connector subcommands; each is defined next to its options below."""
    aws_ce = _connector_parser(kinds, "aws-ce", "AWS Cost Explorer of one payer (management) account")
    aws_ce.add_argument("--payer", required=True, metavar="ACCOUNT", help="the payer account ID (12 digits)")
    aws_ce.add_argument("--team-tag", default="team", metavar="KEY",
                        help="activated cost-allocation tag naming owners (default: team; '' for none)")
    aws_ce.add_argument("--endpoint-url", metavar="URL", help="Cost Explorer endpoint (default: AWS's)")
    aws_ce.set_defaults(spec=lambda a: AwsCostExplorerSource(a.payer, team_tag=a.team_tag or None,
                                                              endpoint_url=a.endpoint_url))

    aws_cur = _connector_parser(kinds, "aws-cur", "an AWS CUR 2.0, FOCUS or legacy CUR export in S3")
    aws_cur.add_argument("--bucket", required=True)
    aws_cur.add_argument("--prefix", default="", help="the export's folder in the bucket")
    aws_cur.add_argument("--format", default="auto", choices=["auto", "aws-cur", "focus"],
                         help="auto (default) detects each file's format from its header")
    aws_cur.add_argument("--endpoint-url", metavar="URL", help="S3 endpoint (default: AWS's)")
    aws_cur.set_defaults(spec=lambda a: AwsS3ExportSource(a.bucket, a.prefix.strip("/"), a.format,
                                                          endpoint_url=a.endpoint_url))

    azure = _connector_parser(kinds, "azure", "Azure Cost Management (Query API) on a scope")
    azure.add_argument("--scope", required=True,
                       help="e.g. subscriptions/ID or providers/Microsoft.Billing/billingAccounts/ID")
    azure.add_argument("--team-tag", default="team", metavar="KEY", help="tag naming owners (default: team)")
    azure.add_argument("--cost-column", default="PreTaxCost", choices=["PreTaxCost", "Cost"],
                       help="PreTaxCost (EA, pay-as-you-go; default) or Cost (MCA)")
    azure.add_argument("--base-url", metavar="URL",
                       help="Resource Manager endpoint of a sovereign cloud (default: the public cloud)")
    azure.set_defaults(spec=lambda a: AzureCostSource(a.scope.strip("/"), team_tag=a.team_tag or None,
                                                      cost_column=a.cost_column, base_url=a.base_url))

    gcp = _connector_parser(kinds, "gcp", "the GCP Cloud Billing export table in BigQuery")
    gcp.add_argument("--table", required=True, metavar="PROJECT.DATASET.TABLE")
    gcp.add_argument("--project", help="project that runs the query jobs (default: the table's)")
    gcp.add_argument("--label-keys", metavar="KEYS", help="comma-separated labels to keep as tags (default: all)")
    gcp.add_argument("--location", help="the dataset's location when not the default (e.g. EU)")
    gcp.add_argument("--api-endpoint", metavar="URL", help="BigQuery endpoint (default: Google's)")
    gcp.set_defaults(spec=lambda a: GcpBillingSource(
        a.table, project=a.project, location=a.location, api_endpoint=a.api_endpoint,
        label_keys=tuple(k.strip() for k in a.label_keys.split(",") if k.strip()) if a.label_keys else None))

    every = kinds.add_parser("all", help=f"every source in sources.yml (--sources or ${SOURCES_ENV}), once")
    every.add_argument("--sources", metavar="FILE", help=f"sources.yml (default: ${SOURCES_ENV})")
    every.add_argument("--teams", metavar="FILE", help="teams.yml (default: $COSTBOT_TEAMS)")
    every.add_argument("--json", action="store_true", help="one JSON document on stdout")
    every.set_defaults(func=run_all_sources)


def _connector_parser(kinds: argparse._SubParsersAction, name: str, summary: str) -> argparse.ArgumentParser:
    parser = kinds.add_parser(name, help=summary, description=f"Pull {summary}: the days that can still change "
                              "(or --start/--end), allocated to teams, replacing that window of the source.")
    parser.add_argument("--start", type=parse_date, metavar="DATE", help="first day (default: the open days)")
    parser.add_argument("--end", type=parse_date, metavar="DATE", help="last day, inclusive (default: yesterday)")
    parser.add_argument("--teams", metavar="FILE", help="teams.yml (default: $COSTBOT_TEAMS)")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.set_defaults(func=run_connector)
    return parser


def run_connector(args: argparse.Namespace) -> int:
    if args.start and args.end and args.start > args.end:
        raise UsageError(f"--start {args.start} is after --end {args.end}")
    if getattr(args, "payer", None) is not None and not (args.payer.isdigit() and len(args.payer) == 12):
        raise UsageError(f"--payer {args.payer!r} is not an AWS account ID (12 digits)")
    spec: SourceSpec = args.spec(args)
    try:
        connector = spec.connector()
    except ValueError as error:  # a table name or format the connector refuses
        raise UsageError(str(error)) from None
    ctx = open_context(args, json_output=args.json)
    run = ingest_from_connector(CostStore(ctx.db), ctx.teams, connector, ctx.today(), start=args.start, end=args.end)
    if args.json:
        print_json(run_document(run))
    else:
        print(describe_run(run))
    _warn_if_mostly_missing(run)
    return 0


def run_all_sources(args: argparse.Namespace) -> int:
    config = configured_sources(args.sources)
    if config is None:
        raise ConfigError(f"no sources file: pass --sources FILE or set {SOURCES_ENV}", key="--sources")
    ctx = open_context(args, json_output=args.json)
    runs = ingest_sources(CostStore(ctx.db), ctx.teams, config.sources, ctx.today(), now=ctx.now())
    if args.json:
        print_json([run_document(run) for run in runs])
    else:
        for run in runs:
            print(describe_run(run), file=sys.stderr if run.error else sys.stdout)
    for run in runs:
        _warn_if_mostly_missing(run)
    failed = [run for run in runs if run.error]
    return 1 if failed else 0


def _warn_if_mostly_missing(run: ConnectorRun) -> None:
    warning = replacement_warning(run.result) if run.result else None
    if warning:
        print(warning, file=sys.stderr)


def describe_run(run: ConnectorRun) -> str:
    """One line per pull: window, rows, effective cost, freshness; or the reason it failed."""
    if run.error:
        return f"{run.error} (nothing changed; the next run retries)"
    if run.skipped:
        return f"{run.source}: pulled moments ago, skipped"
    result = run.result
    assert result is not None
    return (f"{run.source}: {run.start}..{run.end}, {result.rows} daily rows, {result.series} series, "
            f"effective {format_usd(from_micros(result.effective_micros))}, complete through {run.complete_through}")


def run_document(run: ConnectorRun) -> dict:
    """A pull as JSON: ``source``, ``start``, ``end``, ``rows``, ``billed``, ``effective``,
    ``complete_through``, ``error``."""
    result = run.result
    return {"source": run.source, "start": run.start, "end": run.end, "rows": result.rows if result else 0,
            "billed": from_micros(result.billed_micros) if result else None,
            "effective": from_micros(result.effective_micros) if result else None,
            "complete_through": run.complete_through, "error": run.error, "skipped": run.skipped}
