"""The Alembic migrations produce exactly the schema the store code declares."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from hsmkms.store import Store
from hsmkms.store.schema import metadata


def test_migrations_match_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    Store(url).close()
    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_reopening_an_existing_store_keeps_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    Store(url).close()
    store = Store(url)
    store.ping()
    assert store.get_key("hkkmissing") is None
    store.close()


def test_a_store_of_the_first_release_is_migrated(tmp_path: Path) -> None:
    from importlib import resources

    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(resources.files("hsmkms.store") / "migrations"))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.execute(
            text(
                "INSERT INTO keys VALUES ('hkkold', 'f', 'n', '', '{}', 2, 3, 'hkvold', NULL, 0, 1, NULL)"
            )
        )
        conn.execute(text("INSERT INTO key_versions VALUES ('hkvold', 'hkkold', 1, 3, 1, NULL)"))
    engine.dispose()
    store = Store(url)
    key = store.get_key("hkkold")
    assert key is not None and key.primary_version.id == "hkvold"
    assert store.pending_versions() == []
    store.close()
