"""Digests, budgets alerts, unit metrics, scheduler state

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

``scheduler_job`` has the layout APScheduler's SQLAlchemyJobStore creates for itself
(storage/tables/digests.py); creating it here keeps every table under the migrations.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digest_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("week", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("audience", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("team", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("message_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("week", "audience", "team", name="uq_digest_run_week_audience_team"),
    )
    op.create_table(
        "budget_alert",
        sa.Column("team", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("message_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("level", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("announced_level", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("forecast_micros", sa.BigInteger(), nullable=False),
        sa.Column("budget_micros", sa.BigInteger(), nullable=False),
        sa.Column("first_alerted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("team", "month"),
    )
    op.create_table(
        "unit_metric_value",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("metric", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("recorded_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team", "metric", "period_start", "period_end", name="uq_unit_metric_value_period"),
    )
    with op.batch_alter_table("unit_metric_value", schema=None) as batch_op:
        batch_op.create_index("ix_unit_metric_value_team_metric_start", ["team", "metric", "period_start"],
                              unique=False)
    op.create_table(
        "scheduler_job",
        sa.Column("id", sa.Unicode(length=191), nullable=False),
        sa.Column("next_run_time", sa.Float(precision=25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("scheduler_job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scheduler_job_next_run_time"), ["next_run_time"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("scheduler_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scheduler_job_next_run_time"))
    op.drop_table("scheduler_job")
    with op.batch_alter_table("unit_metric_value", schema=None) as batch_op:
        batch_op.drop_index("ix_unit_metric_value_team_metric_start")
    op.drop_table("unit_metric_value")
    op.drop_table("budget_alert")
    op.drop_table("digest_run")
