"""Variance: the monthly cost roll-up, its stale-month list and the triggers that keep it honest

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

The triggers add the month of every row inserted into, updated in or deleted from
``cost_daily`` to ``cost_monthly_stale``, whoever writes it (see storage/tables/variance.py).
PostgreSQL runs one statement-level trigger per statement (transition tables: a bulk COPY costs
one small INSERT ... SELECT DISTINCT); SQLite only has row-level triggers.

SQLite drops a table's triggers when a batch migration rebuilds the table: a later migration that
alters ``cost_daily`` through ``batch_alter_table`` must create these triggers again.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_CHANGES = ("insert", "delete", "update")

_POSTGRES_FUNCTION = """
CREATE FUNCTION cost_monthly_mark_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO cost_monthly_stale (month)
        SELECT DISTINCT date_trunc('month', day)::date FROM changed_new ON CONFLICT DO NOTHING;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO cost_monthly_stale (month)
        SELECT DISTINCT date_trunc('month', day)::date FROM changed_old ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$
"""
_POSTGRES_TRIGGERS = {
    "insert": "REFERENCING NEW TABLE AS changed_new",
    "delete": "REFERENCING OLD TABLE AS changed_old",
    "update": "REFERENCING OLD TABLE AS changed_old NEW TABLE AS changed_new",
}


def _sqlite_month(row: str) -> str:
    # SQLite keeps dates as 'YYYY-MM-DD' text: the month is its first 8 characters and '01'.
    return f"substr({row}.day, 1, 8) || '01'"


def _sqlite_trigger(change: str) -> str:
    rows = {"insert": ("NEW",), "delete": ("OLD",), "update": ("OLD", "NEW")}[change]
    inserts = " ".join(f"INSERT OR IGNORE INTO cost_monthly_stale (month) VALUES ({_sqlite_month(row)});"
                       for row in rows)
    return (f"CREATE TRIGGER cost_daily_{change}_marks_month AFTER {change.upper()} ON cost_daily "
            f"BEGIN {inserts} END")


def upgrade() -> None:
    op.create_table('cost_monthly',
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('series_id', sa.Integer(), nullable=False),
    sa.Column('billed_micros', sa.BigInteger(), nullable=False),
    sa.Column('effective_micros', sa.BigInteger(), nullable=False),
    sa.Column('list_micros', sa.BigInteger(), nullable=False),
    sa.Column('consumed_quantity', sa.Float(), nullable=True),
    sa.Column('pricing_quantity', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['series_id'], ['cost_series.id'], ),
    sa.PrimaryKeyConstraint('month', 'series_id')
    )
    op.create_table('cost_monthly_stale',
    sa.Column('month', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('month')
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_POSTGRES_FUNCTION)
        for change, referencing in _POSTGRES_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER cost_daily_{change}_marks_month AFTER {change.upper()} ON cost_daily "
                       f"{referencing} FOR EACH STATEMENT EXECUTE FUNCTION cost_monthly_mark_stale()")
        month = "date_trunc('month', day)::date"
    else:
        for change in _CHANGES:
            op.execute(_sqlite_trigger(change))
        month = "substr(day, 1, 8) || '01'"
    # Data already held: every month of it is stale until its roll-up is first built.
    op.execute(f"INSERT INTO cost_monthly_stale (month) SELECT DISTINCT {month} FROM cost_daily")


def downgrade() -> None:
    for change in _CHANGES:
        op.execute(f"DROP TRIGGER IF EXISTS cost_daily_{change}_marks_month"
                   + (" ON cost_daily" if op.get_bind().dialect.name == "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS cost_monthly_mark_stale()")
    op.drop_table('cost_monthly_stale')
    op.drop_table('cost_monthly')
