"""Keys, key versions and operations.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "keys",
        sa.Column("id", sa.String(50), primary_key=True),
        sa.Column("folder_id", sa.String(50), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("default_algorithm", sa.Integer, nullable=False),
        sa.Column("primary_version_id", sa.String(50), nullable=False),
        sa.Column("rotation_period_us", sa.BigInteger, nullable=True),
        sa.Column("deletion_protection", sa.Boolean, nullable=False),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
        sa.Column("rotated_at_us", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_keys_folder", "keys", ["folder_id", "created_at_us", "id"])
    op.create_table(
        "key_versions",
        sa.Column("id", sa.String(50), primary_key=True),
        sa.Column("key_id", sa.String(50), sa.ForeignKey("keys.id"), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("algorithm", sa.Integer, nullable=False),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
        sa.Column("destroy_at_us", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_key_versions_key", "key_versions", ["key_id", "created_at_us", "id"])
    op.create_table(
        "operations",
        sa.Column("id", sa.String(50), primary_key=True),
        sa.Column("key_id", sa.String(50), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("modified_at_us", sa.BigInteger, nullable=False),
        sa.Column("done", sa.Boolean, nullable=False),
        sa.Column("metadata_type", sa.String(100), nullable=False),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("response_type", sa.String(100), nullable=False),
        sa.Column("response", sa.JSON, nullable=True),
    )
    op.create_index("ix_operations_key", "operations", ["key_id", "created_at_us", "id"])


def downgrade() -> None:
    op.drop_table("operations")
    op.drop_table("key_versions")
    op.drop_table("keys")
