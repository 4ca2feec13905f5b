"""Daily budget check: forecast each team's month, alert its channel once when the forecast crosses
80 % or 100 % of the budget, and keep that one alert up to date as the forecast moves.

One message per team and month (key ``budget:<team>:<YYYY-MM>``): the first crossing posts it;
later days edit it in place (the outbox only calls Slack when the content changed), never a
second post. An edit notifies nobody, so when the level *rises* (warning -> over,
``finops.forecast.level_rose``) a thread reply says so, once per level and month. A forecast that
falls back under 80 % edits the message to say so; rising again does not announce a level twice.
Through the next month the alert is still edited as the month's last days land, and it ends
with the month's final total.
Safe on several replicas: every Slack write is keyed, the state row is upserted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.blocks.forecast import budget_alert_message, budget_level_reply, budget_share
from bot.context import AppContext
from bot.delivery import Message
from bot.services.forecast import budgets_of, load_forecast
from finops.errors import InputError
from finops.forecast import BudgetStatus, MonthForecast, budget_status, level_rose
from jobs.scheduler import schedule_timezone
from storage.costs import CostStore
from storage.digests import BudgetAlertStore

log = logging.getLogger(__name__)

# After the usual morning ingest; the forecast only moves when new data lands.
CHECK_HOUR, CHECK_MINUTE = 10, 0


@dataclass(frozen=True)
class BudgetAlertOutcome:
    """What the check did for one budgeted team."""

    team: str
    month: str
    level: str
    action: str  # "none" (under 80 %, no alert yet), "posted", "updated", "raised" (updated + thread reply)


def alert_key(team: str, month: str) -> str:
    return f"budget:{team}:{month}"


def check_budgets(ctx: AppContext, *, as_of: date | None = None) -> list[BudgetAlertOutcome]:
    """Forecast the month of ``as_of`` (default: today) and post or update each team's alert."""
    budgets = budgets_of(ctx.teams)
    if not budgets:
        return []
    store = CostStore(ctx.db)
    if store.date_range() is None:
        return []
    as_of = as_of or ctx.today()
    alerts = BudgetAlertStore(ctx.db)
    outcomes = []
    try:
        forecast = load_forecast(store, ctx.teams, as_of)
    except InputError as why:
        # Cost data too old to forecast the month from (a source stopped): no alert from stale
        # figures; the freshness checks say what is late. The existing alerts stay as they are.
        log.warning("budget check skipped: %s", why)
    else:
        outcomes = [_alert_team(ctx, alerts, status, forecast) for status in budget_status(forecast, budgets)]
    # Last month's alerts are brought up to date even when this month cannot be forecast: its
    # last days are what arrived.
    return outcomes + _bring_last_month_up_to_date(ctx, store, alerts, as_of.strftime("%Y-%m"))


def _bring_last_month_up_to_date(ctx: AppContext, store: CostStore, alerts: BudgetAlertStore,
                                 month: str) -> list[BudgetAlertOutcome]:
    """Edit last month's alerts with its latest figures: its last days land after it ended, and
    once its data is complete the alert shows the month's final total, not a forecast left as it
    stood on its last check. Only alerts already posted are edited; nothing new is posted. Each is
    judged against the budget it was alerted on: a budget changed in teams.yml since belongs to
    the months after."""
    last_day = date.fromisoformat(f"{month}-01") - timedelta(days=1)
    alerted_on = {alert.team: alert.budget for alert in alerts.for_month(last_day.strftime("%Y-%m"))}
    if not alerted_on:
        return []
    try:
        closing = load_forecast(store, ctx.teams, last_day)
    except InputError as why:
        log.warning("last month's budget alerts left as they are: %s", why)
        return []
    return [_alert_team(ctx, alerts, status, closing) for status in budget_status(closing, alerted_on)]


def _alert_team(ctx: AppContext, alerts: BudgetAlertStore, status: BudgetStatus,
                forecast: MonthForecast) -> BudgetAlertOutcome:
    month = forecast.month
    saved = alerts.get(status.team, month)
    if saved is None and status.level == "ok":
        return BudgetAlertOutcome(status.team, month, status.level, "none")
    key = alert_key(status.team, month)
    announced = saved.announced_level if saved else None
    rose = level_rose(announced, status.level)
    announced_now = status.level if rose else (announced or status.level)
    channel = ctx.teams.channel_for(status.team)
    message = budget_alert_message(status, forecast, announced_level=announced_now)
    ctx.delivery.send(Message(key=key, channel=channel, text=message["text"], blocks=message["blocks"]))
    action = "posted" if saved is None else "updated"
    if saved is not None and rose:
        ctx.delivery.send(Message(key=f"{key}:{status.level}", channel=channel,
                                  text=budget_level_reply(status, forecast), thread_key=key))
        action = "raised"
    alerts.save(status.team, month, message_key=key, level=status.level, announced_level=announced_now,
                forecast=status.forecast, budget=status.budget, at=ctx.now())
    log.info("budget %s %s: %s (%s), %s", status.team, month, status.level, budget_share(status), action)
    return BudgetAlertOutcome(status.team, month, status.level, action)


def schedule(scheduler: BaseScheduler, ctx: AppContext) -> None:
    """Daily at 10:00 in the digest's time zone."""
    scheduler.add_job(check_budgets, CronTrigger(hour=CHECK_HOUR, minute=CHECK_MINUTE,
                                                 timezone=schedule_timezone(ctx)),
                      args=[ctx], id="budget_alerts", max_instances=1, coalesce=True, misfire_grace_time=3600,
                      replace_existing=True)

