"""Test databases: the machine's PostgreSQL (throwaway databases) and SQLite files.

RAPPORT_TEST_PG_ADMIN_URL points at another server. The `pg_admin` fixture (tests/conftest.py)
skips only when nothing listens on the server's port; a server that answers but cannot be
used (a wrong password, a missing database) fails the tests that need it.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError

PG_ADMIN_URL = os.environ.get(
    "RAPPORT_TEST_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)
CONNECT_TIMEOUT = 5.0  # seconds


class NothingListens(Exception):
    """No server on the admin URL's port (connection refused): PostgreSQL tests skip."""


class PgMisconfigured(Exception):
    """A server listens but the tests cannot use it: PostgreSQL tests fail, saying why."""


def admin_engine(url: str = PG_ADMIN_URL) -> Engine:
    return create_engine(url, future=True, isolation_level="AUTOCOMMIT",
                         connect_args={"connect_timeout": int(CONNECT_TIMEOUT)})


def nothing_listens(host: str, port: int, timeout: float = CONNECT_TIMEOUT) -> bool:
    """Is a TCP connect refused? Only that means "no PostgreSQL here"; a timeout is not it."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False  # unreachable or filtered: a misconfiguration, which connecting reports


def connect_admin(url: str = PG_ADMIN_URL) -> Engine:
    """An AUTOCOMMIT engine that answered `SELECT 1`.

    Raises NothingListens when the connect is refused, PgMisconfigured on anything else.
    """
    parsed = make_url(url)
    where = parsed.render_as_string(hide_password=True)
    host, port = parsed.host or "127.0.0.1", parsed.port or 5432
    if nothing_listens(host, port):
        raise NothingListens(f"no PostgreSQL listening on {host}:{port} ({where})")
    admin = admin_engine(url)
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        admin.dispose()
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise PgMisconfigured(
            f"PostgreSQL listens on {host}:{port} but the tests cannot use {where}: {reason}. "
            "Fix the server or set RAPPORT_TEST_PG_ADMIN_URL.") from error
    return admin


def create_pg_database(admin: Engine, prefix: str = "rapport_test") -> str:
    """A new, uniquely named, empty database; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    return admin.url.set(database=name).render_as_string(hide_password=False)


def drop_pg_database(admin: Engine, url: str) -> None:
    name = make_url(url).database
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@dataclass(frozen=True)
class DbSchema:
    """What a suite's test database holds before each test.

    With `create`, the schema is made once per session (a SQLite template, one PostgreSQL
    database) and each test starts with the rows of `metadata` deleted; without it, each test
    gets a database with no tables at all.
    """

    prefix: str  # the PostgreSQL database name's prefix
    sqlite_file: str  # the SQLite file, relative to the test's tmp_path
    create: Optional[Callable[[str], object]] = None  # makes the schema in an empty database
    metadata: Optional[MetaData] = None  # the tables emptied before each test


def delete_rows(url: str, metadata: MetaData) -> None:
    """Empty every table of `metadata`, children first (far faster than TRUNCATE on small tables)."""
    engine = create_engine(url, future=True)
    try:
        with engine.begin() as connection:
            for table in reversed(metadata.sorted_tables):
                connection.execute(table.delete())
    finally:
        engine.dispose()


class SqliteTemplates:
    """One session's SQLite schema templates: each schema is made once, then copied per test."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._made: dict[str, Path] = {}

    def url(self, schema: DbSchema, tmp_path: Path) -> str:
        """A SQLite file in `tmp_path` for one test (a copy of the schema's template)."""
        path = tmp_path / schema.sqlite_file
        if schema.create is not None:
            if schema.prefix not in self._made:
                template = self._directory / schema.prefix / "template.db"
                template.parent.mkdir(parents=True, exist_ok=True)
                schema.create(f"sqlite:///{template}")
                self._made[schema.prefix] = template
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(self._made[schema.prefix], path)
        return f"sqlite:///{path}"


class PgDatabases:
    """One session's PostgreSQL databases: one per schema, made on first use, dropped at the end."""

    def __init__(self, admin: Engine) -> None:
        self.admin = admin
        self._made: dict[str, str] = {}

    def url(self, schema: DbSchema) -> str:
        if schema.prefix not in self._made:
            url = create_pg_database(self.admin, schema.prefix)
            self._made[schema.prefix] = url
            if schema.create is not None:
                schema.create(url)
        return self._made[schema.prefix]

    def drop_all(self) -> None:
        for url in self._made.values():
            drop_pg_database(self.admin, url)
        self._made.clear()
