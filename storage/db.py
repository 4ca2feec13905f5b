"""Engine, sessions and schema upgrades: the only place that opens database connections.

SQLite (the default, a file in the working directory) and PostgreSQL are both first-class.
Schema changes go through Alembic migrations in ``storage/migrations``; ``upgrade()`` applies
them and is called by ``costbot db upgrade`` and at start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlmodel import Session

from finops.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///costbot.db"
MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK_KEY = 0x636F7374  # "cost": the advisory lock taken while migrating PostgreSQL

log = logging.getLogger(__name__)


def normalize_database_url(url: str) -> str:
    """Accept the URL forms people paste (``postgres://``, ``postgresql://``) and pick psycopg 3."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"not a database URL: {url!r} (example: postgresql://user@host/db)",
                          key="COSTBOT_DATABASE_URL") from None
    backend = parsed.get_backend_name()
    if backend in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend != "sqlite":
        raise ConfigError(f"unsupported database {backend!r}: use sqlite:///FILE or postgresql://...",
                          key="COSTBOT_DATABASE_URL")
    elif not parsed.database or ":memory:" in parsed.database or parsed.query.get("mode") == "memory":
        # An in-memory database is one per connection (per thread here) and gone when the process
        # ends: the web server's threads would not see the scheduler's writes, nor a command its own.
        raise ConfigError("an in-memory SQLite database keeps nothing between costbot's commands and threads: "
                          "use sqlite:///FILE (a path) or postgresql://...", key="COSTBOT_DATABASE_URL")
    return parsed.render_as_string(hide_password=False)


class Database:
    """An engine plus helpers; create one per process and share it."""

    def __init__(self, url: str = DEFAULT_DATABASE_URL, *, echo: bool = False) -> None:
        self.url = normalize_database_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        if self.is_sqlite:
            self.engine: Engine = create_engine(self.url, echo=echo,
                                                connect_args={"timeout": 30, "check_same_thread": False})
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = create_engine(self.url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back if it raises."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def upgrade(self, revision: str = "head") -> None:
        """Apply migrations up to ``revision`` (idempotent)."""
        from alembic import command

        with self.engine.begin() as connection:
            if self.dialect == "postgresql":
                # Replicas start together: one migrates, the others wait here and find it done.
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            config = alembic_config(self.url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str):
    """An Alembic config for our migrations, without needing an alembic.ini on disk."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets the HTTP listener threads read while a job writes; foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
