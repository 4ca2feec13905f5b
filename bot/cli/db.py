"""``costbot db upgrade|current``: schema migrations."""

from __future__ import annotations

import argparse

from bot.config import load_settings
from storage.db import Database


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("db", help="database schema: upgrade, current")
    actions = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = actions.add_parser("upgrade", help="apply migrations (also done at start-up)")
    upgrade.set_defaults(func=run_upgrade)
    current = actions.add_parser("current", help="print the schema revision")
    current.set_defaults(func=run_current)


def run_upgrade(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import OperationalError

    from finops.errors import ConfigError

    db = Database(load_settings().database_url)
    try:
        db.upgrade()
    except OperationalError as e:
        reason = str(e.orig).strip().splitlines()[0] if e.orig else str(e).splitlines()[0]
        raise ConfigError(f"cannot open the database ({reason})", key="COSTBOT_DATABASE_URL") from None
    print(f"database at revision {db.current_revision()}")
    return 0


def run_current(args: argparse.Namespace) -> int:
    print(Database(load_settings().database_url).current_revision() or "(empty database)")
    return 0
