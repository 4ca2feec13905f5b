"""``costbot run``: the bot (Slack listeners + scheduler), in Socket Mode or HTTP mode."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from bot.cli import configure_logging
from bot.config import load_settings, require_slack_settings
from bot.context import build_context
from finops.errors import ConfigError

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="run the bot: Slack listeners and scheduled jobs")
    parser.add_argument("--no-scheduler", action="store_true", help="listeners only (e.g. extra replicas)")
    parser.set_defaults(func=run_bot)


def _drop_refused_connection_log(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("Failed to retrieve WSS URL")


def run_bot(args: argparse.Namespace) -> int:
    from slack_sdk.errors import SlackApiError

    from bot.app import create_app
    from bot.delivery import DeliveryError
    from bot.http_server import health_report, make_wsgi_app, start_http_server
    from handlers.units import UNITS_PATH, units_endpoint
    from jobs.scheduler import build_scheduler

    settings = load_settings()
    require_slack_settings(settings)
    if settings.sources_path:  # a bad sources.yml stops the start-up before anything connects
        from finops.sources.config import load_sources

        load_sources(settings.sources_path)
    ctx = build_context(settings)
    sdk_log = logging.getLogger("slack_sdk.web.base_client")
    level = sdk_log.level
    sdk_log.setLevel(logging.CRITICAL)  # the SDK logs the failure itself; we say it once, below
    try:
        identity = ctx.delivery.identity()
    except DeliveryError as e:
        if e.error.startswith("connection"):
            raise ConfigError(f"cannot reach Slack ({e.error})",
                              key="SLACK_API_URL" if settings.slack_api_url else "SLACK_BOT_TOKEN") from None
        raise ConfigError(f"Slack rejected the token ({e.error})", key="SLACK_BOT_TOKEN") from None
    finally:
        sdk_log.setLevel(level)
    app = create_app(ctx)

    def health() -> dict:
        return health_report(ctx.db, mode="socket" if settings.socket_mode else "http")

    routes = {UNITS_PATH: units_endpoint(ctx)}  # unit metric values from other systems (COSTBOT_UNITS_TOKEN)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # The HTTP server first: a port that is taken stops the start-up before any job runs, and
    # /health and Slack's requests are answered from here on.
    try:
        server = start_http_server(make_wsgi_app(None if settings.socket_mode else app, health=health,
                                                 routes=routes), port=settings.port)
    except OSError as e:
        raise ConfigError(f"cannot listen on port {settings.port}: {e.strerror or e}", key="PORT") from None
    # Whatever a previous run recorded but did not send, in the background: waiting out Slack's
    # 429s for a backlog must not hold up acks and health checks.
    threading.Thread(target=ctx.delivery.flush, name="outbox-flush-at-start", daemon=True).start()

    scheduler = None
    if not args.no_scheduler:
        scheduler = build_scheduler(ctx)
        scheduler.start()

    if settings.socket_mode:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        handler = SocketModeHandler(app, settings.slack_app_token)
        # The SDK logs a refused connection itself, over two lines; we say it once, below.
        handler.client.logger.addFilter(_drop_refused_connection_log)
        try:
            handler.connect()
        except SlackApiError as e:
            if scheduler:
                scheduler.shutdown(wait=False)
            server.shutdown()
            raise ConfigError(f"Slack refused the Socket Mode connection ({e.response.get('error')})",
                              key="SLACK_APP_TOKEN") from None
        finally:  # a refusal later, on a reconnect, is logged as the SDK has it
            handler.client.logger.removeFilter(_drop_refused_connection_log)
    # INFO from here on: until start-up has succeeded, a setting that stops it is the one line on
    # stderr (main set WARNING).
    configure_logging(args.verbose, default=logging.INFO)
    if settings.socket_mode:
        log.info("Socket Mode connected; health on :%d/health", server.server_port)
    else:
        log.info("HTTP mode: Slack requests on :%d/slack/events, health on /health", server.server_port)
    log.info("running in Slack workspace %s as %s", identity.get("team"), identity.get("user"))
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    server.shutdown()
    if scheduler:
        scheduler.shutdown(wait=False)
    return 0
