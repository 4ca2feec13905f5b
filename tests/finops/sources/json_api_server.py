"""A local HTTP server on 127.0.0.1 answering GET requests with JSON, for the fakes of provider
REST APIs the real SDK clients are pointed at (Azure Advisor, GCP Recommender).

``with Server(items) as server:`` serves on ``server.url`` until the block ends; a subclass answers
each request in :meth:`JsonApiServer.answer_get` from ``items``, ``page_size`` a page. Every
request is kept in ``requests``; ``failures`` holds (status, code) answers to give first.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


class JsonApiServer(ABC):
    def __init__(self, items: Sequence[dict], *, page_size: int) -> None:
        self.items, self.page_size = list(items), page_size
        self.requests: list[dict[str, Any]] = []
        self.failures: list[tuple[int, str]] = []
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()

    @abstractmethod
    def answer_get(self, path: str, query: dict[str, list[str]], headers: dict[str, str]) -> tuple[int, Any]:
        """Status and JSON body for ``GET path?query`` (header names lower-cased)."""

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802  (http.server's name)
                parts = urlsplit(self.path)
                server.requests.append({"path": parts.path, "query": parse_qs(parts.query)})
                status, body = server.answer_get(parts.path, parse_qs(parts.query),
                                                 {k.lower(): v for k, v in self.headers.items()})
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                return

        return Handler
