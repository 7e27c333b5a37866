"""The shipped migrations: they build the models' schema exactly, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from bot.database import make_engine
from bot.crm.models import metadata
from bot.crm.upgrade import SchemaError, downgrade_schema, head_revision, upgrade_schema


def _diff(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()


def test_models_and_migrations_agree(empty_db_url):
    assert upgrade_schema(empty_db_url) == head_revision()
    assert _diff(empty_db_url) == []


def test_upgrade_is_idempotent_and_downgrade_reverses_it(empty_db_url):
    upgrade_schema(empty_db_url)
    assert upgrade_schema(empty_db_url) == head_revision()
    downgrade_schema(empty_db_url, "base")
    engine = make_engine(empty_db_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    upgrade_schema(empty_db_url)  # an older database (here: base) comes back to head
    assert _diff(empty_db_url) == []


def test_refuses_tables_without_migration_history(empty_db_url):
    engine = make_engine(empty_db_url)
    try:
        metadata.create_all(engine)
        with pytest.raises(SchemaError, match="no migration history"):
            upgrade_schema(engine)
    finally:
        engine.dispose()


def test_concurrent_upgrades_of_an_empty_database_all_succeed(empty_db_url):
    results, errors = [], []

    def upgrade() -> None:
        try:
            results.append(upgrade_schema(empty_db_url))
        except Exception as error:  # noqa: BLE001 - the test reports any failure
            errors.append(error)

    threads = [threading.Thread(target=upgrade) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert results == [head_revision()] * 4


def test_sqlite_file_gets_its_directory_and_pragmas(tmp_path):
    url = f"sqlite:///{tmp_path / 'nested' / 'deeper' / 'crm.db'}"
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()
    assert (tmp_path / "nested" / "deeper").is_dir()


def test_0003_adds_a_unique_nullable_request_key_to_existing_cases(empty_db_url):
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    assert upgrade_schema(empty_db_url, "0002") == "0002"
    engine = make_engine(empty_db_url)
    case = ("INSERT INTO cases (id, customer_id, category, severity, severity_score, "
            "severity_reasons, status, description, created_at, updated_at{key}) VALUES "
            "(:id, 'C-1', 'damaged', 'low', 0.1, '[]', 'open', 'd', :at, :at{value})")
    at = "2026-11-30 12:00:00"
    try:
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO customers (id, name, email, tier, consent_marketing, "
                "consent_data_processing, created_at) VALUES ('C-1', 'Ada', 'a@example.com', "
                "'standard', false, true, :at)"), {"at": at})
            connection.execute(text(case.format(key="", value="")), {"id": "CS-old", "at": at})
        assert upgrade_schema(empty_db_url) == head_revision()
        columns = {c["name"]: c for c in inspect(engine).get_columns("cases")}
        assert columns["request_key"]["nullable"] is True
        assert columns["request_key"]["type"].length == 200
        indexes = {i["name"]: i for i in inspect(engine).get_indexes("cases")}
        assert indexes["ix_cases_request_key"]["unique"]
        keyed = case.format(key=", request_key", value=", :key")
        with engine.begin() as connection:
            assert connection.execute(text("SELECT request_key FROM cases")).scalar_one() is None
            for case_id, key in (("CS-a", None), ("CS-b", None), ("CS-c", "k:1")):
                connection.execute(text(keyed), {"id": case_id, "at": at, "key": key})
        with pytest.raises(IntegrityError):
            with engine.begin() as connection:
                connection.execute(text(keyed), {"id": "CS-d", "at": at, "key": "k:1"})
        engine.dispose()
        downgrade_schema(empty_db_url, "0002")
        assert "request_key" not in {c["name"] for c in inspect(engine).get_columns("cases")}
    finally:
        engine.dispose()
