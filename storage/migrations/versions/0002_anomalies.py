"""Anomalies: detected events, their alerts and feedback

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "anomaly",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", _text(500), nullable=False),
        sa.Column("scope", _text(500), nullable=False),
        sa.Column("source", _text(16), nullable=False),
        sa.Column("external_id", _text(200), nullable=True),
        sa.Column("level", _text(16), nullable=False),
        sa.Column("kind", _text(16), nullable=False),
        sa.Column("direction", _text(16), nullable=False),
        sa.Column("team", _text(100), nullable=False),
        sa.Column("detected_team", _text(100), nullable=False),
        sa.Column("dimensions", sa.JSON(), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=True),
        sa.Column("last_seen", sa.Date(), nullable=False),
        sa.Column("through", sa.Date(), nullable=False),
        sa.Column("detected_on", sa.Date(), nullable=False),
        sa.Column("expected_micros", sa.BigInteger(), nullable=False),
        sa.Column("actual_micros", sa.BigInteger(), nullable=False),
        sa.Column("impact_micros", sa.BigInteger(), nullable=False),
        sa.Column("impact_pct", sa.Float(), nullable=True),
        sa.Column("alert", sa.Boolean(), nullable=False),
        sa.Column("root_cause", sa.JSON(), nullable=False),
        sa.Column("series", sa.JSON(), nullable=False),
        sa.Column("state", _text(16), nullable=False),
        sa.Column("answer", _text(16), nullable=True),
        sa.Column("answered_by", _text(64), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answer_reason", sa.Text(), nullable=True),
        sa.Column("snoozed_until", sa.Date(), nullable=True),
        sa.Column("expected_until", sa.Date(), nullable=True),
        sa.Column("channel", _text(200), nullable=True),
        sa.Column("message_key", _text(200), nullable=True),
        sa.Column("announced_step", sa.BigInteger(), nullable=True),
        sa.Column("routed_to_owner", sa.Boolean(), nullable=True),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_by", _text(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("anomaly", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_anomaly_scope"), ["scope"], unique=False)
        batch_op.create_index(batch_op.f("ix_anomaly_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_anomaly_team"), ["team"], unique=False)

    op.create_table(
        "anomaly_detection_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("complete_through", sa.Date(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("claimed_by", _text(200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("new", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("ended", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("complete_through"),
    )


def downgrade() -> None:
    op.drop_table("anomaly_detection_run")
    with op.batch_alter_table("anomaly", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_anomaly_team"))
        batch_op.drop_index(batch_op.f("ix_anomaly_state"))
        batch_op.drop_index(batch_op.f("ix_anomaly_scope"))
    op.drop_table("anomaly")
