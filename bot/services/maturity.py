"""The FinOps maturity scorecard (finops/maturity.py) from the bot's own data, as ``costbot
maturity``, ``/cost maturity`` and the org digest show it. Where each number comes from:

1. attribution: ``load_coverage`` (current teams.yml, shared pools split) of the last complete
   calendar month (before the store holds one, of the days it holds), with tag coverage, the top untagged cost drivers, and the biggest spend no
   team owns (:func:`load_unowned_drivers`);
2. anomaly routing: the anomaly store's timeline per alert;
3. implementation: every savings finding (storage/findings.py) through the savings ledger;
4. variance: ``/cost why last quarter``'s answer (bot/variance_service.py), when the store holds
   both quarters;
5. unit cost: monthly unit costs (bot/services/units.py).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pandas as pd

from bot.cli.coverage import load_coverage
from bot.services.forecast import complete_through, load_team_daily
from bot.services.records import load_alert_timings, load_findings
from bot.services.units import load_unit_costs
from bot.variance_service import answer_question
from finops.errors import CostbotError
from finops.maturity import (
    NAMED,
    MaturityInputs,
    Scorecard,
    VarianceSummary,
    maturity_scorecard,
    unowned_cost_drivers,
    variance_summary,
)
from finops.model import DIMENSIONS, TEAM
from finops.money import cents, split_named_to_cents
from finops.ownership import allocate_costs
from finops.teams import TeamsConfig
from finops.units import unit_trends
from storage.costs import CostStore
from storage.db import Database


def last_complete_month(through: date) -> tuple[date, date]:
    """The last calendar month whose every day is complete on ``through``."""
    month = pd.Timestamp(through).to_period("M")
    if through != month.end_time.date():
        month -= 1
    return month.start_time.date(), month.end_time.date()


def load_variance(db: Database, today: date) -> VarianceSummary | None:
    """Last quarter against the one before, when the store holds both whole quarters; else None."""
    held = CostStore(db).date_range()
    if held is None:
        return None
    try:
        answer = answer_question(db, "last quarter", today=today)
    except CostbotError:
        return None
    if held[0] > answer.question.period_b.start:
        return None  # the comparison quarter is not all there: its share would mean nothing
    return variance_summary(answer)


def load_unowned_drivers(store: CostStore, teams: TeamsConfig, start: date, end: date) -> pd.DataFrame:
    """The biggest spend of ``[start, end]`` no team owns under the current teams.yml (a shared
    pool's spend has owners): each series' total is summed in SQL, then allocated."""
    series = store.grouped_costs(by=list(DIMENSIONS), start=start, end=end)
    return unowned_cost_drivers(allocate_costs(series, teams), n=NAMED)


def attribution_days(store: CostStore, through: date) -> tuple[date, date, str]:
    """The days attribution is measured on, and their label: the last complete month
    (``2026-10``); before the store holds one, the days it holds (``2026-11-01..2026-11-15``), so
    a first install's scorecard reads its spend instead of "no spend recorded, ingest first"."""
    start, end = last_complete_month(through)
    held = store.date_range()
    if held is not None and end < held[0] <= through:
        return held[0], through, f"{held[0]:%Y-%m-%d}..{through:%Y-%m-%d}"
    return start, end, f"{start:%Y-%m}"


def load_maturity_inputs(db: Database, teams: TeamsConfig, today: date) -> MaturityInputs:
    """Everything the scorecard needs, as of ``today`` (see the module docstring)."""
    store = CostStore(db)
    through = complete_through(store, today - timedelta(days=1)) or today - timedelta(days=1)
    start, end, period = attribution_days(store, through)
    report = load_coverage(store, teams, start=start, end=end)
    daily = load_team_daily(store, teams, start=(pd.Timestamp(start).to_period("M") - 6).start_time.date(),
                            end=through)
    in_month = (daily["ChargePeriodStart"] >= pd.Timestamp(start)) & (daily["ChargePeriodStart"] <= pd.Timestamp(end))
    spend = daily[in_month].groupby(TEAM)["EffectiveCost"].sum()
    # In the cents of `costbot costs --by team` (split from the total), not each rounded alone.
    spend_cents = split_named_to_cents({str(team): Decimal(repr(float(cost))) for team, cost in spend.items()},
                                       cents(spend.sum()))
    units = load_unit_costs(db, teams, today, team_daily=daily)
    return MaturityInputs(
        as_of=today, attribution_period=period, coverage=report.attribution,
        mandatory_tags=tuple(t.tag for t in report.tags), tag_coverage={t.tag: t.share for t in report.tags},
        untagged_drivers=report.untagged, alert_timings=load_alert_timings(db), findings=load_findings(db),
        variance=load_variance(db, today), unit_trends=unit_trends(units) if not units.empty else [],
        team_spend={team: float(cost) for team, cost in spend_cents.items()},
        unit_metrics={t.name: tuple(m.name for m in t.unit_metrics) for t in teams.teams},
        unowned_drivers=load_unowned_drivers(store, teams, start, end), teams_defined=len(teams.teams),
    )


def load_scorecard(db: Database, teams: TeamsConfig, today: date) -> Scorecard:
    """The scorecard as of ``today``."""
    return maturity_scorecard(load_maturity_inputs(db, teams, today))
