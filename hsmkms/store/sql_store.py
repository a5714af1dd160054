"""The metadata store on SQLAlchemy Core: SQLite (WAL) by default, any SQLAlchemy URL allowed.

Every change that must be atomic (a key with its first version and its operation, a rotation)
happens in one transaction. The schema is created and upgraded by Alembic at open.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from importlib import resources
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.exc import OperationalError

from hsmkms.domain import (
    MICROSECOND,
    AccessBinding,
    Credential,
    Cursor,
    Empty,
    KeyStatus,
    KeyVersion,
    Operation,
    PendingVersion,
    Subject,
    SymmetricAlgorithm,
    SymmetricKey,
    VersionStatus,
    from_micros,
    to_micros,
)
from hsmkms.errors import Unavailable
from hsmkms.store.read_cache import ReadCache
from hsmkms.store.schema import (
    access_bindings,
    credentials,
    key_versions,
    keys,
    operations,
    pending_versions,
)

# Store columns written for each updatable field of a key.
_KEY_FIELD_COLUMNS = {
    "name": ("name",),
    "description": ("description",),
    "labels": ("labels",),
    "status": ("status",),
    "default_algorithm": ("default_algorithm",),
    "rotation_period": ("rotation_period_us",),
    "deletion_protection": ("deletion_protection",),
}

log = logging.getLogger(__name__)

T = TypeVar("T")


def to_us(value: datetime | None) -> int | None:
    return None if value is None else to_micros(value)


def from_us(value: int | None) -> datetime | None:
    return None if value is None else from_micros(value)


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


def _sqlite_manual_transactions(dbapi_connection: Any, record: Any) -> None:
    _sqlite_pragmas(dbapi_connection, record)
    dbapi_connection.isolation_level = None  # no implicit BEGIN: the "begin" event issues it


class Store:
    def __init__(self, url: str) -> None:
        # hide_parameters: errors logged from the store never echo row values.
        self._engine: Engine = create_engine(url, hide_parameters=True)
        self._cache: ReadCache | None = None
        if self._engine.dialect.name == "sqlite":
            event.listen(self._engine, "connect", _sqlite_pragmas)
            database = self._engine.url.database
            if database and database != ":memory:":
                self._cache = ReadCache(database)
        self._migrate()

    def _migrate(self) -> None:
        """Bring the schema to the latest revision; safe when several processes start at once."""
        config = Config()
        config.set_main_option(
            "script_location", str(resources.files("hsmkms.store") / "migrations")
        )
        engine = create_engine(self._engine.url, hide_parameters=True)
        if engine.dialect.name == "sqlite":
            # pysqlite runs DDL outside transactions; take SQLite's write lock for the whole
            # migration instead, so a second process waits and then finds nothing to do.
            event.listen(engine, "connect", _sqlite_manual_transactions)
            event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        try:
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        finally:
            engine.dispose()

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

    def _cached(self, kind: str, id_: str, load: Callable[[], T | None]) -> T | None:
        """A hot-path read through the SQLite read cache (see read_cache.py), if there is one."""
        if self._cache is None:
            return load()
        return self._cache.get(kind, id_, load)

    # -- writes -------------------------------------------------------------------------------
    #
    # Every precondition that could race with another writer is part of the UPDATE's WHERE
    # clause, so the check and the change are one atomic statement; a change that affects no
    # row is rolled back together with its operation record and reported as False.

    def add_pending_version(self, version_id: str, owner: str, now: datetime) -> None:
        """Record that a key object for `version_id` is about to be generated by `owner`."""
        with self._begin() as conn:
            conn.execute(
                pending_versions.insert().values(
                    version_id=version_id, owner=owner, created_at_us=to_us(now)
                )
            )

    def remove_pending_version(self, version_id: str) -> None:
        with self._begin() as conn:
            conn.execute(
                delete(pending_versions).where(pending_versions.c.version_id == version_id)
            )

    def pending_versions(self) -> list[PendingVersion]:
        with self._connect() as conn:
            rows = conn.execute(select(pending_versions)).all()
        return [
            PendingVersion(row.version_id, row.owner, from_micros(row.created_at_us))
            for row in rows
        ]

    @staticmethod
    def _settle_pending(conn: Connection, version_id: str) -> None:
        # The intent must still be there: if reconciliation judged it abandoned (and destroyed
        # the object), recording the version now would leave it without key material.
        _require(
            conn.execute(
                delete(pending_versions).where(pending_versions.c.version_id == version_id)
            )
        )

    def create_key(self, key: SymmetricKey, op: Operation) -> bool:
        """Insert a key, its primary version and the operation that created it, atomically."""
        try:
            with self._begin() as conn:
                self._settle_pending(conn, key.primary_version.id)
                conn.execute(keys.insert().values(**_key_row(key)))
                conn.execute(key_versions.insert().values(**_version_row(key.primary_version)))
                conn.execute(operations.insert().values(**_operation_row(op)))
        except _NoChange:
            return False
        return True

    def add_primary_version(
        self,
        version: KeyVersion,
        op: Operation,
        expected_primary_id: str | None = None,
        expected_basis: datetime | None = None,
    ) -> bool:
        """Insert a new version and make it the key's primary, with its operation, atomically.

        With `expected_primary_id` and `expected_basis` (rotated_at, or created_at when never
        rotated), the rotation happens only if nobody rotated the key since: scheduled rotation
        by several workers rotates once.
        """
        condition = (keys.c.id == version.key_id) & keys.c.deleted_at_us.is_(None)
        if expected_primary_id is not None:
            basis = func.coalesce(keys.c.rotated_at_us, keys.c.created_at_us)
            condition &= (keys.c.primary_version_id == expected_primary_id) & (
                basis == to_us(expected_basis)
            )
        try:
            with self._begin() as conn:
                self._settle_pending(conn, version.id)
                conn.execute(key_versions.insert().values(**_version_row(version)))
                _require(
                    conn.execute(
                        update(keys)
                        .where(condition)
                        .values(
                            primary_version_id=version.id, rotated_at_us=to_us(version.created_at)
                        )
                    )
                )
                conn.execute(operations.insert().values(**_operation_row(op)))
        except _NoChange:
            return False
        return True

    def update_key(self, key: SymmetricKey, fields: frozenset[str], op: Operation) -> bool:
        """Write the named fields of `key` (domain field names), with its operation."""
        row = _key_row(key)
        columns = {column: row[column] for f in fields for column in _KEY_FIELD_COLUMNS[f]}
        return self._change(
            update(keys)
            .where((keys.c.id == key.id) & keys.c.deleted_at_us.is_(None))
            .values(**columns),
            op,
        )

    def delete_key(self, key_id: str, now: datetime, destroy_at: datetime, op: Operation) -> bool:
        """Mark a key deleted unless it is protected; schedule its versions for destruction."""
        try:
            with self._begin() as conn:
                _require(
                    conn.execute(
                        update(keys)
                        .where(
                            (keys.c.id == key_id)
                            & keys.c.deleted_at_us.is_(None)
                            & keys.c.deletion_protection.is_(False)
                        )
                        .values(deleted_at_us=to_us(now))
                    )
                )
                self._schedule_key_versions(conn, key_id, destroy_at)
                conn.execute(operations.insert().values(**_operation_row(op)))
        except _NoChange:
            return False
        return True

    @staticmethod
    def _schedule_key_versions(conn: Connection, key_id: str, destroy_at: datetime) -> None:
        scheduled = int(VersionStatus.SCHEDULED_FOR_DESTRUCTION)
        conn.execute(
            update(key_versions)
            .where(
                (key_versions.c.key_id == key_id)
                & (key_versions.c.status == int(VersionStatus.ACTIVE))
            )
            .values(status=scheduled, destroy_at_us=to_us(destroy_at))
        )
        # A version already scheduled keeps the earlier of the two dates.
        conn.execute(
            update(key_versions)
            .where(
                (key_versions.c.key_id == key_id)
                & (key_versions.c.status == scheduled)
                & (key_versions.c.destroy_at_us > to_us(destroy_at))
            )
            .values(destroy_at_us=to_us(destroy_at))
        )

    def set_primary_version(self, key_id: str, version_id: str, op: Operation) -> bool:
        """Make an ACTIVE version of the key its primary."""
        usable = (
            select(key_versions.c.id)
            .where(
                (key_versions.c.id == version_id)
                & (key_versions.c.key_id == key_id)
                & (key_versions.c.status == int(VersionStatus.ACTIVE))
            )
            .exists()
        )
        return self._change(
            update(keys)
            .where((keys.c.id == key_id) & keys.c.deleted_at_us.is_(None) & usable)
            .values(primary_version_id=version_id),
            op,
        )

    def schedule_version_destruction(
        self, key_id: str, version_id: str, destroy_at: datetime, op: Operation
    ) -> bool:
        """ACTIVE -> SCHEDULED_FOR_DESTRUCTION, unless the version is the key's primary."""
        primary = (
            select(keys.c.primary_version_id)
            .where((keys.c.id == key_id) & keys.c.deleted_at_us.is_(None))
            .scalar_subquery()
        )
        return self._change(
            update(key_versions)
            .where(
                (key_versions.c.id == version_id)
                & (key_versions.c.key_id == key_id)
                & (key_versions.c.status == int(VersionStatus.ACTIVE))
                & (key_versions.c.id != primary)
            )
            .values(
                status=int(VersionStatus.SCHEDULED_FOR_DESTRUCTION),
                destroy_at_us=to_us(destroy_at),
            ),
            op,
        )

    def cancel_version_destruction(
        self, key_id: str, version_id: str, now: datetime, op: Operation
    ) -> bool:
        """SCHEDULED_FOR_DESTRUCTION -> ACTIVE, only while the destruction is not yet due."""
        key_live = (
            select(keys.c.id).where((keys.c.id == key_id) & keys.c.deleted_at_us.is_(None)).exists()
        )
        return self._change(
            update(key_versions)
            .where(
                (key_versions.c.id == version_id)
                & (key_versions.c.key_id == key_id)
                & (key_versions.c.status == int(VersionStatus.SCHEDULED_FOR_DESTRUCTION))
                & (key_versions.c.destroy_at_us > to_us(now))
                & key_live
            )
            .values(status=int(VersionStatus.ACTIVE), destroy_at_us=None),
            op,
        )

    def claim_due_destruction(self, version_id: str, now: datetime) -> bool:
        """Mark a due version DESTROYED; True for exactly one caller across all workers.

        The store changes first and the token object is destroyed after: a crash in between
        leaves an object for a DESTROYED version (finished by reconciliation), never a usable
        version without its object.
        """
        with self._begin() as conn:
            changed = conn.execute(
                update(key_versions)
                .where(
                    (key_versions.c.id == version_id)
                    & (key_versions.c.status == int(VersionStatus.SCHEDULED_FOR_DESTRUCTION))
                    & (key_versions.c.destroy_at_us <= to_us(now))
                )
                .values(status=int(VersionStatus.DESTROYED))
            ).rowcount
        return bool(changed)

    def _change(self, statement: Any, op: Operation) -> bool:
        """Run a conditional UPDATE and record its operation, or neither."""
        try:
            with self._begin() as conn:
                _require(conn.execute(statement))
                conn.execute(operations.insert().values(**_operation_row(op)))
        except _NoChange:
            return False
        return True

    # -- reads --------------------------------------------------------------------------------

    # The hot-path reads use statements built once (see _KEY_BY_ID, _VERSION_BY_ID): building
    # an aliased join per call costs more than running it.

    def get_key(self, key_id: str) -> SymmetricKey | None:
        """The key with its primary version; None if unknown or deleted."""
        return self._cached("key", key_id, lambda: self._load_key(key_id))

    def _load_key(self, key_id: str) -> SymmetricKey | None:
        with self._connect() as conn:
            row = conn.execute(_KEY_BY_ID, {"key_id": key_id}).first()
        return None if row is None else _key_with_primary(row)

    def list_keys(self, folder_id: str, after: Cursor | None, limit: int) -> list[SymmetricKey]:
        """Keys of a folder in creation order, starting after the cursor."""
        query = _KEYS.where(keys.c.folder_id == folder_id)
        if after is not None:
            query = query.where(_after(keys.c.created_at_us, keys.c.id, after))
        query = query.order_by(keys.c.created_at_us, keys.c.id).limit(limit)
        with self._connect() as conn:
            rows = conn.execute(query).all()
        return [_key_with_primary(row) for row in rows]

    def get_version(self, version_id: str) -> KeyVersion | None:
        """A version of a key that is not deleted."""
        return self._cached("version", version_id, lambda: self._load_version(version_id))

    def _load_version(self, version_id: str) -> KeyVersion | None:
        with self._connect() as conn:
            row = conn.execute(_VERSION_BY_ID, {"version_id": version_id}).first()
        return None if row is None else _version_from_row(row, row.primary_version_id == row.id)

    def list_versions(self, key_id: str, after: Cursor | None, limit: int) -> list[KeyVersion]:
        query = _VERSIONS.where(key_versions.c.key_id == key_id)
        if after is not None:
            query = query.where(_after(key_versions.c.created_at_us, key_versions.c.id, after))
        query = query.order_by(key_versions.c.created_at_us, key_versions.c.id).limit(limit)
        with self._connect() as conn:
            rows = conn.execute(query).all()
        return [_version_from_row(row, row.primary_version_id == row.id) for row in rows]

    def get_operation(self, operation_id: str) -> Operation | None:
        with self._connect() as conn:
            row = conn.execute(select(operations).where(operations.c.id == operation_id)).first()
        return None if row is None else _operation_from_row(row)

    def list_operations(self, key_id: str, before: Cursor | None, limit: int) -> list[Operation]:
        """Operations of a key, newest first, starting before the cursor."""
        query = select(operations).where(operations.c.key_id == key_id)
        if before is not None:
            c_at, c_id = operations.c.created_at_us, operations.c.id
            query = query.where(
                (c_at < before.created_at_us)
                | ((c_at == before.created_at_us) & (c_id < before.id))
            )
        query = query.order_by(operations.c.created_at_us.desc(), operations.c.id.desc())
        with self._connect() as conn:
            rows = conn.execute(query.limit(limit)).all()
        return [_operation_from_row(row) for row in rows]

    # -- background work and reconciliation ---------------------------------------------------

    def due_destructions(self, now: datetime) -> list[str]:
        """IDs of versions whose destroy_at has passed (of live and deleted keys alike)."""
        with self._connect() as conn:
            return list(
                conn.execute(
                    select(key_versions.c.id).where(
                        (key_versions.c.status == int(VersionStatus.SCHEDULED_FOR_DESTRUCTION))
                        & (key_versions.c.destroy_at_us <= to_us(now))
                    )
                ).scalars()
            )

    def due_rotations(self, now: datetime) -> list[SymmetricKey]:
        """ACTIVE keys whose rotation period has passed since their last rotation or creation."""
        basis = func.coalesce(keys.c.rotated_at_us, keys.c.created_at_us)
        query = _KEYS.where(
            keys.c.rotation_period_us.is_not(None)
            & (keys.c.status == int(KeyStatus.ACTIVE))
            & (basis + keys.c.rotation_period_us <= to_us(now))
        )
        with self._connect() as conn:
            rows = conn.execute(query).all()
        return [_key_with_primary(row) for row in rows]

    # -- credentials and access bindings -------------------------------------------------------

    def add_credential(self, credential: Credential, secret_sha256: str) -> None:
        with self._begin() as conn:
            conn.execute(
                credentials.insert().values(
                    id=credential.id,
                    subject=str(credential.subject),
                    secret_sha256=secret_sha256,
                    description=credential.description,
                    created_at_us=to_us(credential.created_at),
                    expires_at_us=to_us(credential.expires_at),
                    revoked_at_us=None,
                )
            )

    def get_credential(self, credential_id: str) -> tuple[Credential, str] | None:
        """The credential and its secret's SHA-256 (hex)."""
        return self._cached(
            "credential", credential_id, lambda: self._load_credential(credential_id)
        )

    def _load_credential(self, credential_id: str) -> tuple[Credential, str] | None:
        with self._connect() as conn:
            row = conn.execute(select(credentials).where(credentials.c.id == credential_id)).first()
        return None if row is None else (_credential_from_row(row), row.secret_sha256)

    def list_credentials(self) -> list[Credential]:
        with self._connect() as conn:
            rows = conn.execute(select(credentials).order_by(credentials.c.created_at_us)).all()
        return [_credential_from_row(row) for row in rows]

    def revoke_credential(self, credential_id: str, now: datetime) -> bool:
        with self._begin() as conn:
            changed = conn.execute(
                update(credentials)
                .where((credentials.c.id == credential_id) & credentials.c.revoked_at_us.is_(None))
                .values(revoked_at_us=to_us(now))
            ).rowcount
        return bool(changed)

    def roles_of(self, subjects: set[str], resources: list[tuple[str, str]]) -> frozenset[str]:
        """Roles bound to any of `subjects` on any of `resources` ((type, id) pairs)."""
        found = self._cached(
            "roles",
            repr((sorted(subjects), resources)),
            lambda: self._load_roles(subjects, resources),
        )
        return found if found is not None else frozenset()

    def _load_roles(self, subjects: set[str], resources: list[tuple[str, str]]) -> frozenset[str]:
        resource_match = or_(
            *(
                (access_bindings.c.resource_type == type_) & (access_bindings.c.resource_id == id_)
                for type_, id_ in resources
            )
        )
        with self._connect() as conn:
            return frozenset(
                conn.execute(
                    select(access_bindings.c.role_id)
                    .where(access_bindings.c.subject.in_(subjects) & resource_match)
                    .distinct()
                ).scalars()
            )

    def list_bindings(self, resource_type: str, resource_id: str) -> list[AccessBinding]:
        with self._connect() as conn:
            rows = conn.execute(
                select(access_bindings.c.role_id, access_bindings.c.subject)
                .where(
                    (access_bindings.c.resource_type == resource_type)
                    & (access_bindings.c.resource_id == resource_id)
                )
                .order_by(access_bindings.c.role_id, access_bindings.c.subject)
            ).all()
        return [AccessBinding(row.role_id, Subject.parse(row.subject)) for row in rows]

    def change_bindings(
        self,
        resource_type: str,
        resource_id: str,
        add: list[AccessBinding],
        remove: list[AccessBinding],
        replace_all: bool = False,
        op: Operation | None = None,
    ) -> None:
        """Apply binding changes (and record their operation) in one transaction."""
        where = (access_bindings.c.resource_type == resource_type) & (
            access_bindings.c.resource_id == resource_id
        )
        with self._begin() as conn:
            if replace_all:
                conn.execute(delete(access_bindings).where(where))
            # An added binding that exists already is replaced by itself: adding is idempotent.
            for binding in [*remove, *add]:
                conn.execute(
                    delete(access_bindings).where(
                        where
                        & (access_bindings.c.role_id == binding.role_id)
                        & (access_bindings.c.subject == str(binding.subject))
                    )
                )
            for binding in dict.fromkeys(add):
                conn.execute(
                    access_bindings.insert().values(
                        resource_type=resource_type,
                        resource_id=resource_id,
                        role_id=binding.role_id,
                        subject=str(binding.subject),
                    )
                )
            if op is not None:
                conn.execute(operations.insert().values(**_operation_row(op)))

    def add_encryptions(self, counts: dict[str, int]) -> dict[str, tuple[str, int]]:
        """Add to versions' encryption counts; returns {version: (key_id, new total)}."""
        with self._begin() as conn:
            for version_id, n in counts.items():
                conn.execute(
                    update(key_versions)
                    .where(key_versions.c.id == version_id)
                    .values(encryptions=key_versions.c.encryptions + n)
                )
            rows = conn.execute(
                select(key_versions.c.id, key_versions.c.key_id, key_versions.c.encryptions).where(
                    key_versions.c.id.in_(list(counts))
                )
            ).all()
        return {row.id: (row.key_id, row.encryptions) for row in rows}

    def count_keys(self) -> int:
        with self._connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(keys).where(keys.c.deleted_at_us.is_(None))
                ).scalar_one()
            )

    def version_statuses(self) -> dict[str, VersionStatus]:
        """Every version ever created, deleted keys included."""
        with self._connect() as conn:
            rows = conn.execute(select(key_versions.c.id, key_versions.c.status)).all()
        return {row.id: VersionStatus(row.status) for row in rows}


# Keys joined with their primary version (columns of the version prefixed "pv_").
_PRIMARY = key_versions.alias("primary")
_PRIMARY_COLUMNS = [(c.name, "pv_" + c.name) for c in _PRIMARY.c]
_KEYS = (
    select(keys, *(c.label("pv_" + c.name) for c in _PRIMARY.c))
    .join(_PRIMARY, _PRIMARY.c.id == keys.c.primary_version_id)
    .where(keys.c.deleted_at_us.is_(None))
)
_KEY_BY_ID = _KEYS.where(keys.c.id == bindparam("key_id"))
# Versions with their key's primary version ID (to set the `primary` flag).
_VERSIONS = (
    select(key_versions, keys.c.primary_version_id)
    .join(keys, keys.c.id == key_versions.c.key_id)
    .where(keys.c.deleted_at_us.is_(None))
)
_VERSION_BY_ID = _VERSIONS.where(key_versions.c.id == bindparam("version_id"))


def _key_with_primary(row: Any) -> SymmetricKey:
    mapping = row._mapping
    version = _Obj({name: mapping[label] for name, label in _PRIMARY_COLUMNS})
    return _key_from_row(row, _version_from_row(version, primary=True))


class _NoChange(Exception):
    """Raised inside a transaction to roll it back when its conditional UPDATE matched nothing."""


def _require(result: Any) -> None:
    if not result.rowcount:
        raise _NoChange


def _before(created_at: Any, id_: Any, cursor: Cursor) -> Any:
    return (created_at < cursor.created_at_us) | (
        (created_at == cursor.created_at_us) & (id_ < cursor.id)
    )


def _after(created_at: Any, id_: Any, cursor: Cursor) -> Any:
    return (created_at > cursor.created_at_us) | (
        (created_at == cursor.created_at_us) & (id_ > cursor.id)
    )


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
            None if key.rotation_period is None else key.rotation_period // MICROSECOND
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
        encryptions=getattr(row, "encryptions", 0) or 0,
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


def _response_columns(response: SymmetricKey | KeyVersion | Empty | None) -> dict[str, Any]:
    if response is None:
        return {"response_type": "", "response": None}
    if isinstance(response, Empty):
        return {"response_type": "Empty", "response": {}}
    kind = "SymmetricKey" if isinstance(response, SymmetricKey) else "SymmetricKeyVersion"
    return {"response_type": kind, "response": _snapshot(response)}


def _from_snapshot(
    kind: str, data: dict[str, Any] | None
) -> SymmetricKey | KeyVersion | Empty | None:
    if not kind or data is None:
        return None
    if kind == "Empty":
        return Empty()
    if kind == "SymmetricKey":
        pv = data["primary_version"]
        return _key_from_row(
            _Obj(data), _version_from_row(_Obj(pv), primary=bool(pv.get("primary")))
        )
    return _version_from_row(_Obj(data), primary=bool(data.get("primary")))


def _credential_from_row(row: Any) -> Credential:
    return Credential(
        id=row.id,
        subject=Subject.parse(row.subject),
        created_at=from_micros(row.created_at_us),
        expires_at=from_us(row.expires_at_us),
        revoked_at=from_us(row.revoked_at_us),
        description=row.description,
    )


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
