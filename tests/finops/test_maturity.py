"""The maturity scorecard against hand-computed figures on a small fixture: every rating threshold,
the number behind it, and the one next step for the weakest dimension, made specific."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal

import pandas as pd
import pytest

from finops.maturity import (
    AlertTiming,
    FindingSummary,
    MaturityInputs,
    VarianceSummary,
    maturity_scorecard,
    rate_attribution,
    rate_implementation,
    rate_routing,
    rate_unit_cost,
    rate_variance,
    unowned_cost_drivers,
    variance_summary,
)
from finops.model import ALLOCATION_RULE, DAY, TEAM
from finops.ownership import DRIVER_COLUMNS, attribution_coverage
from finops.periods import parse_question
from finops.savings import savings_ledger
from finops.units import UnitTrend
from finops.variance import Explainer, explain_variance
from tests.finops.test_variance import ec2_s3_rds_july_august

AS_OF = date(2026, 11, 16)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def coverage(direct: float, shared: float, unallocated: float):
    """Attribution coverage of a one-day frame: the real measure, not a hand-built result."""
    frame = pd.DataFrame({
        DAY: pd.to_datetime(["2026-10-01"] * 3), TEAM: ["payments", "search", "unallocated"],
        ALLOCATION_RULE: ["payments: tag team=payments (teams.yml line 5)",
                          "shared pool support: proportional, matched service=AWS Support (teams.yml line 9)", ""],
        "EffectiveCost": [direct, shared, unallocated],
    })
    return attribution_coverage(frame)


# Untagged spend: search's bucket (owned through its account), a NAT gateway a shared pool splits
# between payments and search, and an instance on an account no rule maps.
DRIVERS = pd.DataFrame({
    "ProviderName": ["AWS"] * 3, "SubAccountId": ["222", "555", "999"],
    "ServiceName": ["Amazon S3", "Amazon VPC", "Amazon EC2"],
    "ResourceId": ["search-index", "nat-shared-use1", "i-0legacy"], TEAM: ["search", "payments, search", "unallocated"],
    "cost": [930.0, 200.0, 31.0], "missing_tags": ["team, env", "team", "team"],
})[list(DRIVER_COLUMNS)]
# Spend no team owns after the pools: the legacy instance, and a tagged bucket on an unmapped account.
UNOWNED = pd.DataFrame({"ProviderName": ["AWS", "AWS"], "SubAccountId": ["999", "777"],
                        "ServiceName": ["Amazon EC2", "Amazon S3"], "ResourceId": ["i-0legacy", ""],
                        "cost": [31.0, 20.0]})

TIMINGS = (
    # 10 h after the cost day ended; answered 1.5 h after the post.
    AlertTiming(41, "payments", date(2026, 11, 1), at(2, 9), at(2, 10), at(2, 11, 30), True, 1200.0, "EC2 in 111"),
    # 30 h; nobody answered yet.
    AlertTiming(42, "search", date(2026, 11, 3), at(5, 5), at(5, 6), None, True, 300.0, "S3 in 222"),
    # 72 h, and in the default channel: no rule owns its account.
    AlertTiming(43, "unallocated", date(2026, 11, 5), at(8, 23), at(9, 0), None, False, 500.0, "EC2 in 999"),
    # Raised but never posted: not an alert.
    AlertTiming(44, "payments", date(2026, 11, 10), at(11, 9), None, None, True, 80.0),
)

FINDINGS = (
    FindingSummary(1, "Rightsize RDS", "payments", "verified", 1000.0, date(2026, 1, 10), date(2026, 2, 1),
                   date(2026, 3, 1), 900.0),
    FindingSummary(2, "Delete old snapshots", "search", "in_progress", 600.0, date(2026, 9, 1)),
    FindingSummary(3, "Reserved instances", "web", "rejected", 300.0, date(2026, 8, 1)),
    FindingSummary(4, "Spot for batch", "ml", "implemented", 200.0, date(2026, 6, 1), date(2026, 10, 1)),
    FindingSummary(5, "Idle load balancers", "web", "identified", 50.0, date(2026, 10, 20)),
    FindingSummary(9, "Ancient", "web", "identified", 9999.0, date(2024, 1, 1)),  # outside the four quarters
)

VARIANCE = VarianceSummary("Q3 2026", "Q2 2026", Decimal("12000.00"), 0.62, Decimal("20000.00"),
                           (("payments / Amazon EC2", Decimal("5000.00"), "no usage quantities to split usage from rate"),
                            ("12 other lines", Decimal("2600.00"), "spread over lines too small to list")))

# 80 % of $20,000 explained: $4,000 of it without a cause.
RUN_VARIANCE = dataclasses.replace(VARIANCE, explained_share=0.8, unexplained=(
    ("payments / Amazon EC2", Decimal("3000.00"), "no usage quantities to split usage from rate"),
    ("12 other lines", Decimal("1000.00"), "spread over lines too small to list")))

TRENDS = (UnitTrend("payments", "orders", "2026-10", 0.41, 0.43, -4.651, 3,
                    (("2026-08", 0.45), ("2026-09", 0.43), ("2026-10", 0.41))),)


def inputs(**changes) -> MaturityInputs:
    base = MaturityInputs(
        as_of=AS_OF, attribution_period="2026-10", coverage=coverage(850.0, 60.0, 90.0),
        mandatory_tags=("team", "env"), tag_coverage={"team": 0.7, "env": 0.42}, untagged_drivers=DRIVERS,
        alert_timings=TIMINGS, findings=FINDINGS, variance=VARIANCE, unit_trends=TRENDS,
        team_spend={"payments": 2046.0, "search": 1023.0, "web": 400.0, "unallocated": 31.0},
        unit_metrics={"payments": ("orders",), "search": ("queries",)}, unowned_drivers=UNOWNED,
    )
    return dataclasses.replace(base, **changes)


def test_attribution_share_and_its_thresholds() -> None:
    line = rate_attribution(inputs())
    # (850 + 60) / 1000 = 91 %: above 90 % with a shared pool split: Run.
    assert (line.rating, line.value, line.at_stake) == ("Run", 0.91, 90.0)
    assert line.figure == ("91.0 % of 2026-10's $1,000.00 allocated ($850.00 direct, $60.00 shared); "
                           "$90.00 unallocated")
    # Above 90 % but nothing shared and something unallocated: not "accurate shared cost allocation".
    assert rate_attribution(inputs(coverage=coverage(910.0, 0.0, 90.0))).rating == "Walk"
    assert rate_attribution(inputs(coverage=coverage(1000.0, 0.0, 0.0))).rating == "Run"
    assert rate_attribution(inputs(coverage=coverage(850.0, 50.0, 100.0))).rating == "Walk"  # exactly 90 %
    assert rate_attribution(inputs(coverage=coverage(650.0, 50.0, 300.0))).rating == "Walk"  # exactly 70 %
    crawl = rate_attribution(inputs(coverage=coverage(600.0, 0.0, 400.0)))
    assert (crawl.rating, crawl.value) == ("Crawl", 0.6)
    assert crawl.next_step == (
        "Fix tagging first. Define 4 mandatory tags (teams.yml has 2: team, env) and enforce them in account policy. "
        "Tag the biggest spend no team owns: Amazon EC2 in 999 (i-0legacy) $31.00, missing team "
        "(tag coverage: team 70.0 %, env 42.0 %). "
        # S3 in 777 carries no resource: nothing to tag, so not "tag it".
        "Spend with no resource to tag goes to a `shared_costs` pool or an account rule in teams.yml: "
        "Amazon S3 in 777 $20.00. $400.00 of 2026-10 has no owner today.")
    unshared = rate_attribution(inputs(coverage=coverage(910.0, 0.0, 90.0)))
    assert unshared.next_step == (
        "Allocate shared costs: $90.00 of 2026-10 has no owner and no shared pool; add a `shared_costs` pool in "
        "teams.yml (proportional, even or fixed) for: Amazon EC2 in 999 (i-0legacy) $31.00, missing team; "
        "Amazon S3 in 777 $20.00.")


def test_a_share_just_under_a_threshold_never_reads_as_the_threshold() -> None:
    # 69.996 % allocated is Crawl; rounded to "70.0 %" (0.7 in --json) it would read as Walk's mark.
    crawl = rate_attribution(inputs(coverage=coverage(69_996.0, 0.0, 30_004.0)))
    assert (crawl.rating, crawl.value) == ("Crawl", 0.69996)
    assert crawl.figure.startswith("69.996 % of 2026-10's $100,000.00 allocated")
    # Just above 90 % with a shared pool is Run: "90.0 %" would not be above 90 %.
    run = rate_attribution(inputs(coverage=coverage(89_000.0, 1_000.4, 9_999.6)))
    assert (run.rating, run.value) == ("Run", 0.900004)
    assert run.figure.startswith("90.0004 % of 2026-10's $100,000.00 allocated")
    # 80 % in float noise (0.7999999999999999) is 80 %: Run, "80.0 %", not Walk beside "80.0000000000 %".
    noisy = rate_variance(inputs(variance=dataclasses.replace(VARIANCE, explained_share=0.7999999999999999)))
    assert (noisy.rating, noisy.value, noisy.figure[:6]) == ("Run", 0.8, "80.0 %")
    # Away from a threshold the usual one decimal: 91.23456 % reads "91.2 %".
    assert rate_attribution(inputs(coverage=coverage(91_234.56, 0.0, 8_765.44))).figure.startswith("91.2 % of")
    # Variance Run starts at 80 % (inclusive): 79.99 % is Walk and says so.
    walk = rate_variance(inputs(variance=dataclasses.replace(VARIANCE, explained_share=0.7999)))
    assert (walk.rating, walk.value) == ("Walk", 0.7999)
    assert walk.figure.startswith("79.99 % of the gross movement")
    # Implementation: 29.998 % of identified dollars implemented is Crawl, not "30.0 %".
    findings = (FindingSummary(1, "Rightsize RDS", "payments", "implemented", 299.98, date(2026, 10, 1),
                               date(2026, 10, 5)),
                FindingSummary(2, "Delete old snapshots", "search", "identified", 700.02, date(2026, 10, 1)))
    impl = rate_implementation(inputs(findings=findings))
    assert (impl.rating, impl.value) == ("Crawl", 0.29998)
    assert impl.figure.startswith("29.998 % of $1,000.00/month identified in 2026Q1\u20132026Q4 is implemented")


def test_the_attribution_parts_add_up_to_the_total_in_the_cents_of_costbot_coverage() -> None:
    # $100.006 direct, $50.006 shared, $10.006 unallocated: $160.02 in all. Rounded alone, the parts
    # read $100.01 + $50.01 + $10.01 = $160.03, and --json held $160.018 beside a $160.02 figure.
    # Split by largest remainder, as `costbot coverage` splits them (coverage_parts).
    line = rate_attribution(inputs(coverage=coverage(100.006, 50.006, 10.006)))
    assert line.figure == ("93.7 % of 2026-10's $160.02 allocated ($100.01 direct, $50.01 shared); "
                           "$10.00 unallocated")
    assert (line.detail["total"], line.detail["shared"], line.detail["unallocated"]) == (160.02, 50.01, 10.0)
    assert line.at_stake == 10.0
    assert line.to_json()["at_stake"] == 10.0


def test_the_attribution_step_follows_the_rating_and_names_spend_no_team_owns() -> None:
    # Run with $90 still unowned: the step is that $90 (what, and how to own it), not "Keep it" nor
    # "fix tagging first".
    assert rate_attribution(inputs()).next_step == (
        "Own the rest: $90.00 of 2026-10 still has no owner; the biggest: Amazon EC2 in 999 (i-0legacy) $31.00, "
        "missing team; Amazon S3 in 777 $20.00. Give it one with a match rule in teams.yml (a tag or an account), "
        "or a `shared_costs` pool for spend no resource carries (tax, support). The other 91.0 % has an owner, "
        "shared costs split.")
    # Nothing unowned: then, and only then, "Keep it".
    owned = rate_attribution(inputs(coverage=coverage(940.0, 60.0, 0.0), unowned_drivers=UNOWNED.iloc[0:0]))
    assert (owned.rating, owned.at_stake, owned.next_step) == (
        "Run", 0.0, "Keep it: 100.0 % of 2026-10 has an owner, shared costs split.")
    walk = rate_attribution(inputs(coverage=coverage(800.0, 50.0, 150.0)))
    assert (walk.rating, walk.next_step) == ("Walk", (
        "Close the attribution gap: $150.00 of 2026-10 (15.0 %) has no owner. Give its biggest parts one with a "
        "match rule in teams.yml (a tag or an account) or a `shared_costs` pool: Amazon EC2 in 999 (i-0legacy) "
        "$31.00, missing team; Amazon S3 in 777 $20.00. Tag coverage: team 70.0 %, env 42.0 %."))
    # No mandatory tags: the unowned spend is still named.
    untagged = pd.DataFrame({c: [] for c in DRIVER_COLUMNS})
    bare = rate_attribution(inputs(coverage=coverage(600.0, 0.0, 400.0), mandatory_tags=(), tag_coverage={},
                                   untagged_drivers=untagged))
    assert bare.next_step == (
        "Fix tagging first. Define 4 mandatory tags (teams.yml has 0) and enforce them in account policy. Tag the "
        "biggest spend no team owns: Amazon EC2 in 999 (i-0legacy) $31.00. Spend with no resource to tag goes to a "
        "`shared_costs` pool or an account rule in teams.yml: Amazon S3 in 777 $20.00. $400.00 of 2026-10 has no owner "
        "today.")
    # The pooled NAT gateway has owners: no step names it.
    for share in ((850.0, 60.0, 90.0), (800.0, 50.0, 150.0), (910.0, 0.0, 90.0), (600.0, 0.0, 400.0)):
        assert "nat-shared-use1" not in rate_attribution(inputs(coverage=coverage(*share))).next_step


def test_unowned_cost_drivers_leave_out_owned_and_pooled_spend() -> None:
    allocated = pd.DataFrame({
        "ProviderName": ["AWS"] * 5, "SubAccountId": ["999", "999", "555", "111", "777"],
        "ServiceName": ["Amazon EC2", "Amazon EC2", "Amazon VPC", "Amazon EC2", "Amazon S3"],
        "ResourceId": ["i-0legacy", "i-0legacy", "nat-shared-use1", "i-pay", ""],
        TEAM: ["unallocated", "unallocated", "unallocated", "payments", "unallocated"],
        ALLOCATION_RULE: ["", "", "shared pool network (not split): resource_id=nat-* (teams.yml line 30)",
                          "payments: sub_account_id=111 (teams.yml line 8)", ""],
        "EffectiveCost": [10.1, 20.9, 500.0, 900.0, 20.0],
    })
    drivers = unowned_cost_drivers(allocated)
    assert drivers.values.tolist() == [["AWS", "999", "Amazon EC2", "i-0legacy", 31.0],
                                       ["AWS", "777", "Amazon S3", "", 20.0]]
    assert unowned_cost_drivers(allocated, n=1)["ResourceId"].tolist() == ["i-0legacy"]
    assert unowned_cost_drivers(allocated[allocated[TEAM] == "payments"]).empty


def test_routing_time_from_cost_to_owner_alert() -> None:
    line = rate_routing(inputs())
    # Posted alerts: 10 h, 30 h, 72 h -> median 30 h (within 72 h), but only 2 of 3 in the owner's channel.
    assert (line.rating, line.value) == ("Walk", 30.0)
    # Only #41 was answered: the median response time is of 1 response, and says so.
    assert line.detail == {"owner_share": 0.6667, "alerts": 3, "median_response_hours": 1.5, "responses": 1}
    assert line.figure == ("median 30 h from cost to alert over 3 alerts; 67 % posted in the owning team's channel; "
                           "first human response after a median 2 h (from 1 response)")
    answered = tuple(dataclasses.replace(t, first_response_at=t.posted_at.replace(hour=t.posted_at.hour + 4))
                     if t.anomaly_id == 42 else t for t in TIMINGS)
    both = rate_routing(inputs(alert_timings=answered))  # 1.5 h and 4 h: a median of 2.75 h
    assert (both.detail["median_response_hours"], both.detail["responses"]) == (2.75, 2)
    assert both.figure.endswith("first human response after a median 3 h (from 2 responses)")
    unanswered = tuple(dataclasses.replace(t, first_response_at=None) for t in TIMINGS)
    assert rate_routing(inputs(alert_timings=unanswered)).figure.endswith("no human response recorded yet")
    # $500 of misrouted impact in the 90-day window: $169.10 a month.
    assert line.at_stake == pytest.approx(500.0 * 30.4375 / 90)
    assert line.next_step == ("Route alerts to owners: 1 of 3 alerts ($500.00) went to the default channel because "
                              "no rule owns their spend: #43 EC2 in 999 $500.00. Add match rules in teams.yml.")
    routed = tuple(dataclasses.replace(t, routed_to_owner=True) for t in TIMINGS)
    assert rate_routing(inputs(alert_timings=routed)).rating == "Run"
    late = tuple(dataclasses.replace(t, posted_at=t.posted_at.replace(day=t.posted_at.day + 8) if t.posted_at else None,
                                     routed_to_owner=True) for t in TIMINGS[:3])
    assert rate_routing(inputs(alert_timings=late)).rating == "Crawl"  # median 30 h + 8 days
    assert rate_routing(inputs(alert_timings=())).rating == "Crawl"


def test_implementation_rate_in_dollars_and_count_with_verification() -> None:
    line = rate_implementation(inputs())
    # Four quarters, rejected left out: $1,000 + $600 + $200 + $50 = $1,850 identified;
    # implemented or later: $1,000 (verified) + $200 = $1,200 -> 64.9 %; 2 of 4 findings.
    assert (line.rating, line.value) == ("Walk", 0.6486)
    assert line.detail == {"count_rate": 0.5, "identified_since": "2026-01-01", "identified_monthly": 1850.0,
                           "rejected": 1, "implemented_monthly": 1200.0,
                           "not_realized": 0, "not_realized_monthly": 0.0, "verified": 1, "realized_monthly": 900.0}
    assert line.figure == ("64.9 % of $1,850.00/month identified in 2026Q1\u20132026Q4 (1 rejected finding, "
                           "$300.00/month, left out) is implemented ($1,200.00/month; 2 of 4 findings, "
                           "50.0 %); 1 verified, $900.00/month realized")
    assert line.at_stake == 650.0
    assert line.next_step == (
        "Fix the implementation rate: follow the identified savings through. Biggest open findings: "
        "#2 search \u201cDelete old snapshots\u201d $600.00/month (in progress since 01 Sep); "
        "#5 web \u201cIdle load balancers\u201d $50.00/month (identified since 20 Oct). $650.00/month is still waiting.")
    done = tuple(dataclasses.replace(f, state="implemented", implemented_on=date(2026, 11, 1))
                 if f.id in (2, 5) else f for f in FINDINGS)
    assert rate_implementation(inputs(findings=done)).rating == "Run"
    mostly = tuple(dataclasses.replace(f, state="implemented", implemented_on=date(2026, 11, 1)) if f.id == 2 else f
                   for f in FINDINGS)
    run = rate_implementation(inputs(findings=mostly))
    # Run, but $50 a month is still open: the step leads with it, not with "Keep it".
    assert (run.rating, run.at_stake, run.next_step) == ("Run", 50.0, (
        "Capture the $50.00/month left. Next in line: #5 web \u201cIdle load balancers\u201d $50.00/month "
        "(identified since 20 Oct). 97.3 % of identified savings implemented, 1 verified."))
    unverified = tuple(dataclasses.replace(f, state="implemented", verified_on=None, realized_monthly=None,
                                           implemented_on=date(2026, 11, 1)) if f.id != 3 else f for f in FINDINGS)
    assert rate_implementation(inputs(findings=unverified)).rating == "Walk"  # above 70 % but nothing verified
    assert rate_implementation(inputs(findings=FINDINGS[1:2])).rating == "Crawl"  # 0 %
    assert rate_implementation(inputs(findings=())).value is None


# The demo's data-platform finding: implemented on 22 Oct, $30.53 a month measured against $3,800 estimated.
SNAPSHOTS = FindingSummary(6, "Delete idle EBS snapshots", "data-platform", "not_realized", 3800.0, date(2026, 10, 1),
                           date(2026, 10, 22), None, 30.53)


def test_a_finding_verification_found_not_realized_is_identified_but_not_implemented() -> None:
    line = rate_implementation(inputs(findings=(*FINDINGS, SNAPSHOTS)))
    # Identified (rejected left out): $1,000 + $600 + $200 + $50 + $3,800 = $5,650; implemented: $1,000
    # (verified) + $200 = $1,200 -> 21.2 %, Crawl; 2 of 5 findings. The $3,800 stays identified, not captured.
    assert (line.rating, line.value, line.at_stake) == ("Crawl", 0.2124, 4450.0)
    assert line.figure == ("21.2 % of $5,650.00/month identified in 2026Q1\u20132026Q4 (1 rejected finding, "
                           "$300.00/month, left out) is implemented ($1,200.00/month; 2 of 5 findings, "
                           "40.0 %); 1 not realized, $3,800.00/month estimated; 1 verified, $900.00/month realized")
    assert line.detail == {"count_rate": 0.4, "identified_since": "2026-01-01", "identified_monthly": 5650.0,
                           "rejected": 1, "implemented_monthly": 1200.0,
                           "not_realized": 1, "not_realized_monthly": 3800.0, "verified": 1,
                           "realized_monthly": 900.0}
    # The not-realized finding is the bigger gap: named first.
    assert line.next_step == (
        "Fix the implementation rate: follow the identified savings through. Verification found 1 finding not "
        "realized, re-open or re-scope it: #6 data-platform \u201cDelete idle EBS snapshots\u201d $3,800.00/month "
        "estimated, $30.53/month measured. Biggest open findings: #2 search \u201cDelete old snapshots\u201d "
        "$600.00/month (in progress since 01 Sep); #5 web \u201cIdle load balancers\u201d $50.00/month (identified "
        "since 20 Oct). $4,450.00/month is still waiting.")
    # The scorecard and the savings ledger agree on the rate.
    ledger = savings_ledger([f.ledger_record() for f in (*FINDINGS[:5], SNAPSHOTS)], by=()).iloc[0]
    assert (round(ledger["implementation_rate_usd"], 4), ledger["implementation_rate_count"]) == (0.2124, 0.4)


def test_with_nothing_open_a_finding_not_realized_is_still_the_step() -> None:
    # The verified $1,000 and the not realized $3,800: nothing open, yet $3,800 a month not captured.
    line = rate_implementation(inputs(findings=(FINDINGS[0], SNAPSHOTS)))
    assert (line.rating, line.value, line.at_stake) == ("Crawl", 0.2083, 3800.0)
    assert line.next_step == (
        "Fix the implementation rate: follow the identified savings through. Verification found 1 finding not "
        "realized, re-open or re-scope it: #6 data-platform \u201cDelete idle EBS snapshots\u201d $3,800.00/month "
        "estimated, $30.53/month measured. $3,800.00/month is still waiting.")
    # Above 70 % (Run) with a smaller one not realized: named, and the step does not start with "Keep it".
    small = dataclasses.replace(SNAPSHOTS, estimate_monthly=200.0)
    run = rate_implementation(inputs(findings=(FINDINGS[0], small)))
    assert (run.rating, run.value) == ("Run", 0.8333)
    assert run.next_step == (
        "Capture the $200.00/month left. Verification found 1 finding not realized, re-open or re-scope it: "
        "#6 data-platform \u201cDelete idle EBS snapshots\u201d $200.00/month estimated, $30.53/month measured. "
        "83.3 % of identified savings implemented, 1 verified.")


def test_variance_share_explained() -> None:
    line = rate_variance(inputs())
    # $7,600 of the quarter's movement has no named cause: $2,533.33 a month.
    assert (line.rating, line.value, line.at_stake) == ("Walk", 0.62, pytest.approx(7600.0 / 3))
    assert line.detail["unexplained"] == 7600.0
    # The share is of the gross movement ($20,000), not of the net change ($12,000): both are printed.
    assert line.figure == ("62.0 % of the gross movement ($20,000.00; net +$12,000.00) of Q3 2026 against Q2 2026 "
                           "explained by named causes (usage, rate, mix, day count, new, gone, anomalies, findings)")
    assert line.detail["gross"] == 20000.0
    assert line.next_step.startswith("Explain the rest ($7,600.00 of the quarter): payments / Amazon EC2 $5,000.00 "
                                     "(no usage quantities to split usage from rate); 12 other lines $2,600.00 "
                                     "(spread over lines too small")
    # Run, but $4,000 of the quarter still has no cause: the step names it rather than "Keep it".
    run = rate_variance(inputs(variance=RUN_VARIANCE))
    assert (run.rating, run.at_stake) == ("Run", pytest.approx(4000.0 / 3))
    assert run.next_step == (
        "Name the rest: what `/cost why last quarter` cannot name yet ($4,000.00 of the quarter) is payments / "
        "Amazon EC2 $3,000.00 (no usage quantities to split usage from rate); 12 other lines $1,000.00 (spread over "
        "lines too small to list). Ingest usage quantities for these (FOCUS ConsumedQuantity/PricingQuantity); the "
        "rest of the change is explained with evidence.")
    everything = rate_variance(inputs(variance=dataclasses.replace(VARIANCE, explained_share=1.0, unexplained=())))
    assert (everything.rating, everything.at_stake, everything.next_step) == (
        "Run", 0.0, "Keep it: `/cost why last quarter` explains the change with evidence.")
    assert rate_variance(inputs(variance=dataclasses.replace(VARIANCE, explained_share=0.49))).rating == "Crawl"
    assert rate_variance(inputs(variance=None)).rating == "Crawl"


def test_the_lines_without_a_cause_add_up_to_the_unexplained_part_to_the_cent() -> None:
    # The EC2 line rises $620 (all usage); S3 +$310 and RDS -$155 fold into "other" (top_n=1): $155
    # not split; gross movement $775. An S3 spike of $100 covers $100 of the other line's rise.
    costs = ec2_s3_rds_july_august()
    spike = Explainer(kind="anomaly", id=9, label="S3 spike", state="closed", amount=100.0, start=date(2026, 8, 1),
                      end=date(2026, 8, 31), dimensions={"team": "payments", "service": "Amazon S3"})
    answer = explain_variance(costs, parse_question("2026-08", today=date(2026, 11, 5)), explainers=[spike], top_n=1)
    assert answer.explained_share == 0.929  # 1 - 55 / 775, rounded to 4 places
    summary = variance_summary(answer)
    # $55.00, not the other line's $155.00 (the spike covers $100 of it), nor $775 x (1 - 0.929) = $55.03.
    assert summary.unexplained == (("payments / 2 other services", Decimal("55.00"),
                                    "spread over lines too small to list"),)
    assert (summary.gross, summary.unexplained_total) == (Decimal("775.00"), Decimal("55.00"))
    line = rate_variance(inputs(variance=summary))
    assert (line.detail["gross"], line.detail["unexplained"]) == (775.0, 55.0)
    assert line.detail["unexplained_lines"] == [{"label": "payments / 2 other services", "amount": 55.0,
                                                 "why": "spread over lines too small to list"}]
    assert line.figure.startswith("92.9 % of the gross movement ($775.00; net +$775.00) of August 2026 against "
                                  "July 2026 explained")
    assert "($55.00 of the quarter) is payments / 2 other services $55.00 (spread" in line.next_step


def test_lines_past_the_named_ones_are_summed_so_the_step_adds_up() -> None:
    four = dataclasses.replace(VARIANCE, unexplained=(
        ("payments / Amazon EC2", Decimal("5000.00"), "no usage quantities to split usage from rate"),
        ("search / Amazon S3", Decimal("2000.00"), "no usage quantities to split usage from rate"),
        ("ml / Amazon SageMaker", Decimal("597.30"), "no usage quantities to split usage from rate"),
        ("12 other lines", Decimal("2.70"), "spread over lines too small to list")))
    line = rate_variance(inputs(variance=four))
    assert line.detail["unexplained"] == 7600.0
    assert line.next_step.startswith(
        "Explain the rest ($7,600.00 of the quarter): payments / Amazon EC2 $5,000.00 (no usage quantities to split "
        "usage from rate); search / Amazon S3 $2,000.00 (no usage quantities to split usage from rate); "
        "ml / Amazon SageMaker $597.30 (no usage quantities to split usage from rate); and $2.70 elsewhere "
        "(1 more line). ")


def test_unit_cost_with_a_trend() -> None:
    line = rate_unit_cost(inputs())
    assert (line.rating, line.value) == ("Run", 0.41)
    assert line.figure == "payments: $0.4100 per order in 2026-10, -4.7 % vs the month before (3 months of history)"
    assert line.next_step == (
        "Keep it: unit costs are measured monthly with a trend; set an improvement target. Extend them: record "
        "monthly values (`costbot units ingest FILE`, the units endpoint or `/cost unit record`) for search's "
        "queries ($1,023.00 in 2026-10); declare `unit_metrics` in teams.yml for web ($400.00 in 2026-10).")
    short = (dataclasses.replace(TRENDS[0], periods=2, history=TRENDS[0].history[1:]),)
    walk = rate_unit_cost(inputs(unit_trends=short))
    assert walk.rating == "Walk"
    assert walk.next_step.startswith("Build unit economics: record monthly values") and walk.next_step.endswith(
        "keep recording them monthly: a trend needs 3 months, then set an improvement target.")
    assert rate_unit_cost(inputs(unit_trends=(), team_spend={})).next_step == (
        "Build unit economics: declare `unit_metrics` for your teams in teams.yml and record monthly values "
        "(`costbot units ingest FILE`), then set an improvement target.")
    stale = (dataclasses.replace(TRENDS[0], period="2026-08"),)
    assert rate_unit_cost(inputs(unit_trends=stale)).rating == "Crawl"  # August ended more than 62 days ago


def test_every_unit_cost_behind_the_line_is_named_not_counted() -> None:
    # "; 1 more unit cost" left a finance lead asking which, and at what: each is named with its
    # figure, up to three, and the rest counted.
    web = UnitTrend("web", "active_users", "2026-10", 0.0345, 0.034, 1.54, 3,
                    (("2026-08", 0.0364), ("2026-09", 0.034), ("2026-10", 0.0345)))
    search = UnitTrend("search", "queries", "2026-10", 0.002, None, None, 1, (("2026-10", 0.002),))
    ml = UnitTrend("ml", "training_runs", "2026-09", 12.5, 12.0, 4.17, 2, (("2026-08", 12.0), ("2026-09", 12.5)))
    line = rate_unit_cost(inputs(unit_trends=(*TRENDS, web)))
    assert line.figure == ("payments: $0.4100 per order in 2026-10, -4.7 % vs the month before (3 months of "
                           "history); web: $0.0345 per active user in 2026-10, +1.5 % vs the month before (3 months "
                           "of history)")
    line = rate_unit_cost(inputs(unit_trends=(*TRENDS, web, search, ml)))
    assert line.figure == ("payments: $0.4100 per order in 2026-10, -4.7 % vs the month before (3 months of "
                           "history); web: $0.0345 per active user in 2026-10, +1.5 % vs the month before (3 months "
                           "of history); ml: $12.50 per training run in 2026-09, +4.2 % vs the month before "
                           "(2 months of history); and 1 more unit cost")


def all_run(**changes) -> MaturityInputs:
    """Every line Run: alerts routed to owners, findings implemented, 80 % of the movement explained."""
    routed = tuple(dataclasses.replace(t, routed_to_owner=True) for t in TIMINGS)
    done = tuple(dataclasses.replace(f, state="implemented", implemented_on=date(2026, 11, 1))
                 if f.state in ("in_progress", "identified") else f for f in FINDINGS)
    return inputs(**{"alert_timings": routed, "findings": done, "variance": RUN_VARIANCE, **changes})


def test_when_every_line_is_run_the_next_step_is_the_one_with_dollars_left_and_not_keep_it() -> None:
    # The demo's case: attribution Run with $90 a month no team owns (there, $11,444.40 of tax),
    # variance Run with $4,000 of the quarter ($1,333.33 a month) without a cause.
    card = maturity_scorecard(all_run())
    assert [line.rating for line in card.lines] == ["Run"] * 5
    assert [line.at_stake for line in card.lines] == [90.0, 0.0, 0.0, pytest.approx(4000 / 3), None]
    assert card.weakest == 4 and card.next_step.startswith("Name the rest: what `/cost why last quarter` cannot "
                                                           "name yet ($4,000.00 of the quarter) is payments / Amazon "
                                                           "EC2 $3,000.00")
    # With the movement all explained, the unowned $90 is the step, and it names the spend.
    explained = dataclasses.replace(RUN_VARIANCE, explained_share=1.0, unexplained=())
    card = maturity_scorecard(all_run(variance=explained))
    assert card.weakest == 1 and card.next_step.startswith(
        "Own the rest: $90.00 of 2026-10 still has no owner; the biggest: Amazon EC2 in 999 (i-0legacy) $31.00")
    # Only when no line has dollars at stake is the step "Keep it".
    card = maturity_scorecard(all_run(variance=explained, coverage=coverage(940.0, 60.0, 0.0),
                                      unowned_drivers=UNOWNED.iloc[0:0]))
    assert (card.weakest, card.next_step) == (1, "Keep it: 100.0 % of 2026-10 has an owner, shared costs split.")
    # No line says "Keep it" while it has dollars at stake.
    for variant in (all_run(), all_run(variance=explained), inputs()):
        for line in maturity_scorecard(variant).lines:
            assert not (line.next_step.startswith("Keep it") and line.at_stake), (line.dimension, line.next_step)


def test_the_next_step_is_for_the_weakest_dimension_with_the_most_at_stake() -> None:
    card = maturity_scorecard(inputs())
    assert [line.rating for line in card.lines] == ["Run", "Walk", "Walk", "Walk", "Run"]
    # Three Walks, in dollars a month: variance leaves $2,533.33 unexplained ($7,600 over the quarter),
    # implementation $650 waiting, routing $169.10 misrouted ($500 over 90 days).
    assert card.weakest == 4 and card.overall == "Walk"
    assert card.next_step == card.line(4).next_step
    # $1,140 unexplained over the quarter is $380 a month: less at stake than $650 a month of findings.
    smaller = dataclasses.replace(VARIANCE, gross=Decimal("3000.00"), unexplained=(
        ("payments / Amazon EC2", Decimal("750.00"), "no usage quantities to split usage from rate"),
        ("12 other lines", Decimal("390.00"), "spread over lines too small to list")))
    assert maturity_scorecard(inputs(variance=smaller)).weakest == 3
    crawl = maturity_scorecard(inputs(coverage=coverage(600.0, 0.0, 400.0)))
    assert (crawl.weakest, crawl.overall) == (1, "Crawl")
    document = card.to_json()
    assert list(document) == ["as_of", "overall", "weakest", "next_step", "lines"]
    assert [(line["question"], line["dimension"], line["rating"]) for line in document["lines"]] == [
        (1, "attribution", "Run"), (2, "anomaly routing", "Walk"), (3, "implementation", "Walk"),
        (4, "variance", "Walk"), (5, "unit cost", "Run")]


def test_routing_figures_just_past_a_threshold_keep_the_decimals_that_put_them_on_their_side() -> None:
    # 43 of 48 alerts in the owner's channel (89.58 %), all 10 h after the cost day: Walk, short of
    # Run's 90 %; it must not read "90 %".
    owned = tuple(AlertTiming(i, "payments", date(2026, 11, 1), at(2, 9), at(2, 10), None, i < 43, 10.0, "EC2")
                  for i in range(48))
    line = rate_routing(inputs(alert_timings=owned))
    assert line.rating == "Walk"
    assert "; 89.6 % posted in the owning team's channel;" in line.figure
    assert line.detail["owner_share"] == 0.8958
    # 9 of 10 is Run's 90 % exactly, and reads so.
    nine = tuple(AlertTiming(i, "payments", date(2026, 11, 1), at(2, 9), at(2, 10), None, i < 9, 10.0, "EC2")
                 for i in range(10))
    assert rate_routing(inputs(alert_timings=nine)).rating == "Run"
    assert "; 90 % posted in" in rate_routing(inputs(alert_timings=nine)).figure
    # A median of 72 h 3 min: Walk (Run is within 72 h), not "3.0 days" beside it.
    late = (AlertTiming(1, "payments", date(2026, 11, 1), at(5, 0), at(5, 0, 3), None, True, 10.0, "EC2"),)
    slow = rate_routing(inputs(alert_timings=late))
    assert (slow.rating, slow.value) == ("Walk", 72.05)
    assert slow.figure.startswith("median 3.002 days from cost to alert over 1 alert;")
    assert slow.next_step.startswith("Alert sooner: the median alert comes 3.002 days after the cost day;")
    # 168 h 30 min is past a week: Crawl, not "7.0 days".
    week = (AlertTiming(1, "payments", date(2026, 11, 1), at(9, 0), at(9, 0, 30), None, True, 10.0, "EC2"),)
    crawl = rate_routing(inputs(alert_timings=week))
    assert crawl.rating == "Crawl"
    assert crawl.figure.startswith("median 7.02 days from cost to alert")
    # Exactly 72 h is Run's side and keeps its one decimal.
    on_mark = (AlertTiming(1, "payments", date(2026, 11, 1), at(5, 0), at(5, 0), None, True, 10.0, "EC2"),)
    assert rate_routing(inputs(alert_timings=on_mark)).figure.startswith("median 3.0 days from cost to alert")


def test_a_team_alert_in_the_default_channel_asks_for_a_channel_not_a_match_rule() -> None:
    # #45 belongs to platform, whose channel is the default one: a rule owns its spend, and
    # another match rule would not move its alert; a channel of its own does.
    platform = AlertTiming(45, "platform", date(2026, 11, 6), at(7, 5), at(7, 6), None, False, 300.0, "RDS in 333")
    line = rate_routing(inputs(alert_timings=(*TIMINGS, platform)))
    assert line.rating == "Walk"
    assert line.next_step == (
        "Route alerts to owners: 2 of 4 alerts ($800.00) went to the default channel. No rule owns the spend of "
        "1 ($500.00): #43 EC2 in 999 $500.00; add match rules in teams.yml. 1 ($300.00): platform owns its spend "
        "but its alerts post there: #45 RDS in 333 $300.00. Give it a channel of its own in teams.yml (`channel:`).")
    only_teams = tuple(dataclasses.replace(t, routed_to_owner=True) for t in TIMINGS[:2])
    web = dataclasses.replace(platform, anomaly_id=46, team="web", impact=120.0, scope="App Service in 5f1")
    assert rate_routing(inputs(alert_timings=(*only_teams, platform, web))).next_step == (
        "Route alerts to owners: 2 of 4 alerts ($420.00) went to the default channel: platform, web own their "
        "spend but their alerts post there: #45 RDS in 333 $300.00; #46 App Service in 5f1 $120.00. Give each a "
        "channel of its own in teams.yml (`channel:`).")


def test_a_misrouted_drop_counts_at_stake_by_its_size_not_against_a_rise() -> None:
    # Two alerts in the default channel: a $1,000 rise and a $1,000 drop (alert_on_decrease).
    # Netted, they read "$0.00" and put nothing at stake; each is an alert nobody owned.
    rise = AlertTiming(50, "unallocated", date(2026, 11, 1), at(2, 9), at(2, 10), None, False, 1000.0, "EC2 in 999")
    drop = AlertTiming(51, "unallocated", date(2026, 11, 3), at(4, 9), at(4, 10), None, False, -1000.0, "RDS in 999")
    line = rate_routing(inputs(alert_timings=(rise, drop)))
    assert line.at_stake == pytest.approx(2000.0 * 30.4375 / 90)  # $676.39 a month
    assert line.to_json()["at_stake"] == 676.39
    assert line.next_step == ("Route alerts to owners: 2 of 2 alerts ($2,000.00) went to the default channel because "
                              "no rule owns their spend: #50 EC2 in 999 $1,000.00; #51 RDS in 999 -$1,000.00. "
                              "Add match rules in teams.yml.")


def test_implementation_reads_whole_quarters_so_costbot_savings_quarter_rows_add_up_to_it() -> None:
    # As of 16 Nov 2026 the four quarters are 2026Q1-2026Q4. A $400 finding identified on 20 Dec
    # 2025 is in 2025Q4: a 365-day window (from 16 Nov 2025) took it and left out 1 Nov 2025's
    # $700 one, half a quarter no `costbot savings --quarter` row gives.
    december = FindingSummary(7, "Old NAT gateway", "payments", "identified", 400.0, date(2025, 12, 20))
    november = FindingSummary(8, "Unused EIPs", "payments", "identified", 700.0, date(2025, 11, 1))
    findings = (*FINDINGS, december, november)
    line = rate_implementation(inputs(findings=findings))
    # 2026Q1-2026Q4, rejected #3 left out: $1,000 + $600 + $200 + $50 = $1,850; $1,200 implemented: 64.9 %.
    assert (line.rating, line.value, line.at_stake) == ("Walk", 0.6486, 650.0)
    assert line.figure.startswith("64.9 % of $1,850.00/month identified in 2026Q1\u20132026Q4 (1 rejected finding, "
                                  "$300.00/month, left out) is implemented")
    assert (line.detail["identified_since"], line.detail["identified_monthly"]) == ("2026-01-01", 1850.0)
    # The same figures from the savings ledger's rows of those four quarters.
    rows = savings_ledger([f.ledger_record() for f in findings], by=("quarter",)).set_index("quarter")
    four = rows.loc[["2026Q1", "2026Q2", "2026Q3", "2026Q4"]]
    assert four["identified_monthly"].sum() - 300.0 == line.detail["identified_monthly"]
    # On the first day of a quarter the window is that quarter and the three before, whole.
    first_day = rate_implementation(inputs(as_of=date(2026, 10, 1), findings=findings))
    assert first_day.detail["identified_since"] == "2026-01-01"
    assert rate_implementation(inputs(as_of=date(2027, 1, 5), findings=(december,))).figure == (
        "no savings findings identified in the last four quarters (2026Q2\u20132027Q1)")


def test_a_long_finding_title_is_shortened_in_the_step_so_its_closing_sum_survives() -> None:
    title = ("Rightsize the R&D <sandbox> fleet " * 9).strip()  # 305 characters (a title may have 300+)
    open_ = FindingSummary(2, title, "search", "in_progress", 600.0, date(2026, 9, 1))
    line = rate_implementation(inputs(findings=(FINDINGS[0], open_)))
    assert line.next_step == (
        "Fix the implementation rate: follow the identified savings through. Biggest open findings: "
        "#2 search \u201cRightsize the R&D <sandbox> fleet Rightsize the R&D <sandbox> fleet Rightsize t\u2026\u201d "
        "$600.00/month (in progress since 01 Sep). $600.00/month is still waiting.")
    # 80 characters at most, the ellipsis included; a title that fits is left whole.
    assert len("Rightsize the R&D <sandbox> fleet Rightsize the R&D <sandbox> fleet Rightsize t\u2026") == 80
    short = rate_implementation(inputs(findings=(FINDINGS[0], dataclasses.replace(open_, title="x" * 80))))
    assert f"\u201c{'x' * 80}\u201d" in short.next_step


def test_a_crawl_routing_step_asks_for_faster_alerts_even_with_some_misrouted() -> None:
    # Three alerts 10 days after their cost day (Crawl: past a week), one in the default channel.
    # The step was only "Route alerts to owners": routing all of them leaves the line at Crawl;
    # the week and more to an alert is what keeps it there, so it comes first.
    slow = tuple(AlertTiming(60 + i, team, date(2026, 11, 1), at(11, 23), at(12, 0), None, team != "unallocated",
                             100.0 * (i + 1), scope)
                 for i, (team, scope) in enumerate((("payments", "EC2 in 111"), ("search", "S3 in 222"),
                                                    ("unallocated", "EC2 in 999"))))
    line = rate_routing(inputs(alert_timings=slow))
    assert (line.rating, line.value) == ("Crawl", 240.0)
    assert line.next_step == (
        "Alert sooner: the median alert comes 10.0 days after the cost day; ingest and detect daily as soon as the "
        "provider's data lands (sources.yml schedule), and check the sources' freshness with `costbot coverage`. "
        "Route alerts to owners: 1 of 3 alerts ($300.00) went to the default channel because no rule owns their "
        "spend: #62 EC2 in 999 $300.00. Add match rules in teams.yml.")
    # Walk (4 days, within a week) and misrouted: routing first, then the speed Run also needs.
    walk = tuple(dataclasses.replace(t, posted_at=at(6, 0)) for t in slow)
    line = rate_routing(inputs(alert_timings=walk))
    assert line.rating == "Walk"
    assert line.next_step.startswith("Route alerts to owners: 1 of 3 alerts ($300.00) went to the default channel")
    assert line.next_step.endswith("Alert sooner: the median alert comes 4.0 days after the cost day; ingest and "
                                   "detect daily as soon as the provider's data lands (sources.yml schedule), and "
                                   "check the sources' freshness with `costbot coverage`.")


def test_above_70_percent_with_nothing_verified_the_step_is_verification_not_the_rate() -> None:
    # $800 of $1,000 implemented (80 %), none verified yet: Walk only for want of verification.
    # The step read "Fix the implementation rate", which is already past Run's 70 %.
    rds = FindingSummary(7, "Rightsize RDS", "payments", "implemented", 800.0, date(2026, 9, 1), date(2026, 11, 2))
    idle = FindingSummary(8, "Idle load balancers", "web", "identified", 200.0, date(2026, 10, 20))
    line = rate_implementation(inputs(findings=(rds, idle)))
    assert (line.rating, line.value, line.at_stake) == ("Walk", 0.8, 200.0)
    assert line.next_step == (
        "Verify the savings: 80.0 % of identified savings is implemented, above Run's 70 %, but none is verified "
        "yet: #7 payments \u201cRightsize RDS\u201d $800.00/month (implemented on 02 Nov). The daily "
        "verification (`costbot findings verify`) measures each once its settling window has complete data. "
        "Biggest open findings: #8 web \u201cIdle load balancers\u201d $200.00/month (identified since 20 Oct). $200.00/month is still waiting.")
    # Nothing open: the verification step alone.
    alone = rate_implementation(inputs(findings=(rds,)))
    assert (alone.rating, alone.at_stake) == ("Walk", 0.0)
    assert alone.next_step.startswith("Verify the savings: 100.0 % of identified savings is implemented, above "
                                      "Run's 70 %, but none is verified yet: #7 payments")
    assert alone.next_step.endswith("measures each once its settling window has complete data.")
    # At 70 % or below the rate is still the gap, verified or not.
    below = rate_implementation(inputs(findings=(dataclasses.replace(rds, estimate_monthly=400.0), idle,
                                                  dataclasses.replace(idle, id=9, estimate_monthly=400.0))))
    assert below.rating == "Walk" and below.next_step.startswith("Fix the implementation rate")


def test_the_routing_window_is_the_last_90_days_not_91() -> None:
    # as_of 16 Nov: the last 90 days are 19 Aug..16 Nov. An alert posted on 18 Aug (91 days
    # before) fell in, and its impact was spread over 90 days as if it belonged to them.
    old = AlertTiming(70, "unallocated", date(2026, 8, 16), datetime(2026, 8, 17, 9, tzinfo=UTC),
                      datetime(2026, 8, 18, 10, tzinfo=UTC), None, False, 900.0, "EC2 in 999")
    first = dataclasses.replace(old, anomaly_id=71, posted_at=datetime(2026, 8, 19, 0, 30, tzinfo=UTC))
    assert rate_routing(inputs(alert_timings=(old,))).figure == "no anomaly alert posted in the last 90 days"
    line = rate_routing(inputs(alert_timings=(old, first)))
    assert line.detail["alerts"] == 1
    assert line.at_stake == pytest.approx(900.0 * 30.4375 / 90)
