"""``costbot outbox list|retry``: messages still owed to Slack, and retrying failed ones."""

from __future__ import annotations

import argparse

from bot.cli._common import open_context, print_json, print_table
from storage.outbox import OutboxStore


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("outbox", help="Slack messages not delivered yet: list, retry")
    actions = parser.add_subparsers(dest="outbox_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="pending and failed messages with their last error")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=run_list)
    retry = actions.add_parser("retry", help="send failed messages again (after fixing their channel or token)")
    retry.set_defaults(func=run_retry)


def run_list(args: argparse.Namespace) -> int:
    ctx = open_context(args, json_output=args.json)
    outbox = OutboxStore(ctx.db)
    records = outbox.due(limit=10_000) + outbox.failed()
    rows = [{"key": r.key, "channel": r.channel, "status": r.status, "attempts": r.attempts,
             "last_error": r.last_error, "created_at": r.created_at.isoformat(timespec="seconds")} for r in records]
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("nothing waiting: every message is in Slack")
        return 0
    print_table(["key", "channel", "status", "attempts", "last error"],
                [[r["key"], r["channel"], r["status"], r["attempts"], r["last_error"] or ""] for r in rows])
    return 0


def run_retry(args: argparse.Namespace) -> int:
    ctx = open_context(args)
    delivered = ctx.delivery.retry_failed()
    print(f"{delivered} message(s) delivered; `costbot outbox list` shows what is still waiting")
    return 0
