"""The Slack app factory: one Bolt app for Socket Mode and HTTP mode alike."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App
from slack_bolt.error import BoltUnhandledRequestError

from bot.context import AppContext, slack_client

log = logging.getLogger(__name__)


def _drop_unused_token_warning(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("As you gave `client` as well, `token` will be unused")


def create_app(ctx: AppContext) -> App:
    """A Bolt app with every listener registered.

    ``process_before_response=False``: Bolt answers Slack as soon as a listener calls ``ack()``
    and the listener goes on in a worker thread, so slow work never delays the 3-second ack.
    """
    import handlers

    client = ctx.slack_client or slack_client(ctx.settings)
    # Bolt reads SLACK_BOT_TOKEN itself and warns that it goes unused beside our client (which
    # carries that same token): noise at every start, so that one warning is dropped.
    bolt_log = logging.getLogger("slack_bolt.App")
    bolt_log.addFilter(_drop_unused_token_warning)
    app = App(
        client=client,
        signing_secret=ctx.settings.slack_signing_secret or "",
        process_before_response=False,
        # Verified once at start-up by `costbot run`; tests and the demo need no auth.test round trip.
        token_verification_enabled=False,
        raise_error_for_unhandled_request=False,
        # Listeners ack first and then do their work here; Bolt's default of 10 workers queues
        # acks behind slow answers when 20 people type /cost at once.
        listener_executor=ThreadPoolExecutor(max_workers=32, thread_name_prefix="costbot-listener"),
    )

    @app.error
    def log_listener_error(error: Exception, body: dict) -> None:
        if isinstance(error, BoltUnhandledRequestError):
            return
        log.exception("listener failed for %s", body.get("type") or body.get("command"), exc_info=error)

    handlers.register_all(app, ctx)
    return app
