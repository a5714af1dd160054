"""The metadata store on SQLAlchemy Core: SQLite (WAL) by default, any SQLAlchemy URL allowed.

Every change that must be atomic (a key with its first version and its operation, a rotation)
happens in one transaction. The schema is created and upgraded by Alembic at open.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, select, text, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import OperationalError

from hsmkms.domain import (
    KeyStatus,
    KeyVersion,
    Operation,
    SymmetricAlgorithm,
    SymmetricKey,
    VersionStatus,
)
from hsmkms.errors import Unavailable
from hsmkms.store.schema import key_versions, keys, operations

log = logging.getLogger(__name__)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_us(value: datetime | None) -> int | None:
    return None if value is None else (value - _EPOCH) // _MICROSECOND


def from_us(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + value * _MICROSECOND


def _required_time(value: int) -> datetime:
    result = from_us(value)
    assert result is not None
    return result


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: an acknowledged key survives power loss, not only a killed process.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Store:
    def __init__(self, url: str) -> None:
        # hide_parameters: errors logged from the store never echo row values.
        self._engine: Engine = create_engine(url, hide_parameters=True)
        if self._engine.dialect.name == "sqlite":
            event.listen(self._engine, "connect", _sqlite_pragmas)
        self._migrate()

    def _migrate(self) -> None:
        config = Config()
        config.set_main_option(
            "script_location", str(resources.files("hsmkms.store") / "migrations")
        )
        with self._engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def close(self) -> None:
        self._engine.dispose()

    def ping(self) -> None:
        with self._connect() as conn:
            conn.execute(text("SELECT 1"))

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        with _unavailable_on_db_error(), self._engine.connect() as conn:
            yield conn

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        with _unavailable_on_db_error(), self._engine.begin() as conn:
            yield conn

    # -- writes -------------------------------------------------------------------------------

    def create_key(self, key: SymmetricKey, op: Operation) -> None:
        """Insert a key, its primary version and the operation that created it, atomically."""
        with self._begin() as conn:
            conn.execute(keys.insert().values(**_key_row(key)))
            conn.execute(key_versions.insert().values(**_version_row(key.primary_version)))
            conn.execute(operations.insert().values(**_operation_row(op)))

    def add_primary_version(self, version: KeyVersion, rotated_at: datetime, op: Operation) -> None:
        """Insert a new version and make it the key's primary, with its operation, atomically."""
        with self._begin() as conn:
            conn.execute(key_versions.insert().values(**_version_row(version)))
            conn.execute(
                update(keys)
                .where(keys.c.id == version.key_id)
                .values(primary_version_id=version.id, rotated_at_us=to_us(rotated_at))
            )
            conn.execute(operations.insert().values(**_operation_row(op)))

    # -- reads --------------------------------------------------------------------------------

    def get_key(self, key_id: str) -> SymmetricKey | None:
        """The key with its primary version, in one query."""
        primary = key_versions.alias("primary")
        query = (
            select(keys, *(c.label("pv_" + c.name) for c in primary.c))
            .join(primary, primary.c.id == keys.c.primary_version_id)
            .where(keys.c.id == key_id)
        )
        with self._connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        version = _version_from_row(
            _Obj({c.name: row._mapping["pv_" + c.name] for c in primary.c}), True
        )
        return _key_from_row(row, version)

    def get_version(self, version_id: str) -> KeyVersion | None:
        with self._connect() as conn:
            row = conn.execute(
                select(key_versions, keys.c.primary_version_id)
                .join(keys, keys.c.id == key_versions.c.key_id)
                .where(key_versions.c.id == version_id)
            ).first()
        if row is None:
            return None
        return _version_from_row(row, primary=row.primary_version_id == row.id)

    def get_operation(self, operation_id: str) -> Operation | None:
        with self._connect() as conn:
            row = conn.execute(select(operations).where(operations.c.id == operation_id)).first()
        return None if row is None else _operation_from_row(row)


@contextmanager
def _unavailable_on_db_error() -> Iterator[None]:
    """A store that cannot be reached or is locked for too long is a retryable failure."""
    try:
        yield
    except OperationalError:
        log.exception("metadata store failed")
        raise Unavailable("metadata store is unavailable") from None


# -- rows <-> domain ------------------------------------------------------------------------------


def _key_row(key: SymmetricKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "folder_id": key.folder_id,
        "name": key.name,
        "description": key.description,
        "labels": dict(key.labels),
        "status": int(key.status),
        "default_algorithm": int(key.default_algorithm),
        "primary_version_id": key.primary_version.id,
        "rotation_period_us": (
            None if key.rotation_period is None else key.rotation_period // _MICROSECOND
        ),
        "deletion_protection": key.deletion_protection,
        "created_at_us": to_us(key.created_at),
        "rotated_at_us": to_us(key.rotated_at),
    }


def _key_from_row(row: Row[Any] | Any, primary: KeyVersion) -> SymmetricKey:
    return SymmetricKey(
        id=row.id,
        folder_id=row.folder_id,
        created_at=_required_time(row.created_at_us),
        name=row.name,
        description=row.description,
        labels=dict(row.labels),
        status=KeyStatus(row.status),
        primary_version=primary,
        default_algorithm=SymmetricAlgorithm(row.default_algorithm),
        rotated_at=from_us(row.rotated_at_us),
        rotation_period=(
            None
            if row.rotation_period_us is None
            else timedelta(microseconds=row.rotation_period_us)
        ),
        deletion_protection=bool(row.deletion_protection),
    )


def _version_row(version: KeyVersion) -> dict[str, Any]:
    return {
        "id": version.id,
        "key_id": version.key_id,
        "status": int(version.status),
        "algorithm": int(version.algorithm),
        "created_at_us": to_us(version.created_at),
        "destroy_at_us": to_us(version.destroy_at),
    }


def _version_from_row(row: Row[Any] | Any, primary: bool) -> KeyVersion:
    return KeyVersion(
        id=row.id,
        key_id=row.key_id,
        status=VersionStatus(row.status),
        algorithm=SymmetricAlgorithm(row.algorithm),
        created_at=_required_time(row.created_at_us),
        primary=primary,
        destroy_at=from_us(row.destroy_at_us),
    )


# Operation responses are snapshots of a key or a version, kept as JSON.


def _snapshot(value: SymmetricKey | KeyVersion) -> dict[str, Any]:
    if isinstance(value, SymmetricKey):
        row = _key_row(value)
        row["primary_version"] = _snapshot(value.primary_version)
        return row
    row = _version_row(value)
    row["primary"] = value.primary
    return row


def _response_columns(response: SymmetricKey | KeyVersion | None) -> dict[str, Any]:
    if response is None:
        return {"response_type": "", "response": None}
    kind = "SymmetricKey" if isinstance(response, SymmetricKey) else "SymmetricKeyVersion"
    return {"response_type": kind, "response": _snapshot(response)}


def _from_snapshot(kind: str, data: dict[str, Any] | None) -> SymmetricKey | KeyVersion | None:
    if not kind or data is None:
        return None
    if kind == "SymmetricKey":
        pv = data["primary_version"]
        return _key_from_row(
            _Obj(data), _version_from_row(_Obj(pv), primary=bool(pv.get("primary")))
        )
    return _version_from_row(_Obj(data), primary=bool(data.get("primary")))


class _Obj:
    """Attribute access over a dict, so snapshots reuse the row converters."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.__dict__.update(data)


def _operation_row(op: Operation) -> dict[str, Any]:
    return {
        "id": op.id,
        "key_id": op.key_id,
        "description": op.description,
        "created_at_us": to_us(op.created_at),
        "created_by": op.created_by,
        "modified_at_us": to_us(op.modified_at),
        "done": op.done,
        "metadata_type": op.metadata_type,
        "metadata": dict(op.metadata),
        **_response_columns(op.response),
    }


def _operation_from_row(row: Row[Any] | Any) -> Operation:
    return Operation(
        id=row.id,
        description=row.description,
        created_at=_required_time(row.created_at_us),
        created_by=row.created_by,
        modified_at=_required_time(row.modified_at_us),
        done=bool(row.done),
        metadata_type=row.metadata_type,
        metadata=dict(row.metadata),
        response=_from_snapshot(row.response_type, row.response),
        key_id=row.key_id,
    )
