"""The data of a variance answer: both periods of a question, summed in SQL by the variance keys.

:meth:`VarianceStore.variance_frame` returns the *pre-aggregated frame* that
:func:`finops.variance.explain_variance` accepts: one row per period (``"a"``/``"b"``) and series
with the series' :data:`finops.variance.VARIANCE_KEYS` (series differing only in other columns,
such as tags, repeat a combination of keys: the decomposition sums them), money summed in exact
micro-units (and as float dollars), quantities summed (NaN where none). The database does the
summing of days:

- whole calendar months inside a period are read from the monthly roll-up ``cost_monthly``
  (one row per series and month), the days around them from ``cost_daily``; each stretch is
  summed per series and the stretches are added up per period and series; the series' keys are
  read apart and joined in memory (grouping by eleven text columns in SQL cost more than the sums);
- the question's scope is a condition on ``cost_series`` (values compare case-insensitively;
  ``account`` matches the account ID or name; ``tag:NAME=VALUE`` looks for ``"name":"value"`` in
  the canonical Tags JSON, ``tag:NAME=""`` for series without that tag). SQLite lower-cases ASCII
  letters only, so on SQLite other letters compare case-sensitively.

The roll-up is rebuilt month by month from ``cost_daily`` when the triggers of migration 0005 have
listed the month in ``cost_monthly_stale`` (any write to its days): :meth:`refresh` does it, and
``variance_frame`` refreshes the months it is about to read first, so an answer never reads a
stale month. Rebuilds hold a lock that keeps cost writers out for their duration (PostgreSQL:
``SHARE ROW EXCLUSIVE`` on ``cost_daily``, which readers pass; SQLite: the database write lock),
so no write can slip between reading the stale list and rebuilding.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    Select,
    and_,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    not_,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.engine import Connection

from finops.model import parse_tags
from finops.money import MICROS
from finops.periods import SCOPE_COLUMNS, TAG_PREFIX, Period, Question
from finops.variance import PERIOD, VARIANCE_KEYS
from storage.costs import MONEY_COLUMNS, QUANTITY_COLUMNS, SERIES_COLUMNS
from storage.db import Database
from storage.tables.costs import CostDaily, CostSeries
from storage.tables.variance import CostMonthly, CostMonthlyStale

_SERIES = CostSeries.__table__  # type: ignore[attr-defined]
_DAILY = CostDaily.__table__  # type: ignore[attr-defined]
_MONTHLY = CostMonthly.__table__  # type: ignore[attr-defined]
_STALE = CostMonthlyStale.__table__  # type: ignore[attr-defined]
_SUMMED = ("billed_micros", "effective_micros", "list_micros", "consumed_quantity", "pricing_quantity")


@dataclass(frozen=True)
class Stretch:
    """Consecutive days of a period read one way: whole months from the roll-up, or days."""

    start: date
    end: date
    monthly: bool


def month_end(day: date) -> date:
    """The last day of ``day``'s month."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def period_stretches(period: Period) -> list[Stretch]:
    """``period`` as whole calendar months (``monthly``) and the days before and after them."""
    stretches: list[Stretch] = []
    day = period.start
    while day <= period.end:
        last = min(month_end(day), period.end)
        monthly = day.day == 1 and last == month_end(day)
        if stretches and stretches[-1].monthly == monthly:
            stretches[-1] = Stretch(stretches[-1].start, last, monthly)
        else:
            stretches.append(Stretch(day, last, monthly))
        day = last + timedelta(days=1)
    return stretches


def _months(stretches: Iterable[Stretch]) -> list[date]:
    """The first days of the whole months the monthly stretches cover."""
    months = []
    for stretch in stretches:
        month = stretch.start
        while stretch.monthly and month <= stretch.end:
            months.append(month)
            month = month_end(month) + timedelta(days=1)
    return months


def _folded(column: ColumnElement) -> ColumnElement:
    return func.lower(column)


def scope_condition(scope: Mapping[str, Sequence[str]]) -> ColumnElement | None:
    """The SQL condition on ``cost_series`` for a question's scope (keys AND, values OR)."""
    conditions = []
    for key, values in scope.items():
        wanted = [str(v).lower() for v in values]
        if key.startswith(TAG_PREFIX):
            tags = _folded(_SERIES.c.tags)
            name = key[len(TAG_PREFIX):].lower()
            # Tags are canonical JSON (finops.model.canonical_tags): '"name":"value"' is an exact test.
            hits = [tags.contains(_json_pair(name, value), autoescape=True) for value in wanted]
            if "" in wanted:
                hits.append(not_(tags.contains(_json_pair(name, None), autoescape=True)))
            conditions.append(or_(*hits))
        elif key in SCOPE_COLUMNS:
            column = _SERIES.c[SERIES_COLUMNS[SCOPE_COLUMNS[key]]]
            hit = _folded(column).in_(wanted)
            if key == "account":
                hit = or_(hit, _folded(_SERIES.c.sub_account_name).in_(wanted))
            conditions.append(hit)
        else:
            raise ValueError(f"unknown scope key {key!r}")
    return and_(*conditions) if conditions else None


def _json_pair(name: str, value: str | None) -> str:
    """``"name":"value"`` as canonical JSON writes it (``"name":`` alone when value is None)."""
    key = json.dumps(name)
    return f"{key}:" if value is None else f"{key}:{json.dumps(value)}"


class VarianceStore:
    """Reads for variance answers, and the monthly roll-up behind them."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # the roll-up ---------------------------------------------------------------------------
    def stale_months(self, among: Iterable[date] | None = None) -> list[date]:
        """Months whose roll-up must be rebuilt before it is read (all, or those ``among``)."""
        query = select(_STALE.c.month).order_by(_STALE.c.month)
        wanted = None if among is None else sorted(set(among))
        if wanted is not None:
            if not wanted:
                return []
            query = query.where(_STALE.c.month.in_(wanted))
        with self.db.engine.connect() as conn:
            return [_as_date(m) for m in conn.execute(query).scalars()]

    def refresh(self, months: Iterable[date] | None = None) -> list[date]:
        """Rebuild the stale months of the roll-up (all, or those among ``months``).

        Returns the months rebuilt. Idempotent and safe to run from several threads or replicas.
        """
        wanted = None if months is None else sorted(set(months))
        with self.db.engine.begin() as conn:
            self._lock_cost_writes(conn)
            query = select(_STALE.c.month).order_by(_STALE.c.month)
            if wanted is not None:
                query = query.where(_STALE.c.month.in_(wanted))
            stale = [_as_date(m) for m in conn.execute(query).scalars()]
            for month in stale:
                self._rebuild_month(conn, month)
            if stale:
                conn.execute(delete(_STALE).where(_STALE.c.month.in_(stale)))
        return stale

    def _lock_cost_writes(self, conn: Connection) -> None:
        if self.db.dialect == "postgresql":
            # Waits for cost writes in progress (their stale marks are then visible) and keeps
            # new ones and other rebuilds out until commit; readers are not blocked.
            conn.execute(text("LOCK TABLE cost_daily IN SHARE ROW EXCLUSIVE MODE"))
        else:
            # SQLite takes its single write lock at the first write of a transaction.
            conn.execute(delete(_STALE).where(literal(1) == 0))

    def _rebuild_month(self, conn: Connection, month: date) -> None:
        conn.execute(delete(_MONTHLY).where(_MONTHLY.c.month == month))
        summed = select(literal(month, Date).label("month"), _DAILY.c.series_id,
                        *(func.sum(_DAILY.c[c]).label(c) for c in _SUMMED)) \
            .where(_DAILY.c.day.between(month, month_end(month)), _DAILY.c.series_id.in_(select(_SERIES.c.id))) \
            .group_by(_DAILY.c.series_id)
        conn.execute(insert(_MONTHLY).from_select(["month", "series_id", *_SUMMED], summed))

    # what questions may name ----------------------------------------------------------------
    def known_scope_values(self, keys: Iterable[str]) -> dict[str, set[str]]:
        """Every value the cost data has for each scope key (``team``, ``account``, ``tag:env``...).

        ``account`` holds the account IDs and names; ``tag:NAME`` the values of that tag (names
        compare case-insensitively, as in the scope). A question naming a value outside these
        would be answered "$0.00 -> $0.00": the caller refuses it instead.
        """
        wanted = list(dict.fromkeys(keys))
        found: dict[str, set[str]] = {}
        with self.db.engine.connect() as conn:
            for key in wanted:
                if key.startswith(TAG_PREFIX):
                    name = key[len(TAG_PREFIX):].casefold()
                    found[key] = {str(value) for tags in conn.execute(select(_SERIES.c.tags).distinct()).scalars()
                                  for tag, value in parse_tags(tags).items() if tag.casefold() == name}
                elif key in SCOPE_COLUMNS:
                    columns = [_SERIES.c[SERIES_COLUMNS[SCOPE_COLUMNS[key]]]]
                    if key == "account":
                        columns.append(_SERIES.c.sub_account_name)
                    found[key] = {str(v) for column in columns
                                  for v in conn.execute(select(column).distinct()).scalars() if v is not None}
                else:
                    raise ValueError(f"unknown scope key {key!r}")
        return found

    def days_held(self) -> tuple[date, date] | None:
        """The first and last day of cost data held (None when there is none).

        Two statements, not one: SQLite answers ``min(day)`` and ``max(day)`` from the day index
        only when each is alone in its query (both in one query scan every row: seconds on a
        large store).
        """
        with self.db.engine.connect() as conn:
            first = conn.execute(select(func.min(_DAILY.c.day))).scalar()
            if first is None:
                return None
            last = conn.execute(select(func.max(_DAILY.c.day))).scalar()
        return _as_date(first), _as_date(last)

    def has_costs(self, start: date, end: date) -> bool:
        """True when any daily cost row is held from ``start`` to ``end`` (one index probe)."""
        with self.db.engine.connect() as conn:
            return conn.execute(select(literal(1)).where(_DAILY.c.day.between(start, end)).limit(1)).first() \
                is not None

    def account_names(self, account_ids: Iterable[str]) -> dict[str, str]:
        """The name of each of ``account_ids`` the cost data knows (IDs without a name are left out)."""
        ids = sorted(set(account_ids))
        names: dict[str, str] = {}
        with self.db.engine.connect() as conn:
            for i in range(0, len(ids), 900):  # SQLite's bound-parameter limit
                query = select(_SERIES.c.sub_account_id, _SERIES.c.sub_account_name).distinct() \
                    .where(_SERIES.c.sub_account_id.in_(ids[i:i + 900]), _SERIES.c.sub_account_name != "")
                names.update({str(account): str(name) for account, name in conn.execute(query)})
        return names

    # the answer's data ---------------------------------------------------------------------
    def variance_frame(self, question: Question) -> pd.DataFrame:
        """Both periods of ``question`` in the pre-aggregated shape (module docstring)."""
        periods = (("a", question.period_a), ("b", question.period_b))
        stretches = {label: period_stretches(period) for label, period in periods}
        months = _months(s for label in stretches for s in stretches[label])
        if self.stale_months(months):
            self.refresh(months)
        in_scope = select(_SERIES.c.id)
        condition = scope_condition(question.scope)
        if condition is not None:
            in_scope = in_scope.where(condition)
        parts = [_summed_stretch(label, stretch, in_scope) for label in stretches for stretch in stretches[label]]
        summed = union_all(*parts).subquery("summed")
        # Sums per period and series only: grouping 20,000 rows by eleven text columns in SQL
        # costs more than the sums themselves; the series' keys come from a second, small read.
        sums = select(summed.c.period, summed.c.series_id,
                      *(cast(func.sum(summed.c[c]), BigInteger).label(c) for c in MONEY_COLUMNS.values()),
                      *(func.sum(summed.c[c]).label(name) for name, c in QUANTITY_COLUMNS.items())) \
            .group_by(summed.c.period, summed.c.series_id).order_by(summed.c.period, summed.c.series_id)
        keys = select(_SERIES.c.id, *(_SERIES.c[SERIES_COLUMNS[column]] for column in VARIANCE_KEYS)) \
            .where(_SERIES.c.id.in_(in_scope)).order_by(_SERIES.c.id)
        with self.db.engine.connect() as conn:
            # Plain tuples: pandas probes Row objects one by one (3x slower for 20,000 rows).
            rows = [tuple(row) for row in conn.execute(sums).fetchall()]
            series = [tuple(row) for row in conn.execute(keys).fetchall()]
        return _frame(rows, series)


def _frame(rows: list[tuple], series: list[tuple]) -> pd.DataFrame:
    """The pre-aggregated frame from the sums per (period, series) and each series' keys."""
    sums = list(zip(*rows, strict=True)) if rows else [()] * (2 + len(MONEY_COLUMNS) + len(QUANTITY_COLUMNS))
    ids = np.fromiter((r[0] for r in series), dtype=np.int64, count=len(series))
    where = np.searchsorted(ids, np.asarray(sums[1], dtype=np.int64)) if len(series) else np.zeros(0, np.int64)
    columns: dict[str, object] = {PERIOD: np.asarray(sums[0], dtype=object)}
    for i, column in enumerate(VARIANCE_KEYS, start=1):
        values = np.empty(len(series), dtype=object)
        values[:] = [r[i] for r in series]
        columns[column] = values[where]
    for i, (column, micros) in enumerate(MONEY_COLUMNS.items(), start=2):
        exact = np.array([0 if v is None else int(v) for v in sums[i]], dtype=np.int64)
        columns[micros], columns[column] = exact, exact / MICROS
    for i, column in enumerate(QUANTITY_COLUMNS, start=2 + len(MONEY_COLUMNS)):
        columns[column] = np.array([np.nan if v is None else float(v) for v in sums[i]], dtype=np.float64)
    return pd.DataFrame(columns)


def _summed_stretch(label: str, stretch: Stretch, in_scope: Select) -> Select:
    """One stretch of one period summed per series, labelled with its period."""
    table = _MONTHLY if stretch.monthly else _DAILY
    when = table.c.month if stretch.monthly else table.c.day
    # Listing the series (even all of them) lets SQLite walk the (series_id, day) index in order
    # and sum as it goes instead of sorting every row of the stretch.
    return select(literal_column(f"'{label}'").label(PERIOD), table.c.series_id,
                  *(func.sum(table.c[c]).label(c) for c in _SUMMED)) \
        .where(when.between(stretch.start, stretch.end), table.c.series_id.in_(in_scope)) \
        .group_by(table.c.series_id)


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))

