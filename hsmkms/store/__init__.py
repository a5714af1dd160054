"""Metadata persistence: the only package that speaks SQL."""

from __future__ import annotations

from hsmkms.store.sql_store import Store

__all__ = ["Store"]
