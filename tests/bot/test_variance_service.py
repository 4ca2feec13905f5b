"""bot/variance_service.py: which anomalies and findings explain an answer, told once each."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

from bot.variance_service import drop_of_finding, finding_explainer
from finops.savings import FindingState
from storage.anomalies import AnomalyRecord
from storage.findings import FindingRecord

IMPLEMENTED = date(2026, 10, 9)


def anomaly(**changes) -> AnomalyRecord:
    blank = AnomalyRecord(**{f.name: None for f in dataclasses.fields(AnomalyRecord)})
    return dataclasses.replace(blank, **{
        "id": 3, "team": "payments", "impact": Decimal("-6464.08"), "start": IMPLEMENTED,
        "dimensions": {"provider": "AWS", "sub_account_id": "111100000001",
                       "service": "Amazon Relational Database Service", "region": "us-east-1"}, **changes})


def finding(**changes) -> FindingRecord:
    blank = FindingRecord(**{f.name: None for f in dataclasses.fields(FindingRecord)})
    return dataclasses.replace(blank, **{
        "id": 1, "title": "Rightsize payments-main RDS", "team": "payments", "state": FindingState.VERIFIED,
        "scope": {"service": ["Amazon Relational Database Service"], "sub_account_id": ["111100000001"]},
        "implemented_on": IMPLEMENTED, "verified_on": date(2026, 11, 16), "realized_monthly": Decimal("3043.75"),
        **changes})


def test_the_drop_a_verified_finding_caused_is_recognised() -> None:
    assert drop_of_finding(anomaly(), finding())
    assert drop_of_finding(anomaly(start=date(2026, 10, 16)), finding())  # detected a week later
    assert drop_of_finding(anomaly(), finding(scope={"service": ["amazon relational database service"]}))


def test_other_anomalies_are_not_taken_for_a_findings_drop() -> None:
    assert not drop_of_finding(anomaly(impact=Decimal("500.00")), finding())  # a rise
    assert not drop_of_finding(anomaly(team="search"), finding())
    assert not drop_of_finding(anomaly(start=date(2026, 10, 17)), finding())  # 8 days after
    assert not drop_of_finding(anomaly(start=date(2026, 10, 1)), finding())  # 8 days before
    assert not drop_of_finding(anomaly(), finding(scope={"service": ["Amazon EC2"]}))
    assert not drop_of_finding(anomaly(), finding(scope={"resource_id": ["db-1"]}))  # nothing in common
    assert not drop_of_finding(anomaly(), finding(implemented_on=None, verified_on=None))


def test_a_finding_names_the_drops_it_was_seen_as_and_spreads_its_saving() -> None:
    explainer = finding_explainer(finding(), date(2026, 11, 14), seen_as=[3])
    assert explainer.label == "Rightsize payments-main RDS (seen as the drop of anomaly #3)"
    # $3,043.75 a month over 30.4375 days is $100 a day, from 9 October to 14 November: 37 days.
    assert (explainer.amount, explainer.start, explainer.end) == (-3700.0, IMPLEMENTED, date(2026, 11, 14))
    assert explainer.dimensions == {"team": "payments", "service": "Amazon Relational Database Service",
                                    "account": "111100000001"}
    assert finding_explainer(finding(), date(2026, 10, 8)) is None  # implemented after the question
