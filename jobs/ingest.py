"""Cost data in: read (connector or files) -> allocate -> store in one transaction -> record the run.

Every stored series follows one teams.yml: after writing, series stored under other rules are
re-allocated with the ones this ingest used (``settle_owners_after_ingest``; a no-op when the
rules are unchanged).

A source is replaced for exactly the days the new data covers (files) or the window asked for
(connectors), so re-ingesting a restated export replaces what was there. Nothing is written
unless everything was read and allocated: bad input or a failing provider leaves the store
exactly as it was, with the failed run and its reason recorded in ``ingest_run``.

Connectors are asked only for the days that can still change (``days_to_fetch`` over the
freshness recorded by the previous successful run); a failed run records nothing new about
freshness, so the next run asks for the same days again.

``schedule`` pulls every source of sources.yml (``COSTBOT_SOURCES``) once a day.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.context import AppContext
from bot.services.ownership import settle_owners_after_ingest
from finops import model
from finops.errors import CostbotError
from finops.freshness import file_complete_through
from finops.ownership import allocate_costs
from finops.sources.config import SOURCES_ENV, SourcesConfig, SourceSpec, load_sources, source_key
from finops.sources.connector import CostConnector
from finops.sources.files import cost_files, detect_format, read_daily_costs
from finops.teams import TeamsConfig
from storage.costs import CostStore, Freshness, SourceBatch, WriteResult

log = logging.getLogger(__name__)

# Replicas fire the daily cron at slightly different moments (jitter); a replica that finds a
# run of the same source started this recently (and not failed) leaves it alone.
SCHEDULE_JITTER_SECONDS = 300
RECENT_RUN = timedelta(hours=1)


@dataclass(frozen=True)
class IngestReport:
    """What ``ingest_cost_files`` did: files read, daily rows written, one result per source."""

    files: int
    rows_read: int
    results: list[WriteResult]
    currencies: tuple[str, ...] = ()  # the billing currencies the files state, sorted

    @property
    def effective_micros(self) -> int:
        return sum(r.effective_micros for r in self.results)


@dataclass(frozen=True)
class ConnectorRun:
    """One connector pull: the window asked for, what was written, and how fresh the source now is.

    ``error`` is set (and ``result`` None) when the provider could not be read; ``skipped`` when a
    recent run of the same source made this one unnecessary.
    """

    source: str
    start: date | None
    end: date | None
    rows_fetched: int = 0
    result: WriteResult | None = None
    complete_through: date | None = None
    error: str | None = None
    skipped: bool = False


def file_source_key(format_name: str, provider: str, billing_account: str) -> str:
    """Files of one provider's billing account form one source (replaced per period)."""
    return f"file:{format_name}:{provider or 'unknown'}:{billing_account or 'unknown'}"


def source_kind(source: str) -> str:
    """``aws-ce:999...`` -> ``aws-ce``: the kind recorded with each run."""
    return source.split(":", 1)[0]


# ---------------------------------------------------------------------------------------------
# Files


def ingest_cost_files(store: CostStore, teams: TeamsConfig, paths: Sequence[str | Path], *,
                      format: str = "auto", today: date, lag_days: int = 1) -> IngestReport:
    """Read cost files, allocate every row to its owner and replace each source's period.

    Each (format, provider, billing account) in the files is one source, replaced for the days
    its data covers, all sources in one transaction. Raises :class:`InputError` on bad input
    after recording the failed run; the store is then exactly as before.
    """
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
        currencies = tuple(sorted({str(c) for parts in by_source.values() for part in parts
                                   for c in part["BillingCurrency"].unique() if str(c)}))
        batches = []
        for source, parts in sorted(by_source.items()):
            frame = parts[0] if len(parts) == 1 else model.aggregate_daily(pd.concat(parts, ignore_index=True))
            batches.append(SourceBatch(source, allocate_costs(frame, teams)))
        results = store.replace_sources(batches)
    except Exception as error:
        store.finish_run(run_id, error=_reason(error))
        raise
    known = _freshness_by_source(store)
    for result in results:
        if result.end is None:
            continue
        complete = file_complete_through(result.end, today, lag_days=lag_days)
        previous = known.get(result.source)
        if previous is not None:
            # An older export ingested after a newer one does not make the newer days partial again.
            complete = max(complete, previous.complete_through)
        store.set_freshness(result.source, last_day=result.end, complete_through=complete)
    settle_owners_after_ingest(store, teams)
    rows_read = sum(r.rows for r in results)
    store.finish_run(run_id, rows_read=rows_read, result=_combined(results))
    log.info("ingested %d file(s) into %d source(s)", len(files), len(results))
    return IngestReport(len(files), rows_read, results, currencies)


def _combined(results: list[WriteResult]) -> WriteResult | None:
    if not results:
        return None
    starts = [r.start for r in results if r.start]
    ends = [r.end for r in results if r.end]
    return WriteResult(", ".join(r.source for r in results)[:200], min(starts) if starts else None,
                       max(ends) if ends else None, sum(r.rows for r in results), sum(r.series for r in results),
                       sum(r.billed_micros for r in results), sum(r.effective_micros for r in results))


# ---------------------------------------------------------------------------------------------
# Connectors


def ingest_from_connector(store: CostStore, teams: TeamsConfig, connector: CostConnector, today: date, *,
                          start: date | None = None, end: date | None = None) -> ConnectorRun:
    """Pull one connector's open days, allocate them and replace exactly that window of its source.

    The window is ``[start, end]`` when given (a manual backfill), else the connector's
    :meth:`~CostConnector.fetch_window` over the freshness the last successful run stored, so
    closed days are not asked for again. On success the source's freshness moves to the
    connector's ``complete_through(today)`` (never past the window's end, and never past a gap
    left before the window). A :class:`SourceError` (credentials, throttling, a 5xx) is recorded
    as a failed run with its reason and the window, and raised; nothing else changes, so the
    next run asks for the same days again.
    """
    previous = _freshness_by_source(store).get(connector.source)
    known = previous.complete_through if previous else None
    window_start, window_end = connector.fetch_window(today, known)
    start, end = start or window_start, end or window_end
    if start > end:
        raise CostbotError(f"{connector.source}: start {start} is after end {end}")
    run_id = store.start_run(source=connector.source, kind=source_kind(connector.source),
                             detail=f"{type(connector).__name__} {start}..{end}")
    try:
        frame = connector.fetch_daily(start, end)
        result = store.replace_daily_costs(connector.source, allocate_costs(frame, teams), start=start, end=end)
    except Exception as error:
        store.finish_run(run_id, result=WriteResult(connector.source, start, end, 0, 0, 0, 0),
                         error=_failure(connector.source, error))
        raise
    complete = min(connector.complete_through(today), end)
    if known is not None:
        complete = known if start > known + timedelta(days=1) else max(complete, known)
    store.set_freshness(connector.source, last_day=end, complete_through=complete)
    settle_owners_after_ingest(store, teams)
    store.finish_run(run_id, rows_read=len(frame), result=result)
    log.info("%s: %s..%s, %d daily rows, complete through %s", connector.source, start, end, result.rows, complete)
    return ConnectorRun(connector.source, start, end, len(frame), result, complete)


def ingest_sources(store: CostStore, teams: TeamsConfig, specs: Sequence[SourceSpec], today: date, *,
                   now: datetime | None = None, skip_recent: bool = False) -> list[ConnectorRun]:
    """Pull every configured source once; one failing source does not stop the others.

    Whatever fails (a :class:`SourceError`, bad data from the provider, a bug) is recorded as
    that source's failed run, returned as a run with its ``error`` and logged (with the
    traceback when it is not a :class:`CostbotError`); the next source is pulled all the same.

    With ``skip_recent`` (the scheduled job), a source whose latest run started within
    :data:`RECENT_RUN` of ``now`` and did not fail is skipped: another replica is doing or has
    just done it.
    """
    now = now or datetime.now(UTC)
    runs: list[ConnectorRun] = []
    for spec in specs:
        key = source_key(spec)
        if skip_recent and _ran_recently(store, key, now):
            log.info("%s: pulled less than %s ago, skipped", key, RECENT_RUN)
            runs.append(ConnectorRun(key, None, None, skipped=True))
            continue
        try:
            connector = spec.connector()
        except Exception as error:  # e.g. an SDK that cannot build its client: this source only
            log.exception("%s: cannot build the connector", key)
            reason = _failure(key, error)
            store.finish_run(store.start_run(source=key, kind=source_kind(key), detail=type(spec).__name__),
                             error=reason)
            runs.append(ConnectorRun(key, None, None, error=reason))
            continue
        try:
            runs.append(ingest_from_connector(store, teams, connector, today))
        except CostbotError as error:  # a provider failure or bad data: recorded, the next source goes on
            log.warning("%s", error)
            runs.append(ConnectorRun(key, None, None, error=_failure(key, error)))
        except Exception as error:  # a bug or an unexpected response: recorded with its traceback
            log.exception("%s: the pull failed", key)
            runs.append(ConnectorRun(key, None, None, error=_failure(key, error)))
    return runs


def _failure(source: str, error: Exception) -> str:
    """One line naming the source and why its pull failed (the run records the same reason)."""
    reason = _reason(error)
    return reason if reason.startswith(f"{source}:") else f"{source}: {reason}"


def _ran_recently(store: CostStore, source: str, now: datetime) -> bool:
    latest = store.ingest_runs(source, limit=1)
    if not latest or latest[0].status == "failed":
        return False
    started = latest[0].started_at
    if started.tzinfo is None:  # SQLite hands back naive UTC
        started = started.replace(tzinfo=UTC)
    return now - started < RECENT_RUN


def _freshness_by_source(store: CostStore) -> dict[str, Freshness]:
    return {row.source: row for row in store.freshness()}


def _reason(error: Exception) -> str:
    return str(error) if isinstance(error, CostbotError) else f"{type(error).__name__}: {error}"


# ---------------------------------------------------------------------------------------------
# Schedule


def configured_sources(path: str | Path | None = None) -> SourcesConfig | None:
    """sources.yml from ``path`` or ``$COSTBOT_SOURCES``; None when neither is set."""
    path = path or os.environ.get(SOURCES_ENV, "").strip() or None
    return load_sources(path) if path else None


def pull_configured_sources(ctx: AppContext, config: SourcesConfig) -> list[ConnectorRun]:
    """The daily job: every source of ``config``, skipping those another replica just pulled."""
    return ingest_sources(CostStore(ctx.db), ctx.teams, config.sources, ctx.today(), now=ctx.now(), skip_recent=True)


def schedule(scheduler: BaseScheduler, ctx: AppContext) -> None:
    """Pull the sources of sources.yml daily at its ``schedule`` (a bad file stops the start-up)."""
    config = configured_sources()
    if config is None or not config.sources:
        log.info("no cloud sources configured (%s): only files are ingested", SOURCES_ENV)
        return
    trigger = CronTrigger(**config.trigger_fields, jitter=SCHEDULE_JITTER_SECONDS)
    scheduler.add_job(pull_configured_sources, trigger, args=[ctx, config], id="pull_cost_sources",
                      max_instances=1, coalesce=True, replace_existing=True)
