"""Allocation state: which teams.yml rules the stored owners follow

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28

Databases migrated from 0005 start without a row: the first start-up re-allocates every stored
series with its teams.yml and records the fingerprint (storage/tables/allocation.py).
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "allocation_state",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("allocation_state")
