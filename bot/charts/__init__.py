"""Charts for Slack (PNG bytes via matplotlib's Agg backend): pure functions of domain objects.

One module per chart kind; they share the look defined here.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display: charts are rendered to bytes for files_upload_v2

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

COLORS = {"actual": "#1d6b4f", "expected": "#7a7a7a", "band": "#d9d9d9", "increase": "#c0392b",
          "decrease": "#1e8449", "total": "#34495e", "highlight": "#e67e22"}


def new_figure(width: float = 8.0, height: float = 3.6) -> tuple[Figure, plt.Axes]:
    figure, axes = plt.subplots(figsize=(width, height), dpi=100)
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", color="#eeeeee")
    return figure, axes


def to_png(figure: Figure) -> bytes:
    """Render and close the figure (figures are not garbage-collected while pyplot holds them)."""
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def usd_axis(axes: plt.Axes) -> None:
    axes.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"${v:,.0f}"))
