"""The weekly digests' charts.

- a team's daily cost over the last five weeks, the reported week in colour and the weeks before
  in grey, with the budget's daily pace when the team has a budget (days far above the usual, a
  month-start fee, are cut at twice the 90th percentile and labelled with their amount);
- the organisation's teams, last week next to the week before, the largest changes first (at
  most :data:`ORG_TEAMS` teams, so the chart stays readable with any number of teams).
"""

from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from bot.charts import COLORS, new_figure, to_png, usd_axis
from finops.digest import OrgDigest, TeamDigest, Week, compared_days
from finops.money import format_usd

ORG_TEAMS = 12
CLIP_FACTOR = 2.0


def legend_above(axes: Axes) -> None:
    """The legend in a row between the title and the plot, where it can cover no bar."""
    axes.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=3, fontsize=7, frameon=False,
                borderaxespad=0.2)


def team_week_chart(digest: TeamDigest) -> bytes:
    """A PNG of the team's daily cost (see the module docstring)."""
    return to_png(team_week_figure(digest))


def team_week_figure(digest: TeamDigest) -> Figure:
    """The figure of :func:`team_week_chart`."""
    days = [day for day, _ in digest.daily]
    # Days before the cost data starts are unknown, not $0: no bar (NaN draws none).
    costs = [float("nan") if digest.data_from and day < digest.data_from else float(cost)
             for day, cost in digest.daily]
    known = [cost for cost in costs if not np.isnan(cost)]
    figure, axes = new_figure(width=8.0, height=3.4)
    axes.set_axisbelow(True)
    colours = [COLORS["actual"] if day >= digest.week.start else COLORS["band"] for day in days]
    bars = axes.bar(range(len(days)), costs, color=colours)
    # Days still loading are drawn hollow: their low bars are not a drop.
    loading = [i for i, day in enumerate(days) if day > digest.through]
    for i in loading:
        bars[i].set_facecolor("none")
        bars[i].set_edgecolor(COLORS["actual"])
        bars[i].set_hatch("///")
    if loading:
        bars[loading[0]].set_label("still loading")
    # A month-start fee can be several times a normal day; cut the axis above the usual days and
    # label the bars that pass it, so a week's change stays visible.
    usual = float(np.percentile(known, 90)) if known else 0.0
    top = max(known, default=0.0)
    if usual > 0 and top > CLIP_FACTOR * usual:
        ceiling = CLIP_FACTOR * usual
        axes.set_ylim(min(0.0, min(known)), ceiling)
        for i, cost in enumerate(costs):
            if cost > ceiling:
                axes.annotate(f"{format_usd(cost)} ↑", (i, ceiling), ha="center", va="top", fontsize=7,
                              xytext=(0, -2), textcoords="offset points", rotation=90)
    if digest.budget is not None:
        end = digest.week.end
        pace = digest.budget.budget / calendar.monthrange(end.year, end.month)[1]
        axes.axhline(pace, color=COLORS["highlight"], linestyle="--", linewidth=1,
                     label=f"budget pace {format_usd(pace)}/day")
    if digest.budget is not None or loading:
        legend_above(axes)
    ticks = [i for i, day in enumerate(days) if day.weekday() == 0]
    axes.set_xticks(ticks, [f"{days[i].day} {days[i]:%b}" for i in ticks], fontsize=7)
    usd_axis(axes)
    # Cost data that starts inside the week before leaves no full week to compare with.
    change = (f"the cost data starts {_day(digest.data_from)}" if digest.no_week_before and digest.data_from
              else _change_words(digest.spend.delta, digest.week, digest.through))
    axes.set_title(f"{digest.team}: daily cost, {digest.week.title} in colour ({change})", fontsize=9, pad=18)
    return figure


def _day(day: date) -> str:
    """``Thu 5 Nov``, as the digest's text writes days (no leading zero)."""
    return f"{day:%a} {day.day} {day:%b}"


def _change_words(delta: Decimal, week: Week, through: date) -> str:
    """``+$120.00 vs the week before``, or ``Mon–Sat: +$120.00 vs the same days before``."""
    days = compared_days(week, through)
    if days:
        return f"{days}: {format_usd(delta, signed=True)} vs the same days of the week before"
    return f"{format_usd(delta, signed=True)} vs the week before"


def org_week_chart(digest: OrgDigest) -> bytes:
    """A PNG of the teams' weekly cost, last week next to the week before."""
    return to_png(org_week_figure(digest))


def org_week_figure(digest: OrgDigest) -> Figure:
    """The figure of :func:`org_week_chart`."""
    shown = list(digest.weekly[:ORG_TEAMS])
    names = [team for team, _, _ in shown][::-1]
    before = np.array([b for _, b, _ in shown][::-1])
    last = np.array([a for _, _, a in shown][::-1])
    figure, axes = new_figure(width=8.0, height=max(2.4, 0.42 * len(shown) + 1.0))
    axes.grid(axis="y", visible=False)
    axes.grid(axis="x", color="#eeeeee")
    axes.set_axisbelow(True)
    y = np.arange(len(shown))
    days = compared_days(digest.week, digest.through)
    if digest.no_week_before:
        # The week before is only partly in the cost data: its bars would draw a change that is not.
        axes.barh(y, last, height=0.6, color=COLORS["actual"], label=digest.week.title)
    else:
        axes.barh(y + 0.2, before, height=0.4, color=COLORS["band"],
                  label=f"week before, {days}" if days else "week before")
        axes.barh(y - 0.2, last, height=0.4, color=COLORS["actual"],
                  label=f"{digest.week.title}, {days}" if days else digest.week.title)
    axes.set_yticks(y, names, fontsize=8)
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"${value:,.0f}"))
    legend_above(axes)
    if digest.no_week_before:
        more = f" (the {ORG_TEAMS} largest)" if len(digest.weekly) > ORG_TEAMS else ""
        since = f"; the cost data starts {_day(digest.data_from)}" if digest.data_from else ""
        axes.set_title(f"Weekly cost by team{more}: {format_usd(digest.spend.last)} in all{since}",
                       fontsize=9, pad=18)
        return figure
    more = f" (the {ORG_TEAMS} largest changes)" if len(digest.weekly) > ORG_TEAMS else ""
    axes.set_title(f"Weekly cost by team{more}: {format_usd(digest.spend.delta, signed=True)} in all"
                   + (f" ({days}: the rest is still loading)" if days else ""), fontsize=9, pad=18)
    return figure
