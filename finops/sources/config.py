"""sources.yml: the cloud cost sources the bot pulls on its daily schedule, and how to build each.

``costbot run`` reads the file named by ``COSTBOT_SOURCES`` and pulls every source once a day;
``costbot ingest all`` pulls them once; ``costbot ingest aws-ce|aws-cur|azure|gcp`` builds the
same specs from command-line options. Like teams.yml, anything wrong is refused with a
:class:`ConfigError` naming the file, the line and the key (the same YAML node reader is used).

.. code-block:: yaml

    schedule: "30 6 * * *"            # cron (5 fields), in the bot's time zone; this is the default
    sources:
      - kind: aws-ce                  # Cost Explorer of one payer account
        billing_account_id: "999900001111"
        team_tag: team                # the cost-allocation tag that names owners (null: none)
      - kind: aws-cur                 # a CUR 2.0 / FOCUS / legacy CUR export in S3
        bucket: acme-billing
        prefix: exports/acme-focus
      - kind: azure                   # Cost Management Query API on a scope
        scope: providers/Microsoft.Billing/billingAccounts/12345678
        cost_column: PreTaxCost       # Cost for MCA billing accounts
      - kind: gcp                     # the Cloud Billing export table in BigQuery
        table: billing-admin.billing.gcp_billing_export_v1_0A1B2C_3D4E5F
        label_keys: [team, env]

Credentials are never in this file: each SDK's standard chain provides them (docs/cost-data.md).
The specs build connectors with SDK clients; the two credential seams
(:func:`azure_credential`, :func:`gcp_credentials`) are module functions so a local test
server can be given a static token.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from yaml.nodes import MappingNode, Node, SequenceNode

from finops.sources.connector import CostConnector
from finops.teams import (
    ConfigReader,
    compose_config,
    cron_fields,
    describe_node,
    is_null,
    node_line,
    node_path,
    read_config_text,
)

DEFAULT_SCHEDULE = "30 6 * * *"
SOURCES_ENV = "COSTBOT_SOURCES"

_AWS_ACCOUNT = re.compile(r"^\d{12}$")
_URL = re.compile(r"^https?://[^\s/]+")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_FILE_FORMATS = ("auto", "aws-cur", "focus")
_AZURE_COST_COLUMNS = ("PreTaxCost", "Cost")


def azure_credential() -> Any:
    """The credential Azure connectors use: ``DefaultAzureCredential`` (environment, workload or
    managed identity, Azure CLI login, ...)."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def gcp_credentials() -> Any:
    """The credentials BigQuery connectors use: None lets the client find Application Default
    Credentials (``GOOGLE_APPLICATION_CREDENTIALS``, workload identity, gcloud login)."""
    return None


@dataclass(frozen=True)
class AwsCostExplorerSource:
    """Cost Explorer for one payer account (``--payer``)."""

    kind: ClassVar[str] = "aws-ce"
    billing_account_id: str
    team_tag: str | None = "team"
    endpoint_url: str | None = None
    line: int = 0

    def connector(self) -> CostConnector:
        """An :class:`~finops.sources.aws_ce.AwsCostExplorer` with the standard AWS credential chain."""
        from finops.sources.aws_ce import AwsCostExplorer

        client = None
        if self.endpoint_url:
            import boto3
            from botocore.config import Config

            client = boto3.client("ce", region_name="us-east-1", endpoint_url=self.endpoint_url,
                                  config=Config(retries={"mode": "standard", "max_attempts": 5}))
        return AwsCostExplorer(self.billing_account_id, team_tag=self.team_tag, client=client)


@dataclass(frozen=True)
class AwsS3ExportSource:
    """A CUR 2.0, FOCUS or legacy CUR export under ``s3://bucket/prefix``."""

    kind: ClassVar[str] = "aws-cur"
    bucket: str
    prefix: str = ""
    format: str = "auto"
    endpoint_url: str | None = None
    line: int = 0

    def connector(self) -> CostConnector:
        """An :class:`~finops.sources.aws_s3.AwsS3Export` with the standard AWS credential chain."""
        from finops.sources.aws_s3 import AwsS3Export

        client = None
        if self.endpoint_url:
            import boto3

            client = boto3.client("s3", endpoint_url=self.endpoint_url)
        return AwsS3Export(self.bucket, self.prefix, client=client, format=self.format)


@dataclass(frozen=True)
class AzureCostSource:
    """Azure Cost Management's Query API on one scope."""

    kind: ClassVar[str] = "azure"
    scope: str
    team_tag: str | None = "team"
    cost_column: str = "PreTaxCost"
    base_url: str | None = None  # Resource Manager endpoint of a sovereign cloud (default: public)
    line: int = 0

    def connector(self) -> CostConnector:
        """An :class:`~finops.sources.azure_query.AzureCostManagement` with :func:`azure_credential`.

        A plain ``http://`` base URL (a local test server) is the only case where the bearer token
        may travel unencrypted; it has to be written out explicitly.
        """
        from azure.mgmt.costmanagement import CostManagementClient

        from finops.sources.azure_query import AzureCostManagement

        options = {"base_url": self.base_url} if self.base_url else {}
        client = CostManagementClient(azure_credential(), **options)
        return AzureCostManagement(self.scope, client=client, team_tag=self.team_tag, cost_column=self.cost_column,
                                   allow_http=bool(self.base_url and self.base_url.startswith("http://")))


@dataclass(frozen=True)
class GcpBillingSource:
    """The Cloud Billing export table in BigQuery; ``project`` runs the query jobs (default: the
    table's project)."""

    kind: ClassVar[str] = "gcp"
    table: str
    project: str | None = None
    label_keys: tuple[str, ...] | None = None
    location: str | None = None
    api_endpoint: str | None = None
    line: int = 0

    def connector(self) -> CostConnector:
        """A :class:`~finops.sources.gcp_bigquery.GcpBillingExport` with :func:`gcp_credentials`."""
        from google.api_core.client_options import ClientOptions
        from google.cloud import bigquery

        from finops.sources.gcp_bigquery import GcpBillingExport

        project = self.project or self.table.rsplit(".", 2)[0]
        options = ClientOptions(api_endpoint=self.api_endpoint) if self.api_endpoint else None
        client = bigquery.Client(project=project, credentials=gcp_credentials(), client_options=options)
        return GcpBillingExport(self.table, client=client, label_keys=self.label_keys, location=self.location)


SourceSpec = AwsCostExplorerSource | AwsS3ExportSource | AzureCostSource | GcpBillingSource
KINDS: dict[str, type] = {spec.kind: spec for spec in (AwsCostExplorerSource, AwsS3ExportSource, AzureCostSource,
                                                       GcpBillingSource)}
_TABLE = re.compile(r"^[A-Za-z0-9_.:-]+\.[A-Za-z0-9_]+\.[A-Za-z0-9_$-]+$")


@dataclass(frozen=True)
class SourcesConfig:
    """The whole of sources.yml, validated."""

    sources: tuple[SourceSpec, ...]
    schedule: str = DEFAULT_SCHEDULE
    file: str = "sources.yml"

    @property
    def trigger_fields(self) -> dict[str, str]:
        """The schedule as APScheduler ``CronTrigger`` keyword arguments."""
        return cron_fields(self.schedule)


def load_sources(path: str | Path) -> SourcesConfig:
    """Read and validate a sources.yml file; :class:`ConfigError` (file, line, key) if it is wrong."""
    return parse_sources(read_config_text(path), file=str(path))


def parse_sources(text: str, *, file: str = "sources.yml") -> SourcesConfig:
    """Validate sources.yml text; ``file`` is the name used in error messages."""
    root = compose_config(text, file=file, empty="the file is empty: it needs a list of sources")
    return _SourcesReader(file).config(root)


TOP_KEYS = ("schedule", "sources")
SOURCE_KEYS: dict[str, tuple[str, ...]] = {
    "aws-ce": ("kind", "billing_account_id", "team_tag", "endpoint_url"),
    "aws-cur": ("kind", "bucket", "prefix", "format", "endpoint_url"),
    "azure": ("kind", "scope", "team_tag", "cost_column", "base_url"),
    "gcp": ("kind", "table", "project", "label_keys", "location", "api_endpoint"),
}
REQUIRED: dict[str, tuple[str, str]] = {  # kind -> (key, example)
    "aws-ce": ("billing_account_id", 'billing_account_id: "999900001111"'),
    "aws-cur": ("bucket", "bucket: acme-billing"),
    "azure": ("scope", "scope: subscriptions/00000000-0000-0000-0000-000000000000"),
    "gcp": ("table", "table: billing-admin.billing.gcp_billing_export_v1_0A1B2C_3D4E5F"),
}


class _SourcesReader(ConfigReader):
    """teams.yml's node reader, with the sections of sources.yml."""

    def config(self, root: Node) -> SourcesConfig:  # type: ignore[override]
        if not isinstance(root, MappingNode):
            raise self.error(f"the file must be a mapping (schedule:, sources:), got {describe_node(root)}",
                             root, None)
        top = self.mapping(root, "", TOP_KEYS)
        schedule = DEFAULT_SCHEDULE
        if "schedule" in top and not is_null(top["schedule"][1]):
            node = top["schedule"][1]
            schedule = self.text(node, "schedule")
            try:
                cron_fields(schedule)
            except ValueError as error:
                raise self.error(f"bad cron {schedule!r}: {error}", node, "schedule") from None
        if "sources" not in top or is_null(top["sources"][1]):
            raise self.error("missing sources: the list of connectors to pull (- kind: aws-ce, ...)",
                             top["sources"][1] if "sources" in top else root, "sources")
        node = top["sources"][1]
        if not isinstance(node, SequenceNode):
            raise self.error(f"must be a list of sources (lines starting with '- kind:'), got {describe_node(node)}",
                             node, "sources")
        specs: list[SourceSpec] = []
        first_line: dict[str, int] = {}
        for i, item in enumerate(node.value):
            spec = self.source(item, node_path("sources", i))
            key = source_key(spec)
            if key in first_line:
                raise self.error(f"source {key} is listed twice (first on line {first_line[key]})", item,
                                 node_path("sources", i))
            first_line[key] = spec.line
            specs.append(spec)
        return SourcesConfig(tuple(specs), schedule, self.file)

    def source(self, node: Node, key: str) -> SourceSpec:
        fields = self.mapping(node, key, None)
        if "kind" not in fields or is_null(fields["kind"][1]):
            raise self.error(f"missing kind: one of {', '.join(KINDS)}", node, node_path(key, "kind"))
        kind_node = fields["kind"][1]
        kind = self.text(kind_node, node_path(key, "kind"))
        if kind not in KINDS:
            raise self.error(_unknown_kind(kind), kind_node, node_path(key, "kind"))
        fields = self.mapping(node, key, SOURCE_KEYS[kind])
        given = {name: value for name, (_, value) in fields.items() if not is_null(value) and name != "kind"}
        required, example = REQUIRED[kind]
        if required not in given:
            raise self.error(f"missing {required}: e.g. {example}", node, node_path(key, required))
        values: dict[str, Any] = {"line": node_line(node)}
        for name, value in given.items():
            values[name] = self.value(kind, name, value, node_path(key, name))
        # An explicit null team_tag means "no team tag"; a missing one keeps the default.
        if "team_tag" in fields and is_null(fields["team_tag"][1]):
            values["team_tag"] = None
        return KINDS[kind](**values)

    def value(self, kind: str, name: str, node: Node, key: str) -> Any:
        if name == "label_keys":
            return self.tag_keys(node, key)
        text = self.text(node, key)
        if name == "billing_account_id" and not _AWS_ACCOUNT.match(text):
            raise self.error(f"{text!r} is not an AWS account ID (12 digits; quote it to keep leading zeros)",
                             node, key)
        if name in ("endpoint_url", "base_url", "api_endpoint") and not _URL.match(text):
            raise self.error(f"{text!r} must be an http(s) URL", node, key)
        if name == "bucket" and not _BUCKET.match(text):
            raise self.error(f"{text!r} is not an S3 bucket name (write the prefix under prefix:)", node, key)
        if name == "format" and text not in _FILE_FORMATS:
            raise self.error(f"unknown format {text!r}; allowed: {', '.join(_FILE_FORMATS)}", node, key)
        if name == "cost_column" and text not in _AZURE_COST_COLUMNS:
            raise self.error(f"unknown cost column {text!r}; allowed: PreTaxCost (EA, pay-as-you-go), Cost (MCA)",
                             node, key)
        if name == "table" and not _TABLE.match(text):
            raise self.error(f"{text!r} is not a BigQuery table name like project.dataset.gcp_billing_export_v1_X",
                             node, key)
        if name == "prefix":
            return text.strip("/")
        if name == "scope":
            return text.strip("/")
        return text


def _unknown_kind(kind: str) -> str:
    close = difflib.get_close_matches(kind, list(KINDS), n=1, cutoff=0.5)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown kind {kind!r}{hint}; allowed: {', '.join(KINDS)}"


def source_key(spec: SourceSpec) -> str:
    """The store's source key the spec's connector writes under (as its ``source`` attribute)."""
    if isinstance(spec, AwsCostExplorerSource):
        return f"aws-ce:{spec.billing_account_id}"
    if isinstance(spec, AwsS3ExportSource):
        return f"aws-cur:s3://{spec.bucket}/{spec.prefix}".rstrip("/")
    if isinstance(spec, AzureCostSource):
        return f"azure:{spec.scope}"
    return f"gcp:{spec.table}"

