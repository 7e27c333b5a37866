"""Bring a CRM database to the current schema with the migrations shipped in this package.

`upgrade_schema(url)` works on an empty database and on one at any older revision, and is
safe when several processes start at once: PostgreSQL takes an advisory lock, SQLite a
write lock (`BEGIN IMMEDIATE`), so one process migrates and the others then find it done.
No alembic.ini is needed; developers can still run alembic with `alembic_config(url)`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional, Union

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from bot.database import make_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_PG_LOCK_KEY = 0x52617070  # "Rapp": any constant shared by every Rapport process
_SQLITE_ATTEMPTS = 5


class SchemaError(RuntimeError):
    """The database cannot be migrated as it is."""


def alembic_config(url: Optional[str] = None) -> Config:
    """The Alembic configuration of the CRM migrations (no ini file)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest migration's revision id."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> Optional[str]:
    """The revision the database is at, None if it has never been migrated."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade_schema(url: Union[str, Engine], revision: str = "head") -> str:
    """Migrate the database to `revision` (default: the newest); returns the revision now."""
    engine = make_engine(url) if isinstance(url, str) else url
    try:
        attempt = 1
        while True:
            try:
                return _upgrade(engine, revision)
            except OperationalError as error:
                # SQLite answers "locked" without waiting out its busy timeout in a few WAL
                # cases (a new file several processes open at once): try again shortly.
                if engine.dialect.name != "sqlite" or "locked" not in str(error) \
                        or attempt == _SQLITE_ATTEMPTS:
                    raise
                time.sleep(0.1 * attempt)
                attempt += 1
    finally:
        if isinstance(url, str):
            engine.dispose()


def _upgrade(engine: Engine, revision: str) -> str:
    with engine.connect() as connection:
        _lock(connection)
        _refuse_unversioned(connection)
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        reached = current_revision(connection)
        connection.commit()
        return reached or "base"


def downgrade_schema(url: Union[str, Engine], revision: str) -> None:
    """Migrate the database back to `revision` ("base" empties it)."""
    engine = make_engine(url) if isinstance(url, str) else url
    try:
        with engine.connect() as connection:
            _lock(connection)
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, revision)
            connection.commit()
    finally:
        if isinstance(url, str):
            engine.dispose()


def _lock(connection: Connection) -> None:
    dialect = connection.dialect.name
    if dialect == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif dialect == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})


def _refuse_unversioned(connection: Connection) -> None:
    tables = set(inspect(connection).get_table_names())
    if "customers" in tables and "alembic_version" not in tables:
        raise SchemaError(
            "the CRM database has tables but no migration history (alembic_version); "
            "back it up and migrate it by hand, or point RAPPORT_CRM_URL at a new database"
        )
