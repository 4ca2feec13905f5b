"""A local HTTP server that speaks Azure Cost Management's Query REST API, for connector tests.

It holds usage line items and answers ``POST /{scope}/providers/Microsoft.CostManagement/query``
the way Azure does: it checks the api-version and the bearer token, validates the body (type,
Custom timeframe, Daily granularity, Sum aggregations, at most two groupings, ``In`` filters),
groups and sums the items itself, and returns the rows/columns format (``UsageDate`` as a number
like 20261015, ``Currency`` last) in pages linked by ``nextLink`` with a ``$skiptoken``. Tests can
make it answer the next requests with an error (401, 429 with Retry-After, 503).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

API_VERSION = "2025-03-01"
DIMENSIONS = {"SubscriptionId": "subscription_id", "SubscriptionName": "subscription_name",
              "ServiceName": "service", "MeterId": "meter_id", "ResourceLocation": "location"}
COST_COLUMNS = ("PreTaxCost", "Cost")


@dataclass(frozen=True)
class UsageItem:
    """One usage line: ``actual``/``amortized`` None when the item is absent from that cost type."""

    day: date
    subscription_id: str
    subscription_name: str
    service: str
    meter_id: str
    location: str
    actual: float | None
    amortized: float | None
    quantity: float = 0.0
    tags: dict[str, str] = field(default_factory=dict)
    currency: str = "USD"


@dataclass
class Failure:
    status: int
    code: str
    headers: dict[str, str]


class QueryError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


class AzureCostServer:
    """``with AzureCostServer(scope, items) as server:`` serves on ``server.url`` until the block ends."""

    def __init__(self, scope: str, items: Sequence[UsageItem], *, token: str = "test-token", page_size: int = 1000):
        self.scope, self.items, self.token, self.page_size = scope.strip("/"), list(items), token, page_size
        self.requests: list[dict[str, Any]] = []
        self._failures: deque[Failure] = deque()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host}:{port}"

    def fail_next(self, status: int, code: str, *, headers: dict[str, str] | None = None, times: int = 1) -> None:
        """Answer the next ``times`` authenticated requests with this error instead of data."""
        self._failures.extend(Failure(status, code, headers or {}) for _ in range(times))

    def __enter__(self) -> AzureCostServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, headers, payload = server._answer(self.path, self.headers.get("Authorization"), body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                """Quiet: tests read ``server.requests`` instead."""

        return Handler

    def _answer(self, path: str, authorization: str | None, body: bytes) -> tuple[int, dict[str, str], Any]:
        url = urlsplit(path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.requests.append({"path": url.path, "query": query, "body": json.loads(body or b"null")})
        try:
            if url.path != f"/{self.scope}/providers/Microsoft.CostManagement/query":
                raise QueryError(404, "NotFound", f"no such scope or operation: {url.path}")
            if query.get("api-version") != API_VERSION:
                raise QueryError(400, "InvalidApiVersionParameter", f"api-version {query.get('api-version')!r}")
            if authorization != f"Bearer {self.token}":
                raise QueryError(401, "ExpiredAuthenticationToken", "The access token expiry UTC time is in the past.")
            if self._failures:
                failure = self._failures.popleft()
                return failure.status, failure.headers, _error(failure.code, "injected failure")
            rows, columns = self._evaluate(json.loads(body))
        except QueryError as error:
            return error.status, {}, _error(error.code, str(error))
        offset = 0
        digest = hashlib.sha1(body).hexdigest()[:12]
        if "$skiptoken" in query:
            offset_text, _, token_digest = query["$skiptoken"].partition(".")
            if token_digest != digest:
                return 400, {}, _error("InvalidSkipToken", "the next page must repeat the same query body")
            offset = int(offset_text)
        page = rows[offset:offset + self.page_size]
        next_link = None
        if offset + self.page_size < len(rows):
            next_link = (f"{self.url}{url.path}?api-version={API_VERSION}"
                         f"&$skiptoken={offset + self.page_size}.{digest}")
        return 200, {}, {"id": f"/{self.scope}/providers/Microsoft.CostManagement/query/1", "name": "1",
                         "type": "Microsoft.CostManagement/query",
                         "properties": {"nextLink": next_link, "columns": columns, "rows": page}}

    def _evaluate(self, query: dict[str, Any]) -> tuple[list[list[Any]], list[dict[str, str]]]:
        kind = query.get("type")
        if kind not in ("ActualCost", "AmortizedCost", "Usage"):
            raise QueryError(400, "BadRequest", f"type {kind!r}")
        if query.get("timeframe") != "Custom" or "timePeriod" not in query:
            raise QueryError(400, "BadRequest", "this server answers Custom timeframes only")
        first = date.fromisoformat(query["timePeriod"]["from"][:10])
        last = date.fromisoformat(query["timePeriod"]["to"][:10])
        dataset = query["dataset"]
        if dataset.get("granularity") != "Daily":
            raise QueryError(400, "BadRequest", "this server answers Daily granularity only")
        aggregations = list(dataset.get("aggregation", {}).values())
        for aggregation in aggregations:
            if aggregation.get("function") != "Sum" or aggregation.get("name") not in (*COST_COLUMNS, "UsageQuantity"):
                raise QueryError(400, "BadRequest", f"aggregation {aggregation!r}")
        grouping = dataset.get("grouping", [])
        if len(grouping) > 2:
            raise QueryError(400, "BadRequest", "Invalid query definition: grouping supports at most 2 columns")
        for group in grouping:
            if not (group["type"] == "TagKey" or (group["type"] == "Dimension" and group["name"] in DIMENSIONS)):
                raise QueryError(400, "BadRequest", f"grouping {group!r}")

        cost_of = (lambda item: item.actual) if kind != "AmortizedCost" else (lambda item: item.amortized)
        sums: dict[tuple[Any, ...], list[float]] = {}
        for item in self.items:
            if cost_of(item) is None or not first <= item.day <= last or not _matches(item, dataset.get("filter")):
                continue
            key = (int(item.day.strftime("%Y%m%d")), *_group_values(item, grouping), item.currency)
            totals = sums.setdefault(key, [0.0] * len(aggregations))
            for i, aggregation in enumerate(aggregations):
                totals[i] += item.quantity if aggregation["name"] == "UsageQuantity" else cost_of(item)

        columns = [{"name": a["name"], "type": "Number"} for a in aggregations]
        columns.append({"name": "UsageDate", "type": "Number"})
        for group in grouping:
            if group["type"] == "TagKey":
                columns += [{"name": "TagKey", "type": "String"}, {"name": "TagValue", "type": "String"}]
            else:
                columns.append({"name": group["name"], "type": "String"})
        columns.append({"name": "Currency", "type": "String"})
        rows = [[*totals, *key] for key, totals in sorted(sums.items())]
        return rows, columns


def _group_values(item: UsageItem, grouping: Sequence[dict[str, str]]) -> Iterator[str]:
    for group in grouping:
        if group["type"] == "TagKey":
            found = [(k, v) for k, v in item.tags.items() if k.lower() == group["name"].lower()]
            yield from found[0] if found else ("", "")
        else:
            yield getattr(item, DIMENSIONS[group["name"]])


def _matches(item: UsageItem, expression: dict[str, Any] | None) -> bool:
    if not expression:
        return True
    if "and" in expression:
        return all(_matches(item, e) for e in expression["and"])
    if "or" in expression:
        return any(_matches(item, e) for e in expression["or"])
    if "dimensions" in expression:
        comparison = expression["dimensions"]
        if comparison.get("operator") != "In" or comparison["name"] not in DIMENSIONS:
            raise QueryError(400, "BadRequest", f"filter {comparison!r}")
        return getattr(item, DIMENSIONS[comparison["name"]]) in comparison["values"]
    raise QueryError(400, "BadRequest", f"filter {expression!r}")


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}
