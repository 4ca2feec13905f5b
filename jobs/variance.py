"""Keep the monthly cost roll-up fresh, so the first ``/cost why`` after an ingest is fast.

Any write to ``cost_daily`` lists its months as stale (migration 0005's triggers); a question
rebuilds the stale months it reads before reading them, which costs about a second per month of
a large store on SQLite. This job rebuilds every stale month shortly after the data lands instead.
It is safe on several replicas: rebuilds are locked and a month is rebuilt once.
"""

from __future__ import annotations

import logging
from datetime import date

from apscheduler.schedulers.base import BaseScheduler

from bot.context import AppContext
from storage.variance import VarianceStore

log = logging.getLogger(__name__)

REFRESH_MINUTES = 10


def refresh_cost_rollup(ctx: AppContext) -> list[date]:
    """Rebuild the roll-up of every stale month; returns the months rebuilt."""
    months = VarianceStore(ctx.db).refresh()
    if months:
        log.info("monthly cost roll-up rebuilt for %s", ", ".join(f"{m:%Y-%m}" for m in months))
    return months


def schedule(scheduler: BaseScheduler, ctx: AppContext) -> None:
    scheduler.add_job(refresh_cost_rollup, "interval", minutes=REFRESH_MINUTES, args=[ctx], id="refresh_cost_rollup",
                      max_instances=1, coalesce=True, replace_existing=True)
