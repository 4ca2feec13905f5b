"""Deliver what the outbox still owes Slack: after a restart, and deferred retries."""

from __future__ import annotations

import logging

from apscheduler.schedulers.base import BaseScheduler

from bot.context import AppContext

log = logging.getLogger(__name__)


def flush_outbox(ctx: AppContext) -> int:
    delivered = ctx.delivery.flush()
    if delivered:
        log.info("outbox: delivered %d pending message(s)", delivered)
    return delivered


def schedule(scheduler: BaseScheduler, ctx: AppContext) -> None:
    scheduler.add_job(flush_outbox, "interval", minutes=1, args=[ctx], id="flush_outbox",
                      max_instances=1, coalesce=True, replace_existing=True)
