"""Cost data in and out: the only module that reads or writes ``cost_series``/``cost_daily``.

Writes are idempotent per (source, period): ``replace_daily_costs`` deletes the source's rows for
the period and inserts the new ones in one transaction, so a restated export replaces what was
there and a failed load leaves the earlier data exactly as it was. Reads return daily cost frames
(finops/model.py) or frames grouped in SQL, so large stores are summed by the database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
from sqlalchemy import Select, and_, delete, func, or_, select, update
from sqlalchemy.engine import Connection

from finops import model
from finops.errors import InputError
from finops.money import MICROS, from_micros
from storage.db import Database
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
    source: str
    start: date | None
    end: date | None
    rows: int
    series: int
    billed_micros: int
    effective_micros: int


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
        """``replace_daily_costs`` for several sources in a single transaction."""
        with self.db.engine.begin() as conn:
            return [self._replace(conn, b.source, b.frame, b.start, b.end) for b in batches]

    def _replace(self, conn: Connection, source: str, frame: pd.DataFrame, start: date | None,
                 end: date | None) -> WriteResult:
        frame = model.aggregate_daily(model.conform_daily_frame(frame))
        for column in model.MONEY:
            if not np.isfinite(frame[column].to_numpy(dtype=np.float64)).all():
                raise InputError(f"{source}: non-finite amount (NaN or infinity) in {column}; nothing was written")
        days = frame[model.DAY]
        if start is None and not frame.empty:
            start = days.min().date()
        if end is None and not frame.empty:
            end = days.max().date()
        if start is not None and end is not None:
            conn.execute(delete(CostDaily).where(CostDaily.source == source, CostDaily.day >= start,
                                                 CostDaily.day <= end))
        if frame.empty:
            return WriteResult(source, start, end, 0, 0, 0, 0)
        series_ids = self._upsert_series(conn, frame)
        rows = pd.DataFrame({
            "source": source,
            "day": days.dt.date,
            "series_id": series_ids,
            "billed_micros": _to_micros(frame["BilledCost"]),
            "effective_micros": _to_micros(frame["EffectiveCost"]),
            "list_micros": _to_micros(frame["ListCost"]),
            "consumed_quantity": frame["ConsumedQuantity"],
            "pricing_quantity": frame["PricingQuantity"],
        })
        if rows.duplicated(["day", "series_id"]).any():
            # Two rows of one series and day differ only in owner columns: one row, summed.
            rows = rows.groupby(["source", "day", "series_id"], as_index=False, sort=False).agg(
                billed_micros=("billed_micros", "sum"), effective_micros=("effective_micros", "sum"),
                list_micros=("list_micros", "sum"),
                consumed_quantity=("consumed_quantity", lambda s: s.sum(min_count=1)),
                pricing_quantity=("pricing_quantity", lambda s: s.sum(min_count=1)),
            )
        self._bulk_insert_daily(conn, rows)
        return WriteResult(source, start, end, len(rows), int(rows["series_id"].nunique()),
                           int(rows["billed_micros"].sum()), int(rows["effective_micros"].sum()))

    def _upsert_series(self, conn: Connection, frame: pd.DataFrame) -> np.ndarray:
        """Series ids for each row of ``frame``, inserting new series and updating owners."""
        key_frame = frame[_SERIES_KEY + [model.TEAM, model.ALLOCATION_RULE]]
        unique = key_frame.drop_duplicates(_SERIES_KEY).reset_index(drop=True)
        unique["key_hash"] = [series_key_hash(v) for v in unique[_SERIES_KEY].itertuples(index=False, name=None)]
        existing: dict[str, tuple[int, str, str]] = {}
        hashes = unique["key_hash"].tolist()
        for i in range(0, len(hashes), 900):  # stay under SQLite's bound-parameter limit
            chunk = hashes[i:i + 900]
            for row in conn.execute(select(CostSeries.key_hash, CostSeries.id, CostSeries.team,
                                           CostSeries.allocation_rule).where(CostSeries.key_hash.in_(chunk))):
                existing[row.key_hash] = (row.id, row.team, row.allocation_rule)
        new = unique[~unique["key_hash"].isin(existing.keys())]
        if not new.empty:
            records = new.rename(columns=SERIES_COLUMNS).to_dict("records")
            conn.execute(CostSeries.__table__.insert(), records)  # type: ignore[attr-defined]
            new_hashes = new["key_hash"].tolist()
            for i in range(0, len(new_hashes), 900):
                for row in conn.execute(select(CostSeries.key_hash, CostSeries.id)
                                        .where(CostSeries.key_hash.in_(new_hashes[i:i + 900]))):
                    existing[row.key_hash] = (row.id, "", "")
        # Owners follow the current teams.yml: a re-ingest updates series whose rules changed.
        changed = [(existing[h][0], team, rule) for h, team, rule in
                   zip(unique["key_hash"], unique[model.TEAM], unique[model.ALLOCATION_RULE], strict=True)
                   if h in existing and existing[h][1:] not in (("", ""), (team, rule))]
        for series_id, team, rule in changed:
            conn.execute(update(CostSeries).where(CostSeries.id == series_id).values(team=team, allocation_rule=rule))
        id_by_hash = {h: v[0] for h, v in existing.items()}
        unique["series_id"] = unique["key_hash"].map(id_by_hash)
        merged = frame[_SERIES_KEY].merge(unique[_SERIES_KEY + ["series_id"]], on=_SERIES_KEY, how="left",
                                          sort=False)
        return merged["series_id"].to_numpy(dtype=np.int64)

    def _bulk_insert_daily(self, conn: Connection, rows: pd.DataFrame) -> None:
        columns = ["source", "day", "series_id", "billed_micros", "effective_micros", "list_micros",
                   "consumed_quantity", "pricing_quantity"]
        rows = rows[columns]
        quantity_cols = ["consumed_quantity", "pricing_quantity"]
        values = rows.astype({c: object for c in quantity_cols})
        values[quantity_cols] = values[quantity_cols].where(rows[quantity_cols].notna(), None)
        tuples = list(zip(values["source"], values["day"], values["series_id"].astype(int).tolist(),
                          values["billed_micros"].astype(int).tolist(), values["effective_micros"].astype(int).tolist(),
                          values["list_micros"].astype(int).tolist(), values["consumed_quantity"],
                          values["pricing_quantity"], strict=True))
        if self.db.dialect == "postgresql":
            # COPY is an order of magnitude faster than INSERTs for bulk loads on PostgreSQL.
            raw = conn.connection.driver_connection
            with raw.cursor() as cursor, cursor.copy(f"COPY cost_daily ({', '.join(columns)}) FROM STDIN") as copy:
                for row in tuples:
                    copy.write_row(row)
        else:
            placeholders = ", ".join("?" for _ in columns)
            conn.exec_driver_sql(f"INSERT INTO cost_daily ({', '.join(columns)}) VALUES ({placeholders})", tuples)

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

    def reassign_teams(self, assignments: pd.DataFrame) -> int:
        """Apply new owners (``series_id``, ``x_Team``, ``x_AllocationRule``) after teams.yml changed."""
        count = 0
        with self.db.engine.begin() as conn:
            for series_id, team, rule in assignments[["series_id", model.TEAM, model.ALLOCATION_RULE]].itertuples(
                    index=False, name=None):
                result = conn.execute(update(CostSeries).where(
                    CostSeries.id == int(series_id), or_(CostSeries.team != team, CostSeries.allocation_rule != rule))
                    .values(team=team, allocation_rule=rule))
                count += result.rowcount
        return count

    # reading -------------------------------------------------------------------------------
    def freshness(self) -> list[Freshness]:
        with self.db.session() as session:
            return [Freshness(r.source, r.last_day, r.complete_through, r.updated_at)
                    for r in session.scalars(select(SourceFreshness).order_by(SourceFreshness.source))]

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
            frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
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
