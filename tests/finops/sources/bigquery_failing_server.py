"""A local BigQuery REST endpoint that answers every request with one HTTP error, as Google's
API writes errors: the failures the emulator cannot produce (5xx, 401, rate limits)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FailingBigQuery:
    """``with FailingBigQuery(503, "backendError", "Backend Error") as url:`` then point a client at ``url``."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        self.status, self.requests = status, 0
        self.body = json.dumps({"error": {"code": status, "message": message, "status": reason.upper(),
                                          "errors": [{"reason": reason, "message": message, "domain": "global"}]}})
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _fail(self) -> None:
                owner.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                body = owner.body.encode()
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _fail

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    def __enter__(self) -> str:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
