"""AWS cost exports in S3: CUR 2.0 and the FOCUS export (Data Exports), and legacy CUR.

The connector lists the export's objects under ``s3://bucket/prefix``, picks each billing
period's current files, downloads them one at a time to a temporary directory and reads them with
:func:`finops.sources.files.read_daily_costs` (format detected from each file's header: CUR
legacy or 2.0, or FOCUS), keeping the days asked for.

Which files are current. Exports rewrite a whole billing period on every delivery, and unless
"overwrite" is on they keep the earlier versions next to the new one, so reading every file of a
period would count it several times. The period's manifest names the current files:

- Data Exports (CUR 2.0, FOCUS): ``<export>/metadata/BILLING_PERIOD=2026-10/<export>-Manifest.json``
  lists ``dataFiles`` (``s3://`` URIs); data lives under ``<export>/data/BILLING_PERIOD=2026-10/``.
- Legacy CUR: ``<report>/20261001-20261101/<report>-Manifest.json`` lists ``reportKeys``, which
  point into the latest assembly's folder (``.../<assemblyId>/``) or, with overwrite on,
  directly into the period folder.

A period without a manifest (copied files, a manifest not written yet) falls back to its data
files; when they sit in several folders (assemblies or executions), only the folder with the
most recently written file is read. A prefix that holds several exports for the same period
(say a CUR and a FOCUS export of the same account) is refused: it would double the cost.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import boto3
import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError

from finops.errors import InputError
from finops.model import empty_daily_frame
from finops.sources.aws_ce import aws_error_reason
from finops.sources.connector import CostConnector, SourceError, check_window, daily_window
from finops.sources.files import FORMATS, read_daily_costs

_DATA_SUFFIXES = (".parquet", ".csv.gz", ".csv", ".gz")
# <export>/metadata/BILLING_PERIOD=2026-10/<name>-Manifest.json
_EXPORT_MANIFEST = re.compile(r"^(?P<root>(?:.*/)?)metadata/BILLING_PERIOD=(?P<period>\d{4}-\d{2})/[^/]*Manifest\.json$")
_EXPORT_DATA = re.compile(r"^(?P<root>(?:.*/)?)data/BILLING_PERIOD=(?P<period>\d{4}-\d{2})/")
# <report>/20261001-20261101/<report>-Manifest.json (a copy inside the assembly folder is ignored)
_CUR_MANIFEST = re.compile(r"^(?P<root>(?:.*/)?)(?P<period>\d{6})01-\d{8}/[^/]+-Manifest\.json$")
_CUR_DATA = re.compile(r"^(?P<root>(?:.*/)?)(?P<period>\d{6})01-\d{8}/")


@dataclass(frozen=True)
class ExportObject:
    key: str
    last_modified: datetime


class AwsS3Export(CostConnector):
    """Daily costs from an AWS CUR 2.0, FOCUS or legacy CUR export in ``s3://bucket/prefix``.

    ``prefix`` should point at one export (``<prefix>/<export name>`` or the report's folder);
    ``client`` is a boto3 ``s3`` client (default: the standard credential chain); ``format`` is
    ``auto`` or one of the file formats of :mod:`finops.sources.files` (``aws-cur``, ``focus``).
    """

    # Exports are delivered up to three times a day, and rewrite the month until it closes.
    lag_days = 1
    restate_days = 3

    def __init__(self, bucket: str, prefix: str = "", *, client: Any | None = None, format: str = "auto") -> None:
        if format != "auto" and format not in FORMATS:
            raise ValueError(f"unknown format {format!r}: use auto or one of {', '.join(FORMATS)}")
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.source = f"aws-cur:s3://{bucket}/{self.prefix}".rstrip("/")
        self.client = client if client is not None else boto3.client("s3")
        self.format = format
        # The keys the last fetch read, for the ingest-run record.
        self.files_read: list[str] = []

    def fetch_daily(self, start: date, end: date) -> pd.DataFrame:
        """Daily cost frame for ``[start, end]`` from the current files of the periods it touches."""
        check_window(start, end)
        periods = _months(start, end)
        try:
            keys = [key for files in self._current_files(periods).values() for key in files]
        except (ClientError, BotoCoreError) as error:
            raise SourceError(self.source, aws_error_reason(error, "S3")) from error
        self.files_read = keys
        frames = [self._read(key, start, end) for key in keys]
        return daily_window(pd.concat(frames), start, end) if frames else empty_daily_frame()

    def _read(self, key: str, start: date, end: date) -> pd.DataFrame:
        """One export file, downloaded to a temporary directory, read and dropped again."""
        uri = f"s3://{self.bucket}/{key}"
        if key.endswith(".zip"):
            raise SourceError(self.source, f"{uri}: ZIP-compressed exports are not read; choose GZIP or Parquet")
        with tempfile.TemporaryDirectory(prefix="costbot-s3-") as tmp:
            path = Path(tmp) / PurePosixPath(key).name
            try:
                self.client.download_file(self.bucket, key, str(path))
            except (ClientError, BotoCoreError) as error:
                raise SourceError(self.source, f"{uri}: {aws_error_reason(error, 'S3')}") from error
            try:
                return daily_window(read_daily_costs([path], format=self.format), start, end)
            except InputError as error:
                raise SourceError(self.source, str(error).replace(str(path), uri)) from error

    def _current_files(self, periods: list[str]) -> dict[str, list[str]]:
        """Billing period (``YYYY-MM``) -> the keys to read for it."""
        objects = list(self._list())
        manifests: dict[str, dict[str, ExportObject]] = defaultdict(dict)
        data: dict[str, dict[str, list[ExportObject]]] = defaultdict(lambda: defaultdict(list))
        for obj in objects:
            kind = _classify(obj.key)
            if kind is None:
                continue
            role, root, period = kind
            if period not in periods:
                continue
            if role == "manifest":
                manifests[period][root] = obj
            else:
                data[period][root].append(obj)

        current: dict[str, list[str]] = {}
        for period in periods:
            roots = set(manifests[period]) | set(data[period])
            if len(roots) > 1:
                names = ", ".join(sorted(r.rstrip("/") or "(top level)" for r in roots))
                raise SourceError(self.source, f"several exports under the prefix for {period} ({names}): "
                                               "point the prefix at one export")
            if manifests[period]:
                (manifest,) = manifests[period].values()
                current[period] = self._manifest_files(manifest.key)
            elif data[period]:
                (files,) = data[period].values()
                current[period] = _latest_folder(files)
        return current

    def _manifest_files(self, key: str) -> list[str]:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            manifest = json.loads(body)
        except json.JSONDecodeError as error:
            raise SourceError(self.source, f"s3://{self.bucket}/{key}: manifest is not JSON ({error})") from error
        if "dataFiles" in manifest:
            in_bucket = f"s3://{self.bucket}/"
            outside = [uri for uri in manifest["dataFiles"] if not uri.startswith(in_bucket)]
            if outside:
                raise SourceError(self.source, f"s3://{self.bucket}/{key}: lists {outside[0]}, outside the bucket")
            return [uri[len(in_bucket):] for uri in manifest["dataFiles"]]
        if "reportKeys" in manifest:
            return list(manifest["reportKeys"])
        raise SourceError(self.source, f"s3://{self.bucket}/{key}: manifest lists no dataFiles or reportKeys")

    def _list(self) -> Iterator[ExportObject]:
        paginator = self.client.get_paginator("list_objects_v2")
        prefix = f"{self.prefix}/" if self.prefix else ""
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield ExportObject(item["Key"], item["LastModified"])


def _classify(key: str) -> tuple[str, str, str] | None:
    """("manifest" | "data", export root, period ``YYYY-MM``) for an export object, else None."""
    for pattern, role, dashed in ((_EXPORT_MANIFEST, "manifest", True), (_CUR_MANIFEST, "manifest", False)):
        match = pattern.match(key)
        if match:
            return role, match["root"], match["period"] if dashed else f"{match['period'][:4]}-{match['period'][4:]}"
    if not key.lower().endswith(_DATA_SUFFIXES + (".zip",)):
        return None
    for pattern, dashed in ((_EXPORT_DATA, True), (_CUR_DATA, False)):
        match = pattern.match(key)
        if match:
            return "data", match["root"], match["period"] if dashed else f"{match['period'][:4]}-{match['period'][4:]}"
    return None


def _latest_folder(files: list[ExportObject]) -> list[str]:
    """The keys in the folder holding the most recently written file (the latest assembly)."""
    folders: dict[str, list[ExportObject]] = defaultdict(list)
    for obj in files:
        folders[obj.key.rsplit("/", 1)[0]].append(obj)
    latest = max(folders.values(), key=lambda objs: max(o.last_modified for o in objs))
    return sorted(o.key for o in latest)


def _months(start: date, end: date) -> list[str]:
    months, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months

