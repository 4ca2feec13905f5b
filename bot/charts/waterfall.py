"""The waterfall of a variance answer: period B's total, each contributor's change, period A's total.

Each contributor is a floating bar from the running total before it to the one after it (red when
it raised spend, green when it lowered it), so the bars walk from B's total to A's exactly as the
contributors add up. The answer has at most ``top_n + 1`` lines, so the chart stays readable.
"""

from __future__ import annotations

import textwrap

from bot.charts import COLORS, new_figure, to_png, usd_axis
from finops.money import format_usd
from finops.variance import VarianceAnswer

LABEL_WIDTH = 18  # characters per line of an axis label
LABEL_LINES = 3


def _axis_label(text: str) -> str:
    lines = textwrap.wrap(text, LABEL_WIDTH, break_long_words=True) or [""]
    if len(lines) > LABEL_LINES:
        lines = lines[:LABEL_LINES]
        lines[-1] = lines[-1][:LABEL_WIDTH - 1] + "…"
    return "\n".join(lines)


def worth_charting(answer: VarianceAnswer) -> bool:
    """True when some contributor moved spend: a waterfall of no change has nothing to show."""
    return any(c.delta for c in answer.contributors)


def waterfall_chart(answer: VarianceAnswer) -> bytes:
    """A PNG of the answer's waterfall (see the module docstring)."""
    q = answer.question
    contributors = [c for c in answer.contributors if c.delta]
    levels = [float(answer.total_b)]  # the running total after each bar
    for contributor in contributors:
        levels.append(levels[-1] + float(contributor.delta))
    figure, axes = new_figure(width=max(8.0, 1.1 * (len(contributors) + 2)), height=4.6)
    axes.set_axisbelow(True)  # grid lines behind the bars
    axes.bar(0, levels[0], color=COLORS["total"])
    for i, contributor in enumerate(contributors, start=1):
        change = float(contributor.delta)
        axes.bar(i, change, bottom=levels[i - 1], color=COLORS["increase"] if change > 0 else COLORS["decrease"])
        axes.annotate(format_usd(contributor.delta, signed=True), (i, max(levels[i - 1], levels[i])),
                      ha="center", va="bottom", fontsize=7, xytext=(0, 2), textcoords="offset points")
    end = len(contributors) + 1
    axes.bar(end, float(answer.total_a), color=COLORS["total"])
    labels = [q.period_b.label, *(c.label for c in contributors), q.period_a.label]
    axes.set_xticks(range(end + 1), [_axis_label(label) for label in labels], fontsize=7, rotation=30, ha="right")
    usd_axis(axes)
    # Start the axis near the lowest level, not at 0, so that the changes fill the chart.
    low, high = min(levels), max(levels)
    margin = (high - low) * 0.15 or abs(high) * 0.05 or 1.0
    axes.set_ylim(max(0.0, low - margin) if low >= 0 else low - margin, high + margin)
    axes.set_title(f"{q.period_b.label} → {q.period_a.label}: {format_usd(answer.delta, signed=True)}", fontsize=10)
    return to_png(figure)
