"""Local endpoints that answer every request with one HTTP error, written as the provider's API
writes it: the failures the local peers (moto, bqemulator) cannot produce. A connector's SDK client
is pointed at one (``endpoint_url`` / ``api_endpoint``); nothing in the SDK is mocked."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Response = tuple[int, str, str, dict[str, str]]   # status, body, content type, headers


class FailingEndpoint:
    """``with FailingEndpoint(503, body, "application/json") as url:``; ``requests`` counts the calls.

    ``before`` are responses served first, in order (a good first page, say); then every request
    gets the failure."""

    def __init__(self, status: int, body: str, content_type: str, headers: dict[str, str] | None = None, *,
                 before: list[Response] | None = None) -> None:
        self.responses = [*(before or []), (status, body, content_type, headers or {})]
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _fail(self) -> None:
                status, body, content_type, headers = owner.responses[min(owner.requests, len(owner.responses) - 1)]
                owner.requests += 1
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body.encode())))
                self.end_headers()
                self.wfile.write(body.encode())

            do_GET = do_POST = do_PUT = do_HEAD = _fail

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    def __enter__(self) -> str:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def failing_bigquery(status: int, reason: str, message: str) -> FailingEndpoint:
    """BigQuery's REST error: ``{"error": {"code", "message", "errors": [{"reason"}]}}``."""
    return FailingEndpoint(status, json.dumps({"error": {"code": status, "message": message, "status": reason.upper(),
                                                         "errors": [{"reason": reason, "message": message,
                                                                     "domain": "global"}]}}),
                           "application/json; charset=UTF-8")


def failing_cost_explorer(status: int, code: str, message: str, *, pages_first: list[dict] | None = None
                          ) -> FailingEndpoint:
    """Cost Explorer's JSON 1.1 error: ``{"__type": code, "message": ...}``, after ``pages_first``
    (``GetCostAndUsage`` answers) if given."""
    pages = [(200, json.dumps(page), "application/x-amz-json-1.1", {}) for page in pages_first or []]
    return FailingEndpoint(status, json.dumps({"__type": code, "message": message}), "application/x-amz-json-1.1",
                           {"x-amzn-ErrorType": code}, before=pages)


def failing_s3(status: int, code: str, message: str) -> FailingEndpoint:
    """S3's REST-XML error document."""
    return FailingEndpoint(status, f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                                   f"<Message>{message}</Message><RequestId>0</RequestId></Error>", "application/xml")
