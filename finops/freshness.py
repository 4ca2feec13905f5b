"""Which days of a source are complete: providers lag a day or more and restate recent days."""

from __future__ import annotations

from datetime import date, timedelta


def file_complete_through(last_day: date, today: date, *, lag_days: int = 1) -> date:
    """The last complete day of data exported up to ``last_day``, as known on ``today``.

    A day is complete once a later day exists in the export (the provider has moved on) or once
    it is more than ``lag_days`` full days old. So the newest day of a fresh export is partial,
    and an old export is complete to its end.
    """
    settled = today - timedelta(days=1 + lag_days)
    return max(min(last_day, settled), last_day - timedelta(days=1))
