"""The scheduler: APScheduler in the bot's process, jobs registered by the modules of ``jobs/``.

Each job module may define ``schedule(scheduler, ctx)`` to add its jobs. Jobs are plain
functions (load -> domain -> store -> deliver); they must be safe to run on several replicas
(the outbox and per-job locks make them so).

Two job stores. Most jobs (the outbox flush, ingest, budgets) live in memory: a missed run is
simply done at the next one. Jobs whose missed runs matter (the weekly digest) go to the
``persistent`` store, APScheduler's ``SQLAlchemyJobStore`` on the bot's own database
(``scheduler_job``): their next run time survives a restart, so a run missed while the bot was
down is found on start and runs once (``coalesce``: several missed runs make one), and then the
store holds the following one, so a second restart runs nothing. A pickled job cannot hold the
app context, so a persistent job stores a textual reference to its function and the key of its
context, and :func:`run_persistent_job` finds the process's context by that key. Replicas share
the store; a job that must post once (the digest) claims its work in the database as well.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import pkgutil
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.util import ref_to_obj

from bot.context import AppContext
from storage.digests import scheduled_next_run
from storage.tables.digests import SCHEDULER_JOB_TABLE

log = logging.getLogger(__name__)

PERSISTENT = "persistent"
# The contexts persistent jobs run with, by context key (one per database in this process).
_CONTEXTS: dict[str, AppContext] = {}


def build_scheduler(ctx: AppContext) -> BackgroundScheduler:
    """A scheduler with every job module's jobs (not started)."""
    scheduler = BackgroundScheduler(
        timezone=schedule_timezone(ctx),
        jobstores={"default": MemoryJobStore(),
                   PERSISTENT: SQLAlchemyJobStore(engine=ctx.db.engine, tablename=SCHEDULER_JOB_TABLE)},
    )
    import jobs

    for info in sorted(pkgutil.iter_modules(jobs.__path__), key=lambda m: m.name):
        if info.name == "scheduler":
            continue
        module = importlib.import_module(f"jobs.{info.name}")
        schedule = getattr(module, "schedule", None)
        if schedule is not None:
            schedule(scheduler, ctx)
    return scheduler


def schedule_timezone(ctx: AppContext) -> str:
    """The time zone of scheduled posts: ``COSTBOT_TIMEZONE`` when set, else teams.yml's ``digest``
    time zone (UTC by default)."""
    return ctx.schedule_timezone


def context_key(ctx: AppContext) -> str:
    """The same on every replica of one deployment (the database identifies it); no secret in it."""
    return hashlib.sha256(ctx.db.url.encode()).hexdigest()[:16]


def run_persistent_job(key: str, function: str) -> object:
    """What a persistent job runs: ``function`` (``module:name``) with the context of ``key``."""
    ctx = _CONTEXTS.get(key)
    if ctx is None:
        # A job stored by another deployment sharing this database, or registered before a restart
        # that has not scheduled its jobs yet: nothing to run it with.
        log.warning("no context %s in this process for %s; skipped", key, function)
        return None
    target: Callable[[AppContext], object] = ref_to_obj(function)
    return target(ctx)


def add_persistent_job(scheduler: BaseScheduler, ctx: AppContext, function: str, trigger: BaseTrigger,
                       job_id: str, *, now: datetime | None = None) -> None:
    """Add ``function(ctx)`` to the persistent store under ``job_id``, keeping a missed run.

    When the store already holds the job with a next run time in the past (the bot was down when
    it was due), that time is kept, so the scheduler runs the job once as soon as it starts; a
    future time is recomputed from ``trigger`` (the schedule in teams.yml may have changed).
    Missed runs are coalesced into one and never dropped for being late (no grace limit).
    """
    key = context_key(ctx)
    _CONTEXTS[key] = ctx
    stored = scheduled_next_run(ctx.db, job_id)
    # The scheduler runs on the wall clock (not the context's, which tests and the demo pin).
    current = now or datetime.now(UTC)
    extra = {"next_run_time": stored} if stored is not None and stored <= current else {}
    if extra:
        log.info("%s was due at %s while the bot was down: it runs once now", job_id, stored.isoformat())
    scheduler.add_job(run_persistent_job, trigger, args=[key, function], id=job_id, jobstore=PERSISTENT,
                      replace_existing=True, coalesce=True, max_instances=1, misfire_grace_time=None, **extra)
