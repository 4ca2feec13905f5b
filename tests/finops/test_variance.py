"""Variance answers: hand-computed decompositions in exact cents, and the properties that hold always."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finops.model import conform_daily_frame
from finops.periods import Period, Question, parse_question
from finops.variance import (
    PARTS,
    Explainer,
    aggregate_for_variance,
    explain_variance,
    explainer_in_scope,
    filter_scope,
    summary_lines,
)

D = Decimal


def spend(start: str, end: str, *, daily: float, quantity: float | None = None, team: str = "payments",
          service: str = "Amazon EC2", region: str = "us-east-1", sku: str = "BoxUsage", unit: str = "Hrs",
          tags: str = "") -> pd.DataFrame:
    """The same cost (and quantity) every day from start to end, both included."""
    days = pd.date_range(start, end)
    return pd.DataFrame({"ChargePeriodStart": days, "x_Team": team, "ServiceName": service, "RegionId": region,
                         "SkuId": sku, "SubAccountId": "111122223333", "EffectiveCost": daily,
                         "BilledCost": daily, "PricingQuantity": np.nan if quantity is None else quantity,
                         "PricingUnit": unit if quantity is not None else "", "Tags": tags})


def frame(*parts: pd.DataFrame) -> pd.DataFrame:
    return conform_daily_frame(pd.concat(parts, ignore_index=True))


def ask(text: str, today: date = date(2026, 11, 5)) -> Question:
    return parse_question(text, today=today)


def split(contributor) -> dict[str, Decimal]:
    return {name: value for name, value in contributor.parts().items() if value}


def check_exact(answer) -> None:
    """Contributors add up to the delta, parts to each contributor, all in whole cents."""
    assert answer.delta == answer.total_a - answer.total_b
    assert sum((c.delta for c in answer.contributors), D(0)) == answer.delta
    assert sum((c.a for c in answer.contributors), D(0)) == answer.total_a
    assert sum((c.b for c in answer.contributors), D(0)) == answer.total_b
    for c in answer.contributors:
        assert c.a - c.b == c.delta
        assert sum(c.parts().values(), D(0)) == c.delta
        for value in (c.a, c.b, c.delta, *c.parts().values()):
            assert value == value.quantize(D("0.01"))


def test_month_over_month_driven_by_one_teams_usage():
    costs = frame(
        spend("2026-07-01", "2026-07-31", daily=50.0, quantity=100),  # 100 h at $0.50
        spend("2026-08-01", "2026-08-31", daily=75.0, quantity=150),  # 150 h at $0.50
        spend("2026-07-01", "2026-08-31", daily=20.0, quantity=10, team="search", service="Amazon OpenSearch"),
        spend("2026-07-01", "2026-07-31", daily=10.0, quantity=100, team="data", service="Amazon S3", unit="GB-Mo"),
        spend("2026-08-01", "2026-08-31", daily=10.10, quantity=100, team="data", service="Amazon S3", unit="GB-Mo"),
    )
    answer = explain_variance(costs, ask("2026-08"))
    check_exact(answer)
    assert (answer.total_b, answer.total_a, answer.delta) == (D("2480.00"), D("3258.10"), D("778.10"))
    assert answer.delta_pct == 31.38
    first, second, rest = answer.contributors
    assert (first.label, first.dimensions) == ("payments / Amazon EC2", {"team": "payments", "service": "Amazon EC2"})
    assert (first.b, first.a, first.delta) == (D("1550.00"), D("2325.00"), D("775.00"))
    assert split(first) == {"usage": D("775.00")}
    assert (second.label, second.delta, split(second)) == ("data / Amazon S3", D("3.10"), {"rate": D("3.10")})
    assert (rest.label, rest.kind, rest.delta, rest.a) == ("1 other team", "other", D("0.00"), D("620.00"))
    lines = summary_lines(answer)
    assert lines[0] == "Spend rose $778.10 (+31.4 %) from July 2026 to August 2026 ($2,480.00 -> $3,258.10)."
    assert lines[1] == "payments / Amazon EC2: +$775.00 (usage +$775.00)"
    assert lines[2] == "data / Amazon S3: +$3.10 (rate +$3.10)"
    assert len(lines) == 3


def test_a_lost_discount_is_rate_with_flat_usage():
    costs = frame(spend("2026-07-01", "2026-07-31", daily=40.0, quantity=100),  # $0.40/h with the discount
                  spend("2026-08-01", "2026-08-31", daily=50.0, quantity=100))  # $0.50/h on demand
    answer = explain_variance(costs, ask("2026-08"))
    check_exact(answer)
    (line,) = answer.contributors
    assert (line.delta, split(line)) == (D("310.00"), {"rate": D("310.00")})
    assert "payments / Amazon EC2: +$310.00 (rate +$310.00)" in summary_lines(answer)


def test_a_31_day_month_against_a_30_day_one_with_no_real_change_is_day_count():
    costs = frame(spend("2026-09-01", "2026-10-31", daily=100.0, quantity=10))
    answer = explain_variance(costs, ask("2026-10"))
    check_exact(answer)
    assert (answer.total_b, answer.total_a, answer.delta) == (D("3000.00"), D("3100.00"), D("100.00"))
    (line,) = answer.contributors
    assert split(line) == {"days": D("100.00")}
    assert answer.days_effect == D("100.00")
    assert summary_lines(answer)[1] == ("Mostly day count: October 2026 has 31 days and September 2026 30; "
                                        "at the same daily spend that is +$100.00.")
    # Without quantities the day count is still found: it needs only the daily averages.
    no_quantity = explain_variance(frame(spend("2026-09-01", "2026-10-31", daily=100.0)), ask("2026-10"))
    assert split(no_quantity.contributors[0]) == {"days": D("100.00")}



def test_monthly_fees_tax_and_credits_are_not_scaled_by_day_count():
    usage = spend("2026-09-01", "2026-10-31", daily=100.0, quantity=10)
    fees = []
    for first, last in (("2026-09-01", "2026-09-30"), ("2026-10-01", "2026-10-31")):
        fee = spend(first, first, daily=6000.0)  # the same commitment fee on the 1st of each month
        tax = spend(last, last, daily=210.0)  # the same tax on the last day
        fees += [fee.assign(ChargeCategory="Purchase"), tax.assign(ChargeCategory="Tax")]
    credit = spend("2026-10-18", "2026-10-18", daily=-50.0).assign(ChargeCategory="Credit")
    costs = frame(usage.assign(ChargeCategory="Usage"), *fees, credit)
    answer = explain_variance(costs, ask("2026-10"))
    check_exact(answer)
    assert (answer.total_b, answer.total_a, answer.delta) == (D("9210.00"), D("9260.00"), D("50.00"))
    (line,) = answer.contributors
    # Only usage accrues by the day: October's extra day is $100.00; the fees are equal totals,
    # and the credit is new in October.
    assert split(line) == {"days": D("100.00"), "new": D("-50.00")}
    assert answer.days_effect == D("100.00")
    # On a line of its own a fee that did not change has no parts at all.
    alone = explain_variance(frame(*fees), ask("2026-10"))
    assert [split(c) for c in alone.contributors] == [{}]
    # A fee that changed is its whole change, not a day count offset by a run rate.
    raised = frame(fees[0], fees[1], spend("2026-10-01", "2026-10-01", daily=6600.0).assign(ChargeCategory="Purchase"),
                   fees[3])
    (fee_line,) = explain_variance(raised, ask("2026-10")).contributors
    assert split(fee_line) == {"unexplained_by_quantity": D("600.00")}

def test_a_monthly_charge_in_one_window_only_is_timing_not_new_or_gone():
    # Weeks: the support fee on 1 October and the tax on 30 September fall in one week each.
    usage = spend("2026-09-21", "2026-10-11", daily=100.0, quantity=10).assign(ChargeCategory="Usage")
    fee = spend("2026-10-01", "2026-10-01", daily=6000.0, service="AWS Support").assign(ChargeCategory="Purchase")
    tax = spend("2026-09-30", "2026-09-30", daily=210.0, team="", service="Tax").assign(ChargeCategory="Tax")
    costs = frame(usage, fee, tax)
    week = explain_variance(costs, ask("2026-09-28..2026-10-04 vs 2026-09-21..2026-09-27"))
    check_exact(week)
    assert [(c.label, c.delta, split(c)) for c in week.contributors] == [
        ("payments / AWS Support", D("6000.00"), {"charge_timing": D("6000.00")}),  # the fee: in A only
        ("(no team) / Tax", D("210.00"), {"charge_timing": D("210.00")}),  # the tax: in A only
        ("payments / 1 other service", D("0.00"), {})]
    assert summary_lines(week)[1] == "payments / AWS Support: +$6,000.00 (monthly charge in one period only +$6,000.00)"
    # Between whole months a fee in one of them is new spend, as anything else.
    month = explain_variance(frame(usage, fee), ask("2026-10"))
    assert {c.dimensions.get("service"): split(c) for c in month.contributors}["AWS Support"] == \
        {"new": D("6000.00")}


def test_new_and_gone_services():
    costs = frame(spend("2026-07-01", "2026-08-31", daily=50.0, quantity=100),
                  spend("2026-07-01", "2026-07-31", daily=10.0, service="Amazon S3"),
                  spend("2026-08-01", "2026-08-31", daily=20.0, service="Amazon SageMaker"))
    answer = explain_variance(costs, ask("2026-08"))
    check_exact(answer)
    assert answer.delta == D("310.00")
    new, gone, unchanged = answer.contributors
    assert (new.label, new.delta, split(new)) == ("payments / Amazon SageMaker", D("620.00"), {"new": D("620.00")})
    assert (gone.label, gone.delta, split(gone)) == ("payments / Amazon S3", D("-310.00"), {"gone": D("-310.00")})
    assert (unchanged.label, unchanged.delta, unchanged.a) == ("payments / 1 other service", D("0.00"), D("1550.00"))
    assert summary_lines(answer)[1:3] == ["payments / Amazon SageMaker: +$620.00 (new spend +$620.00)",
                                          "payments / Amazon S3: -$310.00 (spend gone -$310.00)"]
    # One line shown, the other moving one counted: "1 more line".
    assert summary_lines(answer, contributors=1)[1:] == ["payments / Amazon SageMaker: +$620.00 (new spend +$620.00)",
                                                         "1 more line: -$310.00"]


def test_spend_that_nets_to_nothing_in_one_period_is_new_spend_not_a_price_change():
    # September: three instances of one price line at $0.10, $0.20 and a -$0.30 refund a day:
    # $0.00 in all (0.1 + 0.2 - 0.3 is not 0 in floating point). October: $100 a day.
    september = [spend("2026-09-01", "2026-09-30", daily=cost, quantity=hours).assign(ResourceId=resource)
                 for cost, hours, resource in ((0.1, 1, "i-1"), (0.2, 2, "i-2"), (-0.3, 0.5, "i-3"))]
    october = [spend("2026-10-01", "2026-10-31", daily=50.0, quantity=10).assign(ResourceId=resource)
               for resource in ("i-1", "i-2")]
    answer = explain_variance(frame(*september, *october), ask("2026-10"))
    check_exact(answer)
    (line,) = answer.contributors
    assert (line.b, line.a, line.delta) == (D("0.00"), D("3100.00"), D("3100.00"))
    assert split(line) == {"new": D("3100.00")}  # no day count, usage or rate against a $0 month
    assert answer.days_effect == D("0.00")


def test_credits_that_appear_or_go_away_are_called_credits():
    costs = frame(spend("2026-07-01", "2026-08-31", daily=50.0, quantity=100),
                  spend("2026-07-01", "2026-07-31", daily=-10.0, service="Credits").assign(ChargeCategory="Credit"),
                  spend("2026-08-01", "2026-08-31", daily=-20.0, service="Promotions").assign(ChargeCategory="Credit"))
    answer = explain_variance(costs, ask("2026-08"))
    check_exact(answer)
    assert summary_lines(answer)[1:3] == ["payments / Promotions: -$620.00 (new credit -$620.00)",
                                          "payments / Credits: +$310.00 (credit gone +$310.00)"]


def test_a_period_where_credits_exceed_spend_keeps_the_percentage_sign_of_the_change():
    # July: $10 a day of use and a $20 credit a day, a net -$310.00; August: the credit is gone.
    costs = frame(spend("2026-07-01", "2026-08-31", daily=10.0, quantity=1),
                  spend("2026-07-01", "2026-07-31", daily=-20.0, service="Credits").assign(ChargeCategory="Credit"))
    answer = explain_variance(costs, ask("2026-08"))
    check_exact(answer)
    assert (answer.total_b, answer.total_a, answer.delta, answer.delta_pct) == (D("-310.00"), D("310.00"),
                                                                              D("620.00"), 200.0)
    assert summary_lines(answer)[0] == ("Spend rose $620.00 (+200.0 %) from July 2026 to August 2026 "
                                        "(-$310.00 -> $310.00).")
    assert summary_lines(answer)[1] == "payments / Credits: +$620.00 (credit gone +$620.00)"


def test_json_never_prints_minus_zero():
    answer = explain_variance(quarter_costs(), ask("Q3 2026"))
    line = dataclasses.replace(answer.contributors[0], mix=D("-0.00"), delta=D("-0.00"))
    document = line.to_json()
    assert (document["mix"], document["delta"]) == (0.0, 0.0)
    assert json.dumps(document).count("-0.0") == 0
    assert dataclasses.replace(answer, delta=D("-0.00"), delta_pct=-0.0).to_json()["delta_pct"] == 0.0
    assert json.dumps(dataclasses.replace(answer, delta=D("-0.00"), delta_pct=-0.0).to_json()).count("-0.0") == 0


def test_the_headline_reads_several_values_of_a_filter_as_alternatives():
    costs = frame(spend("2026-07-01", "2026-08-31", daily=10.0),
                  spend("2026-08-01", "2026-08-31", daily=1.0, team="search"))
    answer = explain_variance(costs, ask("team=payments team=search 2026-08"))
    assert summary_lines(answer)[0].startswith("Spend for team=payments or search rose $31.00")


def quarter_costs() -> pd.DataFrame:
    return frame(
        spend("2026-04-01", "2026-09-30", daily=100.0, quantity=100),  # EC2 at $1/h
        spend("2026-09-21", "2026-09-30", daily=150.0, quantity=150),  # the anomaly: 150 h more a day
        spend("2026-04-01", "2026-06-30", daily=50.0, quantity=10, team="search", service="Amazon OpenSearch"),
        # the finding, implemented on 1 July: 8 instances instead of 10, at $5 each
        spend("2026-07-01", "2026-09-30", daily=40.0, quantity=8, team="search", service="Amazon OpenSearch"),
    )


ANOMALY = Explainer(kind="anomaly", id=41, label="EC2 spike in payments", state="open", amount=1500.0,
                    start=date(2026, 9, 21), end=None, dimensions={"team": "payments", "service": "Amazon EC2"})
FINDING = Explainer(kind="finding", id=17, label="Rightsize the search cluster", state="verified", amount=-920.0,
                    start=date(2026, 7, 1), end=date(2026, 9, 30), dimensions={"team": "search"})


def test_quarter_against_quarter_with_an_anomaly_and_a_verified_finding():
    january = Explainer(kind="anomaly", id=7, label="Old news", state="closed", amount=999.0,
                        start=date(2026, 1, 5), end=date(2026, 1, 9))
    answer = explain_variance(quarter_costs(), ask("Q3 2026"), explainers=[FINDING, january, ANOMALY])
    check_exact(answer)
    assert (answer.total_b, answer.total_a, answer.delta) == (D("13650.00"), D("14380.00"), D("730.00"))
    ec2, search = answer.contributors
    # Q3 has 92 days, Q2 91: EC2 went from $100.00 to $116.30 a day (10,700 h against 9,100 h at $1).
    assert (ec2.label, ec2.delta) == ("payments / Amazon EC2", D("1600.00"))
    assert split(ec2) == {"usage": D("1491.85"), "days": D("108.15")}
    assert (search.label, search.delta) == ("search / Amazon OpenSearch", D("-870.00"))
    assert split(search) == {"usage": D("-915.00"), "days": D("45.00")}

    anomaly, finding = answer.explained_by
    assert (anomaly.explainer.id, anomaly.in_a, anomaly.in_b, anomaly.amount) == (41, D("1500.00"), D("0.00"),
                                                                               D("1500.00"))
    assert (finding.explainer.id, finding.in_a, finding.in_b, finding.amount) == (17, D("-920.00"), D("0.00"),
                                                                               D("-920.00"))
    assert anomaly.share == pytest.approx(1500 / 730)
    assert answer.explained_share == 1.0
    lines = summary_lines(answer)
    assert "$1,500.00 of the increase is anomaly #41 (open): EC2 spike in payments." in lines
    # The saving moved spend against the quarter's rise, the way its own line moved.
    assert ("$920.00 of the decrease in search / Amazon OpenSearch is finding #17 (verified): "
            "Rightsize the search cluster.") in lines

    document = answer.to_json()
    assert document["explained_by"][0] == {
        "kind": "anomaly", "id": 41, "label": "EC2 spike in payments", "state": "open", "amount": 1500.0,
        "in_a": 1500.0, "in_b": 0.0, "share": 2.0548, "start": "2026-09-21", "end": None,
        "dimensions": {"team": "payments", "service": "Amazon EC2"}}


def test_an_explainer_spanning_both_periods_explains_only_its_difference():
    straddling = Explainer(kind="anomaly", id=39, label="Batch rerun", state="closed", amount=2000.0,
                           start=date(2026, 6, 21), end=date(2026, 7, 10), dimensions={"sub_account_id": "1"})
    answer = explain_variance(quarter_costs(), ask("Q3 2026"), explainers=[straddling])
    (item,) = answer.explained_by
    assert (item.in_a, item.in_b, item.amount) == (D("1000.00"), D("1000.00"), D("0.00"))
    assert item.to_json()["dimensions"] == {"account": "1"}


def test_explainers_outside_the_questions_scope_are_left_out():
    answer = explain_variance(quarter_costs(), ask("team=payments Q3 2026"), explainers=[ANOMALY, FINDING])
    assert [item.explainer.id for item in answer.explained_by] == [41]
    assert answer.delta == D("1600.00")


def test_only_explainers_shown_to_be_inside_the_scope_are_named():
    named = dataclasses.replace(ANOMALY, id=42, dimensions={"team": "payments", "sub_account_id": "111122223333",
                                                            "sub_account_name": "Payments-Prod"})

    def ids(text: str) -> list[int | str]:
        answer = explain_variance(quarter_costs(), ask(text), explainers=[ANOMALY, FINDING, named])
        return sorted(item.explainer.id for item in answer.explained_by)

    assert ids("Q3 2026") == [17, 41, 42]
    # Explainers carry no tags: none can be shown to be inside a tag question.
    assert ids("tag:env=prod Q3 2026") == []
    # A team-wide finding is not shown to be inside one service; the anomaly of EC2 is.
    assert ids('service="amazon ec2" Q3 2026') == [41]
    # An account by ID or by name; explainers without an account are not inside it.
    assert ids("account=payments-prod Q3 2026") == [42]
    assert ids("account=111122223333 Q3 2026") == [42]
    assert explainer_in_scope({"tag:env": "prod"}, {"tag:ENV": ("Prod",)})
    assert not explainer_in_scope({"team": "payments"}, {"team": ("payments",), "region": ("us-east-1",)})


def test_explained_share_counts_what_has_no_quantities_as_unknown_until_an_explainer_covers_it():
    costs = frame(spend("2026-07-01", "2026-07-31", daily=100.0),
                  spend("2026-08-01", "2026-08-31", daily=1100 / 31 + 100.0),
                  spend("2026-07-01", "2026-08-31", daily=5.0, team="search", service="Amazon S3"))
    bare = explain_variance(costs, ask("2026-08"))
    assert bare.delta == D("1100.00")
    assert split(bare.contributors[0]) == {"unexplained_by_quantity": D("1100.00")}
    assert bare.explained_share == 0.0
    spike = Explainer(kind="anomaly", id=3, label="spike", state="open", amount=440.0, start=date(2026, 8, 1),
                      end=date(2026, 8, 31), dimensions={"team": "payments"})
    elsewhere = dataclasses.replace(spike, id=4, dimensions={"team": "search"})
    answer = explain_variance(costs, ask("2026-08"), explainers=[spike, elsewhere])
    assert answer.explained_share == 0.4  # 1 - 660 / 1100: search's line has nothing unknown to cover
    # A saving cannot explain a rise: a verified finding of -$500 in payments leaves the +$1,100
    # unexplained (the rise without it was larger still), alone or beside the spike.
    saving = Explainer(kind="finding", id=5, label="rightsizing", state="verified", amount=-500.0,
                       start=date(2026, 8, 1), end=date(2026, 8, 31), dimensions={"team": "payments"})
    with_saving = explain_variance(costs, ask("2026-08"), explainers=[saving])
    assert with_saving.explained_share == 0.0
    assert summary_lines(with_saving)[-1] == "finding #5 (verified) moved spend by -$500.00: rightsizing."
    assert explain_variance(costs, ask("2026-08"), explainers=[saving, spike]).explained_share == 0.4
    # ... and it does explain a fall: the same months the other way round.
    fall = explain_variance(costs, ask("2026-07 vs 2026-08"),
                            explainers=[dataclasses.replace(saving, start=date(2026, 7, 1), end=date(2026, 7, 31))])
    assert (fall.delta, fall.explained_share) == (D("-1100.00"), 0.4545)  # 1 - 600 / 1100


def ec2_s3_rds_july_august() -> pd.DataFrame:
    """payments' EC2 $100 -> $120 a day (10 -> 12 units), S3 $10 -> $20, RDS $10 -> $5, July to August."""
    return frame(spend("2026-07-01", "2026-07-31", daily=100.0, quantity=10),
                 spend("2026-08-01", "2026-08-31", daily=120.0, quantity=12),
                 spend("2026-07-01", "2026-07-31", daily=10.0, service="Amazon S3"),
                 spend("2026-08-01", "2026-08-31", daily=20.0, service="Amazon S3"),
                 spend("2026-07-01", "2026-07-31", daily=10.0, service="Amazon RDS"),
                 spend("2026-08-01", "2026-08-31", daily=5.0, service="Amazon RDS"))


def test_an_other_line_is_covered_on_the_side_of_the_explainers_sign():
    # top_n=1: EC2 rises $620 (listed, all usage); S3 +$310 and RDS -$155 fold into "other",
    # whose parts are summed: +$155 not split. Gross movement $775.
    costs = ec2_s3_rds_july_august()
    answer = explain_variance(costs, ask("2026-08"), top_n=1)
    check_exact(answer)
    ec2, other = answer.contributors
    assert (ec2.label, ec2.delta, split(ec2)) == ("payments / Amazon EC2", D("620.00"), {"usage": D("620.00")})
    assert (other.label, other.kind, other.delta) == ("payments / 2 other services", "other", D("155.00"))
    assert split(other) == {"unexplained_by_quantity": D("155.00")}
    assert answer.explained_share == 0.8  # 1 - 155 / 775

    def share(*explainers: Explainer) -> float:
        return explain_variance(costs, ask("2026-08"), explainers=explainers, top_n=1).explained_share

    drop = Explainer(kind="anomaly", id=8, label="RDS drop", state="closed", amount=-100.0, start=date(2026, 8, 1),
                     end=date(2026, 8, 31), dimensions={"team": "payments", "service": "Amazon RDS"})
    spike = dataclasses.replace(drop, id=9, label="S3 spike", amount=100.0, dimensions={"team": "payments",
                                                                                        "service": "Amazon S3"})
    assert share(drop) == 0.8  # nothing of the other line's unknown movement is down
    assert share(spike) == 0.929  # 1 - 55 / 775
    assert share(spike, drop) == 0.929


def test_drill_down_follows_the_child_that_carries_most_and_summarises_the_rest():
    july, august = ("2026-07-01", "2026-07-31"), ("2026-08-01", "2026-08-31")
    parts = []
    for region, before, after in (("us-east-1", 10, 40), ("eu-west-1", 10, 11), ("ap-south-1", 10, 12)):
        parts += [spend(*july, daily=before, region=region), spend(*august, daily=after, region=region)]
    for service in ("Amazon S3", "AWS Lambda", "Amazon DynamoDB"):
        parts += [spend(*july, daily=5, service=service), spend(*august, daily=6, service=service)]
    for service in ("Amazon OpenSearch", "Amazon EC2", "Amazon S3"):
        parts += [spend(*july, daily=10, team="search", service=service),
                  spend(*august, daily=12, team="search", service=service)]
    costs = frame(*parts)
    answer = explain_variance(costs, ask("2026-08"))
    check_exact(answer)
    assert [(c.label, c.kind, c.delta) for c in answer.contributors] == [
        ("payments / Amazon EC2 / us-east-1", "item", D("930.00")),
        ("search (3 services)", "item", D("186.00")),
        ("payments / 3 other services", "rest", D("93.00")),
        ("payments / Amazon EC2 / ap-south-1", "item", D("62.00")),
        ("payments / Amazon EC2 / eu-west-1", "item", D("31.00")),
    ]
    assert answer.contributors[0].dimensions == {"team": "payments", "service": "Amazon EC2", "region": "us-east-1"}
    assert answer.contributors[1].covers == ("service", 3)
    assert answer.contributors[2].covers == ("service", 3)

    capped = explain_variance(costs, ask("2026-08"), top_n=2)
    check_exact(capped)
    assert [(c.label, c.kind, c.delta) for c in capped.contributors] == [
        ("payments / Amazon EC2 / us-east-1", "item", D("930.00")),
        ("search (3 services)", "item", D("186.00")),
        ("everything else (3 lines)", "other", D("186.00")),
    ]
    assert capped.contributors[2].dimensions == {"team": "payments"}


def test_swapping_the_periods_flips_every_sign():
    question = ask("Q3 2026")
    swapped = dataclasses.replace(question, period_a=question.period_b, period_b=question.period_a)
    forward, backward = (explain_variance(quarter_costs(), q) for q in (question, swapped))
    assert backward.delta == -forward.delta
    for f, b in zip(forward.contributors, backward.contributors, strict=True):
        assert (b.label, b.a, b.b, b.delta) == (f.label, f.b, f.a, -f.delta)
        assert (b.usage, b.rate, b.mix, b.days) == (-f.usage, -f.rate, -f.mix, -f.days)
        assert (b.new, b.gone, b.charge_timing) == (-f.gone, -f.new, -f.charge_timing)


def test_mix_is_a_shift_between_price_lines_of_one_unit():
    # The same 100.02 h a day at unchanged prices; half the hours move from two $1 SKUs to two $2
    # SKUs. No SKU carries half of the movement, so the line is not drilled and the shift is mix.
    july, august = ("2026-07-01", "2026-07-31"), ("2026-08-01", "2026-08-31")
    costs = frame(*(spend(*july, daily=50.0, quantity=50, sku=sku) for sku in ("small-1", "small-2")),
                  *(spend(*july, daily=0.02, quantity=0.01, sku=sku) for sku in ("large-1", "large-2")),
                  *(spend(*august, daily=25.0, quantity=25, sku=sku) for sku in ("small-1", "small-2")),
                  *(spend(*august, daily=50.02, quantity=25.01, sku=sku) for sku in ("large-1", "large-2")))
    answer = explain_variance(costs, ask("2026-08"))
    check_exact(answer)
    (line,) = answer.contributors
    assert (line.label, line.covers) == ("payments / Amazon EC2 (4 SKUs)", ("sku", 4))
    assert (line.delta, split(line)) == (D("1550.00"), {"mix": D("1550.00")})


def test_volume_moving_between_services_of_one_unit_is_usage_not_mix():
    # Four services of one team, all in hours at unchanged prices; 60 h a day move from the two
    # $1 services to the two $2 ones. No service carries half of the change, so the team is one
    # line over 4 services: its change is each service's usage, and none of it is mix.
    july, august = ("2026-07-01", "2026-07-31"), ("2026-08-01", "2026-08-31")
    parts = []
    for service, price, before, after in (("S1", 1.0, 100, 70), ("S2", 1.0, 100, 70), ("S3", 2.0, 50, 80),
                                          ("S4", 2.0, 50, 80)):
        parts += [spend(*july, daily=price * before, quantity=before, team="mobile", service=service),
                  spend(*august, daily=price * after, quantity=after, team="mobile", service=service)]
    parts += [spend(*july, daily=10.0, quantity=10, team="search"), spend(*august, daily=11.0, quantity=11,
                                                                         team="search")]
    answer = explain_variance(frame(*parts), ask("2026-08"))
    check_exact(answer)
    line, search = answer.contributors
    assert (line.label, line.delta) == ("mobile (4 services)", D("1860.00"))  # (-30 - 30 + 60 + 60) x 31
    assert split(line) == {"usage": D("1860.00")}
    assert (search.label, split(search)) == ("search / Amazon EC2", {"usage": D("31.00")})


def test_lines_are_rounded_on_their_own_and_the_other_line_takes_the_cents_left():
    # Tenths of a cent: each service's A rounds down, the total of A rounds up a cent.
    stored = pd.DataFrame({"period": ["a", "b"] * 3, "ServiceName": ["X", "X", "Y", "Y", "Z", "Z"],
                           "EffectiveCost": [30.0049, 10.0, 20.001, 10.0, 3.001, 1.0]})
    question = ask("2026-08")
    capped = explain_variance(stored, question, top_n=1)
    check_exact(capped)
    assert (capped.total_a, capped.total_b) == (D("53.01"), D("21.00"))
    assert [(c.label, c.a, c.b, c.delta) for c in capped.contributors] == [
        ("X", D("30.00"), D("10.00"), D("20.00")), ("2 other services", D("23.01"), D("11.00"), D("12.01"))]
    # A listed line reads the same as the answer for its own scope.
    alone = explain_variance(stored[stored["ServiceName"] == "X"], question)
    assert (alone.total_a, alone.total_b) == (D("30.00"), D("10.00"))
    # No "other" line: the cent goes to the line rounding moved most (X lost 0.49 cents).
    listed = explain_variance(stored, question)
    check_exact(listed)
    assert [(c.label, c.a) for c in listed.contributors] == [("X", D("30.01")), ("Y", D("20.00")), ("Z", D("3.00"))]


def test_filter_scope_matches_values_accounts_and_tags_case_insensitively():
    costs = frame(spend("2026-08-01", "2026-08-02", daily=1.0, tags='{"Env":"prod"}'),
                  spend("2026-08-01", "2026-08-02", daily=2.0, team="search", service="Amazon S3"),
                  spend("2026-08-01", "2026-08-02", daily=4.0, team="data", tags='{"env":"dev"}'))
    costs.loc[costs["x_Team"] == "data", "SubAccountName"] = "Analytics"
    assert filter_scope(costs, {"team": ("PAYMENTS", "search")})["EffectiveCost"].sum() == 6.0
    assert filter_scope(costs, {"tag:env": ("Prod",)})["EffectiveCost"].sum() == 2.0
    assert filter_scope(costs, {"tag:env": ("",)})["EffectiveCost"].sum() == 4.0
    assert filter_scope(costs, {"account": ("analytics",)})["EffectiveCost"].sum() == 8.0
    assert filter_scope(costs, {"team": ("payments",), "service": ("Amazon S3",)}).empty
    with pytest.raises(ValueError, match="unknown scope key"):
        filter_scope(costs, {"colour": ("red",)})


def test_the_question_scope_and_metric_are_applied():
    costs = frame(spend("2026-07-01", "2026-08-31", daily=10.0),
                  spend("2026-08-01", "2026-08-31", daily=1.0, team="search"))
    costs.loc[costs["x_Team"] == "payments", "BilledCost"] = 12.0
    assert explain_variance(costs, ask('team="Payments" 2026-08')).delta == D("0.00")
    assert explain_variance(costs, ask("2026-08")).delta == D("31.00")
    billed = explain_variance(costs, ask("2026-08 --billed"))
    assert (billed.total_a, billed.question.metric) == (D("403.00"), "billed")
    assert summary_lines(billed)[0].startswith("Billed spend rose $31.00")


def test_the_pre_aggregated_shape_gives_the_same_answer():
    costs = quarter_costs()
    question = ask("Q3 2026")
    aggregated = aggregate_for_variance(costs, question)
    assert sorted(aggregated["period"].unique()) == ["a", "b"]
    assert aggregated.loc[aggregated["period"] == "a", "EffectiveCost"].sum() == pytest.approx(14380.0)
    daily = explain_variance(costs, question, explainers=[ANOMALY])
    pre = explain_variance(aggregated.sample(frac=1.0, random_state=3), question, explainers=[ANOMALY])
    assert pre.to_json() == daily.to_json()
    # A pre-aggregated frame from SQL may hold only some columns, and repeated rows.
    minimal = pd.DataFrame({"period": ["a", "a", "b"], "ServiceName": ["EC2", "EC2", "EC2"],
                            "EffectiveCost": [10.0, 5.0, 12.0]})
    answer = explain_variance(minimal, question)
    assert (answer.total_a, answer.total_b, answer.contributors[0].label) == (D("15.00"), D("12.00"), "EC2")


def test_a_pre_aggregated_frame_is_taken_as_already_inside_the_scope():
    # Storage's frame has account IDs but no account names; it was filtered on the name in SQL.
    costs = frame(spend("2026-07-01", "2026-08-31", daily=10.0),
                  spend("2026-08-01", "2026-08-31", daily=1.0, team="search"))
    costs["SubAccountName"] = "payments-prod"
    question = ask("account=payments-prod 2026-08")
    stored = aggregate_for_variance(costs, question).drop(columns=["SubAccountName"], errors="ignore")
    answer = explain_variance(stored, question)
    assert (answer.total_b, answer.total_a, answer.delta) == (D("310.00"), D("341.00"), D("31.00"))
    assert answer.to_json() == explain_variance(costs, question).to_json()
    # Aggregating applies the scope: only search's rows for team=search.
    searched = aggregate_for_variance(costs, ask("team=search 2026-08"))
    assert set(searched["x_Team"]) == {"search"}


def test_bad_frames_are_refused_with_the_column_named():
    question = ask("Q3 2026")
    with pytest.raises(ValueError, match="'period' column holds"):
        explain_variance(pd.DataFrame({"period": ["A"], "EffectiveCost": [1.0]}), question)
    with pytest.raises(ValueError, match="no BilledCost column"):
        explain_variance(pd.DataFrame({"period": ["a"], "EffectiveCost": [1.0]}), ask("Q3 2026 --billed"))


def test_no_spend_at_all():
    answer = explain_variance(frame(spend("2026-01-01", "2026-01-02", daily=1.0)), ask("Q3 2026"))
    assert (answer.total_a, answer.total_b, answer.delta, answer.delta_pct) == (D("0.00"), D("0.00"), D("0.00"), None)
    assert answer.contributors == ()
    assert answer.explained_share == 1.0
    assert summary_lines(answer) == ["Spend did not change from Q2 2026 to Q3 2026 ($0.00 -> $0.00)."]


def test_json_shape_and_the_incomplete_data_note():
    costs = frame(spend("2026-09-01", "2026-10-31", daily=10.0, quantity=1))
    answer = explain_variance(costs, parse_question("this month", today=date(2026, 10, 13)))
    document = answer.to_json()
    assert document["period_a"] == {"label": "the first 12 days of October 2026", "kind": "month",
                                    "start": "2026-10-01", "end": "2026-10-12", "days": 12, "total": 120.0}
    assert document["period_b"]["total"] == 120.0
    assert (document["delta"], document["delta_pct"], document["metric"]) == (0.0, 0.0, "effective")
    assert document["note"] == ("October 2026 has 12 complete days (data complete through 2026-10-12); "
                                "compared with the first 12 days of September 2026.")
    assert set(document["contributors"][0]) == {"label", "kind", "dimensions", "covers", "a", "b", "delta", *PARTS}
    assert summary_lines(answer)[-1] == document["note"]


# ---------------------------------------------------------------------------------------------
# Properties over random frames

row = st.fixed_dictionaries({
    "period": st.sampled_from(["a", "b"]),
    "x_Team": st.sampled_from(["payments", "search", ""]),
    "ServiceName": st.sampled_from(["EC2", "S3", "RDS"]),
    "RegionId": st.sampled_from(["us-east-1", "eu-west-1"]),
    "SkuId": st.sampled_from(["s1", "s2", "s3"]),
    "ResourceId": st.sampled_from(["", "i-1", "i-2"]),
    "PricingUnit": st.sampled_from(["Hrs", "GB"]),
    "ChargeCategory": st.sampled_from(["Usage", "Usage", "Credit", "Tax", ""]),
    "EffectiveCost": st.integers(-50_000, 5_000_000).map(lambda c: c / 100),
    "PricingQuantity": st.one_of(st.just(float("nan")), st.just(0.0), st.floats(0.001, 10_000)),
})
# Anomalies and findings anywhere from the start of B to past the end of A, of any sign.
explainer = st.builds(
    lambda kind, ident, amount, start, days, team: Explainer(
        kind=kind, id=ident, label="", state="open", amount=amount / 100,
        start=date.fromordinal(date(2026, 1, 1).toordinal() + start),
        end=date.fromordinal(date(2026, 1, 1).toordinal() + start + days), dimensions=team),
    st.sampled_from(["anomaly", "finding"]), st.integers(1, 99), st.integers(-1_000_000, 1_000_000),
    st.integers(0, 300), st.integers(0, 120),
    st.sampled_from([{}, {"team": "payments"}, {"team": "search", "service": "S3"}, {"service": "EC2"}]))


def overall(answer) -> dict[str, Decimal]:
    return {name: sum((getattr(c, name) for c in answer.contributors), D(0)) for name in PARTS}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(row, min_size=1, max_size=40), days_a=st.integers(1, 92), days_b=st.integers(1, 92),
       tenths=st.booleans())
def test_the_totals_and_the_overall_split_are_the_same_for_every_top_n(rows, days_a, days_b, tenths):
    aggregated = pd.DataFrame(rows)
    if tenths:  # amounts in tenths of a cent: lines round apart from the totals
        aggregated["EffectiveCost"] = aggregated["EffectiveCost"] / 10
    period_a = Period(date(2026, 7, 1), date.fromordinal(date(2026, 7, 1).toordinal() + days_a - 1), "A", "range")
    period_b = Period(date(2026, 1, 1), date.fromordinal(date(2026, 1, 1).toordinal() + days_b - 1), "B", "range")
    question = Question(text="", scope={}, period_a=period_a, period_b=period_b)
    answers = [explain_variance(aggregated, question, top_n=top_n) for top_n in (1, 2, 3, 5, 1000)]
    for answer in answers:
        check_exact(answer)
        assert (answer.total_a, answer.total_b) == (answers[-1].total_a, answers[-1].total_b)
        assert overall(answer) == overall(answers[-1])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(row, min_size=1, max_size=40), days_a=st.integers(1, 92), days_b=st.integers(1, 92),
       top_n=st.integers(1, 6), explainers=st.lists(explainer, max_size=4))
def test_contributors_always_add_up_and_swapping_flips_signs(rows, days_a, days_b, top_n, explainers):
    aggregated = pd.DataFrame(rows)
    period_a = Period(date(2026, 7, 1), date.fromordinal(date(2026, 7, 1).toordinal() + days_a - 1), "A", "range")
    period_b = Period(date(2026, 1, 1), date.fromordinal(date(2026, 1, 1).toordinal() + days_b - 1), "B", "range")
    question = Question(text="", scope={}, period_a=period_a, period_b=period_b)
    answer = explain_variance(aggregated, question, top_n=top_n, explainers=explainers)
    check_exact(answer)
    assert len(answer.contributors) <= top_n + 1
    assert 0.0 <= answer.explained_share <= 1.0
    for c in answer.to_json()["contributors"]:  # as printed, too
        assert sum(D(repr(c[name])) for name in PARTS) == D(repr(c["delta"]))

    swapped_frame = aggregated.assign(period=aggregated["period"].map({"a": "b", "b": "a"}))
    swapped = explain_variance(swapped_frame, dataclasses.replace(question, period_a=period_b, period_b=period_a),
                               top_n=top_n, explainers=explainers)
    assert swapped.delta == -answer.delta
    # What the explainers cover does not depend on which period is asked about.
    assert swapped.explained_share == answer.explained_share
    assert sorted((i.explainer.id, -i.amount) for i in swapped.explained_by) == \
        sorted((i.explainer.id, i.amount) for i in answer.explained_by)
    for f, b in zip(answer.contributors, swapped.contributors, strict=True):
        assert (b.label, b.a, b.b, b.delta) == (f.label, f.b, f.a, -f.delta)
        assert (b.usage, b.rate, b.mix, b.days, b.unexplained_by_quantity) == (
            -f.usage, -f.rate, -f.mix, -f.days, -f.unexplained_by_quantity)
        assert (b.new, b.gone, b.charge_timing) == (-f.gone, -f.new, -f.charge_timing)
