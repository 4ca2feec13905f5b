"""The evidence chart of a savings verification: actual cost, the counterfactual, and the target.

Drawn from :class:`finops.verification.VerificationResult` alone: the scope's actual daily cost over
the baseline and after windows, the expected cost without the change (the fitted counterfactual,
which follows weekdays, trend and the control), the baseline's mean, and the cost the estimate
promised (expected minus the estimated daily saving) over the after window.
"""

from __future__ import annotations

import pandas as pd

from bot.charts import COLORS, new_figure, to_png, usd_axis
from finops.money import format_usd
from finops.verification import DAYS_PER_MONTH, VerificationResult


def _literal(text: str) -> str:
    """Text shown as written: matplotlib reads a pair of ``$`` as math."""
    return text.replace("$", r"\$")


def verification_chart(result: VerificationResult, *, title: str) -> bytes:
    """PNG of the evidence: baseline, expected without the change, actual, and the estimate's target."""
    figure, axes = new_figure()
    series = result.series
    days = pd.DatetimeIndex(series.index)
    after = series["window"] == "after"
    baseline = series["window"] == "baseline"

    axes.axvspan(days[after.to_numpy()][0] - pd.Timedelta(hours=12), days[-1] + pd.Timedelta(hours=12),
                 color=COLORS["band"], alpha=0.45, lw=0, label="after window")
    axes.plot(days, series["actual"], color=COLORS["actual"], lw=1.8, marker="o", ms=2.5, label="actual")
    axes.plot(days, series["expected"], color=COLORS["expected"], lw=1.4, ls="--",
              label="expected without the change")
    axes.hlines(result.baseline.daily_cost, days[baseline.to_numpy()][0], days[baseline.to_numpy()][-1],
                color=COLORS["total"], lw=1.2, ls=":", label=_literal(f"baseline mean {format_usd(result.baseline.daily_cost)}/day"))
    target = series.loc[after, "expected"] - result.estimate_monthly / DAYS_PER_MONTH
    axes.plot(days[after.to_numpy()], target, color=COLORS["highlight"], lw=1.2, ls="-.",
              label="estimate's target")
    implemented = days[(series["window"] == "implementation").to_numpy()]
    if len(implemented):
        axes.axvline(implemented[0], color=COLORS["increase"], lw=1, alpha=0.7)
    axes.set_ylim(bottom=0)
    usd_axis(axes)
    axes.set_title(_literal(f"{title}\n{result.outcome}: realized {format_usd(result.realized_monthly)}/month "
                            f"of {format_usd(result.estimate_monthly)} estimated"), fontsize=10, loc="left")
    axes.legend(fontsize=7, loc="lower left", ncols=3, frameon=False)
    figure.autofmt_xdate()
    return to_png(figure)
