"""sources.yml: the connectors the bot pulls daily; errors name the file, line and key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from google.auth.credentials import AnonymousCredentials

from finops.errors import ConfigError
from finops.sources import config as sources_config
from finops.sources.config import (
    DEFAULT_SCHEDULE,
    AwsCostExplorerSource,
    AwsS3ExportSource,
    AzureCostSource,
    GcpBillingSource,
    load_sources,
    parse_sources,
    source_key,
)

DOCS = Path(__file__).resolve().parents[3] / "docs" / "cost-data.md"


def test_the_documented_example_is_valid_and_complete():
    example = re.search(r"### sources\.yml.*?```yaml\n(.*?)```", DOCS.read_text(), re.DOTALL).group(1)
    config = parse_sources(example)
    assert config.schedule == "30 6 * * *" == DEFAULT_SCHEDULE
    assert config.trigger_fields == {"minute": "30", "hour": "6", "day": "*", "month": "*", "day_of_week": "*"}
    assert config.sources == (
        AwsCostExplorerSource("999900001111", team_tag="team", line=3),
        AwsS3ExportSource("acme-billing", "exports/acme-focus", "auto", line=6),
        AzureCostSource("providers/Microsoft.Billing/billingAccounts/12345678", team_tag="team",
                        cost_column="PreTaxCost", line=10),
        GcpBillingSource("billing-admin.billing.gcp_billing_export_resource_v1_0A1B2C_3D4E5F",
                         project="billing-admin", label_keys=("team", "env"), location="US", line=14))
    assert [source_key(s) for s in config.sources] == [
        "aws-ce:999900001111", "aws-cur:s3://acme-billing/exports/acme-focus",
        "azure:providers/Microsoft.Billing/billingAccounts/12345678",
        "gcp:billing-admin.billing.gcp_billing_export_resource_v1_0A1B2C_3D4E5F"]


def test_defaults_and_an_explicit_null_team_tag():
    config = parse_sources('sources:\n  - kind: aws-ce\n    billing_account_id: "000011112222"\n    team_tag: null\n'
                           "  - kind: azure\n    scope: /subscriptions/abc/\n  - kind: aws-cur\n    bucket: b-1\n")
    assert config.schedule == DEFAULT_SCHEDULE
    assert config.sources == (AwsCostExplorerSource("000011112222", team_tag=None, line=2),
                              AzureCostSource("subscriptions/abc", line=5), AwsS3ExportSource("b-1", line=7))


@pytest.mark.parametrize(("text", "line", "key", "message"), [
    ("", 1, None, "the file is empty"),
    ("sources:\n  - kind: aws-ce\n", 2, "sources[0].billing_account_id",
     'missing billing_account_id: e.g. billing_account_id: "999900001111"'),
    ("sources:\n  - billing_account_id: '999900001111'\n", 2, "sources[0].kind",
     "missing kind: one of aws-ce, aws-cur, azure, gcp"),
    ("sources:\n  - kind: aws_ce\n", 2, "sources[0].kind", "unknown kind 'aws_ce' (did you mean 'aws-ce'?)"),
    ("sources:\n  - kind: gcp\n    table: p.d.t\n    labels: [team]\n", 4, "sources[0].labels",
     "unknown key 'labels' (did you mean 'label_keys'?)"),
    ("sources:\n  - kind: aws-ce\n    billing_account_id: 99990000111\n", 3, "sources[0].billing_account_id",
     "'99990000111' is not an AWS account ID"),
    ("sources:\n  - kind: aws-cur\n    bucket: s3://acme/exports\n", 3, "sources[0].bucket",
     "'s3://acme/exports' is not an S3 bucket name"),
    ("sources:\n  - kind: aws-cur\n    bucket: acme\n    format: csv\n", 4, "sources[0].format",
     "unknown format 'csv'; allowed: auto, aws-cur, focus"),
    ("sources:\n  - kind: azure\n    scope: x\n    cost_column: ActualCost\n", 4, "sources[0].cost_column",
     "unknown cost column 'ActualCost'"),
    ("sources:\n  - kind: azure\n    scope: x\n    base_url: management.azure.com\n", 4, "sources[0].base_url",
     "'management.azure.com' must be an http(s) URL"),
    ("sources:\n  - kind: gcp\n    table: my_table\n", 3, "sources[0].table",
     "'my_table' is not a BigQuery table name"),
    ("sources:\n  - kind: gcp\n    table: p.d.t\n    label_keys: [team, Team]\n", 4, "sources[0].label_keys[1]",
     "tag 'Team' is listed twice"),
    ("sources:\n  - kind: gcp\n    table: p.d.t\n  - kind: gcp\n    table: p.d.t\n", 4, "sources[1]",
     "source gcp:p.d.t is listed twice (first on line 2)"),
    ('schedule: "every day"\nsources: []\n', 1, "schedule", "bad cron 'every day'"),
    ("sources:\n  kind: gcp\n", 2, "sources", "must be a list of sources"),
    ("schedule: '0 6 * * *'\n", 1, "sources", "missing sources"),
    ('sources:\n  - kind: "gcp\n    table: x\n', 2, None, "not valid YAML: found unexpected end of stream"),
])
def test_errors_name_the_file_line_and_key(text, line, key, message):
    with pytest.raises(ConfigError) as raised:
        parse_sources(text, file="sources.yml")
    error = raised.value
    assert (error.file, error.line, error.key) == ("sources.yml", line, key)
    assert message in str(error)
    assert str(error).startswith(f"sources.yml, line {line}" + (f", key {key!r}: " if key else ": "))


def test_an_unreadable_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_sources(tmp_path / "missing.yml")


def test_specs_build_their_connectors(monkeypatch):
    monkeypatch.setattr(sources_config, "azure_credential", AnonymousCredentials)
    monkeypatch.setattr(sources_config, "gcp_credentials", AnonymousCredentials)

    ce = AwsCostExplorerSource("999900001111", team_tag=None, endpoint_url="https://ce.example").connector()
    assert (ce.source, ce.team_tag, ce.client.meta.endpoint_url) == ("aws-ce:999900001111", None, "https://ce.example")
    s3 = AwsS3ExportSource("acme-billing", "exports/focus", "focus").connector()
    assert (s3.source, s3.prefix, s3.format) == ("aws-cur:s3://acme-billing/exports/focus", "exports/focus", "focus")
    azure = AzureCostSource("subscriptions/abc", cost_column="Cost", base_url="http://127.0.0.1:9").connector()
    assert (azure.source, azure.cost_column, azure.allow_http) == ("azure:subscriptions/abc", "Cost", True)
    assert AzureCostSource("subscriptions/abc", base_url="https://management.chinacloudapi.cn").connector().allow_http \
        is False
    gcp = GcpBillingSource("data.billing.export_v1", label_keys=("team",), location="EU").connector()
    assert (gcp.source, gcp.client.project, gcp.label_keys, gcp.location) == (
        "gcp:data.billing.export_v1", "data", ["team"], "EU")
    assert GcpBillingSource("data.billing.export_v1", project="runner").connector().client.project == "runner"
    for spec in (AwsCostExplorerSource("999900001111"), AwsS3ExportSource("b-1", "p"), AzureCostSource("s/x"),
                 GcpBillingSource("a.b.c")):
        assert spec.connector().source == source_key(spec)
