"""FOCUS cost files, and the row model every file format is normalized into.

FOCUS is the target of every format, so this module also holds what the other formats build on:

- :class:`Coded`: a string (or day) column as integer codes into its distinct values. Cost exports
  repeat a few thousand distinct values millions of times, so every per-value step (parsing a
  timestamp, canonicalizing a tag string, mapping a service) runs once per distinct value, and
  grouping works on small integers instead of strings.
- :class:`FocusRows`: one chunk of raw rows in FOCUS columns (day, dimensions, money, quantities),
  what a format's ``normalize`` returns; :func:`aggregate_rows` sums it to the daily series key
  and :func:`daily_frame` turns it into the daily cost frame of :mod:`finops.model`.
- :class:`ReadPlan`: which source columns a format reads, as what, and how it normalizes them.
- :class:`BadValue`: a value that cannot be read, with its column and row, turned into an
  :class:`~finops.errors.InputError` (file and line) by :mod:`finops.sources.files`.

The FOCUS format itself maps 1:1: FOCUS 1.0-1.2 column names, plus the 0.5 / 1.0-preview names
(``AmortizedCost``, ``ChargeType``, ``UsageQuantity``, ``UsageUnit``, ``Region``) and 1.3's
``ServiceProviderName``. Required: ``ChargePeriodStart``, ``ChargeCategory``, ``BilledCost``,
``EffectiveCost``, ``ProviderName`` (FOCUS mandates them and nothing sensible can be made up for
them); every other column defaults to "" (dimensions), 0 (``ListCost``) or no quantity.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from finops.errors import InputError
from finops.model import DAY, DIMENSIONS, MONEY, OWNERSHIP, QUANTITIES, canonical_tags, parse_tags

NAME = "focus"
SIGNATURE = "ChargePeriodStart and BilledCost columns"

# Older FOCUS names (0.5, 1.0-preview) and 1.3's provider rename, mapped to the 1.0-1.2 names.
ALIASES: dict[str, str] = {
    "AmortizedCost": "EffectiveCost",
    "ChargeType": "ChargeCategory",
    "UsageQuantity": "ConsumedQuantity",
    "UsageUnit": "ConsumedUnit",
    "Region": "RegionId",
    "ServiceProviderName": "ProviderName",
}
REQUIRED: tuple[str, ...] = ("ChargePeriodStart", "ChargeCategory", "BilledCost", "EffectiveCost", "ProviderName")

# The literal strings exports write for "no value" (the FOCUS sample writes NULL unquoted).
NULL_MARKERS: tuple[str, ...] = ("", "NULL")

_CHARGE_CATEGORY_CASE = {c.lower(): c for c in ("Usage", "Purchase", "Tax", "Credit", "Adjustment")}


class BadValue(Exception):
    """A value a format cannot read: ``row`` is its 0-based index in the chunk being normalized."""

    def __init__(self, message: str, *, column: str, row: int, value: object) -> None:
        super().__init__(message)
        self.message, self.column, self.row, self.value = message, column, row, value


# --- Coded columns ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Coded:
    """A column as ``codes`` (one int32 per row) into ``values`` (its distinct values, no repeats)."""

    codes: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.codes)

    def row_values(self) -> np.ndarray:
        """The value of every row (materialized: use on small arrays or for output)."""
        return self.values[self.codes]

    def take(self, rows: np.ndarray) -> Coded:
        """The rows at ``rows`` (indices or a boolean mask)."""
        return Coded(self.codes[rows], self.values)

    def map(self, fn: Callable[[object], object], *, column: str) -> Coded:
        """Apply ``fn`` to each distinct value; a ``ValueError`` becomes :class:`BadValue` at its first row."""
        mapped = np.empty(len(self.values), dtype=object)
        for i, value in enumerate(self.values):
            try:
                mapped[i] = fn(value)
            except ValueError as error:
                rows = np.flatnonzero(self.codes == i)
                if len(rows):  # values no row uses any more (after take) cannot be bad input
                    raise BadValue(str(error), column=column, row=int(rows[0]), value=value) from None
                mapped[i] = ""
        return recode(self.codes, mapped)

    def only_where(self, keep: np.ndarray) -> Coded:
        """The same column with "" on the rows where ``keep`` is False."""
        return recode(np.where(keep, self.codes, len(self.values)), np.append(self.values, ""))

    def is_in(self, choices: Iterable[object]) -> np.ndarray:
        """A boolean mask of the rows whose value is one of ``choices``."""
        return np.isin(self.values, list(choices))[self.codes] if len(self.values) else np.zeros(len(self), bool)


def recode(codes: np.ndarray, values: np.ndarray) -> Coded:
    """A :class:`Coded` from codes into ``values`` that may repeat: equal values get one code."""
    inverse, uniques = pd.factorize(values, use_na_sentinel=False)
    return Coded(inverse.astype(np.int32)[codes], uniques)


def constant(value: object, rows: int) -> Coded:
    """The same value on every row."""
    return Coded(np.zeros(rows, dtype=np.int32), np.array([value], dtype=object))


def concat_coded(parts: Sequence[Coded]) -> Coded:
    """Rows of ``parts`` one after the other, with one set of distinct values."""
    offsets = np.cumsum([0] + [len(p.values) for p in parts[:-1]])
    codes = np.concatenate([p.codes + off for p, off in zip(parts, offsets, strict=True)])
    return recode(codes, np.concatenate([p.values for p in parts]))


def combine(parts: Sequence[Coded]) -> tuple[np.ndarray, np.ndarray]:
    """Number the distinct combinations of several coded columns.

    Returns ``(ids, first)``: a combination id per row (0..k-1, in order of first appearance) and
    the first row of each combination. Codes are packed into one int64 key and renumbered densely
    whenever the next column could overflow it, so any number of columns works.
    """
    rows = len(parts[0]) if parts else 0
    key = np.zeros(rows, dtype=np.int64)
    span = 1
    for part in parts:
        width = max(len(part.values), 1)
        if span * width >= 2**62:
            key, uniques = pd.factorize(key)
            span = len(uniques)
        key = key * width + part.codes
        span *= width
    ids, _ = pd.factorize(key)
    # factorize numbers combinations in order of first appearance, so a row starts a new
    # combination exactly when its id exceeds every id before it.
    seen_before = np.maximum.accumulate(np.concatenate(([-1], ids[:-1])))
    return ids, np.flatnonzero(ids > seen_before)


def derive(parts: Sequence[Coded], fn: Callable[..., tuple[object, ...]], outputs: int) -> tuple[Coded, ...]:
    """Columns computed from several columns, calling ``fn`` once per distinct combination."""
    ids, first = combine(parts)
    results = [fn(*(p.values[p.codes[row]] for p in parts)) for row in first]
    columns = []
    for k in range(outputs):
        values = np.empty(len(results), dtype=object)
        values[:] = [r[k] for r in results]
        columns.append(recode(ids, values))
    return tuple(columns)


def coalesce(parts: Sequence[Coded]) -> Coded:
    """Per row, the first non-empty value among ``parts`` ("" when all are empty)."""
    if not parts:
        raise ValueError("coalesce needs at least one column")
    return derive(parts, lambda *values: (next((v for v in values if v), ""),), 1)[0]


# --- reading arrow columns ----------------------------------------------------------------------


def _plain(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def text_column(array: pa.Array | pa.ChunkedArray) -> Coded:
    """A string column (nulls and the ``NULL`` marker become "") as :class:`Coded`."""
    if pa.types.is_null(array.type) or len(array) == 0:
        return constant("", len(array))
    if pa.types.is_dictionary(array.type):
        return _dictionary_text_column(array)
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = pc.cast(array, pa.string())
    # Encoding a chunked column shares one dictionary across its chunks, so no copy is needed.
    encoded = pc.dictionary_encode(array, null_encoding="encode")
    chunks = encoded.chunks if isinstance(encoded, pa.ChunkedArray) else [encoded]
    values = np.array(chunks[-1].dictionary.to_pylist(), dtype=object)
    codes = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in chunks]).astype(np.int32, copy=False)
    blanks = np.array([v is None or v in NULL_MARKERS for v in values], dtype=bool)
    if blanks.any():
        values[blanks] = ""
        return recode(codes, values)
    return Coded(codes, values)


def _dictionary_text_column(array: pa.Array | pa.ChunkedArray) -> Coded:
    """A dictionary-encoded string column (Parquet's own encoding, read as is) as :class:`Coded`:
    its indices are the codes, so no string is hashed again."""
    if isinstance(array, pa.ChunkedArray):
        array = array.unify_dictionaries()  # one dictionary for every chunk
        chunks = array.chunks
    else:
        chunks = [array]
    dictionary = chunks[0].dictionary
    if not (pa.types.is_string(dictionary.type) or pa.types.is_large_string(dictionary.type)):
        return text_column(_plain(array))
    nulls = any(c.null_count for c in chunks)
    values = np.array(dictionary.to_pylist() + ([None] if nulls else []), dtype=object)  # the last one for nulls
    codes = np.concatenate([(c.indices.fill_null(len(values) - 1) if c.null_count else c.indices)
                            .to_numpy(zero_copy_only=False) for c in chunks]).astype(np.int32, copy=False)
    blanks = np.array([v is None or v in NULL_MARKERS for v in values], dtype=bool)
    values[blanks] = ""
    # Null, "" and NULL all become "" (and a writer may repeat a value in its dictionary):
    # recode keeps the values distinct, as Coded requires. Checking costs one pass over the
    # few distinct values, not the rows.
    if blanks.sum() > 1 or len(pd.unique(values)) < len(values):
        return recode(codes, values)
    return Coded(codes, values)


_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def _first_bad_number(texts: list[object]) -> tuple[int, object]:
    for row, text in enumerate(texts):
        if text is None:
            continue
        stripped = str(text).strip()
        if stripped not in NULL_MARKERS and not _NUMBER.fullmatch(stripped):
            return row, text
    return -1, None


def number_column(array: pa.Array | pa.ChunkedArray, *, column: str) -> np.ndarray:
    """A numeric column as float64 with NaN for no value; NaN/inf/unparsable values are bad input."""
    array = _plain(array)
    if pa.types.is_null(array.type):
        return np.full(len(array), np.nan)
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        stripped = pc.utf8_trim_whitespace(array)
        blank = pc.is_in(stripped, value_set=pa.array(NULL_MARKERS))
        try:
            array = pc.cast(pc.if_else(blank, pa.scalar(None, pa.string()), stripped), pa.float64())
        except pa.ArrowInvalid:
            row, value = _first_bad_number(array.to_pylist())
            raise BadValue("not a number", column=column, row=row, value=value) from None
    elif not pa.types.is_floating(array.type):
        array = pc.cast(array, pa.float64())
    values = array.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    finite = np.isfinite(values)
    if not finite.all():
        valid = array.is_valid().to_numpy(zero_copy_only=False) if array.null_count else True
        bad = np.flatnonzero(~finite & valid)
        if len(bad):
            raise BadValue("not a finite number", column=column, row=int(bad[0]), value=float(values[bad[0]]))
    return values


def money_column(array: pa.Array | pa.ChunkedArray, *, column: str) -> np.ndarray:
    """A money column as float64; no value counts as 0."""
    values = number_column(array, column=column)
    return np.where(np.isnan(values), 0.0, values)


_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T].*)?")


def parse_days(texts: Sequence[object]) -> np.ndarray:
    """The UTC day of each timestamp text (``datetime64[D]``; NaT where it cannot be read).

    Accepts ISO 8601 with or without ``T``, fractional seconds, ``Z`` or an offset (converted to
    UTC), a bare date, BigQuery's ``... UTC`` suffix, and Azure's US-style ``M/D/YYYY`` dates
    (Azure cost exports always write month first). A timestamp without a zone is taken as UTC.
    """
    out = np.full(len(texts), np.datetime64("NaT"), dtype="datetime64[D]")
    iso_rows, iso_texts = [], []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            continue
        text = text.strip()
        us = _US_DATE.fullmatch(text)
        if us:
            month, day, year = (int(g) for g in us.groups())
            try:
                out[i] = np.datetime64(f"{year:04d}-{month:02d}-{day:02d}", "D")
            except ValueError:
                pass
            continue
        if text.endswith(" UTC"):
            text = text[:-4] + "Z"
        iso_rows.append(i)
        iso_texts.append(text)
    if iso_texts:
        parsed = pd.to_datetime(pd.Series(iso_texts, dtype=object), format="ISO8601", utc=True, errors="coerce")
        out[iso_rows] = parsed.dt.tz_localize(None).to_numpy().astype("datetime64[D]")
    return out


def day_column(array: pa.Array | pa.ChunkedArray, *, column: str) -> Coded:
    """The charge day (UTC) of each row from a timestamp, date or text column; missing days are bad input."""
    if not pa.types.is_dictionary(array.type):  # dictionary text (Parquet) is coded as it is read
        array = _plain(array)
    if pa.types.is_timestamp(array.type) or pa.types.is_date(array.type):
        # Arrow keeps zoned timestamps as UTC instants, so the numpy day is the UTC day.
        days = array.to_numpy(zero_copy_only=False).astype("datetime64[D]")
        bad = np.flatnonzero(np.isnat(days))
        if len(bad):
            raise BadValue("no date", column=column, row=int(bad[0]), value=None)
        codes, uniques = pd.factorize(days)
        return Coded(codes.astype(np.int32), uniques)
    text = text_column(array)
    days = parse_days(list(text.values))
    # A dictionary read from Parquet may hold values no row of this chunk uses: only used ones count.
    bad_rows = np.flatnonzero(np.isin(text.codes, np.flatnonzero(np.isnat(days))))
    if len(bad_rows):
        row = int(bad_rows[0])
        value = text.values[text.codes[row]]
        raise BadValue("not a date" if value else "no date", column=column, row=row, value=value or None)
    return recode(text.codes, days)


def booked_day(day: Coded, table: pa.Table, column: str | None, *, month_text: bool = False) -> Coded:
    """The day a row is stored on: its charge day, or the first day of its billing period when
    the charge day is earlier.

    An export of one billing period also carries rows dated before it: late usage and corrections
    billed in October for September (GCP invoice months, FOCUS corrections). Booked on their own
    day they would stretch October's file back into September, and re-ingesting that file
    replaces the source's days from its first to its last: September's own figures would go. On
    the period's first day they are in the bill they belong to, and each file replaces its own
    period only. ``column``: the billing period start column of ``table`` (None: the file has
    none); ``month_text``: it holds ``YYYYMM`` (GCP's ``invoice.month``). Empty starts leave the day.
    """
    if column is None:
        return day
    starts = _optional_days(table[column], column=column, month_text=month_text)
    days = day.row_values().astype("datetime64[D]")
    earlier = ~np.isnat(starts) & (days < starts)
    if not earlier.any():
        return day
    codes, uniques = pd.factorize(np.where(earlier, starts, days))
    return Coded(codes.astype(np.int32), np.asarray(uniques).astype("datetime64[D]"))


_YEAR_MONTH = re.compile(r"(\d{4})(\d{2})")
_NO_VALUE = ("", "NULL", "null", "None")


def _optional_days(array: pa.Array | pa.ChunkedArray, *, column: str, month_text: bool) -> np.ndarray:
    """Each row's day (``datetime64[D]``), NaT where the value is empty; unreadable is bad input."""
    if not pa.types.is_dictionary(array.type):
        array = _plain(array)
    if pa.types.is_timestamp(array.type) or pa.types.is_date(array.type):
        return array.to_numpy(zero_copy_only=False).astype("datetime64[D]")
    text = text_column(array)
    values = ["" if v is None or str(v).strip() in _NO_VALUE else str(v).strip() for v in text.values]
    if month_text:
        values = [f"{m.group(1)}-{m.group(2)}-01" if (m := _YEAR_MONTH.fullmatch(v)) else v for v in values]
    parsed = parse_days(values)
    unreadable = np.flatnonzero(np.isnat(parsed) & np.array([bool(v) for v in values], dtype=bool))
    bad_rows = np.flatnonzero(np.isin(text.codes, unreadable))
    if len(bad_rows):
        row = int(bad_rows[0])
        raise BadValue("not a date", column=column, row=row, value=text.values[text.codes[row]])
    return parsed[text.codes] if len(parsed) else np.full(len(text), np.datetime64("NaT"), dtype="datetime64[D]")


# --- tags ---------------------------------------------------------------------------------------


def tags_from_text(text: object) -> dict[str, object]:
    """Tags from the ways exports write them: a JSON object, Azure's JSON without braces
    (``"a": "b","c": "d"``), or a list of ``{key, value}`` pairs (GCP labels, as JSON or as a
    Python literal). "", ``NULL``, ``{}`` and ``[]`` are no tags; anything else is a ``ValueError``.
    """
    if text is None:
        return {}
    text = str(text).strip()
    if text in NULL_MARKERS or text in ("{}", "[]"):
        return {}
    try:
        if text.startswith("["):
            try:
                pairs = json.loads(text)
            except json.JSONDecodeError:
                pairs = ast.literal_eval(text)
            return _pairs_to_tags(pairs)
        parsed = json.loads(text if text.startswith("{") else "{" + text + "}")
    except (ValueError, SyntaxError, TypeError):
        raise ValueError("not a tags object (JSON, or a list of key/value pairs)") from None
    if not isinstance(parsed, dict):
        raise ValueError("not a tags object (JSON, or a list of key/value pairs)")
    return parsed


def _pairs_to_tags(pairs: object) -> dict[str, object]:
    if not isinstance(pairs, list) or not all(isinstance(p, dict) and "key" in p for p in pairs):
        raise ValueError("not a list of key/value pairs")
    return {str(p["key"]): p.get("value") for p in pairs}


def tags_column(array: pa.Array | pa.ChunkedArray, *, column: str) -> Coded:
    """Canonical tags (see :func:`finops.model.canonical_tags`) from a text, map or key/value-list column."""
    if pa.types.is_map(array.type) or pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
        return _nested_tags(_plain(array), column=column)
    return text_column(array).map(lambda text: canonical_tags(tags_from_text(text)), column=column)


def without_user_prefix(tags: object) -> object:
    """Canonical tags with AWS's ``user:`` prefix dropped from user-defined keys (``user:team`` ->
    ``team``), as the CUR reader drops it: AWS's FOCUS export keeps it, and a teams.yml rule
    ``tag: {team: payments}`` would match none of that export's spend. A key already present
    without the prefix wins."""
    if not isinstance(tags, str) or '"user:' not in tags:
        return tags
    parsed = parse_tags(tags)
    renamed = {key[5:] if key.startswith("user:") and key[5:] and key[5:] not in parsed else key: value
               for key, value in parsed.items()}
    return canonical_tags(renamed)


def _nested_tags(array: pa.Array, *, column: str) -> Coded:
    # Parquet maps (AWS) and lists of {key, value} structs (GCP): few distinct rows, so cache them.
    cache: dict[tuple, int] = {}
    codes = np.empty(len(array), dtype=np.int32)
    values: list[str] = []
    for row, entries in enumerate(array.to_pylist()):
        pairs = tuple(
            (e["key"], e.get("value")) if isinstance(e, dict) else tuple(e) for e in (entries or ())
        )
        code = cache.get(pairs)
        if code is None:
            try:
                values.append(canonical_tags(dict(pairs)))
            except (TypeError, ValueError):
                raise BadValue("not a tags map", column=column, row=row, value=entries) from None
            code = cache[pairs] = len(values) - 1
        codes[row] = code
    return recode(codes, np.array(values, dtype=object))


def merge_tags(parts: Sequence[Coded]) -> Coded:
    """Per row, the union of several canonical-tags columns; later columns win on a shared key."""
    def merged(*texts: object) -> tuple[str]:
        tags: dict[str, object] = {}
        for text in texts:
            if text:
                tags.update(json.loads(str(text)))
        return (canonical_tags(tags),)
    return derive(parts, merged, 1)[0]


# --- FOCUS rows ---------------------------------------------------------------------------------


@dataclass
class FocusRows:
    """Rows in FOCUS columns: the day, every dimension of :data:`finops.model.DIMENSIONS`, money
    (float64, 0 for none) and quantities (float64, NaN for none)."""

    day: Coded
    dims: dict[str, Coded]
    money: dict[str, np.ndarray]
    quantities: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.day)

    def take(self, rows: np.ndarray) -> FocusRows:
        """The rows at ``rows`` (indices or a boolean mask)."""
        return FocusRows(self.day.take(rows), {k: v.take(rows) for k, v in self.dims.items()},
                         {k: v[rows] for k, v in self.money.items()},
                         {k: v[rows] for k, v in self.quantities.items()})


def focus_rows(day: Coded, dims: Mapping[str, Coded], money: Mapping[str, np.ndarray],
               quantities: Mapping[str, np.ndarray] | None = None) -> FocusRows:
    """Complete :class:`FocusRows`: missing dimensions are "", missing money 0, missing quantities NaN."""
    rows = len(day)
    unknown = set(dims) - set(DIMENSIONS) | set(money) - set(MONEY) | set(quantities or ()) - set(QUANTITIES)
    if unknown:
        raise ValueError(f"not FOCUS row columns: {sorted(unknown)}")
    return FocusRows(
        day,
        {d: dims[d] if d in dims else constant("", rows) for d in DIMENSIONS},
        {m: money[m] if m in money else np.zeros(rows) for m in MONEY},
        {q: (quantities or {})[q] if q in (quantities or {}) else np.full(rows, np.nan) for q in QUANTITIES},
    )


def concat_rows(parts: Sequence[FocusRows]) -> FocusRows:
    """The rows of ``parts`` one after the other."""
    if len(parts) == 1:
        return parts[0]
    return FocusRows(
        concat_coded([p.day for p in parts]),
        {d: concat_coded([p.dims[d] for p in parts]) for d in DIMENSIONS},
        {m: np.concatenate([p.money[m] for p in parts]) for m in MONEY},
        {q: np.concatenate([p.quantities[q] for p in parts]) for q in QUANTITIES},
    )


def aggregate_rows(rows: FocusRows) -> FocusRows:
    """One row per day and series (every dimension), money summed, quantities summed with
    ``min_count=1``: the same result as :func:`finops.model.aggregate_daily`, in first-seen order.

    Grouping on integer codes instead of 15 string columns is what keeps a million-row file
    within a small multiple of a bare pyarrow read.
    """
    if len(rows) == 0:
        return rows
    ids, first = combine([rows.day, *(rows.dims[d] for d in DIMENSIONS)])
    groups = len(first)
    quantities = {}
    for q, values in rows.quantities.items():
        present = ~np.isnan(values)
        total = np.bincount(ids, weights=np.where(present, values, 0.0), minlength=groups)
        total[np.bincount(ids, weights=present, minlength=groups) == 0] = np.nan
        quantities[q] = total
    return FocusRows(
        rows.day.take(first),
        {d: c.take(first) for d, c in rows.dims.items()},
        {m: np.bincount(ids, weights=v, minlength=groups) for m, v in rows.money.items()},
        quantities,
    )


def daily_frame(rows: FocusRows) -> pd.DataFrame:
    """The daily cost frame (:mod:`finops.model` columns and dtypes) of already aggregated rows."""
    count = len(rows)
    index = pd.RangeIndex(count)
    # Column by column: building from a dict would stack the object columns into one more copy.
    frame = pd.DataFrame(index=index)
    frame[DAY] = pd.Series(rows.day.row_values().astype("datetime64[ns]"), index=index)
    for d in DIMENSIONS:
        frame[d] = pd.Series(rows.dims[d].row_values(), index=index, dtype=object)
    for m in MONEY:
        frame[m] = pd.Series(rows.money[m], index=index, dtype=np.float64)
    for q in QUANTITIES:
        frame[q] = pd.Series(rows.quantities[q], index=index, dtype=np.float64)
    for o in OWNERSHIP:
        frame[o] = pd.Series(np.full(count, "", dtype=object), index=index, dtype=object)
    return frame  # DAILY_COLUMNS is exactly this order


# --- read plans ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadPlan:
    """What a format reads from one file: source columns as numbers or as text (``nested`` ones,
    Parquet maps/lists, are read as stored), and ``normalize``, which turns a chunk of those
    columns into :class:`FocusRows`."""

    numbers: tuple[str, ...]
    texts: tuple[str, ...]
    normalize: Callable[[pa.Table], FocusRows]
    nested: tuple[str, ...] = ()
    currency: str = ""  # the source column of BillingCurrency, named when a file mixes currencies

    @property
    def columns(self) -> tuple[str, ...]:
        """Every source column the plan reads."""
        return (*self.numbers, *self.texts, *self.nested)


def resolve_columns(columns: Sequence[str], wanted: Mapping[str, Sequence[str]], *, file: str,
                    required: Iterable[str], format_name: str, case_insensitive: bool = False) -> dict[str, str]:
    """Map each role in ``wanted`` to the first of its candidate source names present in ``columns``.

    A role in ``required`` with no candidate present is an :class:`InputError` naming the column.
    """
    present = {(c.lower() if case_insensitive else c): c for c in columns}
    found: dict[str, str] = {}
    for role, candidates in wanted.items():
        for name in candidates:
            actual = present.get(name.lower() if case_insensitive else name)
            if actual is not None:
                found[role] = actual
                break
    for role in required:
        if role not in found:
            names = " or ".join(repr(n) for n in wanted[role])
            article = "an" if format_name[:1].upper() in "AEIOU" else "a"
            raise InputError(f"missing required column {names} for {article} {format_name} file "
                             f"(columns seen: {', '.join(columns[:8])}{', ...' if len(columns) > 8 else ''})",
                             file=file, line=1, column=wanted[role][0])
    return found


def matches(columns: Sequence[str]) -> bool:
    """Whether a header looks like a FOCUS file."""
    names = set(columns)
    return "ChargePeriodStart" in names and "BilledCost" in names


_FOCUS_DIMENSIONS = tuple(d for d in DIMENSIONS if d not in ("Tags", "ChargeCategory"))


def plan(columns: Sequence[str], *, file: str) -> ReadPlan:
    """How to read a FOCUS file with this header (see the module docstring for required columns)."""
    wanted: dict[str, list[str]] = {name: [name] for name in (DAY, *DIMENSIONS, *MONEY, *QUANTITIES)}
    for old, new in ALIASES.items():
        wanted[new].append(old)
    found = resolve_columns(columns, wanted, file=file, required=REQUIRED, format_name="FOCUS")
    numeric = [c for c in (*MONEY, *QUANTITIES) if c in found]
    period = "BillingPeriodStart" if "BillingPeriodStart" in columns else None

    def normalize(table: pa.Table) -> FocusRows:
        dims = {d: text_column(table[found[d]]) for d in _FOCUS_DIMENSIONS if d in found}
        dims["ChargeCategory"] = text_column(table[found["ChargeCategory"]]).map(
            lambda v: _CHARGE_CATEGORY_CASE.get(str(v).lower(), v), column=found["ChargeCategory"])
        if "Tags" in found:
            dims["Tags"] = tags_column(table[found["Tags"]], column=found["Tags"]).map(
                without_user_prefix, column=found["Tags"])
        return focus_rows(
            booked_day(day_column(table[found[DAY]], column=found[DAY]), table, period),
            dims,
            {m: money_column(table[found[m]], column=found[m]) for m in MONEY if m in found},
            {q: number_column(table[found[q]], column=found[q]) for q in QUANTITIES if q in found},
        )

    nested = (found["Tags"],) if "Tags" in found else ()
    texts = tuple(found[c] for c in (DAY, *DIMENSIONS) if c in found and c != "Tags") + ((period,) if period else ())
    return ReadPlan(numbers=tuple(found[c] for c in numeric), texts=texts, normalize=normalize, nested=nested,
                    currency=found.get("BillingCurrency", ""))
