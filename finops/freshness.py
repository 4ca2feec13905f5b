"""Which days of a source are complete: providers lag a day or more and restate recent days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta


def file_complete_through(last_day: date, today: date, *, lag_days: int = 1) -> date:
    """The last complete day of data exported up to ``last_day``, as known on ``today``.

    A day is complete once a later day exists in the export (the provider has moved on) or once
    it is more than ``lag_days`` full days old. So the newest day of a fresh export is partial,
    and an old export is complete to its end.
    """
    settled = today - timedelta(days=1 + lag_days)
    return max(min(last_day, settled), last_day - timedelta(days=1))


@dataclass(frozen=True)
class SourceStatus:
    """How current one source is: its last day, the last complete day, the partial days between,
    and its latest run (status, when, and the reason if it failed)."""

    source: str
    last_day: date | None
    complete_through: date | None
    last_run_status: str | None
    last_run_at: datetime | None
    last_error: str | None

    @property
    def partial_days(self) -> list[date]:
        """Days with data that the provider has not finished loading (analyses must not read a low
        partial day as a drop)."""
        if self.last_day is None or self.complete_through is None:
            return []
        first = self.complete_through + timedelta(days=1)
        return [first + timedelta(days=i) for i in range((self.last_day - first).days + 1)]
