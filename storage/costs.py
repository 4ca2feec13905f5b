"""Cost data in and out: the only module that reads or writes ``cost_series``/``cost_daily``.

Writes are idempotent per (source, period): ``replace_daily_costs`` deletes the source's rows for
the period and inserts the new ones in one transaction, so a restated export replaces what was
there and a failed load leaves the earlier data exactly as it was. Reads return daily cost frames
(finops/model.py) or frames grouped in SQL, so large stores are summed by the database.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
from sqlalchemy import Select, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from finops import model
from finops.errors import InputError
from finops.freshness import SourceStatus
from finops.money import MICROS, from_micros
from storage.db import Database
from storage.tables.allocation import AllocationState
from storage.tables.core import utcnow
from storage.tables.costs import CostDaily, CostSeries, IngestRun, SourceFreshness

# Frame column (FOCUS) -> cost_series column.
SERIES_COLUMNS: dict[str, str] = {
    "ProviderName": "provider_name",
    "BillingAccountId": "billing_account_id",
    "BillingCurrency": "billing_currency",
    "SubAccountId": "sub_account_id",
    "SubAccountName": "sub_account_name",
    "ServiceName": "service_name",
    "ServiceCategory": "service_category",
    "RegionId": "region_id",
    "ChargeCategory": "charge_category",
    "SkuId": "sku_id",
    "ResourceId": "resource_id",
    "ConsumedUnit": "consumed_unit",
    "PricingUnit": "pricing_unit",
    "Tags": "tags",
    model.TEAM: "team",
    model.ALLOCATION_RULE: "allocation_rule",
}
# Short names the CLI and the question parser use for grouping and filtering.
DIMENSION_ALIASES: dict[str, str] = {
    "team": model.TEAM,
    "provider": "ProviderName",
    "billing_account": "BillingAccountId",
    "billing_account_id": "BillingAccountId",
    "account": "SubAccountId",
    "sub_account_id": "SubAccountId",
    "account_name": "SubAccountName",
    "service": "ServiceName",
    "service_category": "ServiceCategory",
    "region": "RegionId",
    "charge_category": "ChargeCategory",
    "sku": "SkuId",
    "sku_id": "SkuId",
    "usage_type": "SkuId",
    "resource": "ResourceId",
    "resource_id": "ResourceId",
    "currency": "BillingCurrency",
    "day": model.DAY,
    "month": "month",
}
MONEY_COLUMNS = {"BilledCost": "billed_micros", "EffectiveCost": "effective_micros", "ListCost": "list_micros"}
QUANTITY_COLUMNS = {"ConsumedQuantity": "consumed_quantity", "PricingQuantity": "pricing_quantity"}
_SERIES_KEY = list(model.DIMENSIONS)  # the team is an attribute of a series, not part of its identity


def resolve_dimension(name: str) -> str:
    """``service`` -> ``ServiceName``; FOCUS names pass through; unknown names raise ValueError."""
    if name in DIMENSION_ALIASES:
        return DIMENSION_ALIASES[name]
    if name in SERIES_COLUMNS or name == model.DAY:
        return name
    if name.startswith("tag:") and len(name) > 4:
        return name
    known = ", ".join(sorted(k for k in DIMENSION_ALIASES if k not in ("day",)))
    raise ValueError(f"unknown dimension {name!r}: use one of {known}, or tag:KEY")


def series_key_hash(values: Sequence[str]) -> str:
    return hashlib.sha256("\x1f".join(values).encode()).hexdigest()


@dataclass(frozen=True)
class WriteResult:
    """What one source's replacement wrote, and what it replaced: the rows, series and effective
    cost the store held for ``[start, end]`` before, and how many of those series the new data
    lacks (most of them missing usually means part of an export was ingested on its own)."""

    source: str
    start: date | None
    end: date | None
    rows: int
    series: int
    billed_micros: int
    effective_micros: int
    replaced_rows: int = 0
    replaced_series: int = 0
    replaced_effective_micros: int = 0
    missing_series: int = 0


@dataclass(frozen=True)
class SourceBatch:
    """One source's daily costs for a period, to replace what the store holds for it."""

    source: str
    frame: pd.DataFrame
    start: date | None = None
    end: date | None = None


@dataclass(frozen=True)
class Freshness:
    source: str
    last_day: date
    complete_through: date
    updated_at: datetime


@dataclass(frozen=True)
class IngestRunRecord:
    id: int
    source: str
    kind: str
    period_start: date | None
    period_end: date | None
    rows_read: int
    rows_written: int
    billed_total: Decimal
    effective_total: Decimal
    status: str
    error: str | None
    started_at: datetime
    finished_at: datetime | None


def _to_micros(values: pd.Series) -> np.ndarray:
    return np.rint(values.to_numpy(dtype=np.float64) * MICROS).astype(np.int64)


_TEXT_COLUMNS = (*model.DIMENSIONS, *model.OWNERSHIP)
_ALLOCATION_STATE = "teams"
# Days per block of a lean scan on SQLite (bounds the text one query returns: ~20 bytes a row).
_LEAN_BLOCK_DAYS = 64
# SQLite's historical default limit of bound parameters per statement (newer builds allow more).
_SQLITE_MAX_PARAMETERS = 999


def _conformed(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as a daily cost frame; one that already is one (what the readers, connectors and
    allocation produce) is taken as it is instead of being converted column by column again."""
    ready = (list(frame.columns) == list(model.DAILY_COLUMNS)
             and frame[model.DAY].dtype == "datetime64[ns]"
             and all(frame[c].dtype == np.float64 for c in (*model.MONEY, *model.QUANTITIES))
             and all(frame[c].dtype == object and pd.api.types.infer_dtype(frame[c], skipna=False) in ("string", "empty")
                     for c in _TEXT_COLUMNS))
    if ready and not frame.empty:
        days = frame[model.DAY]
        ready = bool((days == days.dt.normalize()).all())
    return frame.reset_index(drop=True) if ready else model.conform_daily_frame(frame)


def _daily_rows(frame: pd.DataFrame, series_ids: np.ndarray) -> pd.DataFrame:
    """The cost_daily rows of a conformed frame whose rows belong to ``series_ids``: one per
    (day, series), in primary-key order."""
    rows = pd.DataFrame({
        "day": frame[model.DAY].to_numpy(dtype="datetime64[D]"),
        "series_id": series_ids,
        "billed_micros": _to_micros(frame["BilledCost"]),
        "effective_micros": _to_micros(frame["EffectiveCost"]),
        "list_micros": _to_micros(frame["ListCost"]),
        "consumed_quantity": frame["ConsumedQuantity"].to_numpy(dtype=np.float64),
        "pricing_quantity": frame["PricingQuantity"].to_numpy(dtype=np.float64),
    })
    # Several rows of one series and day (rows that differ only in owner columns, or a frame
    # that was not summed to the series key) become one row, summed.
    if rows.duplicated(["day", "series_id"]).any():
        rows = rows.groupby(["day", "series_id"], as_index=False, sort=False).agg(
            billed_micros=("billed_micros", "sum"), effective_micros=("effective_micros", "sum"),
            list_micros=("list_micros", "sum"),
            consumed_quantity=("consumed_quantity", lambda q: q.sum(min_count=1)),
            pricing_quantity=("pricing_quantity", lambda q: q.sum(min_count=1)),
        )
    # In primary-key order: B-tree inserts then append instead of splitting pages at random,
    # which halves the insert time of a large load on SQLite.
    return rows.sort_values(["day", "series_id"], kind="stable", ignore_index=True)


class CostStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ingest runs ---------------------------------------------------------------------------
    def start_run(self, *, source: str, kind: str, detail: str | None = None) -> int:
        """Record that a load started (committed at once, so a crash leaves a visible trace)."""
        with self.db.session() as session:
            run = IngestRun(source=source, kind=kind, detail=detail, status="running", started_at=utcnow())
            session.add(run)
            session.flush()
            return int(run.id)  # type: ignore[arg-type]

    def finish_run(self, run_id: int, *, result: WriteResult | None = None, rows_read: int = 0,
                   error: str | None = None) -> None:
        values: dict = {"finished_at": utcnow(), "status": "failed" if error else "ok", "error": error,
                        "rows_read": rows_read}
        if result is not None:
            values.update(period_start=result.start, period_end=result.end, rows_written=result.rows,
                          billed_total_micros=result.billed_micros, effective_total_micros=result.effective_micros)
        with self.db.session() as session:
            session.execute(update(IngestRun).where(IngestRun.id == run_id).values(**values))

    def ingest_runs(self, source: str | None = None, limit: int = 50) -> list[IngestRunRecord]:
        with self.db.session() as session:
            query = select(IngestRun).order_by(IngestRun.id.desc()).limit(limit)
            if source:
                query = query.where(IngestRun.source == source)
            return [IngestRunRecord(r.id, r.source, r.kind, r.period_start, r.period_end, r.rows_read,
                                    r.rows_written, from_micros(r.billed_total_micros),
                                    from_micros(r.effective_total_micros), r.status, r.error, r.started_at,
                                    r.finished_at) for r in session.scalars(query)]

    # writing -------------------------------------------------------------------------------
    def replace_daily_costs(self, source: str, frame: pd.DataFrame, *, start: date | None = None,
                            end: date | None = None) -> WriteResult:
        """Replace ``source``'s rows for [start, end] (default: the frame's days) with ``frame``.

        ``frame`` is a daily cost frame with ``x_Team`` filled. One transaction: either all of it
        is written or nothing changes.
        """
        return self.replace_sources([SourceBatch(source, frame, start, end)])[0]

    def replace_sources(self, batches: Sequence[SourceBatch]) -> list[WriteResult]:
        """``replace_daily_costs`` for several sources in a single transaction.

        Every batch is checked before anything is written; then each source's window is
        cleared, the series of all batches are stored at once and the daily rows of all
        batches written at once (a few statements whatever the number of sources).
        """
        sources = [b.source for b in batches]
        if len(set(sources)) != len(sources):
            raise ValueError(f"one batch per source: {sorted({s for s in sources if sources.count(s) > 1})} repeat")
        prepared = [self._prepared(b) for b in batches]
        with self.db.engine.begin() as conn:
            cleared = [self._clear_window(conn, source, start, end) for source, _, start, end in prepared]
            frames = [frame for _, frame, _, _ in prepared]
            lengths = [len(frame) for frame in frames]
            written = [frame for frame in frames if not frame.empty]
            all_ids = self._upsert_series(conn, written[0] if len(written) == 1 else pd.concat(written, ignore_index=True)) \
                if written else np.empty(0, dtype=np.int64)
            offsets = np.cumsum([0, *lengths])[:-1]
            loads, results = [], []
            for (source, frame, start, end), (held, replaced_micros), first, count in zip(
                    prepared, cleared, offsets, lengths, strict=True):
                replaced = {"replaced_rows": sum(held.values()), "replaced_series": len(held),
                            "replaced_effective_micros": replaced_micros}
                if frame.empty:
                    results.append(WriteResult(source, start, end, 0, 0, 0, 0, **replaced, missing_series=len(held)))
                    continue
                series_ids = all_ids[first:first + count]
                rows = _daily_rows(frame, series_ids)
                loads.append((source, rows))
                ids = set(np.unique(series_ids).tolist())
                results.append(WriteResult(source, start, end, len(rows), len(ids), int(rows["billed_micros"].sum()),
                                           int(rows["effective_micros"].sum()), **replaced,
                                           missing_series=sum(1 for series_id in held if series_id not in ids)))
            if loads:
                self._bulk_insert_daily(conn, loads)
            return results

    @staticmethod
    def _prepared(batch: SourceBatch) -> tuple[str, pd.DataFrame, date | None, date | None]:
        """The batch's frame conformed and checked, and its window (default: the frame's days)."""
        frame = _conformed(batch.frame)
        for column in model.MONEY:
            if not np.isfinite(frame[column].to_numpy(dtype=np.float64)).all():
                raise InputError(f"{batch.source}: non-finite amount (NaN or infinity) in {column}; nothing was written")
        start, end = batch.start, batch.end
        if start is None and not frame.empty:
            start = frame[model.DAY].min().date()
        if end is None and not frame.empty:
            end = frame[model.DAY].max().date()
        return batch.source, frame, start, end

    @staticmethod
    def _clear_window(conn: Connection, source: str, start: date | None, end: date | None) -> tuple[dict[int, int], int]:
        """Delete ``source``'s rows for [start, end]; what they were: daily rows per series id,
        and their effective micros."""
        held: dict[int, int] = {}
        replaced_micros = 0
        if start is None or end is None:
            return held, replaced_micros
        window = (CostDaily.source == source, CostDaily.day >= start, CostDaily.day <= end)
        for row in conn.execute(select(CostDaily.series_id, func.count().label("rows"),
                                       func.sum(CostDaily.effective_micros).label("micros"))
                                .where(*window).group_by(CostDaily.series_id)):
            held[row.series_id] = row.rows
            replaced_micros += int(row.micros)
        if held:
            conn.execute(delete(CostDaily).where(*window))
        return held, replaced_micros

    def _upsert_series(self, conn: Connection, frame: pd.DataFrame) -> np.ndarray:
        """Series ids for each row of ``frame``, inserting new series and updating owners.

        The rows are grouped to their series once (a code per row); everything after works on
        the distinct series, which are few next to the rows (days x series).
        """
        codes = frame.groupby(_SERIES_KEY, sort=False, dropna=False).ngroup().to_numpy()
        # ngroup numbers groups by first appearance, so the first rows come out in code order.
        _, first = np.unique(codes, return_index=True)
        columns = {c: frame[c].to_numpy(dtype=object)[first].tolist()
                   for c in (*_SERIES_KEY, model.TEAM, model.ALLOCATION_RULE)}
        keys = list(zip(*(columns[c] for c in _SERIES_KEY), strict=True))
        hashes = [series_key_hash(k) for k in keys]
        existing = {key_hash: (series_id, team, rule) for key_hash, series_id, team, rule
                    in self._series_by_hash(conn, hashes, owners=True)}
        new = [i for i, h in enumerate(hashes) if h not in existing]
        if new:
            names = [SERIES_COLUMNS[c] for c in (*_SERIES_KEY, model.TEAM, model.ALLOCATION_RULE)]
            if self.db.dialect == "postgresql":
                # COPY: one statement for any number of new series (an INSERT per series costs
                # more in parameter handling than the rows themselves).
                with (conn.connection.driver_connection.cursor() as cursor,
                      cursor.copy(f"COPY cost_series (key_hash, {', '.join(names)}) FROM STDIN") as copy):
                    for i in new:
                        copy.write_row((hashes[i], *(columns[c][i] for c in columns)))
            else:
                records = [{"key_hash": hashes[i], **dict(zip(names, (columns[c][i] for c in columns), strict=True))}
                           for i in new]
                conn.execute(CostSeries.__table__.insert(), records)  # type: ignore[attr-defined]
            for key_hash, series_id in self._series_by_hash(conn, [hashes[i] for i in new], owners=False):
                existing[key_hash] = (series_id, "", "")
        # Owners follow the current teams.yml: a re-ingest updates series whose rules changed.
        changed = [(existing[h][0], team, rule) for h, team, rule in
                   zip(hashes, columns[model.TEAM], columns[model.ALLOCATION_RULE], strict=True)
                   if existing[h][1:] not in (("", ""), (team, rule))]
        for series_id, team, rule in changed:
            conn.execute(update(CostSeries).where(CostSeries.id == series_id).values(team=team, allocation_rule=rule))
        ids = np.array([existing[h][0] for h in hashes], dtype=np.int64)
        return ids[codes]

    def _series_by_hash(self, conn: Connection, hashes: list[str], *, owners: bool) -> list[tuple]:
        """(key_hash, id[, team, allocation_rule]) of the stored series among ``hashes``."""
        if not hashes:
            return []
        if self.db.dialect == "postgresql":
            # One array parameter instead of an IN list of thousands of bound parameters.
            fields = "key_hash, id, team, allocation_rule" if owners else "key_hash, id"
            with conn.connection.driver_connection.cursor() as cursor:
                return cursor.execute(f"SELECT {fields} FROM cost_series WHERE key_hash = ANY(%s)",
                                      (hashes,)).fetchall()
        fields = (CostSeries.key_hash, CostSeries.id, *((CostSeries.team, CostSeries.allocation_rule) if owners else ()))
        found: list[tuple] = []
        for i in range(0, len(hashes), 900):  # stay under SQLite's bound-parameter limit
            found.extend(tuple(row) for row in conn.execute(select(*fields)
                                                            .where(CostSeries.key_hash.in_(hashes[i:i + 900]))))
        return found

    def _bulk_insert_daily(self, conn: Connection, loads: list[tuple[str, pd.DataFrame]]) -> None:
        """Insert each (source, daily rows) of ``loads``: one COPY on PostgreSQL for all of them."""
        columns = ["source", "day", "series_id", "billed_micros", "effective_micros", "list_micros",
                   "consumed_quantity", "pricing_quantity"]
        if self.db.dialect == "postgresql":
            self._copy_daily(conn, loads, columns)
            return
        for source, rows in loads:
            self._insert_daily_sqlite(conn, source, rows, columns)

    @staticmethod
    def _insert_daily_sqlite(conn: Connection, source: str, rows: pd.DataFrame, columns: list[str]) -> None:
        days = rows["day"].to_numpy(dtype="datetime64[D]")
        quantities = [[None if value != value else value for value in rows[c].tolist()]  # NaN -> NULL
                      for c in ("consumed_quantity", "pricing_quantity")]
        money = [rows[c].tolist() for c in ("billed_micros", "effective_micros", "list_micros")]
        # SQLite: dates as the 'YYYY-MM-DD' text SQLAlchemy's Date stores, formatted at once, and
        # many rows per INSERT (one statement step per row costs more than the row itself).
        values = list(zip(itertools.repeat(source), np.datetime_as_string(days, unit="D").tolist(),
                          rows["series_id"].tolist(), *money, *quantities))
        per_statement = _SQLITE_MAX_PARAMETERS // len(columns)
        row_sql = "(" + ", ".join("?" for _ in columns) + ")"
        head = f"INSERT INTO cost_daily ({', '.join(columns)}) VALUES "
        full = len(values) - len(values) % per_statement
        if full:
            statement = head + ", ".join([row_sql] * per_statement)
            conn.exec_driver_sql(statement, [tuple(itertools.chain.from_iterable(values[i:i + per_statement]))
                                             for i in range(0, full, per_statement)])
        if full < len(values):
            rest = values[full:]
            conn.exec_driver_sql(head + ", ".join([row_sql] * len(rest)), tuple(itertools.chain.from_iterable(rest)))

    @staticmethod
    def _copy_daily(conn: Connection, loads: list[tuple[str, pd.DataFrame]], columns: list[str]) -> None:
        """PostgreSQL: the daily rows in one COPY, its CSV text written by arrow in one pass
        (COPY row by row from Python costs more than the server's work on them)."""
        rows = loads[0][1] if len(loads) == 1 else pd.concat([rows for _, rows in loads], ignore_index=True)
        sources = np.repeat(np.array([source for source, _ in loads], dtype=object), [len(r) for _, r in loads])
        table = pa.table({
            "source": pa.array(sources, pa.string()),
            "day": pa.array(rows["day"].to_numpy(dtype="datetime64[D]"), pa.date32()),
            "series_id": pa.array(rows["series_id"].to_numpy(dtype=np.int64)),
            **{c: pa.array(rows[c].to_numpy(dtype=np.int64)) for c in ("billed_micros", "effective_micros", "list_micros")},
            # NaN (no quantity) becomes a null, which CSV writes as an empty field: COPY's NULL.
            **{c: pa.array(rows[c].to_numpy(dtype=np.float64), from_pandas=True)
               for c in ("consumed_quantity", "pricing_quantity")},
        })
        buffer = pa.BufferOutputStream()
        pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
        with (conn.connection.driver_connection.cursor() as cursor,
              cursor.copy(f"COPY cost_daily ({', '.join(columns)}) FROM STDIN (FORMAT csv)") as copy):
            copy.write(buffer.getvalue().to_pybytes())

    def set_freshness(self, source: str, *, last_day: date, complete_through: date) -> None:
        with self.db.session() as session:
            row = session.get(SourceFreshness, source)
            if row is None:
                row = SourceFreshness(source=source, last_day=last_day, complete_through=complete_through,
                                      updated_at=utcnow())
            else:
                row.last_day = max(row.last_day, last_day)
                row.complete_through = complete_through
                row.updated_at = utcnow()
            session.add(row)

    def reassign_teams(self, assignments: pd.DataFrame, *, fingerprint: str | None = None) -> int:
        """Apply new owners (``series_id``, ``x_Team``, ``x_AllocationRule``) after teams.yml changed.

        Only series whose owner or rule differs are written, in one transaction; with
        ``fingerprint`` (:func:`finops.ownership.allocation_fingerprint`) the same transaction
        records which rules the stored owners now follow. Returns how many series changed.
        """
        current = {int(row.id): (row.team, row.allocation_rule) for row in self._owners()}
        changed = [{"series": int(series_id), "new_team": team, "new_rule": rule}
                   for series_id, team, rule in assignments[["series_id", model.TEAM, model.ALLOCATION_RULE]]
                   .itertuples(index=False, name=None)
                   if current.get(int(series_id), (team, rule)) != (team, rule)]
        with self.db.engine.begin() as conn:
            if changed:
                conn.execute(update(CostSeries).where(CostSeries.id == bindparam("series"))
                             .values(team=bindparam("new_team"), allocation_rule=bindparam("new_rule")), changed)
            if fingerprint is not None:
                self._record_allocation(conn, fingerprint)
        return len(changed)

    def allocation_fingerprint(self) -> str | None:
        """The fingerprint of the teams.yml rules the stored owners follow (None: never recorded)."""
        with self.db.engine.connect() as conn:
            return conn.execute(select(AllocationState.fingerprint)
                                .where(AllocationState.name == _ALLOCATION_STATE)).scalar_one_or_none()

    def forget_allocation(self) -> None:
        """Drop the recorded fingerprint: the stored owners follow no one teams.yml any more."""
        with self.db.engine.begin() as conn:
            conn.execute(delete(AllocationState).where(AllocationState.name == _ALLOCATION_STATE))

    def _owners(self) -> list:
        with self.db.engine.connect() as conn:
            return list(conn.execute(select(CostSeries.id, CostSeries.team, CostSeries.allocation_rule)))

    def _record_allocation(self, conn: Connection, fingerprint: str) -> None:
        # An upsert: replicas starting together may both record the same fingerprint.
        insert = postgresql_insert if self.db.dialect == "postgresql" else sqlite_insert
        statement = insert(AllocationState).values(name=_ALLOCATION_STATE, fingerprint=fingerprint, applied_at=utcnow())
        conn.execute(statement.on_conflict_do_update(
            index_elements=["name"], set_={"fingerprint": statement.excluded.fingerprint,
                                           "applied_at": statement.excluded.applied_at}))

    # reading -------------------------------------------------------------------------------
    def freshness(self) -> list[Freshness]:
        with self.db.session() as session:
            return [Freshness(r.source, r.last_day, r.complete_through, r.updated_at)
                    for r in session.scalars(select(SourceFreshness).order_by(SourceFreshness.source))]

    def source_status(self) -> list[SourceStatus]:
        """Every source with data, and every connector that has run (even if it never succeeded), by key.

        File runs are recorded under their paths (kind ``file``), not a source key, so file
        sources show no run.
        """
        latest: dict[str, IngestRunRecord] = {}
        for run in self.ingest_runs(limit=1000):  # newest first
            latest.setdefault(run.source, run)
        fresh = {row.source: row for row in self.freshness()}
        connectors = {source for source, run in latest.items() if run.kind != "file"}
        statuses = []
        for source in sorted(set(fresh) | connectors):
            row, run = fresh.get(source), latest.get(source)
            statuses.append(SourceStatus(
                source, row.last_day if row else None, row.complete_through if row else None,
                run.status if run else None, (run.finished_at or run.started_at) if run else None,
                run.error if run else None))
        return statuses

    def complete_through(self) -> date | None:
        """The last day complete in every current source (sources silent for a week are ignored)."""
        rows = self.freshness()
        if not rows:
            return None
        newest = max(r.last_day for r in rows)
        current = [r for r in rows if r.last_day >= newest - timedelta(days=7)]
        return min(r.complete_through for r in current)

    def date_range(self) -> tuple[date, date] | None:
        with self.db.session() as session:
            low, high = session.execute(select(func.min(CostDaily.day), func.max(CostDaily.day))).one()
        return (low, high) if low is not None else None

    def series(self) -> pd.DataFrame:
        """Every series with its id and owner, as a frame with FOCUS column names."""
        with self.db.engine.connect() as conn:
            frame = pd.read_sql(select(CostSeries.__table__), conn)  # type: ignore[attr-defined]
        return frame.rename(columns={v: k for k, v in SERIES_COLUMNS.items()}).rename(columns={"id": "series_id"})

    def totals(self, *, start: date | None = None, end: date | None = None,
               filters: dict[str, Iterable[str]] | None = None) -> dict[str, Decimal]:
        """Exact sums (Decimal) of each money column over the period and filters."""
        query = select(func.coalesce(func.sum(CostDaily.billed_micros), 0),
                       func.coalesce(func.sum(CostDaily.effective_micros), 0),
                       func.coalesce(func.sum(CostDaily.list_micros), 0))
        query = self._restrict(query.select_from(CostDaily.__table__.join(  # type: ignore[attr-defined]
            CostSeries.__table__, CostDaily.series_id == CostSeries.id)), start, end, filters)  # type: ignore[attr-defined]
        with self.db.engine.connect() as conn:
            billed, effective, listed = conn.execute(query).one()
        return {"BilledCost": from_micros(billed), "EffectiveCost": from_micros(effective),
                "ListCost": from_micros(listed)}

    def load_daily_costs(self, *, start: date | None = None, end: date | None = None,
                         filters: dict[str, Iterable[str]] | None = None, with_series_id: bool = False) -> pd.DataFrame:
        """A daily cost frame (all dimensions) for the period and filters, summed over sources."""
        grouped = self.grouped_costs(by=[model.DAY, *model.DIMENSIONS, *model.OWNERSHIP]
                                     + (["series_id"] if with_series_id else []),
                                     start=start, end=end, filters=filters)
        return grouped if with_series_id else model.conform_daily_frame(grouped)

    def grouped_costs(self, *, by: Sequence[str], start: date | None = None, end: date | None = None,
                      filters: dict[str, Iterable[str]] | None = None) -> pd.DataFrame:
        """Money and quantities summed in SQL by ``by`` (FOCUS names, aliases, ``month`` or
        ``series_id``). Money comes back as float dollars and exact ``*_micros`` integers."""
        series_t, daily_t = CostSeries.__table__, CostDaily.__table__  # type: ignore[attr-defined]
        group_cols = []
        for name in by:
            if name == "series_id":
                group_cols.append(daily_t.c.series_id.label("series_id"))
                continue
            column = resolve_dimension(name)
            if column == model.DAY:
                group_cols.append(daily_t.c.day.label(model.DAY))
            elif column == "month":
                if self.db.dialect == "postgresql":
                    group_cols.append(func.to_char(daily_t.c.day, "YYYY-MM").label("month"))
                else:
                    group_cols.append(func.strftime("%Y-%m", daily_t.c.day).label("month"))
            elif column.startswith("tag:"):
                raise ValueError("group by a tag with load_daily_costs and finops; SQL groups by columns")
            else:
                group_cols.append(series_t.c[SERIES_COLUMNS[column]].label(column))
        query = select(
            *group_cols,
            func.sum(daily_t.c.billed_micros).label("billed_micros"),
            func.sum(daily_t.c.effective_micros).label("effective_micros"),
            func.sum(daily_t.c.list_micros).label("list_micros"),
            func.sum(daily_t.c.consumed_quantity).label("ConsumedQuantity"),
            func.sum(daily_t.c.pricing_quantity).label("PricingQuantity"),
        ).select_from(daily_t.join(series_t, daily_t.c.series_id == series_t.c.id))
        query = self._restrict(query, start, end, filters)
        if group_cols:
            query = query.group_by(*group_cols)
        with self.db.engine.connect() as conn:
            result = conn.execute(query)
            # Plain tuples: pandas probes SQLAlchemy Row objects one by one (seconds for 100,000 rows).
            frame = pd.DataFrame.from_records([tuple(row) for row in result.fetchall()], columns=list(result.keys()))
        for column, micros in MONEY_COLUMNS.items():
            frame[micros] = pd.to_numeric(frame[micros]).fillna(0).astype(np.int64)
            frame[column] = frame[micros] / MICROS
        for column in QUANTITY_COLUMNS:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(np.float64)
        if model.DAY in frame:
            frame[model.DAY] = pd.to_datetime(frame[model.DAY])
        return frame

    def _restrict(self, query: Select, start: date | None, end: date | None,
                  filters: dict[str, Iterable[str]] | None) -> Select:
        series_t, daily_t = CostSeries.__table__, CostDaily.__table__  # type: ignore[attr-defined]
        conditions = []
        if start is not None:
            conditions.append(daily_t.c.day >= start)
        if end is not None:
            conditions.append(daily_t.c.day <= end)
        for name, values in (filters or {}).items():
            values = list(values)
            column = resolve_dimension(name)
            if column.startswith("tag:"):
                key = column[4:]
                # Tags are canonical JSON, so '"key":"value"' is an exact substring test.
                conditions.append(or_(*[series_t.c.tags.contains(json.dumps({key: v}, separators=(",", ":"))[1:-1])
                                        for v in values]))
            elif column in SERIES_COLUMNS:
                conditions.append(series_t.c[SERIES_COLUMNS[column]].in_(values))
            else:
                raise ValueError(f"cannot filter on {name!r}")
        return query.where(and_(*conditions)) if conditions else query

    # lean scans ----------------------------------------------------------------------------
    def daily_rows_lean(self, *, start: date, end: date, columns: Sequence[str],
                        money: str = "EffectiveCost") -> pd.DataFrame:
        """Every stored daily row of [start, end]: the day, ``money`` in float dollars and the
        series' ``columns`` (FOCUS names) as categoricals; rows of one series and day from
        several sources are not summed (sum them by day and series for totals).

        For scans of the whole store (anomaly detection reads every series for most of a year):
        the rows are read as three integers (day number, series id, micros; PostgreSQL by COPY,
        SQLite as blocks of numbers parsed by numpy) and each series' text is attached by code,
        so no dimension text is read or grouped and no Python object is made per row.
        """
        names = {column: SERIES_COLUMNS[resolve_dimension(column)] for column in columns}
        series_t = CostSeries.__table__  # type: ignore[attr-defined]
        with self.db.engine.connect() as conn:
            raw = conn.connection.driver_connection
            micros = MONEY_COLUMNS[money]
            if self.db.dialect == "postgresql":
                sql = (f"COPY (SELECT day - DATE '1970-01-01', series_id, {micros} FROM cost_daily "
                       f"WHERE day >= DATE '{start.isoformat()}' AND day <= DATE '{end.isoformat()}') TO STDOUT")
                buffer = io.BytesIO()
                with raw.cursor() as cursor, cursor.copy(sql) as copy:
                    for block in copy:
                        buffer.write(block)
                buffer.seek(0)
                table = (pd.read_csv(buffer, sep="\t", header=None, dtype=np.int64).to_numpy()
                         if buffer.getbuffer().nbytes else np.zeros((0, 3), dtype=np.int64))
            else:
                # SQLite has no bulk export and its driver makes a tuple of Python ints per row
                # (~2 us a row); so each block of days comes back as one text of numbers, joined
                # in SQL and parsed by numpy in C (2-3x faster). Days are stored as 'YYYY-MM-DD'
                # and numbered in SQL.
                blocks = []
                day = start
                began = not raw.in_transaction
                if began:  # one snapshot for every block (an ingest may commit between them)
                    raw.execute("BEGIN")
                try:
                    while day <= end:
                        last = min(end, day + timedelta(days=_LEAN_BLOCK_DAYS - 1))
                        (text,) = raw.execute(
                            "SELECT group_concat(CAST(julianday(day) - 2440587.5 AS INTEGER) || ',' || series_id "
                            f"|| ',' || {micros}, ',') FROM cost_daily WHERE day >= ? AND day <= ?",
                            (day.isoformat(), last.isoformat())).fetchone()
                        if text:
                            blocks.append(np.fromstring(text, dtype=np.int64, sep=",").reshape(-1, 3))
                        day = last + timedelta(days=1)
                finally:
                    if began:
                        raw.rollback()
                table = np.concatenate(blocks) if blocks else np.zeros((0, 3), dtype=np.int64)
            # after the rows: series are only ever added, so every series a row names is there
            series = conn.execute(select(series_t.c.id, *(series_t.c[n] for n in names.values()))).fetchall()
        ids = np.array([row[0] for row in series], dtype=np.int64)
        position = np.full(int(ids.max()) + 1 if ids.size else 1, -1, dtype=np.int64)
        position[ids] = np.arange(ids.size)
        of_row = position[table[:, 1]] if table.size else np.zeros(0, dtype=np.int64)
        frame = pd.DataFrame({model.DAY: table[:, 0].astype("datetime64[D]").astype("datetime64[ns]"),
                              money: table[:, 2] / MICROS})
        for i, column in enumerate(columns, start=1):
            codes, labels = pd.factorize(pd.Series([row[i] for row in series], dtype=object))
            frame[column] = pd.Categorical.from_codes(codes[of_row], categories=pd.Index(labels, dtype=object))
        return frame
