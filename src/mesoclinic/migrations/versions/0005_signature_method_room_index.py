"""consent signature method; appointments by room

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 12:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Earlier signatures were all drawn on the pad.
    op.add_column(
        "consent_record",
        sa.Column("signature_method", sa.String(length=10), server_default="drawn", nullable=False),
    )
    op.create_index("ix_appointment_room_time", "appointment", ["room_id", "starts_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_appointment_room_time", table_name="appointment")
    with op.batch_alter_table("consent_record") as batch:
        batch.drop_column("signature_method")
