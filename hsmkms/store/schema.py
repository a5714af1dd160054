"""Tables of the metadata store. Times are integer microseconds since the Unix epoch (UTC)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

keys = Table(
    "keys",
    metadata,
    Column("id", String(50), primary_key=True),
    Column("folder_id", String(50), nullable=False),
    Column("name", String(100), nullable=False, default=""),
    Column("description", Text, nullable=False, default=""),
    Column("labels", JSON, nullable=False),
    Column("status", Integer, nullable=False),
    Column("default_algorithm", Integer, nullable=False),
    Column("primary_version_id", String(50), nullable=False),
    Column("rotation_period_us", BigInteger, nullable=True),
    Column("deletion_protection", Boolean, nullable=False, default=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("rotated_at_us", BigInteger, nullable=True),
    # Set when the key is deleted: the row stays for its operations and versions' destruction.
    Column("deleted_at_us", BigInteger, nullable=True),
    Index("ix_keys_folder", "folder_id", "created_at_us", "id"),
)

key_versions = Table(
    "key_versions",
    metadata,
    Column("id", String(50), primary_key=True),
    Column("key_id", String(50), ForeignKey("keys.id"), nullable=False),
    Column("status", Integer, nullable=False),
    Column("algorithm", Integer, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("destroy_at_us", BigInteger, nullable=True),
    Column("encryptions", BigInteger, nullable=False, server_default="0"),
    Index("ix_key_versions_key", "key_id", "created_at_us", "id"),
)

operations = Table(
    "operations",
    metadata,
    Column("id", String(50), primary_key=True),
    Column("key_id", String(50), nullable=False),
    Column("description", Text, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("modified_at_us", BigInteger, nullable=False),
    Column("done", Boolean, nullable=False),
    Column("metadata_type", String(100), nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("response_type", String(100), nullable=False),
    Column("response", JSON, nullable=True),
    Index("ix_operations_key", "key_id", "created_at_us", "id"),
)

# Key objects being generated: a row is written before the object is created in the token and
# removed in the transaction that records the version. A row left behind names an object of an
# interrupted Create or Rotate, which reconciliation removes.
pending_versions = Table(
    "pending_versions",
    metadata,
    Column("version_id", String(50), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
)

# API tokens: only a SHA-256 of the secret part is kept.
credentials = Table(
    "credentials",
    metadata,
    Column("id", String(50), primary_key=True),
    Column("subject", String(201), nullable=False),
    Column("secret_sha256", String(64), nullable=False),
    Column("description", Text, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=True),
    Column("revoked_at_us", BigInteger, nullable=True),
)

# Role bindings on folders ("*" is every folder) and on keys.
access_bindings = Table(
    "access_bindings",
    metadata,
    Column("resource_type", String(16), primary_key=True),
    Column("resource_id", String(64), primary_key=True),
    Column("role_id", String(64), primary_key=True),
    Column("subject", String(201), primary_key=True),
    Index("ix_access_bindings_subject", "subject"),
)
