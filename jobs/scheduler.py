"""The scheduler: APScheduler in the bot's process, jobs registered by the modules of ``jobs/``.

Each job module may define ``schedule(scheduler, ctx)`` to add its jobs. Jobs are plain
functions (load -> domain -> store -> deliver); they must be safe to run on several replicas
(the outbox and per-job locks make them so).
"""

from __future__ import annotations

import importlib
import logging
import pkgutil

from apscheduler.schedulers.background import BackgroundScheduler

from bot.context import AppContext

log = logging.getLogger(__name__)


def build_scheduler(ctx: AppContext) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone=ctx.settings.timezone)
    import jobs

    for info in sorted(pkgutil.iter_modules(jobs.__path__), key=lambda m: m.name):
        if info.name == "scheduler":
            continue
        module = importlib.import_module(f"jobs.{info.name}")
        schedule = getattr(module, "schedule", None)
        if schedule is not None:
            schedule(scheduler, ctx)
    return scheduler
