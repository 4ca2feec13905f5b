"""Allocation by teams.yml rules (precedence, matching), shared-cost splits (exact to the micro), coverage."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
import yaml

from finops.model import (
    ALLOCATION_RULE,
    MONEY,
    TEAM,
    UNALLOCATED,
    canonical_tags,
    conform_daily_frame,
)
from finops.ownership import (
    Coverage,
    allocate_costs,
    allocation_fingerprint,
    attribution_coverage,
    split_micros,
    split_shared_costs,
    tag_coverage,
    untagged_cost_drivers,
)
from finops.teams import parse_teams
from tests.conftest import shared_path

ROW_DEFAULTS = {
    "ChargePeriodStart": "2026-10-01", "ProviderName": "AWS", "BillingAccountId": "999", "SubAccountId": "222",
    "ServiceName": "Amazon EC2", "RegionId": "us-east-1", "ChargeCategory": "Usage", "ResourceId": "",
    "SkuId": "", "EffectiveCost": 1.0, "BilledCost": 1.0, "ListCost": 1.0,
}


def cost_frame(*rows: dict) -> pd.DataFrame:
    """A daily cost frame; ``tags`` (a dict) becomes the canonical Tags column."""
    records = []
    for row in rows:
        record = {**ROW_DEFAULTS, **{k: v for k, v in row.items() if k != "tags"}}
        record["Tags"] = canonical_tags(row.get("tags"))
        records.append(record)
    return conform_daily_frame(pd.DataFrame.from_records(records))


def line_of(text: str, snippet: str) -> int:
    """1-based line where the only occurrence of ``snippet`` starts."""
    assert text.count(snippet) == 1, snippet
    return text[:text.index(snippet)].count("\n") + 1


def micros(values) -> list[int]:
    return [int(v) for v in np.rint(np.asarray(values, dtype=np.float64) * 1_000_000)]


# ---------------------------------------------------------------------------------------------
# Precedence

PRECEDENCE = """\
default_channel: "#finops"
teams:
  - name: by-service
    channel: "#a"
    match:
      - service: Amazon EC2
      - provider: AWS
        region: eu-west-1
  - name: by-billing
    channel: "#b"
    match:
      - billing_account_id: "123"
  - name: by-account
    channel: "#c"
    match:
      - sub_account_id: "111"
  - name: by-account-service
    channel: "#d"
    match:
      - sub_account_id: "111"
        service: Amazon S3
  - name: by-tag
    channel: "#e"
    match:
      - tag: {team: web}
  - name: by-tag-env
    channel: "#f"
    match:
      - tag: {team: web, env: prod}
  - name: first-listed
    channel: "#g"
    match:
      - tag: {team: shared}
  - name: second-listed
    channel: "#h"
    match:
      - tag: {team: shared}
  - name: by-resource
    channel: "#i"
    match:
      - resource_id: "i-*"
"""


@pytest.mark.parametrize(("row", "label"), [
    # The broadest kind matches when nothing else does.
    ({"ServiceName": "Amazon EC2"}, "by-service: service=Amazon EC2 (teams.yml line 6)"),
    # A rule with more fields beats one with fewer of the same kind (same team: the label says which).
    ({"ServiceName": "Amazon EC2", "RegionId": "eu-west-1"}, "by-service: provider=AWS, region=eu-west-1 (teams.yml line 7)"),
    # billing_account_id > service
    ({"BillingAccountId": "123"}, "by-billing: billing_account_id=123 (teams.yml line 12)"),
    # sub_account_id > billing_account_id
    ({"BillingAccountId": "123", "SubAccountId": "111"}, "by-account: sub_account_id=111 (teams.yml line 16)"),
    # same kind, more fields: account + service beats account alone
    ({"BillingAccountId": "123", "SubAccountId": "111", "ServiceName": "Amazon S3"},
     "by-account-service: sub_account_id=111, service=Amazon S3 (teams.yml line 20)"),
    # tag > sub_account_id
    ({"SubAccountId": "111", "tags": {"team": "web"}}, "by-tag: tag team=web (teams.yml line 25)"),
    # same kind, more fields: two tag keys beat one
    ({"SubAccountId": "111", "tags": {"team": "web", "env": "prod"}},
     "by-tag-env: tag team=web, tag env=prod (teams.yml line 29)"),
    # resource_id > tag, although the resource's team is listed last
    ({"SubAccountId": "111", "ResourceId": "i-0abc", "tags": {"team": "web", "env": "prod"}},
     "by-resource: resource_id=i-* (teams.yml line 41)"),
    # a tie goes to the team listed first
    ({"tags": {"team": "shared"}}, "first-listed: tag team=shared (teams.yml line 33)"),
])
def test_precedence(row, label):
    allocated = allocate_costs(cost_frame(row), parse_teams(PRECEDENCE))
    assert allocated[ALLOCATION_RULE].tolist() == [label]
    assert allocated[TEAM].tolist() == [label.split(":")[0]]


def test_the_minimal_form_allocates_by_tag_then_account_and_leaves_the_rest_unallocated():
    config = parse_teams('default_channel: "#finops"\nteams:\n  - name: payments\n    channel: "#team-payments"\n'
                         '    match:\n      - tag: {team: payments}\n      - sub_account_id: "111222330440"\n')
    frame = cost_frame({"tags": {"team": "payments"}}, {"SubAccountId": "111222330440"}, {"SubAccountId": "42"})
    allocated = allocate_costs(frame, config)
    assert allocated[TEAM].tolist() == ["payments", "payments", UNALLOCATED]
    assert allocated[ALLOCATION_RULE].tolist() == [
        "payments: tag team=payments (teams.yml line 6)",
        "payments: sub_account_id=111222330440 (teams.yml line 7)",
        "",
    ]


MATCHING = """\
default_channel: "#finops"
teams:
  - name: web
    channel: "#web"
    match:
      - tag: {team: [web, www]}
      - sub_account_id: abc-prod
  - name: logs
    channel: "#logs"
    match:
      - resource_id: "arn:aws:s3:::logs-*"
  - name: data
    channel: "#data"
    match:
      - tag: {team: data, env: prod}
  - name: anyone-owned
    channel: "#owned"
    match:
      - tag: {owner: "*"}
"""


@pytest.mark.parametrize(("row", "team"), [
    ({"tags": {"Team": "WEB"}}, "web"),                     # tag keys and values: case-insensitive
    ({"tags": {"team": "www"}}, "web"),                     # a list means any of
    ({"SubAccountId": "ABC-Prod"}, "web"),                  # IDs: case-insensitive too
    ({"ResourceId": "arn:aws:s3:::logs-2026"}, "logs"),     # glob
    ({"ResourceId": "arn:aws:s3:::mylogs-2026"}, UNALLOCATED),  # a glob anchors at both ends
    ({"tags": {"team": "data", "env": "prod"}}, "data"),
    ({"tags": {"team": "data", "env": "dev"}}, UNALLOCATED),   # every tag of a rule must match
    ({"tags": {"team": "data"}}, UNALLOCATED),
    ({"tags": {"team": "webby"}}, UNALLOCATED),             # whole values, not substrings
    ({"tags": {"owner": "Jane"}}, "anyone-owned"),          # "*" alone: carries the tag at all
])
def test_matching(row, team):
    assert allocate_costs(cost_frame(row), parse_teams(MATCHING))[TEAM].tolist() == [team]


def test_allocation_leaves_its_input_alone_and_keeps_the_index():
    frame = cost_frame({"tags": {"team": "web"}}, {"SubAccountId": "x"}).set_axis([10, 20])
    before = frame.copy()
    allocated = allocate_costs(frame, parse_teams(MATCHING))
    pd.testing.assert_frame_equal(frame, before)
    assert allocated.index.tolist() == [10, 20]
    assert allocated[TEAM].tolist() == ["web", UNALLOCATED]
    assert allocated[TEAM].dtype == object


def test_a_missing_value_never_loses_a_row():
    # The model promises "" for missing dimensions; a NaN slipping through must still be allocated.
    series = pd.DataFrame({"Tags": [canonical_tags({"team": "web"}), None], "SubAccountId": [None, "abc-prod"],
                           "ResourceId": [None, None]}, dtype=object)
    assert allocate_costs(series, parse_teams(MATCHING))[TEAM].tolist() == ["web", "web"]


def test_allocation_reads_only_the_columns_the_rules_use():
    series = pd.DataFrame({"Tags": [canonical_tags({"team": "www"}), ""], "SubAccountId": ["1", "abc-prod"],
                           "ResourceId": ["", ""]})
    assert allocate_costs(series, parse_teams(MATCHING))[TEAM].tolist() == ["web", "web"]


# ---------------------------------------------------------------------------------------------
# Shared-cost pools

POOLS = """\
default_channel: "#finops"
teams:
  - name: alpha
    channel: "#alpha"
    match:
      - tag: {team: alpha}
  - name: beta
    channel: "#beta"
    match:
      - tag: {team: beta}
      - sub_account_id: shared
        service: Amazon S3
  - name: gamma
    channel: "#gamma"
    match:
      - tag: {team: gamma}
shared_costs:
  - name: tax
    match:
      - service: Tax
    split: even
  - name: support
    match:
      - service: AWS Support
    split: fixed
    teams: {alpha: 33.3, beta: 33.3, gamma: 33.4}
  - name: network
    match:
      - sub_account_id: shared
    split: proportional
    teams: [alpha, beta, gamma]
  - name: sandbox
    match:
      - sub_account_id: sandbox
      - sub_account_id: beta-acct
    split: even
"""


def split(frame: pd.DataFrame, text: str = POOLS) -> pd.DataFrame:
    config = parse_teams(text)
    return split_shared_costs(allocate_costs(frame, config), config)


def test_an_even_split_of_100_dollars_three_ways_is_exact_to_the_micro():
    out = split(cost_frame({"ServiceName": "Tax", "EffectiveCost": 100.0, "BilledCost": 100.0, "ListCost": 120.0,
                            "ConsumedQuantity": 9.0, "PricingQuantity": np.nan}))
    assert out[TEAM].tolist() == ["alpha", "beta", "gamma"]
    assert micros(out["EffectiveCost"]) == [33_333_334, 33_333_333, 33_333_333]
    assert micros(out["BilledCost"]) == [33_333_334, 33_333_333, 33_333_333]
    assert micros(out["ListCost"]) == [40_000_000] * 3
    assert out["ConsumedQuantity"].tolist() == [3.0, 3.0, 3.0]
    assert out["PricingQuantity"].isna().all()
    line = line_of(POOLS, "- service: Tax")
    assert out[ALLOCATION_RULE].tolist() == [f"shared pool tax: even, matched service=Tax (teams.yml line {line})"] * 3


def test_a_credit_splits_like_a_charge_with_its_sign():
    out = split(cost_frame({"ServiceName": "Tax", "EffectiveCost": -100.0}))
    assert micros(out["EffectiveCost"]) == [-33_333_334, -33_333_333, -33_333_333]


def test_a_fixed_split_follows_the_percentages_exactly():
    out = split(cost_frame({"ServiceName": "AWS Support", "EffectiveCost": 1.0, "BilledCost": 0.000001}))
    assert out[TEAM].tolist() == ["alpha", "beta", "gamma"]
    assert micros(out["EffectiveCost"]) == [333_000, 333_000, 334_000]
    assert micros(out["BilledCost"]) == [0, 0, 1]  # one micro cannot be cut: it goes to the largest share


def test_a_proportional_split_follows_each_days_direct_spend():
    frame = cost_frame(
        # 2026-10-01: alpha 30, beta 10 (+ its S3 in the shared account, 10, a direct rule), gamma nothing
        {"tags": {"team": "alpha"}, "EffectiveCost": 30.0},
        {"tags": {"team": "beta"}, "EffectiveCost": 10.0},
        {"SubAccountId": "shared", "ServiceName": "Amazon S3", "EffectiveCost": 10.0},
        {"SubAccountId": "shared", "ServiceName": "Amazon VPC", "EffectiveCost": 8.0, "ConsumedQuantity": 16.0},
        # 2026-10-02: only beta has positive direct spend (alpha's credit counts as 0)
        {"ChargePeriodStart": "2026-10-02", "tags": {"team": "alpha"}, "EffectiveCost": -3.0},
        {"ChargePeriodStart": "2026-10-02", "tags": {"team": "beta"}, "EffectiveCost": 5.0},
        {"ChargePeriodStart": "2026-10-02", "SubAccountId": "shared", "ServiceName": "Amazon VPC", "EffectiveCost": 7.0},
        # 2026-10-03: no direct spend at all: even split, and the rule says so
        {"ChargePeriodStart": "2026-10-03", "SubAccountId": "shared", "ServiceName": "Amazon VPC", "EffectiveCost": 1.0},
    )
    out = split(frame)
    shared = out[out[ALLOCATION_RULE].str.startswith("shared pool network")]
    got = [(str(r.ChargePeriodStart.date()), r.x_Team, int(round(r.EffectiveCost * 1e6))) for r in shared.itertuples()]
    assert got == [
        ("2026-10-01", "alpha", 4_800_000), ("2026-10-01", "beta", 3_200_000),  # 30 : 20
        ("2026-10-02", "beta", 7_000_000),
        ("2026-10-03", "alpha", 333_334), ("2026-10-03", "beta", 333_333), ("2026-10-03", "gamma", 333_333),
    ]
    assert shared["ConsumedQuantity"].tolist()[:2] == [9.6, 6.4]
    line = line_of(POOLS, "- sub_account_id: shared\n    split: proportional")
    assert shared[ALLOCATION_RULE].tolist()[2] == (
        f"shared pool network: proportional, matched sub_account_id=shared (teams.yml line {line})")
    assert shared[ALLOCATION_RULE].tolist()[3] == (
        f"shared pool network: even (no direct spend that day), matched sub_account_id=shared (teams.yml line {line})")
    # Direct rows are untouched and keep their order; the parts follow.
    assert out[TEAM].tolist()[:3] == ["alpha", "beta", "beta"]
    assert out["EffectiveCost"].tolist()[:3] == [30.0, 10.0, 10.0]


def test_a_proportional_split_follows_usage_not_a_fee_booked_the_same_day():
    frame = cost_frame(
        # 2026-10-01: alpha uses 30, beta 10; alpha also books a 6,000 commitment fee that day.
        {"tags": {"team": "alpha"}, "EffectiveCost": 30.0},
        {"tags": {"team": "alpha"}, "EffectiveCost": 6000.0, "ChargeCategory": "Purchase"},
        {"tags": {"team": "beta"}, "EffectiveCost": 10.0},
        {"SubAccountId": "shared", "ServiceName": "Amazon VPC", "EffectiveCost": 8.0},
        # 2026-10-02: no usage, only beta's fee: all their charges decide, before an even split.
        {"ChargePeriodStart": "2026-10-02", "tags": {"team": "beta"}, "EffectiveCost": 5.0, "ChargeCategory": "Tax"},
        {"ChargePeriodStart": "2026-10-02", "SubAccountId": "shared", "ServiceName": "Amazon VPC", "EffectiveCost": 7.0},
    )
    out = split(frame)
    shared = out[out[ALLOCATION_RULE].str.startswith("shared pool network")]
    got = [(str(r.ChargePeriodStart.date()), r.x_Team, int(round(r.EffectiveCost * 1e6))) for r in shared.itertuples()]
    # 30 : 10 of usage (by every charge it would be 6,030 : 10, alpha taking 99.8 %).
    assert got == [("2026-10-01", "alpha", 6_000_000), ("2026-10-01", "beta", 2_000_000),
                   ("2026-10-02", "beta", 7_000_000)]


def test_a_proportional_split_needs_the_charge_category():
    config = parse_teams(POOLS)
    allocated = allocate_costs(cost_frame({"SubAccountId": "shared", "ServiceName": "Amazon VPC"}), config)
    with pytest.raises(ValueError, match="needs the ChargeCategory column"):
        split_shared_costs(allocated.drop(columns=["ChargeCategory"]), config)


def test_pools_default_to_every_team_and_take_part_in_precedence():
    frame = cost_frame(
        {"SubAccountId": "sandbox", "EffectiveCost": 3.0},
        {"SubAccountId": "sandbox", "tags": {"team": "gamma"}, "EffectiveCost": 5.0},  # tag beats the pool's account
        {"SubAccountId": "beta-acct", "EffectiveCost": 1.5},
    )
    out = split(frame)
    assert out[TEAM].tolist() == ["gamma", "alpha", "beta", "gamma", "alpha", "beta", "gamma"]
    assert micros(out["EffectiveCost"]) == [5_000_000] + [1_000_000] * 3 + [500_000] * 3


def test_on_a_tie_a_team_rule_beats_a_pool_rule_and_a_more_specific_pool_rule_beats_a_team():
    text = """\
default_channel: "#finops"
teams:
  - name: alpha
    channel: "#alpha"
    match:
      - sub_account_id: "333"
shared_costs:
  - name: both
    match:
      - sub_account_id: "333"
      - resource_id: "lb-*"
"""
    config = parse_teams(text)
    allocated = allocate_costs(cost_frame({"SubAccountId": "333"}, {"SubAccountId": "333", "ResourceId": "lb-1"}),
                               config)
    assert allocated[TEAM].tolist() == ["alpha", UNALLOCATED]
    assert allocated[ALLOCATION_RULE].tolist()[1] == 'shared pool both (not split): resource_id=lb-* (teams.yml line 11)'
    out = split_shared_costs(allocated, config)
    assert out[ALLOCATION_RULE].tolist()[1] == "shared pool both: proportional, matched resource_id=lb-* (teams.yml line 11)"


def test_splitting_needs_an_allocated_frame():
    with pytest.raises(ValueError, match="run allocate_costs first"):
        split_shared_costs(cost_frame({"ServiceName": "Tax"}), parse_teams(POOLS))


def test_split_micros_is_exact_for_any_amount_and_weights():
    rng = np.random.default_rng(7)
    amounts = np.round(rng.normal(0, 5_000, 5_000), 6)
    raw = rng.random((5_000, 7)) * (rng.random((5_000, 7)) > 0.3)
    raw[raw.sum(axis=1) == 0, 0] = 1.0
    weights = raw / raw.sum(axis=1, keepdims=True)
    parts = split_micros(amounts, weights)
    whole = np.rint(amounts * 1e6).astype(np.int64)
    assert (parts.sum(axis=1) == whole).all()
    assert (np.abs(parts - whole[:, None] * weights) < 1.0 + 1e-6).all()  # each part within a micro
    assert (parts[weights == 0] == 0).all()


def test_the_split_frame_keeps_every_dollar_of_every_day_and_series():
    rng = np.random.default_rng(3)
    days = pd.date_range("2026-09-01", periods=30).repeat(6)
    teams = np.tile(["alpha", "beta", "gamma", "alpha", "", ""], 30)
    rows = [{"ChargePeriodStart": d, "tags": {"team": t} if t else None,
             "SubAccountId": "x" if t else "shared", "ResourceId": f"r{i % 6}",
             "EffectiveCost": float(np.round(rng.random() * 1000, 4)), "BilledCost": float(np.round(rng.random() * 900, 6)),
             "ListCost": float(np.round(rng.random() * 1200, 2))} for i, (d, t) in enumerate(zip(days, teams, strict=True))]
    frame = cost_frame(*rows)
    out = split(frame)
    keys = ["ChargePeriodStart", "ResourceId"]
    for column in MONEY:
        before = frame.assign(m=micros(frame[column])).groupby(keys)["m"].sum()
        after = out.assign(m=micros(out[column])).groupby(keys)["m"].sum()
        pd.testing.assert_series_equal(before, after)
    assert set(out[TEAM]) == {"alpha", "beta", "gamma"}


# ---------------------------------------------------------------------------------------------
# Coverage


def test_attribution_coverage_is_exact_and_per_period():
    frame = split(cost_frame(
        {"ChargePeriodStart": "2026-09-30", "tags": {"team": "alpha"}, "EffectiveCost": 0.1},
        {"ChargePeriodStart": "2026-09-30", "ServiceName": "Tax", "EffectiveCost": 0.2},
        {"ChargePeriodStart": "2026-10-01", "tags": {"team": "beta"}, "EffectiveCost": 60.0},
        {"ChargePeriodStart": "2026-10-01", "SubAccountId": "nobody", "EffectiveCost": 39.7},
    ))
    coverage = attribution_coverage(frame, period="month")
    assert (coverage.total, coverage.allocated_direct, coverage.allocated_shared, coverage.unallocated) == (
        Decimal("100.000000"), Decimal("60.100000"), Decimal("0.200000"), Decimal("39.700000"))
    assert coverage.allocated == Decimal("60.300000")
    assert coverage.share == pytest.approx(0.603)
    september, october = coverage.by_period
    assert (september.period, september.total, september.allocated_shared, september.share) == (
        "2026-09", Decimal("0.300000"), Decimal("0.200000"), 1.0)
    assert (october.period, october.unallocated) == ("2026-10", Decimal("39.700000"))
    assert october.share == pytest.approx(60 / 99.7)
    assert attribution_coverage(frame).by_period == ()


def test_attribution_coverage_of_nothing_has_no_share():
    coverage = attribution_coverage(cost_frame({"EffectiveCost": 0.0}).assign(**{TEAM: UNALLOCATED}))
    assert coverage == Coverage(Decimal("0E-6"), Decimal("0E-6"), Decimal("0E-6"), Decimal("0E-6"))
    assert coverage.share is None


def test_tag_coverage_counts_taggable_spend_carrying_a_non_empty_tag():
    frame = cost_frame(
        {"tags": {"Team": "a", "env": "prod"}, "EffectiveCost": 50.0},
        {"tags": {"env": "prod"}, "EffectiveCost": 30.0},
        {"tags": {"team": "", "env": "dev"}, "EffectiveCost": 20.0},
        {"ChargeCategory": "Tax", "EffectiveCost": 1000.0},  # not taggable: left out
    )
    assert tag_coverage(frame, ["team", "env", "cost-center"]) == {"team": 0.5, "env": 1.0, "cost-center": 0.0}
    assert tag_coverage(cost_frame({"ChargeCategory": "Tax"}), ["team"]) == {"team": None}


def test_untagged_cost_drivers_are_the_biggest_series_missing_a_tag():
    config = parse_teams(POOLS)
    frame = allocate_costs(cost_frame(
        {"ResourceId": "big", "SubAccountId": "shared", "tags": {"env": "prod"}, "EffectiveCost": 100.0},
        {"ResourceId": "big", "SubAccountId": "shared", "ChargePeriodStart": "2026-10-02", "EffectiveCost": 50.5},
        {"ResourceId": "mid", "tags": {"team": "beta"}, "EffectiveCost": 80.0},
        {"ResourceId": "small", "tags": {"team": "alpha"}, "EffectiveCost": 1.0},
        {"ResourceId": "fine", "tags": {"team": "alpha", "env": "prod"}, "EffectiveCost": 999.0},
        {"ResourceId": "", "ChargeCategory": "Tax", "EffectiveCost": 5000.0},
    ), config)
    drivers = untagged_cost_drivers(frame, ["team", "env"], n=2)
    assert drivers.columns.tolist() == ["ProviderName", "SubAccountId", "ServiceName", "ResourceId", TEAM, "cost",
                                        "missing_tags"]
    assert drivers[["ResourceId", TEAM, "missing_tags"]].values.tolist() == [
        ["big", UNALLOCATED, "team, env"], ["mid", "beta", "env"]]
    assert micros(drivers["cost"]) == [150_500_000, 80_000_000]
    assert len(untagged_cost_drivers(frame, ["team", "env"])) == 3
    assert untagged_cost_drivers(frame, []).empty


# ---------------------------------------------------------------------------------------------
# The anomaly bench


@pytest.fixture(scope="module")
def bench() -> tuple[pd.DataFrame, dict]:
    raw = pd.read_csv(shared_path("data", "anomaly-bench", "costs.csv.gz"), dtype=str, keep_default_na=False)
    raw["Tags"] = [canonical_tags(json.loads(text)) for text in raw["Tags"]]
    teams_file = yaml.safe_load(shared_path("data", "anomaly-bench", "teams.yml").read_text())
    return conform_daily_frame(raw), teams_file


def test_the_anomaly_bench_allocates_every_row_of_the_teams_accounts_to_its_team(bench):
    frame, teams_file = bench
    config = parse_teams(shared_path("data", "anomaly-bench", "teams.yml").read_text())
    allocated = allocate_costs(frame, config)
    # Expected owner, derived without the allocator: the team tag if it names a team, else the account's team.
    names = {team["name"] for team in teams_file["teams"]}
    account_owner = {rule["sub_account_id"]: team["name"] for team in teams_file["teams"]
                     for rule in team["match"] if "sub_account_id" in rule}
    tag_team = frame["Tags"].map(lambda text: json.loads(text).get("team") if text else None)
    expected = [tag if tag in names else account_owner.get(account, UNALLOCATED)
                for tag, account in zip(tag_team, frame["SubAccountId"], strict=True)]
    assert allocated[TEAM].tolist() == expected
    in_team_accounts = frame["SubAccountId"].isin(account_owner)
    assert not (allocated.loc[in_team_accounts, TEAM] == UNALLOCATED).any()
    # Untagged shared spend (the shared-network and sandbox accounts) is unallocated.
    untagged_shared = ~in_team_accounts & tag_team.isna()
    assert untagged_shared.sum() == 4713
    assert (allocated.loc[untagged_shared, TEAM] == UNALLOCATED).all()
    assert (allocated.loc[untagged_shared, ALLOCATION_RULE] == "").all()
    # Untagged spend in a team's account is allocated by the account rule, and says so.
    s3 = allocated[(frame["SubAccountId"] == "111222330440") & tag_team.isna()]
    assert set(s3[ALLOCATION_RULE]) == {"payments: sub_account_id=111222330440 (teams.yml line 8)"}
    coverage = attribution_coverage(allocated)
    assert coverage.total == Decimal("12186009.488200")
    assert coverage.unallocated == Decimal(int(sum(micros(frame.loc[untagged_shared, "EffectiveCost"])))).scaleb(-6)


def test_allocation_speed_on_a_million_rows(capsys):
    rng = np.random.default_rng(0)
    n_series, n_days, n_teams = 5_000, 200, 40
    series = pd.DataFrame({
        "SubAccountId": [f"acct-{i}" for i in rng.integers(0, 300, n_series)],
        "ServiceName": [f"service-{i}" for i in rng.integers(0, 60, n_series)],
        "ResourceId": [f"res-{i}" for i in range(n_series)],
        "Tags": [canonical_tags({"team": f"team{i % n_teams}", "env": "prod"}) if i % 4 else canonical_tags({"env": "dev"})
                 for i in range(n_series)],
    })
    frame = series.iloc[np.tile(np.arange(n_series), n_days)].reset_index(drop=True).astype(object)
    lines = ['default_channel: "#finops"', "teams:"]
    for i in range(n_teams):
        lines += [f"  - name: team{i}", f'    channel: "#team{i}"', "    match:", f"      - tag: {{team: team{i}}}",
                  f"      - sub_account_id: [acct-{i}, acct-{i + n_teams}]", f'      - resource_id: "res-{i}?*"']
    config = parse_teams("\n".join(lines))
    started = time.perf_counter()
    allocated = allocate_costs(frame, config)
    took = time.perf_counter() - started
    started = time.perf_counter()
    frame.groupby(["SubAccountId", "Tags", "ResourceId"], sort=False).ngroup()
    baseline = time.perf_counter() - started
    with capsys.disabled():
        print(f"\nallocate_costs: {len(frame):,} rows, {n_series:,} series, {n_teams * 3} rules: {took:.2f} s "
              f"(a plain group-by of the same 3 columns: {baseline:.2f} s, ratio {took / baseline:.1f})")
    assert (allocated[TEAM] != UNALLOCATED).sum() > 0.75 * len(frame)


# --- the fingerprint of the rules ---------------------------------------------------------------

FINGERPRINT_TEAMS = """\
default_channel: "#finops"
teams:
  - name: payments
    channel: "#team-payments"
    budget_monthly: 1000
    match:
      - tag: {team: payments}
shared_costs:
  - name: support
    match:
      - service: AWS Support
"""


def test_the_fingerprint_changes_with_the_rules_and_not_with_budgets_or_channels():
    base = allocation_fingerprint(parse_teams(FINGERPRINT_TEAMS, file="teams.yml"))
    assert base == allocation_fingerprint(parse_teams(FINGERPRINT_TEAMS, file="teams.yml"))
    same_rules = FINGERPRINT_TEAMS.replace("budget_monthly: 1000", "budget_monthly: 5000").replace(
        "#team-payments", "#pay")
    assert allocation_fingerprint(parse_teams(same_rules, file="teams.yml")) == base
    for changed in (FINGERPRINT_TEAMS.replace("team: payments}", "team: pay}"),      # a rule's value
                    FINGERPRINT_TEAMS.replace("service: AWS Support", "service: Tax"),  # a pool's rule
                    "\n" + FINGERPRINT_TEAMS):                                          # lines move: labels do
        assert allocation_fingerprint(parse_teams(changed, file="teams.yml")) != base
    assert allocation_fingerprint(parse_teams(FINGERPRINT_TEAMS, file="other.yml")) != base
