"""The migrations build exactly the schema the SQLModel tables describe, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

import storage.tables  # noqa: F401
from storage.db import Database


def test_upgrade_creates_every_table_and_is_idempotent(db: Database) -> None:
    db.upgrade()  # a second upgrade on a migrated database changes nothing
    tables = set(inspect(db.engine).get_table_names())
    assert set(SQLModel.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_tables_and_migrations_agree(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == [], "a table changed without a migration (or the reverse):\n" + \
        "\n".join(map(str, differences))


def test_head_revision_is_recorded(db: Database) -> None:
    from alembic.script import ScriptDirectory

    from storage.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config(db.url)).get_current_head()
    assert db.current_revision() == head
