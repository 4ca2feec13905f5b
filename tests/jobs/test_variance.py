"""The roll-up refresh job: it rebuilds every stale month, once, and the scheduler finds it."""

from __future__ import annotations

from datetime import date

import pandas as pd
from apscheduler.schedulers.background import BackgroundScheduler

from bot.config import Settings
from bot.context import build_context
from jobs import variance
from storage.costs import CostStore
from storage.db import Database
from storage.variance import VarianceStore


def test_refresh_rebuilds_the_stale_months_and_is_scheduled(db: Database) -> None:
    days = pd.date_range("2026-09-20", "2026-10-10")
    CostStore(db).replace_daily_costs("aws", pd.DataFrame({"ChargePeriodStart": days, "ServiceName": "EC2",
                                                           "EffectiveCost": 2.5, "x_Team": "payments"}))
    ctx = build_context(Settings(database_url=db.url), upgrade=False)
    assert variance.refresh_cost_rollup(ctx) == [date(2026, 9, 1), date(2026, 10, 1)]
    assert variance.refresh_cost_rollup(ctx) == []
    assert VarianceStore(db).stale_months() == []

    scheduler = BackgroundScheduler()
    variance.schedule(scheduler, ctx)
    (job,) = scheduler.get_jobs()
    assert (job.id, job.func, job.trigger.interval.total_seconds()) == (
        "refresh_cost_rollup", variance.refresh_cost_rollup, variance.REFRESH_MINUTES * 60)
