"""The waterfall of a variance answer: period B's total, each contributor's change, period A's total.

Each contributor is a floating bar from the running total before it to the one after it (red when
it raised spend, green when it lowered it), so the bars walk from B's total to A's exactly as the
contributors add up. The answer has at most ``top_n + 1`` lines, so the chart stays readable.

The y axis starts at $0 whenever that leaves the changes visible (the lowest level is within
:data:`ZERO_SHARE` of the top). When the changes are small next to the totals (a 1 % change of
$2M), starting at $0 would flatten them into lines, so the axis starts just below the lowest
level instead; a truncated axis exaggerates, so the chart then says so: break marks on the axis,
"the axis starts at $X" under the title, and both totals printed on their bars.
"""

from __future__ import annotations

import math
import textwrap

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from bot.charts import COLORS, new_figure, to_png, usd_axis
from finops.money import format_usd
from finops.variance import VarianceAnswer

LABEL_WIDTH = 18  # characters per line of an axis label
LABEL_LINES = 3
# Start at $0 while the lowest running total is at most this share of the highest: the changes
# then still fill at least 30 % of the chart's height.
ZERO_SHARE = 0.7


def _axis_label(text: str) -> str:
    lines = textwrap.wrap(text, LABEL_WIDTH, break_long_words=True) or [""]
    if len(lines) > LABEL_LINES:
        lines = lines[:LABEL_LINES]
        lines[-1] = lines[-1][:LABEL_WIDTH - 1] + "…"
    return "\n".join(lines)


def _plain(text: str) -> str:
    """``text`` as matplotlib should print it: two "$" would otherwise start and end a formula."""
    return text.replace("$", r"\$")


def _tick(value: float, _position: object) -> str:
    """A y tick in whole dollars, the sign first as in the answer: -$200, not $-200."""
    return f"-${-value:,.0f}" if round(value) < 0 else f"${abs(value):,.0f}"


def worth_charting(answer: VarianceAnswer) -> bool:
    """True when some contributor moved spend: a waterfall of no change has nothing to show."""
    return any(c.delta for c in answer.contributors)


def y_limits(levels: list[float]) -> tuple[float, float, bool]:
    """(bottom, top, truncated) of the y axis for these running totals (module docstring)."""
    low, high = min(levels), max(levels)
    margin = (high - low) * 0.15 or abs(high) * 0.05 or 1.0
    top = high + margin if high > 0 else margin
    if low < 0:
        return low - margin, top, False
    if low <= ZERO_SHARE * high or low - margin <= 0:
        return 0.0, top, False
    step = 10.0 ** math.floor(math.log10(margin))  # a round number to start at
    return math.floor((low - margin) / step) * step, top, True


def waterfall_figure(answer: VarianceAnswer) -> Figure:
    """The answer's waterfall as a matplotlib figure (see the module docstring)."""
    q = answer.question
    contributors = [c for c in answer.contributors if c.delta]
    levels = [float(answer.total_b)]  # the running total after each bar
    for contributor in contributors:
        levels.append(levels[-1] + float(contributor.delta))
    figure, axes = new_figure(width=max(8.0, 1.1 * (len(contributors) + 2)), height=4.6)
    axes.set_axisbelow(True)  # grid lines behind the bars
    bottom, top, truncated = y_limits(levels)
    end = len(contributors) + 1

    def total_bar(x: int, total: float) -> None:
        # A bar drawn from 0 is cut at the axis' bottom when it is truncated: its value is on it.
        # A negative total (credits above spend) hangs below $0: its value goes under it.
        axes.bar(x, total, color=COLORS["total"])
        below = total < 0
        axes.annotate(format_usd(total), (x, total if below else max(total, bottom)), ha="center",
                      va="top" if below else "bottom", fontsize=7, xytext=(0, -2 if below else 2),
                      textcoords="offset points", fontweight="bold")

    total_bar(0, float(answer.total_b))
    for i, contributor in enumerate(contributors, start=1):
        change = float(contributor.delta)
        axes.bar(i, change, bottom=levels[i - 1], color=COLORS["increase"] if change > 0 else COLORS["decrease"])
        axes.annotate(format_usd(contributor.delta, signed=True), (i, max(levels[i - 1], levels[i])),
                      ha="center", va="bottom", fontsize=7, xytext=(0, 2), textcoords="offset points")
    total_bar(end, float(answer.total_a))
    labels = [q.period_b.label, *(c.label for c in contributors), q.period_a.label]
    axes.set_xticks(range(end + 1), [_plain(_axis_label(label)) for label in labels], fontsize=7, rotation=30,
                    ha="right")
    usd_axis(axes)
    axes.yaxis.set_major_formatter(FuncFormatter(_tick))
    axes.set_ylim(bottom, top)
    if truncated:
        # Two slanted strokes across the bottom of the y axis: the conventional "axis break".
        for offset in (0.0, 0.02):
            axes.plot([-0.015, 0.015], [0.01 + offset, 0.04 + offset], transform=axes.transAxes, color="black",
                      linewidth=1, clip_on=False)
    title = f"{q.period_b.label} → {q.period_a.label}: {format_usd(answer.delta, signed=True)}"
    if truncated:
        title += f"\n(the axis starts at {format_usd(bottom)}, not $0)"
    axes.set_title(_plain(title), fontsize=10)
    return figure


def waterfall_chart(answer: VarianceAnswer) -> bytes:
    """A PNG of the answer's waterfall (see the module docstring)."""
    return to_png(waterfall_figure(answer))
