"""bot/variance_service.py: which anomalies and findings explain an answer, told once each; any
question on a store is answered to the cent or refused in one line."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.variance_service import answer_question, drop_of_finding, finding_explainer
from finops import model
from finops.errors import QuestionError
from finops.savings import FindingState
from storage.anomalies import AnomalyRecord
from storage.costs import CostStore
from storage.db import Database
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


# ---------------------------------------------------------------------------------------------
# End to end on a store: any question is answered exactly or refused in one line, never a crash

TODAY = date(2026, 11, 16)


@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Database]:
    """Two teams from 1 March to 15 November 2026: payments' EC2 with credits from July, search's
    OpenSearch with zero quantities."""
    path = tmp_path_factory.mktemp("why") / "costbot.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")

    def costs(start: str, end: str, *, daily: float, team: str, service: str, category: str = "Usage",
              quantity: float | None = 10.0) -> pd.DataFrame:
        days = pd.date_range(start, end)
        return pd.DataFrame({"ChargePeriodStart": days, "ProviderName": "AWS", "SubAccountId": "111100000001",
                             "SubAccountName": "prod", "ServiceName": service, "RegionId": "us-east-1",
                             "ChargeCategory": category, "EffectiveCost": daily, "BilledCost": daily,
                             "PricingQuantity": np.nan if quantity is None else quantity,
                             "PricingUnit": "Hrs" if quantity else "", "Tags": '{"env":"prod"}', model.TEAM: team})

    CostStore(db).replace_daily_costs("aws", pd.concat([
        costs("2026-03-01", "2026-11-15", daily=100.0, team="payments", service="Amazon EC2"),
        costs("2026-07-01", "2026-11-15", daily=-30.0, team="payments", service="Credits", category="Credit",
              quantity=None),
        costs("2026-03-01", "2026-11-15", daily=20.0, team="search", service="Amazon OpenSearch", quantity=0.0),
    ]))
    yield db
    db.dispose()


FILTERS = ["team=payments", "team=search", "team=Payments", "team=paymnts", 'service="Amazon EC2"', "account=prod",
           "account=111100000001", "tag:env=prod", 'tag:env=""', "tag:ENV=dev", "region=us-east-1", "provider=aws",
           "sku=x"]
PERIODS = ["last month", "last quarter", "this month", "last week", "last 30 days", "Q3 2026", "2026-08", "2026-02",
           "October", "2026-09-01..2026-09-30", "yesterday", "this quarter", "2026-W40"]
# Questions in the grammar (filters, a period, maybe vs another, a flag), and words thrown together.
structured = st.builds(lambda filters, a, b, flag: " ".join([*filters, a, *(["vs", b] if b else []), flag]),
                       st.lists(st.sampled_from(FILTERS), max_size=2), st.sampled_from(PERIODS),
                       st.one_of(st.none(), st.sampled_from(PERIODS)), st.sampled_from(["", "--billed", "in-channel"]))
thrown = st.lists(st.one_of(st.sampled_from([*FILTERS, *PERIODS, "vs", "why", "--list"]), st.text(max_size=12)),
                  max_size=4).map(" ".join)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(text=st.one_of(structured, thrown))
def test_any_question_is_answered_to_the_cent_or_refused_in_one_line(small_store: Database, text: str) -> None:
    try:
        answer = answer_question(small_store, text, today=TODAY)
    except QuestionError as error:
        message = str(error)
        assert "\n" not in message and message.count("Try: `") == 1
        event("refused")
        return
    event("answered")
    assert answer.delta == answer.total_a - answer.total_b
    assert sum((c.delta for c in answer.contributors), Decimal(0)) == answer.delta
    for c in answer.contributors:
        assert sum(c.parts().values(), Decimal(0)) == c.delta
    assert 0.0 <= answer.explained_share <= 1.0
