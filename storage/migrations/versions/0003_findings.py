"""Savings findings: tickets, verifications, reminders

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "finding",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("team", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("assignee", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("estimate_monthly_micros", sa.BigInteger(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("identified_on", sa.Date(), nullable=False),
        sa.Column("implemented_on", sa.Date(), nullable=True),
        sa.Column("verified_on", sa.Date(), nullable=True),
        sa.Column("realized_monthly_micros", sa.BigInteger(), nullable=True),
        sa.Column("regressed", sa.Boolean(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("recheck", sa.JSON(), nullable=True),
        sa.Column("rechecked_on", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "external_id", name="uq_finding_source_external_id"),
    )
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_finding_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_finding_team"), ["team"], unique=False)

    op.create_table(
        "finding_reminder",
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("recipient", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["finding_id"], ["finding.id"]),
        sa.PrimaryKeyConstraint("finding_id", "reason"),
    )
    op.create_table(
        "finding_verification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("saving_monthly_micros", sa.BigInteger(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("chart", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["finding_id"], ["finding.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("finding_verification", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_finding_verification_finding_id"), ["finding_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("finding_verification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_finding_verification_finding_id"))
    op.drop_table("finding_verification")
    op.drop_table("finding_reminder")
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_finding_team"))
        batch_op.drop_index(batch_op.f("ix_finding_state"))
    op.drop_table("finding")
