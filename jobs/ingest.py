"""Cost data in: read (connector or files) -> allocate -> store in one transaction -> record the run.

A source is replaced for exactly the days the new data covers, so re-ingesting a restated
export replaces what was there. Nothing is written unless everything was read and allocated:
bad input leaves the store exactly as it was, with the failed run and its reason recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from finops import model
from finops.errors import CostbotError
from finops.freshness import file_complete_through
from finops.ownership import allocate_costs
from finops.sources.files import cost_files, detect_format, read_daily_costs
from finops.teams import TeamsConfig
from storage.costs import CostStore, SourceBatch, WriteResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestReport:
    files: int
    rows_read: int
    results: list[WriteResult]

    @property
    def effective_micros(self) -> int:
        return sum(r.effective_micros for r in self.results)


def file_source_key(format_name: str, provider: str, billing_account: str) -> str:
    """Files of one provider's billing account form one source (replaced per period)."""
    return f"file:{format_name}:{provider or 'unknown'}:{billing_account or 'unknown'}"


def ingest_cost_files(store: CostStore, teams: TeamsConfig, paths: Sequence[str | Path], *,
                      format: str = "auto", today: date, lag_days: int = 1) -> IngestReport:
    """Read cost files, allocate every row to its owner and replace each source's period."""
    run_id = store.start_run(source="file:" + ", ".join(str(p) for p in paths)[:190], kind="file",
                             detail="\n".join(str(p) for p in paths))
    try:
        files = cost_files(paths)
        by_source: dict[str, list[pd.DataFrame]] = {}
        for path in files:
            name = detect_format(path) if format == "auto" else format
            frame = read_daily_costs([path], format=name)
            for (provider, account), part in frame.groupby(["ProviderName", "BillingAccountId"], sort=True):
                by_source.setdefault(file_source_key(name, str(provider), str(account)), []).append(part)
        batches = []
        for source, parts in sorted(by_source.items()):
            frame = model.aggregate_daily(pd.concat(parts, ignore_index=True))
            batches.append(SourceBatch(source, allocate_costs(frame, teams)))
        results = store.replace_sources(batches)
    except CostbotError as e:
        store.finish_run(run_id, error=str(e))
        raise
    except Exception as e:
        store.finish_run(run_id, error=f"{type(e).__name__}: {e}")
        raise
    for result in results:
        if result.end is not None:
            store.set_freshness(result.source, last_day=result.end,
                                complete_through=file_complete_through(result.end, today, lag_days=lag_days))
    rows_read = sum(r.rows for r in results)
    store.finish_run(run_id, rows_read=rows_read, result=_combined(results))
    log.info("ingested %d file(s) into %d source(s)", len(files), len(results))
    return IngestReport(len(files), rows_read, results)


def _combined(results: list[WriteResult]) -> WriteResult | None:
    if not results:
        return None
    starts = [r.start for r in results if r.start]
    ends = [r.end for r in results if r.end]
    return WriteResult(", ".join(r.source for r in results)[:200], min(starts) if starts else None,
                       max(ends) if ends else None, sum(r.rows for r in results), sum(r.series for r in results),
                       sum(r.billed_micros for r in results), sum(r.effective_micros for r in results))
