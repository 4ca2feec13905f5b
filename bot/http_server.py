"""HTTP mode: Slack's signed requests on /slack/events, a health check on /health.

A threading WSGI server from the standard library is enough: Bolt acks immediately and runs
listeners in its own thread pool, so a request thread is only held for the ack.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from storage.db import Database

log = logging.getLogger(__name__)

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]
EVENTS_PATH = "/slack/events"


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 128


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib signature)
        log.debug("%s - %s", self.address_string(), format % args)


def health_report(db: Database, *, mode: str) -> dict:
    """/health: the database answers (a health check reports; it never raises)."""
    try:
        db.current_revision()
    except Exception as e:
        return {"ok": False, "database": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
                "mode": mode}
    return {"ok": True, "database": "ok", "mode": mode}


def make_wsgi_app(bolt_app: App | None, *, health: Callable[[], dict],
                  routes: dict[str, WsgiApp] | None = None) -> WsgiApp:
    """Route /slack/events to Bolt (when given), /health to ``health()``, plus extra routes."""
    slack = SlackRequestHandler(bolt_app, path=EVENTS_PATH) if bolt_app else None
    routes = dict(routes or {})

    def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/health":
            report = health()
            status = "200 OK" if report.get("ok") else "503 Service Unavailable"
            body = json.dumps(report).encode()
            start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        if path == EVENTS_PATH and slack is not None:
            return slack(environ, start_response)
        if path in routes:
            return routes[path](environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"Not Found"]

    return application


def start_http_server(app: WsgiApp, *, host: str = "0.0.0.0", port: int = 3000) -> ThreadingWSGIServer:
    """Serve ``app`` in a background thread; ``port=0`` picks a free port (see ``server_port``)."""
    server = make_server(host, port, app, server_class=ThreadingWSGIServer, handler_class=QuietHandler)
    # A short poll interval makes shutdown() prompt (tests start and stop many servers).
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="costbot-http",
                              daemon=True)
    thread.start()
    return server
