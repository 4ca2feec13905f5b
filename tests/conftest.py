"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, the Slack harness.

Storage tests take the ``db`` fixture and so run twice, once per backend. PostgreSQL is the
server at ``COSTBOT_TEST_POSTGRES_URL`` (default: this machine's, trust auth, database ``test``);
each test session works in a database of its own, created here and dropped at the end. When the
server is unreachable, PostgreSQL tests are skipped with the reason, except in CI (``CI=true``)
where they fail: CI must prove both backends.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage.db import Database
from tests.shared_data import SHARED, shared_path  # noqa: F401  (re-exported for tests)
from tests.slack.fixtures import fake_slack  # noqa: F401  (fixture)

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a fresh, migrated PostgreSQL database for this test session."""
    import psycopg

    server = os.environ.get("COSTBOT_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    url = make_url(server)
    conninfo = dict(host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username or "postgres",
                    dbname=url.database or "test", password=url.password, connect_timeout=3, autocommit=True)
    try:
        admin = psycopg.connect(**{k: v for k, v in conninfo.items() if v is not None})
    except psycopg.OperationalError as e:
        reason = f"PostgreSQL unreachable at {server} ({str(e).strip().splitlines()[0]}); " \
                 "set COSTBOT_TEST_POSTGRES_URL to a server where this user may CREATE DATABASE"
        if _in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"costbot_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    session_url = url.set(database=name).render_as_string(hide_password=False)
    Database(session_url).upgrade()
    try:
        yield session_url
    finally:
        with psycopg.connect(**{k: v for k, v in conninfo.items() if v is not None}) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once keeps tests fast)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    db.dispose()
    return path


def _truncate_all(db: Database) -> None:
    from sqlmodel import SQLModel

    import storage.tables  # noqa: F401

    names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


def make_database(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if backend == "sqlite":
        path = tmp_path / "costbot.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return Database(f"sqlite:///{path}")
    db = Database(request.getfixturevalue("postgres_url"))
    _truncate_all(db)
    return db


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database: every test using it runs on SQLite and on PostgreSQL."""
    database = make_database(request.param, request, tmp_path)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def sqlite_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """SQLite only, for tests about something other than storage."""
    database = make_database("sqlite", request, tmp_path)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def bot(sqlite_db: Database, fake_slack) -> Iterator:  # noqa: F811  (fake_slack is the imported fixture)
    """The real app over HTTP, on SQLite, talking to the fake Slack."""
    from tests.harness import start_bot

    running = start_bot(sqlite_db, fake_slack)
    try:
        yield running
    finally:
        running.stop()
