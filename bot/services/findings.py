"""Savings findings as every surface (the CLI, the Slack handlers, the jobs, the demo) uses them: who
may move a finding, the new-finding form filled from an anomaly, and the finding's Slack message.

The listeners and commands stay thin: they parse, call one of these, and answer.
"""

from __future__ import annotations

from bot.blocks.findings import FindingDraft
from bot.context import AppContext
from finops.savings import anomaly_monthly_estimate
from storage.anomalies import AnomalyStore

ANOMALY_SCOPE_KEYS = ("provider", "sub_account_id", "service", "region")


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
