"""Savings findings as every surface (the CLI, the Slack handlers, the jobs, the demo) uses them: who
may move a finding, the new-finding form filled from an anomaly, and the finding's Slack message.

The listeners and commands stay thin: they parse, call one of these, and answer.
"""

from __future__ import annotations

from datetime import timedelta

from bot.blocks.findings import OPTION_LIMIT, PICKED_SCOPE, FindingDraft
from bot.context import AppContext
from finops.savings import anomaly_monthly_estimate
from storage.anomalies import AnomalyStore
from storage.costs import CostStore

ANOMALY_SCOPE_KEYS = ("provider", "sub_account_id", "service", "region")
SCOPE_OPTION_DAYS = 35  # the scope pickers offer what has cost something lately, biggest first


def scope_options(ctx: AppContext) -> dict[str, list[str]]:
    """Values for the form's scope pickers (provider, account, service, region): those with spend in
    the last SCOPE_OPTION_DAYS days, biggest first, OPTION_LIMIT at most, from one grouped query."""
    start = ctx.today() - timedelta(days=SCOPE_OPTION_DAYS)
    grouped = CostStore(ctx.db).grouped_costs(by=list(PICKED_SCOPE), start=start)
    options = {}
    for key, column in zip(PICKED_SCOPE, grouped.columns[:len(PICKED_SCOPE)], strict=True):  # groups come first
        spend = grouped.groupby(column)["EffectiveCost"].sum()
        ranked = spend[spend.index != ""].sort_values(ascending=False)
        if len(ranked):
            options[key] = [str(v) for v in ranked.index[:OPTION_LIMIT]]
    return options


def anomaly_draft(ctx: AppContext, anomaly_id: int) -> tuple[FindingDraft, str]:
    """The new-finding form filled from an anomaly, and the anomaly's team.

    Scope: the anomaly's dimensions (provider, account, service, region); estimate: its extra
    spend per day over the days its impact covers, a month of it
    (:func:`finops.savings.anomaly_monthly_estimate`). InputError when there is no such anomaly.
    """
    anomaly = AnomalyStore(ctx.db).get(anomaly_id)
    dimensions = anomaly.dimensions
    scope = {key: [str(dimensions[key])] for key in ANOMALY_SCOPE_KEYS if dimensions.get(key)}
    title = f"Reduce {dimensions.get('service') or 'spend'} after anomaly #{anomaly_id}"
    return FindingDraft(title=title, team=anomaly.team, scope=scope,
                        estimate_monthly=anomaly_monthly_estimate(anomaly.impact, anomaly.start, anomaly.through),
                        source="anomaly", external_id=str(anomaly_id)), anomaly.team
