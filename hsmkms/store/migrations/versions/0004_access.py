"""API credentials and access bindings.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credentials",
        sa.Column("id", sa.String(50), primary_key=True),
        sa.Column("subject", sa.String(201), nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
        sa.Column("expires_at_us", sa.BigInteger, nullable=True),
        sa.Column("revoked_at_us", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "access_bindings",
        sa.Column("resource_type", sa.String(16), primary_key=True),
        sa.Column("resource_id", sa.String(64), primary_key=True),
        sa.Column("role_id", sa.String(64), primary_key=True),
        sa.Column("subject", sa.String(201), primary_key=True),
    )
    op.create_index("ix_access_bindings_subject", "access_bindings", ["subject"])


def downgrade() -> None:
    op.drop_table("access_bindings")
    op.drop_table("credentials")
