"""VarianceStore on SQLite and PostgreSQL: the SQL frame equals the domain's own aggregation of the
daily rows, for any mix of whole months and loose days, any scope, and after any restatement."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from alembic import command

from finops import model
from finops.periods import Question, parse_question, range_period
from finops.variance import VARIANCE_KEYS, aggregate_for_variance, explain_variance, filter_scope
from storage.costs import CostStore
from storage.db import Database, alembic_config
from storage.variance import Stretch, VarianceStore, period_stretches

TODAY = date(2026, 11, 16)


def daily(start: str, end: str, *, cost: float, quantity: float | None = None, team: str = "payments",
          service: str = "Amazon EC2", account: str = "111100000001", account_name: str = "payments-prod",
          region: str = "us-east-1", category: str = "Usage", tags: dict | None = None) -> pd.DataFrame:
    days = pd.date_range(start, end)
    # A little movement per day so that sums over different stretches differ.
    costs = cost + (np.arange(len(days)) % 7) * 0.01  # whole cents: no half-cent ties to round
    return pd.DataFrame({
        "ChargePeriodStart": days, "ProviderName": "AWS", "BillingAccountId": "999", "BillingCurrency": "USD",
        "SubAccountId": account, "SubAccountName": account_name, "ServiceName": service, "RegionId": region,
        "ChargeCategory": category, "SkuId": f"{service}:sku", "ResourceId": "",
        "PricingUnit": "Hrs" if quantity is not None else "", "ConsumedUnit": "Hrs" if quantity is not None else "",
        "EffectiveCost": costs, "BilledCost": costs * 1.1, "ListCost": costs * 1.3,
        "PricingQuantity": np.nan if quantity is None else quantity, "ConsumedQuantity": np.nan,
        "Tags": model.canonical_tags(tags), model.TEAM: team,
    })


def sample() -> pd.DataFrame:
    return pd.concat([
        daily("2026-04-01", "2026-10-31", cost=100.0, quantity=50.0, tags={"env": "prod", "cost_center": "CC_1"}),
        daily("2026-04-01", "2026-10-31", cost=30.0, team="search", service="Amazon OpenSearch",
              account="111100000002", account_name="search-prod", tags={"Env": "Prod"}),
        daily("2026-07-15", "2026-10-31", cost=12.5, quantity=3.0, team="search", service="AWS Lambda",
              account="111100000002", account_name="search-prod", region="eu-west-1"),
        daily("2026-04-01", "2026-08-20", cost=7.0, team="data", service="Amazon S3", account="111100000003",
              account_name="data-prod", tags={"env": "dev"}),
        daily("2026-04-01", "2026-04-01", cost=600.0, team="payments", service="Savings Plans", category="Purchase"),
        daily("2026-07-01", "2026-07-01", cost=600.0, team="payments", service="Savings Plans", category="Purchase"),
    ], ignore_index=True)


def store_with(db: Database, costs: pd.DataFrame) -> CostStore:
    store = CostStore(db)
    store.replace_daily_costs("aws", costs)
    return store


def expected_frame(store: CostStore, question: Question) -> pd.DataFrame:
    """What the domain computes from the daily rows themselves."""
    rows = filter_scope(store.load_daily_costs(), question.scope)
    return aggregate_for_variance(rows, question)


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per period and combination of keys (storage returns one per series), exact money."""
    columns = ["period", *VARIANCE_KEYS, "EffectiveCost", "BilledCost", "ListCost", "PricingQuantity"]
    out = frame[columns].copy()
    for key in ("period", *VARIANCE_KEYS):
        out[key] = out[key].astype(str).astype(object)
    for money in ("EffectiveCost", "BilledCost", "ListCost"):
        out[money] = (out[money] * 1_000_000).round().astype("int64")  # micro-units: exact
    grouped = out.groupby(["period", *VARIANCE_KEYS], sort=True)
    out = pd.concat([grouped[["EffectiveCost", "BilledCost", "ListCost"]].sum(),
                     grouped[["PricingQuantity"]].sum(min_count=1)], axis=1).reset_index()
    out["PricingQuantity"] = out["PricingQuantity"].round(6)
    return out


def test_stretches_are_whole_months_and_the_days_around_them() -> None:
    assert period_stretches(range_period(date(2026, 6, 14), date(2026, 10, 5))) == [
        Stretch(date(2026, 6, 14), date(2026, 6, 30), False),
        Stretch(date(2026, 7, 1), date(2026, 9, 30), True),
        Stretch(date(2026, 10, 1), date(2026, 10, 5), False)]
    assert period_stretches(range_period(date(2026, 9, 15), date(2026, 10, 14))) == [
        Stretch(date(2026, 9, 15), date(2026, 10, 14), False)]
    assert period_stretches(range_period(date(2026, 2, 1), date(2026, 2, 28))) == [
        Stretch(date(2026, 2, 1), date(2026, 2, 28), True)]


@pytest.mark.parametrize("text", [
    "Q3 2026",  # whole months only
    "2026-08-10..2026-10-05 vs 2026-06-14..2026-08-09",  # months and loose days on both sides
    "last 30 days",  # loose days only
    "Q3 2026 vs 2026-09",  # overlapping periods: September counts in both
])
def test_the_sql_frame_equals_the_domains_aggregation_of_the_daily_rows(db: Database, text: str) -> None:
    store = store_with(db, sample())
    question = parse_question(text, today=TODAY, complete_through=date(2026, 10, 31))
    frame = VarianceStore(db).variance_frame(question)
    pd.testing.assert_frame_equal(comparable(frame), comparable(expected_frame(store, question)))
    assert explain_variance(frame, question).to_json() == \
        explain_variance(store.load_daily_costs(), question).to_json()


def test_series_that_differ_only_in_tags_are_rows_of_their_own_summed_by_the_answer(db: Database) -> None:
    store = store_with(db, pd.concat([
        daily("2026-07-01", "2026-08-31", cost=10.0, quantity=1.0, tags={"env": "prod"}),
        daily("2026-07-01", "2026-08-31", cost=5.0, quantity=2.0, tags={"env": "staging"}),
        daily("2026-08-01", "2026-08-31", cost=1.0, quantity=1.0, tags={"env": "staging"})], ignore_index=True))
    question = parse_question("2026-08", today=TODAY)
    frame = VarianceStore(db).variance_frame(question)
    assert len(frame) == 4  # two series, two periods: the same keys twice in each period
    assert frame.groupby("period")["effective_micros"].sum().to_dict() == {
        "a": store.totals(start=date(2026, 8, 1), end=date(2026, 8, 31))["EffectiveCost"] * 1_000_000,
        "b": store.totals(start=date(2026, 7, 1), end=date(2026, 7, 31))["EffectiveCost"] * 1_000_000}
    answer = explain_variance(frame, question)
    assert answer.to_json() == explain_variance(store.load_daily_costs(), question).to_json()
    (line,) = answer.contributors
    # July: $15 a day for 31 days and 87 cents of daily movement per series; August: $16 a day,
    # 96 cents for each July series, 87 for the new one.
    assert (line.b, line.a, line.delta) == (Decimal("466.74"), Decimal("498.79"), Decimal("32.05"))


@pytest.mark.parametrize("scope", [
    'team=PAYMENTS', 'team=payments team=data', 'account=search-prod', 'service="Amazon OpenSearch" region=us-east-1',
    'tag:env=prod', 'tag:ENV=PROD', 'tag:env=""', 'tag:cost_center=cc_1', 'tag:cost_center=CC%1', 'team=nobody',
])
def test_scope_filters_in_sql_match_the_domains_filter(db: Database, scope: str) -> None:
    store = store_with(db, sample())
    question = parse_question(f"{scope} Q3 2026", today=TODAY)
    frame = VarianceStore(db).variance_frame(question)
    expected = expected_frame(store, question)
    pd.testing.assert_frame_equal(comparable(frame), comparable(expected))
    # An answer really is about the scope, not just any frame: spot-check one total by hand.
    if scope == "tag:env=prod":  # payments' EC2 ({"env":"prod"}) and search's OpenSearch ({"Env":"Prod"})
        assert set(frame["x_Team"]) == {"payments", "search"}
        assert set(frame["ServiceName"]) == {"Amazon EC2", "Amazon OpenSearch"}
    if scope == 'tag:env=""':  # only the series with no env tag at all
        assert set(frame["ServiceName"]) == {"AWS Lambda", "Savings Plans"}
    if scope in ("team=nobody", "tag:cost_center=CC%1"):  # LIKE wildcards in values are literal
        assert frame.empty


def test_known_scope_values_are_what_the_series_hold(db: Database) -> None:
    store_with(db, sample())
    known = VarianceStore(db).known_scope_values(["team", "account", "tag:ENV", "tag:cost_center", "tag:none",
                                                  "region"])
    assert known == {"team": {"payments", "search", "data"},
                     "account": {"111100000001", "111100000002", "111100000003", "payments-prod", "search-prod",
                                 "data-prod"},
                     "tag:ENV": {"prod", "Prod", "dev"}, "tag:cost_center": {"CC_1"}, "tag:none": set(),
                     "region": {"us-east-1", "eu-west-1"}}
    assert VarianceStore(db).known_scope_values([]) == {}
    with pytest.raises(ValueError, match="unknown scope key"):
        VarianceStore(db).known_scope_values(["colour"])


def test_whole_months_are_read_from_the_roll_up_and_rebuilt_after_any_write(db: Database) -> None:
    store = store_with(db, sample())
    variance = VarianceStore(db)
    assert variance.stale_months()[:2] == [date(2026, 4, 1), date(2026, 5, 1)]  # marked by the writes
    question = parse_question("Q3 2026", today=TODAY)
    first = variance.variance_frame(question)
    # Reading rebuilt exactly the months it needed; the others stay listed until needed.
    assert variance.stale_months() == [date(2026, 10, 1)]
    assert first.loc[first["period"] == "a", "effective_micros"].sum() == \
        store.totals(start=date(2026, 7, 1), end=date(2026, 9, 30))["EffectiveCost"] * 1_000_000

    # A provider restates August (new amounts, same rows): the month is stale again, and read fresh.
    restated = sample()
    august = restated["ChargePeriodStart"].dt.month == 8
    restated.loc[august, "EffectiveCost"] *= 2
    store.replace_daily_costs("aws", restated[august], start=date(2026, 8, 1), end=date(2026, 8, 31))
    assert variance.stale_months() == [date(2026, 8, 1), date(2026, 10, 1)]
    second = variance.variance_frame(question)
    assert second.loc[second["period"] == "a", "effective_micros"].sum() == \
        store.totals(start=date(2026, 7, 1), end=date(2026, 9, 30))["EffectiveCost"] * 1_000_000
    assert second["effective_micros"].sum() > first["effective_micros"].sum()

    # Deleting a source's days marks their month too.
    store.replace_daily_costs("aws", restated.iloc[:0], start=date(2026, 9, 1), end=date(2026, 9, 30))
    assert date(2026, 9, 1) in variance.stale_months()
    third = variance.variance_frame(question)
    pd.testing.assert_frame_equal(comparable(third), comparable(expected_frame(store, question)))


def test_refresh_rebuilds_every_stale_month_once_even_from_several_threads(db: Database) -> None:
    store = store_with(db, sample())
    variance = VarianceStore(db)
    rebuilt: list[list[date]] = []
    errors: list[BaseException] = []

    def refresh() -> None:
        try:
            rebuilt.append(variance.refresh())
        except BaseException as e:  # noqa: BLE001  (reported below)
            errors.append(e)

    threads = [threading.Thread(target=refresh) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    months = sorted(m for done in rebuilt for m in done)
    assert months == [date(2026, month, 1) for month in range(4, 11)]  # each month exactly once
    assert variance.stale_months() == []
    question = parse_question("2026-10 vs 2026-04", today=TODAY)
    pd.testing.assert_frame_equal(comparable(variance.variance_frame(question)),
                                  comparable(expected_frame(store, question)))


def test_the_migration_lists_the_months_of_data_already_held(db: Database) -> None:
    store_with(db, sample().query("ChargePeriodStart < '2026-06-01'"))
    config = alembic_config(db.url)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0004")
    db.upgrade()  # a store upgraded with data in it: its months are stale until first read
    assert VarianceStore(db).stale_months() == [date(2026, 4, 1), date(2026, 5, 1)]
