"""teams.yml: the minimal form, every extension key, the helpers, and errors with file, line and key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from finops.errors import ConfigError
from finops.model import UNALLOCATED
from finops.teams import (
    Condition,
    DigestSchedule,
    MatchRule,
    SharedCostPool,
    Thresholds,
    UnitMetric,
    VerificationSettings,
    load_teams,
    parse_teams,
)
from tests.conftest import shared_path

ROOT = Path(__file__).resolve().parents[2]

MINIMAL = """\
default_channel: "#finops"          # where unallocated spend and org-level posts go
teams:
  - name: payments
    channel: "#team-payments"
    match:                          # any rule matching a cost row makes it this team's
      - tag: {team: payments}
      - sub_account_id: "111222330440"
"""

HEAD = 'default_channel: "#finops"\nteams:\n'
ONE_TEAM = HEAD + '  - name: payments\n    channel: "#p"\n'


def doc_example() -> str:
    """The complete example of docs/teams.md (the second yaml block), so the docs cannot rot."""
    blocks = re.findall(r"```yaml\n(.*?)```", (ROOT / "docs" / "teams.md").read_text(), re.S)
    return blocks[1]


def test_the_minimal_form_of_the_spec_reads_with_every_default():
    config = parse_teams(MINIMAL)
    assert config.default_channel == "#finops"
    assert config.team_names == ("payments",)
    team = config.team("payments")
    assert team.channel == "#team-payments"
    assert team.match == (
        MatchRule((Condition("tag", ("payments",), tag_key="team"),), line=6),
        MatchRule((Condition("sub_account_id", ("111222330440",)),), line=7),
    )
    assert (team.owners, team.members, team.members_from_channel, team.budget_monthly) == ((), (), True, None)
    assert team.thresholds == Thresholds(min_impact_usd=100.0, min_pct=0.30, alert_on_decrease=False)
    assert config.shared_costs == () and config.finance_approvers == () and config.mandatory_tags == ()
    assert config.digest == DigestSchedule(cron="0 9 * * MON", timezone="UTC")
    assert config.verification == VerificationSettings(settle_days=14, baseline_days=28, verified_share=0.8)
    assert config.timezone == "UTC"


def test_the_anomaly_bench_file_loads():
    config = load_teams(shared_path("data", "anomaly-bench", "teams.yml"))
    assert config.team_names == ("payments", "search", "data-platform", "mobile", "ml", "web")
    assert [config.channel_for(t) for t in config.team_names] == [
        "#team-payments", "#team-search", "#team-data", "#team-mobile", "#team-ml", "#team-web"]
    accounts = {t.name: [r.conditions[0].values[0] for r in t.match if r.kind == "sub_account_id"]
                for t in config.teams}
    assert accounts["ml"] == ["111222334444", "ml-training-prod"]
    assert accounts["web"] == ["111222335445", "8f1c2d3e-0000-4000-8000-00000000000b"]
    assert config.file.endswith("teams.yml")


def test_the_complete_example_of_the_docs_reads_every_key():
    config = parse_teams(doc_example())
    assert config.timezone == "Europe/Paris"
    assert config.finance_approvers == ("U0FINANCE1", "U0FINANCE2")
    assert config.mandatory_tags == ("team", "env", "cost-center")
    payments, search, data = config.teams
    assert payments.owners == ("U0PAYLEAD",) and payments.members == ("U0PAYSRE1", "U0PAYSRE2")
    assert payments.budget_monthly == 42000.0
    # Partial thresholds inherit the rest from defaults.
    assert payments.thresholds == Thresholds(min_impact_usd=250.0, min_pct=0.2, alert_on_decrease=False)
    assert payments.unit_metrics == (UnitMetric("orders", "Orders checked out"),)
    assert payments.match[0].conditions == (Condition("tag", ("payments", "pay"), tag_key="team"),)
    assert payments.match[2].kind == "resource_id"
    assert search.members_from_channel is False
    assert search.mandatory_tags == ("team", "env")
    assert search.match[1].conditions == (Condition("provider", ("Google Cloud",)),
                                          Condition("sub_account_id", ("search-index-prod",)))
    assert search.match[1].precedence == (2, 2)
    assert data.channel == "C0DATA12345" and data.budget_monthly == 18500.5
    assert data.thresholds == Thresholds(100.0, 0.30, True)
    support, network, sandbox = config.shared_costs
    assert support == SharedCostPool("support-and-tax", support.match, "proportional",
                                     ("payments", "search", "data-platform"), (), line=support.line)
    assert support.match[0].conditions == (Condition("service", ("AWS Support (Business)", "Tax")),)
    assert network.split == "fixed"
    assert network.percentages == (("payments", 50.0), ("search", 30.0), ("data-platform", 20.0))
    assert sandbox.split == "even" and sandbox.teams == ("payments", "search")
    assert config.digest == DigestSchedule("0 9 * * MON", "Europe/Paris")
    assert config.verification == VerificationSettings(14, 28, 0.8)


def test_identifiers_are_taken_as_written_not_as_yaml_numbers_or_booleans():
    config = parse_teams(HEAD + "  - name: payments\n    channel: '#p'\n    match:\n"
                         "      - sub_account_id: 0123\n      - tag: {env: no, tier: 1.10}\n")
    rules = config.team("payments").match
    assert rules[0].conditions[0].values == ("0123",)  # not octal 83
    assert [c.values for c in rules[1].conditions] == [("no",), ("1.10",)]  # not False, not 1.1


def test_min_pct_accepts_a_percent_string():
    config = parse_teams(ONE_TEAM + '    thresholds: {min_pct: "12.5%"}\n')
    assert config.team("payments").thresholds.min_pct == 0.125


def test_defaults_apply_to_every_team_that_does_not_override():
    config = parse_teams('defaults:\n  members_from_channel: false\n  thresholds: {min_impact_usd: 500}\n'
                         + ONE_TEAM + '  - name: search\n    channel: "#s"\n    thresholds: {min_pct: 0.5}\n')
    assert config.team("payments").thresholds == Thresholds(500.0, 0.30, False)
    assert config.team("search").thresholds == Thresholds(500.0, 0.5, False)
    assert config.team("payments").members_from_channel is False
    assert config.thresholds_for(UNALLOCATED) == Thresholds(500.0, 0.30, False)


def test_lookup_helpers():
    config = parse_teams(doc_example())
    assert config.team("search").channel == "#team-search"
    with pytest.raises(KeyError, match="no team 'serch'.*payments, search, data-platform"):
        config.team("serch")
    assert config.channel_for(UNALLOCATED) == "#finops"
    assert config.channel_for("team-that-was-removed") == "#finops"
    assert config.thresholds_for("payments").min_impact_usd == 250.0
    assert config.thresholds_for("gone") == Thresholds()
    assert config.mandatory_tags_for("search") == ("team", "env")
    assert config.mandatory_tags_for("payments") == ("team", "env", "cost-center")
    assert config.is_finance_approver("U0FINANCE2") and not config.is_finance_approver("U0PAYLEAD")


@pytest.mark.parametrize(("user", "team", "channel_members", "allowed"), [
    ("U0PAYLEAD", "payments", frozenset(), True),           # owner
    ("U0PAYSRE1", "payments", frozenset(), True),           # member
    ("U0FINANCE1", "search", frozenset(), True),            # finance approvers act anywhere
    ("U0PAYLEAD", "search", frozenset(), False),            # another team's owner
    ("U0SOMEONE", "payments", frozenset({"U0SOMEONE"}), True),   # in the channel, members_from_channel
    ("U0SOMEONE", "payments", frozenset(), False),
    ("U0SOMEONE", "search", frozenset({"U0SOMEONE"}), False),    # search: members_from_channel false
    ("U0SEARCHLEAD", "search", frozenset(), True),
    ("U0SOMEONE", UNALLOCATED, frozenset({"U0SOMEONE"}), True),  # default channel, defaults allow
    ("U0PAYLEAD", UNALLOCATED, frozenset(), False),
])
def test_may_act(user, team, channel_members, allowed):
    assert parse_teams(doc_example()).may_act(user, team, channel_members) is allowed


@pytest.mark.parametrize(("cron", "fields"), [
    ("0 9 * * MON", {"minute": "0", "hour": "9", "day": "*", "month": "*", "day_of_week": "mon"}),
    # cron counts weekdays from Sunday = 0; APScheduler from Monday = 0: names avoid the shift.
    ("30 8 * * 1-5", {"minute": "30", "hour": "8", "day": "*", "month": "*",
                      "day_of_week": "mon,tue,wed,thu,fri"}),
    ("0 7 1 JAN,JUL 0", {"minute": "0", "hour": "7", "day": "1", "month": "jan,jul", "day_of_week": "sun"}),
    ("*/15 * * * *", {"minute": "*/15", "hour": "*", "day": "*", "month": "*", "day_of_week": "*"}),
    ("0 9 * * sat,7", {"minute": "0", "hour": "9", "day": "*", "month": "*", "day_of_week": "sat,sun"}),
])
def test_digest_cron_becomes_unambiguous_scheduler_fields(cron, fields):
    config = parse_teams(ONE_TEAM + f'digest:\n  cron: "{cron}"\n')
    assert config.digest.trigger_fields == fields


def test_digest_time_zone_defaults_to_the_top_level_one():
    config = parse_teams(ONE_TEAM + "timezone: America/New_York\ndigest:\n  cron: '0 8 * * FRI'\n")
    assert config.digest == DigestSchedule("0 8 * * FRI", "America/New_York")


# Exact messages: what a person sees when the bot refuses to start.
@pytest.mark.parametrize(("text", "message"), [
    (ONE_TEAM.replace("    channel", "    chanel"),
     "teams.yml, line 4, key 'teams[0].chanel': unknown key 'chanel' (did you mean 'channel'?); allowed: name, "
     "channel, match, owners, members, members_from_channel, budget_monthly, thresholds, unit_metrics, "
     "mandatory_tags"),
    (HEAD + '  - channel: "#p"\n',
     "teams.yml, line 3, key 'teams[0].name': missing name: every team needs one, e.g. name: payments"),
    (HEAD + "  - name: payments\n",
     "teams.yml, line 3, key 'teams[0].channel': missing channel: the team's alert channel, "
     'e.g. channel: "#team-payments"'),
    (HEAD + "  - name: payments\n    channel: #team-payments\n",
     "teams.yml, line 4, key 'teams[0].channel': the channel is empty; quote it, e.g. \"#team-payments\" "
     "(YAML reads an unquoted # as a comment)"),
    (ONE_TEAM + '  - name: Payments\n    channel: "#q"\n',
     "teams.yml, line 5, key 'teams[1].name': duplicate team name 'Payments' (first defined on line 3; "
     "names compare case-insensitively)"),
    (ONE_TEAM + '    match:\n      - acount_id: "1"\n',
     "teams.yml, line 6, key 'teams[0].match[0].acount_id': unknown match field 'acount_id' (did you mean "
     "'sub_account_id'?); allowed: resource_id, tag, sub_account_id, billing_account_id, provider, service, "
     "region, sku_id"),
    (ONE_TEAM + '  - name: search\n    channel: "#s"\nshared_costs:\n  - name: tax\n    match: [{service: Tax}]\n'
     "    teams: [payments, serch]\n",
     "teams.yml, line 10, key 'shared_costs[0].teams[1]': unknown team 'serch' (did you mean 'search'?); "
     "teams: payments, search"),
    (ONE_TEAM + '  - name: search\n    channel: "#s"\nshared_costs:\n  - name: tax\n    match: [{service: Tax}]\n'
     "    split: fixed\n    teams: {payments: 60, search: 30}\n",
     "teams.yml, line 11, key 'shared_costs[0].teams': percentages add up to 90; they must add up to 100"),
    (ONE_TEAM + "    budget_monthly: -5\n",
     "teams.yml, line 5, key 'teams[0].budget_monthly': a budget cannot be negative, got -5"),
    (ONE_TEAM + '    budget_monthly: "$5,000"\n',
     "teams.yml, line 5, key 'teams[0].budget_monthly': must be a number (USD per month, e.g. 25000), got '$5,000'"),
    (ONE_TEAM + 'digest:\n  cron: "0 25 * * MON"\n',
     "teams.yml, line 6, key 'digest.cron': bad cron '0 25 * * MON': hour 25 is outside 0-23"),
    (ONE_TEAM + "timezone: Europe/Pariss\n",
     "teams.yml, line 5, key 'timezone': unknown time zone 'Europe/Pariss' (did you mean 'Europe/Paris'?); "
     "use an IANA name such as Europe/Paris or America/New_York"),
    (ONE_TEAM + '    channel: "#q"\n',
     "teams.yml, line 5, key 'teams[0].channel': duplicate key 'channel' (first on line 4)"),
    (HEAD + '  - name: payments\n    channel: "#p\n',
     "teams.yml, line 4: not valid YAML: found unexpected end of stream (while scanning a quoted scalar on line 4)"),
    (ONE_TEAM + "    thresholds: {min_pct: 30}\n",
     "teams.yml, line 5, key 'teams[0].thresholds.min_pct': must be at most 10 (a fraction: 0.3 is 30 %; "
     'or write "30%"), got 30'),
    ('finance_approvers: ["@alice"]\n' + ONE_TEAM,
     "teams.yml, line 1, key 'finance_approvers[0]': '@alice' is not a Slack user ID: IDs look like U0123ABCD "
     "(profile menu > Copy member ID)"),
    ("", "teams.yml, line 1: the file is empty: it needs at least default_channel and teams"),
])
def test_errors_name_file_line_and_key(text, message):
    with pytest.raises(ConfigError) as caught:
        parse_teams(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(("text", "line", "key", "reason"), [
    ("teams: []\n", 1, "default_channel", "missing default_channel"),
    ('default_chanel: "#x"\nteams: []\n', 1, "default_chanel", "did you mean 'default_channel'?"),
    (HEAD + "  payments: x\n", 3, "teams", "must be a list of teams"),
    (HEAD + '  - name: Unallocated\n    channel: "#p"\n', 3, "teams[0].name", "reserved"),
    (HEAD + '  - name: data platform\n    channel: "#p"\n', 3, "teams[0].name", "may only hold letters"),
    (HEAD + '  - name: payments\n    channel: "team-payments"\n', 4, "teams[0].channel", "must be '#name'"),
    (ONE_TEAM + "    match:\n      - {}\n", 6, "teams[0].match[0]", "would match everything"),
    (ONE_TEAM + "    match:\n      - tag: {team: []}\n", 6, "teams[0].match[0].tag.team", "empty list"),
    (ONE_TEAM + "    match:\n      - tag: {team: x, Team: y}\n", 6, "teams[0].match[0].tag.Team", "appears twice"),
    (ONE_TEAM + "    match:\n      - sub_account_id:\n", 6, "teams[0].match[0].sub_account_id", "missing value"),
    (ONE_TEAM + "    match: {tag: {team: x}}\n", 5, "teams[0].match", "must be a list"),
    (ONE_TEAM + "    owners: U12 U34\n", 5, "teams[0].owners[0]", "not a Slack user ID"),
    (ONE_TEAM + "    members_from_channel: maybe\n", 5, "teams[0].members_from_channel", "true or false"),
    (ONE_TEAM + "    thresholds: {min_impact: 5}\n", 5, "teams[0].thresholds.min_impact",
     "did you mean 'min_impact_usd'?"),
    (ONE_TEAM + "    thresholds: {min_impact_usd: -1}\n", 5, "teams[0].thresholds.min_impact_usd", "at least 0"),
    (ONE_TEAM + "    unit_metrics: [orders, orders]\n", 5, "teams[0].unit_metrics[1]", "listed twice"),
    (ONE_TEAM + "    mandatory_tags: [team, Team]\n", 5, "teams[0].mandatory_tags[1]", "listed twice"),
    (ONE_TEAM + "shared_costs:\n  - name: tax\n    split: even\n", 6, "shared_costs[0].match", "missing match"),
    (ONE_TEAM + "shared_costs:\n  - name: tax\n    match: [{service: Tax}]\n    split: evenly\n", 8,
     "shared_costs[0].split", "did you mean 'even'?"),
    (ONE_TEAM + "shared_costs:\n  - name: tax\n    match: [{service: Tax}]\n    split: fixed\n"
     "    teams: [payments]\n", 9, "shared_costs[0].teams", "needs teams as {team: percent}"),
    (ONE_TEAM + "shared_costs:\n  - name: tax\n    match: [{service: Tax}]\n    teams: {payments: 100}\n", 8,
     "shared_costs[0].teams", "only for split: fixed"),
    (ONE_TEAM + "shared_costs:\n  - name: tax\n    match: [{service: Tax}]\n    split: fixed\n"
     "    teams: {payments: 100, ghost: 0}\n", 9, "shared_costs[0].teams.ghost", "unknown team 'ghost'"),
    (ONE_TEAM + "shared_costs:\n  - name: tax\n    match: [{service: Tax}]\n  - name: tax\n"
     "    match: [{region: x}]\n", 8, "shared_costs[1].name", "duplicate pool name"),
    (ONE_TEAM + 'digest:\n  cron: "0 9 * MON"\n', 6, "digest.cron", "has 5 fields"),
    (ONE_TEAM + 'digest:\n  cron: "0 9 * * FUN"\n', 6, "digest.cron", "day of week 'fun' is not a number"),
    (ONE_TEAM + 'digest:\n  cron: "0 9 * * 5-1"\n', 6, "digest.cron", "runs backwards"),
    (ONE_TEAM + "digest:\n  timezone: Mars/Olympus\n", 6, "digest.timezone", "unknown time zone"),
    (ONE_TEAM + "verification:\n  settle_days: 0\n", 6, "verification.settle_days", "at least 1"),
    (ONE_TEAM + "verification:\n  baseline_days: 2.5\n", 6, "verification.baseline_days", "whole number"),
    (ONE_TEAM + "verification:\n  verified_share: 1.5\n", 6, "verification.verified_share", "at most 1"),
    (HEAD + '  - name: payments\n   channel: x\n', 4, None, "not valid YAML"),
    ("- a\n", 1, None, "must be a mapping"),
])
def test_more_errors_point_at_the_right_line_and_key(text, line, key, reason):
    with pytest.raises(ConfigError) as caught:
        parse_teams(text, file="conf/teams.yml")
    error = caught.value
    assert (error.file, error.line, error.key) == ("conf/teams.yml", line, key)
    assert reason in str(error)
    assert str(error).startswith(f"conf/teams.yml, line {line}")


def test_load_teams_names_a_missing_file(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_teams(tmp_path / "nope.yml")
    assert caught.value.file == str(tmp_path / "nope.yml")
    assert "cannot read the file: No such file or directory" in str(caught.value)


def test_load_teams_reads_a_file_with_a_byte_order_mark(tmp_path):
    path = tmp_path / "teams.yml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert load_teams(path).team_names == ("payments",)
