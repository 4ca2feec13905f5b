"""Database: URLs people paste, and start-up migrations from several replicas at once."""

from __future__ import annotations

import threading

import pytest

from finops.errors import ConfigError
from storage.db import Database, normalize_database_url


def test_database_urls_people_paste() -> None:
    assert normalize_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_database_url("sqlite:///costbot.db") == "sqlite:///costbot.db"
    with pytest.raises(ConfigError, match="COSTBOT_DATABASE_URL: unsupported database 'mysql'"):
        normalize_database_url("mysql://u@h/db")


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite:///file:costs?mode=memory&uri=true",
                                 "sqlite:///file::memory:?uri=true"])
def test_an_in_memory_sqlite_database_is_refused_with_the_way_out(url: str) -> None:
    with pytest.raises(ConfigError, match=r"COSTBOT_DATABASE_URL: an in-memory SQLite database keeps nothing .* "
                                          r"use sqlite:///FILE"):
        normalize_database_url(url)


@pytest.mark.postgres
def test_replicas_migrating_a_new_database_at_once_all_succeed(postgres_url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(postgres_url)
    name = f"{url.database}_replicas"
    admin = dict(host=url.host, port=url.port or 5432, user=url.username, dbname=url.database, autocommit=True)
    with psycopg.connect(**admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    fresh = url.set(database=name).render_as_string(hide_password=False)
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def replica() -> None:
        db = Database(fresh)
        try:
            start.wait()
            db.upgrade()
        except BaseException as e:  # collected and asserted below
            errors.append(e)
        finally:
            db.dispose()

    threads = [threading.Thread(target=replica) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    try:
        assert errors == []
        assert Database(fresh).current_revision() is not None
    finally:
        with psycopg.connect(**admin) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
