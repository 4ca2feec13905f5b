"""A small organisation with hand-checkable numbers, for the forecast, budget, digest, unit cost and
scorecard tests.

Every day: payments $60 on EC2 (tagged team+env), search $30 on S3 (account 222, untagged),
$9 AWS Support (a proportional shared pool: payments gets 60/90 = $6, search $3), and $1 on an
untagged EC2 account nobody owns. So payments costs $66 a day, search $33, unallocated $1.
Spend is flat (no weekly pattern, no trend), so the month-end forecast is exact: a 30-day
November is $1,980 for payments and $990 for search.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pandas as pd

from finops.model import DAY, canonical_tags, conform_daily_frame
from finops.ownership import allocate_costs
from finops.teams import TeamsConfig, parse_teams
from storage.costs import CostStore
from storage.db import Database
from tests.harness import RunningBot, start_bot
from tests.slack.fake_slack import FakeSlack

TEAMS_YAML = """\
default_channel: "#finops"
finance_approvers: [U_FINANCE]
mandatory_tags: [team, env]
teams:
  - name: payments
    channel: "#team-payments"
    owners: [U_PAY_OWNER]
    members: [U_PAY_DEV]
    budget_monthly: 2300
    unit_metrics: [orders]
    match:
      - tag: {team: payments}
      - sub_account_id: "111"
  - name: search
    channel: "#team-search"
    owners: [U_SEARCH_OWNER]
    budget_monthly: 1500
    match:
      - sub_account_id: "222"
shared_costs:
  - name: support
    split: proportional
    match:
      - service: AWS Support
"""
SOURCE = "test-costs"


def teams_config(text: str = TEAMS_YAML) -> TeamsConfig:
    return parse_teams(text, file="teams.yml")


def cost_rows(start: date, end: date, *, payments: float = 60.0, search: float = 30.0, support: float = 9.0,
              stray: float = 1.0) -> pd.DataFrame:
    """One row per kind of spend and day from ``start`` to ``end`` (see the module docstring)."""
    rows = []
    for day in pd.date_range(start, end, freq="D"):
        rows += [
            {DAY: day, "ProviderName": "AWS", "SubAccountId": "111", "ServiceName": "Amazon EC2",
             "ChargeCategory": "Usage", "ResourceId": "i-payments", "EffectiveCost": payments, "BilledCost": payments,
             "Tags": canonical_tags({"team": "payments", "env": "prod"})},
            {DAY: day, "ProviderName": "AWS", "SubAccountId": "222", "ServiceName": "Amazon S3",
             "ChargeCategory": "Usage", "ResourceId": "search-index", "EffectiveCost": search, "BilledCost": search},
            {DAY: day, "ProviderName": "AWS", "SubAccountId": "555", "ServiceName": "AWS Support",
             "ChargeCategory": "Usage", "EffectiveCost": support, "BilledCost": support},
            {DAY: day, "ProviderName": "AWS", "SubAccountId": "999", "ServiceName": "Amazon EC2",
             "ChargeCategory": "Usage", "ResourceId": "i-stray", "EffectiveCost": stray, "BilledCost": stray,
             "Tags": canonical_tags({"env": "dev"})},
        ]
    return pd.DataFrame(rows)


def store_costs(db: Database, teams: TeamsConfig, frame: pd.DataFrame, *, complete_through: date) -> None:
    """Allocate and write ``frame`` as one source whose days are complete through ``complete_through``."""
    store = CostStore(db)
    owned = allocate_costs(conform_daily_frame(frame), teams)
    store.replace_daily_costs(SOURCE, owned)
    last = pd.to_datetime(frame[DAY]).max().date()
    store.set_freshness(SOURCE, last_day=last, complete_through=complete_through)


def flat_history(db: Database, teams: TeamsConfig, *, start: date = date(2026, 1, 1),
                 through: date = date(2026, 11, 15)) -> None:
    """The flat organisation from ``start`` to ``through``, complete through that day."""
    store_costs(db, teams, cost_rows(start, through), complete_through=through)


def day_before(day: date) -> date:
    return day - timedelta(days=1)


MONDAY_9AM = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)  # week 46 (9-15 Nov) is the one reported


# The same org with U_BOTH a member of payments and an owner of search.
TWO_TEAMS_YAML = TEAMS_YAML.replace("members: [U_PAY_DEV]", "members: [U_PAY_DEV, U_BOTH]").replace(
    "owners: [U_SEARCH_OWNER]", "owners: [U_SEARCH_OWNER, U_BOTH]")


def break_digest_of(monkeypatch, team: str, error: BaseException | None = None) -> Callable[[], None]:
    """Make building ``team``'s digest message raise ``error`` (default: a chart backend down),
    the others unharmed; returns what mends it."""
    import jobs.digest

    real = jobs.digest.team_message

    def broken(digest):
        if digest.team == team:
            raise error or RuntimeError("chart backend down")
        return real(digest)

    monkeypatch.setattr(jobs.digest, "team_message", broken)
    return lambda: monkeypatch.setattr(jobs.digest, "team_message", real)


@contextmanager
def running_org(db: Database, slack: FakeSlack, *, payments_rose_last_week: bool = False,
                teams_yaml: str = TEAMS_YAML) -> Iterator[RunningBot]:
    """The bot on this org's history (flat to 15 Nov, or with payments at $120/day from 9 Nov),
    its clock at Monday 16 Nov 09:00; stopped when the block ends."""
    running = start_bot(db, slack, teams_yaml=teams_yaml, now=lambda: MONDAY_9AM)
    teams = teams_config(teams_yaml)
    if payments_rose_last_week:
        flat_history(db, teams, through=date(2026, 11, 8))
        store_costs(db, teams, cost_rows(date(2026, 11, 9), date(2026, 11, 15), payments=120.0),
                    complete_through=date(2026, 11, 15))
    else:
        flat_history(db, teams)
    try:
        yield running
    finally:
        running.stop()
