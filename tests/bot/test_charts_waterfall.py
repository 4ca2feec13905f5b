"""The variance waterfall: an axis that starts at $0, or says clearly where it starts."""

from __future__ import annotations

from datetime import date

import matplotlib.pyplot as plt
import pandas as pd

from bot.charts.waterfall import waterfall_chart, waterfall_figure, worth_charting, y_limits
from finops.periods import parse_question
from finops.variance import explain_variance


def answer_for(before: float, after: float, *, steady: float = 0.0):
    """A quarter against the one before: one service from ``before`` to ``after`` a quarter, and
    a steady one that keeps ``steady``."""
    frame = pd.DataFrame({"period": ["b", "a", "b", "a"], "ServiceName": ["EC2", "EC2", "S3", "S3"],
                          "EffectiveCost": [before, after, steady, steady]})
    return explain_variance(frame, parse_question("Q3 2026", today=date(2026, 11, 16)))


def texts(figure) -> list[str]:
    return [t.get_text() for t in figure.axes[0].texts]


def test_a_large_change_is_drawn_from_zero_with_the_totals_on_their_bars() -> None:
    figure = waterfall_figure(answer_for(100_000.0, 150_000.0))
    try:
        assert figure.axes[0].get_ylim()[0] == 0.0
        assert texts(figure) == ["$100,000.00", "+$50,000.00", "$150,000.00"]
        assert figure.axes[0].get_title() == "Q2 2026 → Q3 2026: +\\$50,000.00"
    finally:
        plt.close(figure)


def test_a_small_change_next_to_large_totals_says_where_the_axis_starts() -> None:
    # $2.16M against $2.19M: from $0 the change would be a sliver, so the axis is cut and says so.
    figure = waterfall_figure(answer_for(160_000.0, 190_000.0, steady=2_000_000.0))
    try:
        bottom = figure.axes[0].get_ylim()[0]
        assert bottom == 2_155_000.0  # below the lowest level ($2.16M) by a margin, rounded down
        # Dollar signs escaped: two of them would make matplotlib set the text between as a formula.
        assert figure.axes[0].get_title() == ("Q2 2026 → Q3 2026: +\\$30,000.00\n"
                                              "(the axis starts at \\$2,155,000.00, not \\$0)")
        assert texts(figure) == ["$2,160,000.00", "+$30,000.00", "$2,190,000.00"]
        assert len(figure.axes[0].lines) == 2  # the break marks on the axis
    finally:
        plt.close(figure)


def test_y_limits() -> None:
    assert y_limits([100.0, 150.0]) == (0.0, 157.5, False)
    assert y_limits([-50.0, 100.0]) == (-72.5, 122.5, False)
    assert y_limits([1000.0, 1010.0])[2] is True


def test_a_chart_only_when_something_moved() -> None:
    assert worth_charting(answer_for(1.0, 2.0))
    assert not worth_charting(answer_for(5.0, 5.0))
    assert waterfall_chart(answer_for(1.0, 2.0)).startswith(b"\x89PNG")


def test_a_net_credit_total_hangs_below_zero_with_its_value_under_it() -> None:
    # Credits above spend in Q2: -$310.00, then $465.00 in Q3.
    figure = waterfall_figure(answer_for(-310.0, 465.0))
    try:
        axes = figure.axes[0]
        assert texts(figure) == ["-$310.00", "+$775.00", "$465.00"]
        first = axes.texts[0]
        assert (first.xy, first.get_va()) == ((0, -310.0), "top")
        assert axes.get_ylim()[0] < -310.0
        ticks = axes.yaxis.get_major_formatter()
        assert [ticks(v, None) for v in (-400.0, -0.2, 0.0, 1200.0)] == ["-$400", "$0", "$0", "$1,200"]
    finally:
        plt.close(figure)
