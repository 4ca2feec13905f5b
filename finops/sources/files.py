"""Cost export files in, daily cost frames out: format detection and chunked streaming.

Four formats are read, each normalized to FOCUS columns by its own module:

==================  ================================================================
``focus``           FOCUS 1.0-1.2 (:mod:`finops.sources.focus_files`)
``aws-cur``         AWS CUR, legacy ``lineItem/...`` and 2.0 ``line_item_...`` (:mod:`finops.sources.aws_cur`)
``azure-export``    Azure EA / MCA cost details exports (:mod:`finops.sources.azure_export`)
``gcp-export``      GCP BigQuery billing export, flattened (:mod:`finops.sources.gcp_export`)
==================  ================================================================

Files may be CSV, gzip-compressed CSV or Parquet (told apart by their first bytes, not their
names). They are streamed: CSV through ``pyarrow.csv.open_csv`` reading only the columns the
format needs, Parquet through ``ParquetFile.iter_batches``; each chunk of raw rows is normalized
and summed to the daily series key before the next is read, so memory holds one chunk plus the
daily result, never a whole file.

Line numbers: the header of a CSV is line 1 and the first data row line 2. Errors name the exact
line an editor shows. ``CostChunk.first_line`` counts records, so it equals the editor's line
unless earlier values contain line breaks inside quotes. For Parquet both are 1-based row numbers.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from finops.errors import InputError
from finops.model import empty_daily_frame
from finops.sources import aws_cur, azure_export, focus_files, gcp_export
from finops.sources.focus_files import BadValue, FocusRows, ReadPlan

# In the order detection tries them: FOCUS first, because AWS's and Azure's FOCUS exports also
# carry provider-specific x_ columns.
FORMATS = {module.NAME: module for module in (focus_files, aws_cur, azure_export, gcp_export)}
SUFFIXES: tuple[str, ...] = (".csv", ".csv.gz", ".parquet")
DEFAULT_CHUNK_ROWS = 200_000

_CSV_BLOCK_BYTES = 1 << 20
_READ_BUFFER_BYTES = 1 << 22
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"
_ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class CostChunk:
    """One chunk of a cost file, summed to daily series.

    ``first_line`` is the line of the chunk's first data row (CSV: header is line 1; Parquet: the
    1-based row number), ``rows`` the raw rows read, ``frame`` a daily cost frame
    (:mod:`finops.model`) with ``x_Team`` / ``x_AllocationRule`` left "". The same day and series
    can appear in several chunks: sum across chunks (:func:`read_daily_costs` does).
    """

    path: Path
    format: str
    first_line: int
    rows: int
    frame: pd.DataFrame


def cost_files(paths: Sequence[str | Path]) -> list[Path]:
    """The files to read: each file as given, each directory as every ``.csv``, ``.csv.gz`` and
    ``.parquet`` file under it (recursive, sorted by path)."""
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*")
                           if p.is_file() and p.name.lower().endswith(SUFFIXES))
            if not found:
                raise InputError(f"no {', '.join(SUFFIXES)} files in this directory", file=str(path))
            files.extend(current_export_files(path, found))
        elif path.is_file():
            files.append(path)
        else:
            raise InputError("no such file or directory", file=str(path))
    return files


# A local copy of an AWS export (``aws s3 sync``): each billing period's manifest names its current
# files. Legacy CUR: <report>/20261001-20261101/<report>-Manifest.json (not the copy inside an
# assembly folder); Data Exports: <export>/metadata/BILLING_PERIOD=2026-10/<export>-Manifest.json.
_CUR_PERIOD_FOLDER = re.compile(r"\d{8}-\d{8}")
_EXPORT_PERIOD_FOLDER = re.compile(r"BILLING_PERIOD=\d{4}-\d{2}")


def current_export_files(directory: Path, found: Sequence[Path]) -> list[Path]:
    """``found`` (the data files under ``directory``) without the superseded versions of an AWS
    export copied from S3.

    Exports rewrite a whole billing period on every delivery and, unless overwrite is on, keep the
    earlier versions beside the new one: reading them all would count the period several times.
    Where a period's manifest is in the copy, only the files it names are read; a file it names
    that the copy lacks is an error (the period would be short). Files outside such periods are
    read as found.
    """
    governed: dict[Path, set[str]] = {}  # the period's data folder -> the relative paths named
    for manifest in sorted(directory.rglob("*Manifest.json")):
        located = _manifest_period(manifest)
        if located is None:
            continue
        data_folder, period_segment = located
        names = _manifest_keys(manifest)
        relative = set()
        for key in names:
            parts = key.split("/")
            if period_segment not in parts:
                raise InputError(f"the manifest names {key}, not in its billing period {period_segment}",
                                 file=str(manifest))
            relative.add("/".join(parts[parts.index(period_segment) + 1:]))
        held = {p.relative_to(data_folder).as_posix() for p in found if data_folder in p.parents}
        missing = sorted(relative - held)
        if missing:
            raise InputError(f"the manifest names {missing[0]}, which is not in this copy of the export "
                             f"({len(missing)} such file(s)): copy the whole billing period", file=str(manifest))
        governed[data_folder] = relative
    if not governed:
        return list(found)
    kept = []
    for path in found:
        folder = next((f for f in governed if f in path.parents), None)
        if folder is None or path.relative_to(folder).as_posix() in governed[folder]:
            kept.append(path)
    return kept


def _manifest_period(manifest: Path) -> tuple[Path, str] | None:
    """(the period's data folder, its folder name) of a period manifest; None for any other file."""
    parent = manifest.parent
    if _CUR_PERIOD_FOLDER.fullmatch(parent.name):
        return parent, parent.name
    if _EXPORT_PERIOD_FOLDER.fullmatch(parent.name) and parent.parent.name == "metadata":
        return parent.parent.parent / "data" / parent.name, parent.name
    return None


def _manifest_keys(manifest: Path) -> list[str]:
    try:
        document = json.loads(manifest.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"an export manifest that is not JSON ({error})", file=str(manifest)) from None
    if isinstance(document, dict) and isinstance(document.get("reportKeys"), list):
        return [str(k) for k in document["reportKeys"]]
    if isinstance(document, dict) and isinstance(document.get("dataFiles"), list):
        return [str(uri).split("://", 1)[-1] for uri in document["dataFiles"]]
    raise InputError("an export manifest that lists no reportKeys or dataFiles", file=str(manifest))


def detect_format(path: str | Path) -> str:
    """The format of a cost file from its header alone: ``focus``, ``aws-cur``, ``azure-export``
    or ``gcp-export``. An unknown header is an :class:`InputError` listing what was tried."""
    columns = _header(Path(path))
    return _format_of(Path(path), columns)


def read_cost_files(paths: Sequence[str | Path], *, format: str = "auto",
                    chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[CostChunk]:
    """Stream cost files as chunks of daily cost frames.

    ``paths`` are files or directories (see :func:`cost_files`); ``format`` is ``auto`` (detect
    each file from its header) or one of :data:`FORMATS`; each chunk covers at most
    ``chunk_rows`` raw rows.

    Bad input (an unknown format, a missing required column, a value that is not a number, date
    or tags object) raises :class:`InputError` naming the file, line, column and value. Because
    the files are streamed, the error can come after earlier chunks were yielded: a caller that
    stores chunks must do so in one transaction and roll back on error.
    """
    for path, name, first_line, rows, summed in _summed_chunks(paths, format, chunk_rows):
        yield CostChunk(path, name, first_line, rows, focus_files.daily_frame(summed))


def read_daily_costs(paths: Sequence[str | Path], *, format: str = "auto",
                     chunk_rows: int = DEFAULT_CHUNK_ROWS) -> pd.DataFrame:
    """All of ``paths`` as one daily cost frame, summed across chunks and files.

    The same streaming as :func:`read_cost_files` (and the same errors, raised before anything
    is returned); chunks are kept in their compact coded form and summed once at the end.
    """
    parts = [summed for *_, summed in _summed_chunks(paths, format, chunk_rows)]
    if not parts:
        return empty_daily_frame()
    # Each step drops what it was given, so at most two copies of the rows are alive at once.
    rows = focus_files.concat_rows(parts)
    parts.clear()
    summed = focus_files.aggregate_rows(rows)
    del rows
    return focus_files.daily_frame(summed)


# --- per file -----------------------------------------------------------------------------------


def _summed_chunks(paths: Sequence[str | Path], format: str,
                   chunk_rows: int) -> Iterator[tuple[Path, str, int, int, FocusRows]]:
    if format != "auto" and format not in FORMATS:
        raise ValueError(f"unknown format {format!r}: use auto or one of {', '.join(FORMATS)}")
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    for path in cost_files(paths):
        columns = _header(path)
        name = _format_of(path, columns) if format == "auto" else format
        plan = FORMATS[name].plan(columns, file=str(path))
        currency = ""  # the file's billing currency, from its first row that names one
        for first_line, table in _chunks(path, plan, chunk_rows):
            try:
                rows = plan.normalize(table)
                currency = _one_currency(plan, rows, table.num_rows, currency)
            except BadValue as bad:
                raise _input_error(path, _first_bad_value(plan, table, bad), first_line) from None
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as error:
                # e.g. a Parquet column of a type the format cannot use as text or number
                raise InputError(f"cannot read this chunk: {error}", file=str(path), line=first_line) from None
            yield path, name, first_line, table.num_rows, focus_files.aggregate_rows(rows)


def _one_currency(plan: ReadPlan, rows: FocusRows, source_rows: int, currency: str) -> str:
    """The file's billing currency after this chunk (``currency`` before it; "" while no row named
    one). A row in another currency is a :class:`BadValue`: costbot does not convert currencies,
    so summing a file's rows would add, say, euros to dollars. Rows without a currency pass."""
    coded = rows.dims["BillingCurrency"]
    # A format may append rows after the source's (GCP's credits): they repeat a source row's currency.
    codes = coded.codes[:source_rows]
    named = np.flatnonzero(coded.values != "")
    if not currency:
        rows_named = np.flatnonzero(np.isin(codes, named))
        if not len(rows_named):
            return currency
        currency = str(coded.values[codes[rows_named[0]]])
    others = [i for i in named if str(coded.values[i]).strip().upper() != currency.strip().upper()]
    rows_other = np.flatnonzero(np.isin(codes, others)) if others else ()
    if len(rows_other):
        row = int(rows_other[0])
        raise BadValue(f"a second billing currency in this file (its earlier rows are in {currency}): costbot "
                       "does not convert currencies, so a file's costs must all be in one; export each "
                       "currency to its own file", column=plan.currency, row=row,
                       value=coded.values[codes[row]])
    return currency


def _first_bad_value(plan: ReadPlan, table: pa.Table, bad: BadValue) -> BadValue:
    """The bad value on the earliest row: columns are checked one after another, so a later
    column may hold an earlier bad row. Each retry reads only the rows before the last one found."""
    while True:
        try:
            plan.normalize(table.slice(0, bad.row))
            return bad
        except BadValue as earlier:
            bad = earlier


# Exports of clouds costbot does not read, whose headers would otherwise pass for one it does
# (OCI's cost reports use ``lineItem/...`` names like the AWS CUR): name them rather than report a
# missing CUR column. Each: columns that together identify it, and what to say.
_FOREIGN_EXPORTS: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"lineItem/tenantId", "cost/myCost"}),
     "an Oracle Cloud (OCI) cost report: costbot reads AWS, Azure and GCP exports and FOCUS files;"
     " ingest OCI's FOCUS reports instead"),
    # OCI's usage reports: the same lineItem/ columns, quantities and no cost at all.
    (frozenset({"lineItem/tenantId", "lineItem/intervalUsageStart"}),
     "an Oracle Cloud (OCI) usage report, which holds no costs: costbot reads AWS, Azure and GCP"
     " exports and FOCUS files; ingest OCI's FOCUS reports instead"),
)


def _format_of(path: Path, columns: list[str]) -> str:
    for signature, what in _FOREIGN_EXPORTS:
        if signature <= set(columns):
            raise InputError(f"not a supported cost export: {what}", file=str(path), line=1)
    for name, module in FORMATS.items():
        if module.matches(columns):
            return name
    tried = "; ".join(f"{name} (needs {module.SIGNATURE})" for name, module in FORMATS.items())
    seen = ", ".join(columns[:6]) + (", ..." if len(columns) > 6 else "")
    raise InputError(f"not a known cost export format; tried {tried}; first columns: {seen}",
                     file=str(path), line=1)


def _is_parquet(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == _PARQUET_MAGIC


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(2) == _GZIP_MAGIC


def _binary(path: Path) -> io.BufferedIOBase:
    return gzip.open(path, "rb") if _is_gzip(path) else path.open("rb")


def _text(path: Path) -> io.TextIOBase:
    # utf-8-sig drops the byte order mark some exports (Azure's) start with.
    return io.TextIOWrapper(_binary(path), encoding="utf-8-sig", newline="")


def _header(path: Path) -> list[str]:
    if _is_parquet(path):
        try:
            schema = pq.read_schema(path)
        except (pa.ArrowException, OSError) as error:
            raise InputError(f"cannot read Parquet file: {error}", file=str(path)) from None
        return _flat_names(schema)
    with path.open("rb") as f:
        if f.read(4) == _ZIP_MAGIC:  # e.g. a legacy CUR delivered with ZIP compression
            raise InputError("a ZIP archive: unzip it and ingest the CSV or Parquet files it holds "
                             "(costbot reads CSV, gzip-compressed CSV and Parquet)", file=str(path))
    try:
        with _binary(path) as raw:
            first = raw.readline().decode("utf-8-sig")
        header = next(csv.reader([first]), None)
    except (UnicodeDecodeError, OSError, EOFError, csv.Error) as error:
        raise InputError(f"cannot read the header: {error}", file=str(path), line=1) from None
    if not header:
        raise InputError("empty file: no header line", file=str(path), line=1)
    return header


def _flat_names(schema: pa.Schema) -> list[str]:
    # Struct columns (GCP's service, sku, project, ...) are named by their flattened paths, the
    # names the flattened CSV export uses: service.description, project.id.
    names: list[str] = []

    def walk(prefix: str, field: pa.Field) -> None:
        if pa.types.is_struct(field.type):
            for child in field.type:
                walk(f"{prefix}{field.name}.", child)
        else:
            names.append(prefix + field.name)

    for field in schema:
        walk("", field)
    return names


def _chunks(path: Path, plan: ReadPlan, chunk_rows: int) -> Iterator[tuple[int, pa.Table]]:
    if _is_parquet(path):
        yield from _parquet_chunks(path, plan, chunk_rows)
    else:
        yield from _csv_chunks(path, plan, chunk_rows)


def _rechunk(batches: Iterator[pa.RecordBatch], chunk_rows: int) -> Iterator[pa.Table]:
    """Regroup record batches into tables of exactly ``chunk_rows`` rows (the last may be shorter)."""
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for batch in batches:
        pending.append(batch)
        pending_rows += batch.num_rows
        while pending_rows >= chunk_rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, chunk_rows)
            rest = table.slice(chunk_rows)
            pending, pending_rows = rest.to_batches(), rest.num_rows
    if pending_rows:
        yield pa.Table.from_batches(pending)


def _parquet_chunks(path: Path, plan: ReadPlan, chunk_rows: int) -> Iterator[tuple[int, pa.Table]]:
    schema = pq.read_schema(path)
    # Text columns (and tags or credits stored as JSON text) are read in Parquet's dictionary
    # encoding: a few thousand distinct values repeated a million times are then codes already,
    # instead of strings to decode and hash again.
    texts = [name for name in (*plan.texts, *plan.nested) if name in schema.names
             and (pa.types.is_string(schema.field(name).type) or pa.types.is_large_string(schema.field(name).type))]
    source = pq.ParquetFile(path, read_dictionary=texts)
    top = set(source.schema_arrow.names)
    roots = list(dict.fromkeys(name if name in top else name.split(".")[0] for name in plan.columns))
    offset = 0
    try:
        for table in _rechunk(source.iter_batches(batch_size=chunk_rows, columns=roots), chunk_rows):
            while any(pa.types.is_struct(field.type) for field in table.schema):
                table = table.flatten()
            yield offset + 1, table.select(list(plan.columns))
            offset += table.num_rows
    except (pa.ArrowInvalid, OSError) as error:
        raise InputError(f"cannot read Parquet: {error}", file=str(path), line=offset + 1) from None


def _csv_chunks(path: Path, plan: ReadPlan, chunk_rows: int) -> Iterator[tuple[int, pa.Table]]:
    types = {name: pa.float64() for name in plan.numbers}
    types.update({name: pa.string() for name in (*plan.texts, *plan.nested)})
    convert = pa_csv.ConvertOptions(
        include_columns=list(plan.columns), column_types=types,
        null_values=list(focus_files.NULL_MARKERS), strings_can_be_null=True,
        quoted_strings_can_be_null=True)
    # Small blocks keep arrow's readahead parsing while the next block is decompressed; _rechunk
    # then regroups them into chunks of chunk_rows rows.
    read = pa_csv.ReadOptions(block_size=_CSV_BLOCK_BYTES)
    # Quoted values may hold line breaks (descriptions, JSON); without this a break that falls
    # on a block boundary would split a row. It measured no slower on the benchmark file.
    parse = pa_csv.ParseOptions(newlines_in_values=True)
    source = pa.input_stream(str(path), compression="gzip" if _is_gzip(path) else None,
                             buffer_size=_READ_BUFFER_BYTES)
    records = 0
    try:
        with pa_csv.open_csv(source, read_options=read, parse_options=parse, convert_options=convert) as reader:
            for table in _rechunk(iter(reader), chunk_rows):
                yield records + 2, table
                records += table.num_rows
    except pa.ArrowInvalid as error:
        raise _locate_csv_error(path, plan, error) from None
    except (OSError, EOFError) as error:  # a truncated or corrupt gzip stream
        raise InputError(f"cannot read: {error}", file=str(path), line=records + 2) from None


# --- errors -------------------------------------------------------------------------------------


def _records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line, fields) of every non-blank data row, line as an editor shows it."""
    with _text(path) as text:
        reader = csv.reader(text)
        next(reader, None)
        end = reader.line_num
        for fields in reader:
            start, end = end + 1, reader.line_num
            if fields:
                yield start, fields


def _input_error(path: Path, bad: BadValue, first_line: int) -> InputError:
    line = first_line + bad.row
    if not _is_parquet(path):
        # The chunk counts records; a quoted value with line breaks shifts the editor's line.
        line = next((line_no for i, (line_no, _) in enumerate(_records(path)) if i == line - 2), line)
    return InputError(bad.message, file=str(path), line=line, column=bad.column, value=bad.value)


_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def _locate_csv_error(path: Path, plan: ReadPlan, error: pa.ArrowInvalid) -> InputError:
    """The first row that made pyarrow fail (it names the column and value but not the row)."""
    header = _header(path)
    numeric = [(header.index(name), name) for name in plan.numbers]
    try:
        for line, fields in _records(path):
            if len(fields) != len(header):
                return InputError(f"row has {len(fields)} fields but the header has {len(header)}",
                                  file=str(path), line=line)
            for index, name in numeric:
                value = fields[index].strip()
                if value not in focus_files.NULL_MARKERS and not _NUMBER.fullmatch(value):
                    return InputError("not a number", file=str(path), line=line, column=name,
                                      value=fields[index])
    except UnicodeDecodeError:
        return _not_utf8(path)
    return InputError(f"cannot read CSV: {error}", file=str(path))


def _not_utf8(path: Path) -> InputError:
    with _binary(path) as raw:
        for line, text in enumerate(raw, start=1):
            try:
                text.decode("utf-8")
            except UnicodeDecodeError as error:
                bad = text[error.start:error.end]
                return InputError("not UTF-8 text (export the file as UTF-8)", file=str(path), line=line,
                                  value=bad)
    return InputError("not UTF-8 text (export the file as UTF-8)", file=str(path))
