"""App Home: on ``app_home_opened`` (the Home tab), publish the viewer's team dashboard.

The viewer's teams are those listing them as an owner or member in teams.yml; failing that, the
teams whose channel they are in (for teams that count channel members, the default). Someone on
no team sees the organisation's month. Bolt acknowledges the event at once; the view is built
after (a forecast reads months of daily sums) and published with ``views.publish``.
"""

from __future__ import annotations

import logging

from slack_bolt import App

from bot.blocks.forecast import data_starts_in_month, status_line
from bot.blocks.home import MAX_TEAMS, TeamHome, home_error_view, home_view, org_text
from bot.context import AppContext
from bot.delivery import HOME_MEMBERS_MAX_AGE, DeliveryError
from bot.services.forecast import budgets_of, load_forecast
from bot.services.records import load_open_anomalies
from bot.services.units import load_unit_costs
from finops.digest import OPEN_STATES
from finops.errors import InputError
from finops.forecast import MonthForecast, budget_status
from finops.units import unit_trends
from storage.costs import CostStore
from storage.findings import FindingStore

log = logging.getLogger(__name__)

# Channel membership is looked up in Slack (one call per team): only for a handful of teams.
MAX_CHANNEL_LOOKUPS = 20


def viewer_teams(ctx: AppContext, user: str) -> list[str]:
    """The teams ``user`` belongs to (see the module docstring), in teams.yml order."""
    listed = [t.name for t in ctx.teams.teams if user in t.owners or user in t.members]
    if listed:
        return listed
    found = []
    for team in [t for t in ctx.teams.teams if t.members_from_channel][:MAX_CHANNEL_LOOKUPS]:
        try:
            members = ctx.delivery.channel_members(team.channel, max_age=HOME_MEMBERS_MAX_AGE)
        except DeliveryError as error:
            if error.transient:
                raise  # Slack busy: the Home is published on the next visit
            # One channel the bot cannot read must not blank everyone's Home: skip it, loudly.
            log.error("App Home: members of %s's channel %s cannot be read: %s", team.name, team.channel, error)
            continue
        if user in members:
            found.append(team.name)
    return found


def load_home(ctx: AppContext, teams: list[str], forecast: MonthForecast | None,
              no_forecast: str | None = None) -> list[TeamHome]:
    """The dashboard data of ``teams`` (at most the number the view shows); ``no_forecast`` says
    why ``forecast`` is None (no cost data yet, or data too old to forecast this month from)."""
    teams = teams[:MAX_TEAMS]
    budgets = budgets_of(ctx.teams)
    statuses = {s.team: s for s in budget_status(forecast, {t: budgets[t] for t in teams if t in budgets})} \
        if forecast is not None else {}
    findings = FindingStore(ctx.db)
    anomalies = load_open_anomalies(ctx.db)
    units = load_unit_costs(ctx.db, ctx.teams, ctx.today())
    trends = unit_trends(units) if not units.empty else []
    # Due dates are the team's calendar days: past due once the day has ended where the team is
    # (the digest's time zone), not where UTC is.
    today = ctx.schedule_today()
    homes = []
    for team in teams:
        found = forecast.team(team) if forecast is not None else None
        open_findings = sorted(findings.list_findings(team=team, states=OPEN_STATES),
                               key=lambda f: (-f.estimate_monthly, f.id))
        homes.append(TeamHome(
            team=team, channel=ctx.teams.channel_for(team),
            month=forecast.month if forecast is not None else f"{ctx.today():%Y-%m}",
            month_to_date=found.actual_to_date if found else 0.0,
            complete_through=forecast.complete_through if forecast is not None else None,
            forecast=None if forecast is None else (found.forecast if found else 0.0), budget=statuses.get(team),
            anomalies=[a for a in anomalies if a.team == team],
            findings=open_findings, units=[t for t in trends if t.team == team], today=today,
            no_figures=no_forecast if forecast is None else None,
            data_from=data_starts_in_month(forecast) if forecast is not None else None))
    return homes


def publish_home(ctx: AppContext, user: str) -> dict:
    """Build and publish ``user``'s Home tab; returns the view."""
    teams = viewer_teams(ctx, user)
    try:
        forecast, no_forecast = load_forecast(CostStore(ctx.db), ctx.teams, ctx.today()), None
    except InputError as why:
        forecast, no_forecast = None, str(why)
    org_line = f"*Organisation*: no spend or forecast to show: {no_forecast}" if no_forecast else None
    if forecast is not None:
        org_line = org_text(forecast)
    if teams:
        view = home_view(load_home(ctx, teams, forecast, no_forecast), viewer_has_team=True, team_count=len(teams))
    elif ctx.teams.is_finance_approver(user):
        # No forecast (no data yet, or too old): the org line says why; never "ask to join a team".
        budget_lines = None
        if forecast is not None:
            statuses = sorted(budget_status(forecast, budgets_of(ctx.teams)), key=lambda s: (-s.share, s.team))
            budget_lines = [status_line(s) for s in statuses]
        view = home_view([], viewer_has_team=False, org_line=org_line, finance_approver=True,
                         budget_lines=budget_lines)
    else:
        view = home_view([], viewer_has_team=False, org_line=org_line)
    ctx.delivery.publish_home(user, view)
    return view


def register(app: App, ctx: AppContext) -> None:
    @app.event("app_home_opened")
    def on_home_opened(event: dict) -> None:
        if event.get("tab", "home") != "home":
            return  # the Messages tab
        try:
            publish_home(ctx, event["user"])
        except DeliveryError as error:
            if error.transient:
                raise  # Slack busy: the Home is published on the next visit
            log.error("App Home of %s not published: %s", event["user"], error)
        except Exception:
            # A bug or a database outage must not leave the tab blank (or on yesterday's figures
            # with no word): the viewer is told, the admins get the traceback in the log.
            log.exception("App Home of %s could not be built", event["user"])
            try:
                ctx.delivery.publish_home(event["user"], home_error_view())
            except DeliveryError as error:
                log.error("App Home of %s: the error view was not published either: %s", event["user"], error)
