"""The digest charts: the legend never covers a bar or the title, whatever the bars' sizes."""

from __future__ import annotations

import dataclasses
import math
from datetime import date

import pandas as pd
import pytest
from matplotlib.figure import Figure

from bot.charts.digest import org_week_chart, org_week_figure, team_week_figure
from finops.digest import Week, org_digest, team_digest
from finops.forecast import forecast_month_end
from finops.model import conform_daily_frame
from finops.money import format_usd
from finops.ownership import DRIVER_COLUMNS, allocate_costs, split_shared_costs
from tests.jobs.digest_data import cost_rows, teams_config

WEEK = Week("2026-W46", date(2026, 11, 9), date(2026, 11, 15))


@pytest.fixture(scope="module")
def costs() -> pd.DataFrame:
    teams = teams_config()
    frame = pd.concat([cost_rows(date(2026, 9, 1), date(2026, 11, 8)),
                       cost_rows(date(2026, 11, 9), date(2026, 11, 15), payments=120.0)])
    return split_shared_costs(allocate_costs(conform_daily_frame(frame), teams), teams)


def overlaps(figure: Figure) -> list[str]:
    """What the legend covers: bars (by index) or the title."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    axes = figure.axes[0]
    legend = axes.get_legend().get_window_extent(renderer)
    covered = [f"bar {i}" for i, bar in enumerate(axes.patches)
               if bar.get_width() and bar.get_height() and legend.overlaps(bar.get_window_extent(renderer))]
    if legend.overlaps(axes.title.get_window_extent(renderer)):
        covered.append("title")
    return covered


def test_the_org_legend_leaves_the_longest_bottom_bars_visible(costs: pd.DataFrame) -> None:
    digest = org_digest("#finops", WEEK, costs=costs, complete_through=WEEK.end, teams=("payments", "search"),
                        forecast=None, budgets={}, untagged=pd.DataFrame({c: [] for c in DRIVER_COLUMNS}),
                        anomalies=[], findings=(), scorecard=None)
    # Twelve teams; the last one listed (drawn at the bottom) has by far the longest bars.
    weekly = tuple((f"team-{i:02d}", 100.0 * (i + 1), 120.0 * (i + 1)) for i in range(11)) + (
        ("team-11", 9000.0, 9500.0),)
    assert overlaps(org_week_figure(dataclasses.replace(digest, weekly=weekly))) == []
    assert org_week_chart(dataclasses.replace(digest, weekly=weekly)).startswith(b"\x89PNG")


def test_the_team_legend_leaves_the_first_days_visible(costs: pd.DataFrame) -> None:
    forecast = forecast_month_end(costs, as_of=WEEK.end)
    digest = team_digest("payments", "#team-payments", WEEK, costs=costs, complete_through=WEEK.end,
                         forecast=forecast, budget=1000.0, anomalies=(), findings=())
    # Every day as tall as any other: a legend inside the plot would sit on some of them.
    flat = tuple((day, 100.0) for day, _ in digest.daily)
    assert overlaps(team_week_figure(dataclasses.replace(digest, daily=flat))) == []


def test_days_still_loading_are_drawn_hollow_and_the_title_names_the_days_compared(costs: pd.DataFrame) -> None:
    digest = team_digest("payments", "#team-payments", WEEK, costs=costs, complete_through=date(2026, 11, 13),
                         forecast=None, budget=None, anomalies=(), findings=())
    axes = team_week_figure(digest).axes[0]
    bars = axes.patches
    assert len(bars) == 35
    # The last two days (Sat 14, Sun 15) are still loading; every other day is filled.
    hollow = [i for i, bar in enumerate(bars) if bar.get_facecolor()[3] == 0]
    assert hollow == [33, 34] and all(bars[i].get_hatch() == "///" for i in hollow)
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["still loading"]
    # Mon-Fri: 5 x $66 before, 5 x $127.20 last week.
    assert axes.get_title() == ("payments: daily cost, Week 46 · 9–15 Nov 2026 in colour "
                                "(Mon–Fri: +$306.00 vs the same days of the week before)")
    org = org_digest("#finops", WEEK, costs=costs, complete_through=date(2026, 11, 13), teams=("payments", "search"),
                     forecast=None, budgets={}, untagged=pd.DataFrame({c: [] for c in DRIVER_COLUMNS}),
                     anomalies=[], findings=(), scorecard=None)
    org_axes = org_week_figure(org).axes[0]
    assert [t.get_text() for t in org_axes.get_legend().get_texts()] == [
        "week before, Mon–Fri", "Week 46 · 9–15 Nov 2026, Mon–Fri"]
    assert org_axes.get_title().endswith("+$300.00 in all (Mon–Fri: the rest is still loading)")


def test_a_first_week_whose_week_before_is_only_partly_in_the_data_draws_no_change(costs: pd.DataFrame) -> None:
    # The cost data starts Thu 5 Nov: the week before holds four of its days, so a change against it
    # would be made up (the digest's text says so; the charts said "+$..." and drew its short bars).
    late = costs[pd.to_datetime(costs["ChargePeriodStart"]) >= pd.Timestamp("2026-11-05")]
    team = team_digest("payments", "#team-payments", WEEK, costs=late, complete_through=WEEK.end,
                       forecast=None, budget=None, anomalies=(), findings=(), data_from=date(2026, 11, 5))
    team_axes = team_week_figure(team).axes[0]
    assert team_axes.get_title() == (
        "payments: daily cost, Week 46 · 9–15 Nov 2026 in colour (the cost data starts Thu 5 Nov)")
    # The days before 5 Nov are unknown: no bar, not a $0 one (the text's "Thu 5 Nov", too).
    heights = [bar.get_height() for bar in team_axes.patches]
    drawn = [day for (day, _), height in zip(team.daily, heights, strict=True) if not math.isnan(height)]
    assert drawn[0] == date(2026, 11, 5) and len(drawn) == 11
    org = org_digest("#finops", WEEK, costs=late, complete_through=WEEK.end, teams=("payments", "search"),
                     forecast=None, budgets={}, untagged=pd.DataFrame({c: [] for c in DRIVER_COLUMNS}),
                     anomalies=[], findings=(), scorecard=None, data_from=date(2026, 11, 5))
    axes = org_week_figure(org).axes[0]
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["Week 46 · 9–15 Nov 2026"]
    assert len(axes.patches) == len(org.weekly)  # last week's bars only
    assert axes.get_title() == (f"Weekly cost by team: {format_usd(org.spend.last)} in all; "
                                "the cost data starts Thu 5 Nov")
