"""The chart of an anomaly alert: the scope's daily cost, the expected cost and its band, the event's days.

Drawn from the anomaly's own series (:class:`finops.anomaly_model.SeriesPoint`, the detector's
expected cost and band for each day around the event), so the chart shows exactly what the
detector compared.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd

from bot.charts import COLORS, new_figure, to_png, usd_axis
from finops.anomaly_model import SeriesPoint


def _literal(text: str) -> str:
    """Text shown as written: matplotlib reads a pair of ``$`` as math."""
    return text.replace("$", r"\$")


def anomaly_chart(points: Sequence[SeriesPoint], *, start: date, end: date | None, title: str) -> bytes:
    """PNG: actual cost per day, expected cost, the expected band, and the anomaly's days shaded."""
    figure, axes = new_figure(8.0, 3.2)
    days = pd.DatetimeIndex([p.day for p in points])
    half_day = pd.Timedelta(hours=12)
    last = pd.Timestamp(end if end is not None else points[-1].day)
    axes.axvspan(pd.Timestamp(start) - half_day, last + half_day, color=COLORS["highlight"], alpha=0.12, lw=0,
                 label="anomaly")
    axes.fill_between(days, [p.low for p in points], [p.high for p in points], color=COLORS["band"], alpha=0.7,
                      lw=0, label="expected band")
    axes.plot(days, [p.expected for p in points], color=COLORS["expected"], lw=1.3, ls="--", label="expected")
    axes.plot(days, [p.actual for p in points], color=COLORS["actual"], lw=1.8, marker="o", ms=2.5, label="actual")
    axes.set_xlim(days[0] - half_day, days[-1] + half_day)
    axes.set_ylim(bottom=0)
    usd_axis(axes)
    axes.set_title(_literal(title), fontsize=10, loc="left")
    axes.legend(fontsize=7, loc="upper left", ncols=4, frameon=False)
    figure.autofmt_xdate()
    return to_png(figure)
