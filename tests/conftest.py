"""Fixtures shared across the suite: the brand, the policy, a seeded CRM, a trained model.

Anything slow is session-scoped: the CRM is seeded once into a template file that each test
copies, and the model is trained once per session (fewer epochs) and cached by content hash.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import date
from pathlib import Path
from typing import AsyncIterator, Callable, Iterator

import pytest
import pytest_asyncio
from sqlalchemy.engine import Engine

from bot.brand import Brand, load_brand
from bot.settings import Settings
from tests.support.postgres import (
    DbSchema, NothingListens, PgDatabases, PgMisconfigured, SqliteTemplates, connect_admin,
    create_pg_database, delete_rows, drop_pg_database,
)
from tests.support.stack import TEST_EPOCH_SCALE

from tests.support import PROJECT
# Rasa's training progress bars would flood captured output (and CI logs).
os.environ.setdefault("TQDM_DISABLE", "1")
# The seeded CRM's dates are relative to this day (the CRM's 90-day windows use the clock).
TODAY = date.today()


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    """An AUTOCOMMIT engine on the machine's PostgreSQL.

    Skips only when nothing listens on the server's port; a server that answers but cannot be
    used (a wrong password, a missing database) fails every test that needs it.
    """
    try:
        admin = connect_admin()
    except NothingListens as error:
        pytest.skip(str(error))
    except PgMisconfigured as error:
        pytest.fail(str(error), pytrace=False)
    yield admin
    admin.dispose()


@pytest.fixture(scope="session")
def pg_databases(pg_admin: Engine) -> Iterator[PgDatabases]:
    """The session's PostgreSQL databases, one per schema, dropped at the end."""
    databases = PgDatabases(pg_admin)
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def sqlite_templates(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplates:
    return SqliteTemplates(tmp_path_factory.mktemp("sqlite-templates"))


@pytest.fixture(params=["sqlite", "postgresql"])
def make_db_url(request: pytest.FixtureRequest, tmp_path: Path,
                sqlite_templates: SqliteTemplates) -> Iterator[Callable[[DbSchema], str]]:
    """This test's database, on SQLite and on PostgreSQL: `make_db_url(schema)` gives its URL.

    SQLite: a file in tmp_path. PostgreSQL: the session's database for a schema that is made
    once (its rows deleted first), or a new database with no tables, dropped afterwards.
    """
    fresh: list[tuple[Engine, str]] = []

    def make(schema: DbSchema) -> str:
        if request.param == "sqlite":
            return sqlite_templates.url(schema, tmp_path)
        databases = request.getfixturevalue("pg_databases")
        if schema.create is None:
            url = create_pg_database(databases.admin, schema.prefix)
            fresh.append((databases.admin, url))
            return url
        url = databases.url(schema)
        if schema.metadata is not None:
            delete_rows(url, schema.metadata)
        return url

    yield make
    for admin, url in fresh:
        drop_pg_database(admin, url)


@pytest.fixture(scope="session")
def brand() -> Brand:
    return load_brand(PROJECT / "brand")


@pytest.fixture(scope="session")
def policy(brand: Brand):
    from bot.complaints.policy import load_policy

    return load_policy(PROJECT / "policies" / "resolution.yml",
                       issue_types=[issue.key for issue in brand.issue_types])


@pytest.fixture(scope="session")
def seeded_crm_template(tmp_path_factory: pytest.TempPathFactory, brand: Brand) -> Path:
    from bot.database import make_engine
    from bot.crm.upgrade import upgrade_schema
    from bot.crm.seed import seed_demo

    path = tmp_path_factory.mktemp("seeded-crm") / "crm.db"
    upgrade_schema(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    try:
        seed_demo(engine, brand, today=TODAY)
    finally:
        engine.dispose()
    return path


@pytest.fixture
def seeded_crm_url(tmp_path: Path, seeded_crm_template: Path) -> str:
    path = tmp_path / "crm.db"
    shutil.copy(seeded_crm_template, path)
    return f"sqlite:///{path}"


@pytest_asyncio.fixture
async def crm(seeded_crm_url: str) -> AsyncIterator:
    """A SqlCrm on a private copy of the seeded demo CRM."""
    from bot.database import make_engine
    from bot.crm.sql import SqlCrm

    crm = SqlCrm(make_engine(seeded_crm_url), dispose_engine=True)
    yield crm
    await crm.close()


@pytest.fixture(scope="session")
def test_var_dir() -> Path:
    """The model cache: the trained model and spaCy pipeline, kept between runs and shared by
    every pytest session on this checkout (each stack gets a var/ of its own)."""
    path = PROJECT / "var" / "test"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def test_settings(test_var_dir: Path) -> Settings:
    return Settings.from_env({
        "RAPPORT_HOME": str(PROJECT),
        "RAPPORT_VAR_DIR": str(test_var_dir),
        "RAPPORT_TRAIN_EPOCHS_SCALE": TEST_EPOCH_SCALE,
    })


@pytest.fixture(scope="session")
def trained_model(test_settings: Settings, brand: Brand) -> Path:
    """The bot trained once per content hash (config, domain, data) and cached.

    Sessions running at once take turns (a lock file), and a model enters the cache whole
    (trained in a staging directory, then renamed), so no session trains over another's
    model or ever sees half of one.
    """
    from bot.ops.spacy_pipeline import build_pipeline, is_up_to_date
    from bot.ops.training import model_path_for, train

    target = model_path_for(test_settings)
    with _cache_lock(test_settings.var_dir / "cache.lock"):
        if not is_up_to_date(brand, test_settings.spacy_model_dir):
            build_pipeline(brand, test_settings.spacy_model_dir)
        if target.is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
        try:
            trained = train(_StagedSettings.of(test_settings, staging))
            os.replace(trained, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _prune_cache(target)
    return target


@contextmanager
def _cache_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (another session waits until it is released)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@dataclass(frozen=True)
class _StagedSettings(Settings):
    """The cache's settings, except that a trained model is written to `staging_dir`.

    The model's name and its spaCy path stay those of the cache: only where it is written
    changes, so the finished file can be renamed into the cache in one step.
    """

    staging_dir: Path = Path()

    @classmethod
    def of(cls, settings: Settings, staging_dir: Path) -> "_StagedSettings":
        values = {f.name: getattr(settings, f.name) for f in fields(Settings)}
        return cls(**values, staging_dir=staging_dir)

    @property
    def models_dir(self) -> Path:
        return self.staging_dir


def _prune_cache(keep: Path, retain: int = 3) -> None:
    """Keep the few newest models, so the cache does not grow with every content change."""
    from bot.ops.training import MODEL_PREFIX

    models = sorted(keep.parent.glob(f"{MODEL_PREFIX}*.tar.gz"),
                    key=lambda p: p.stat().st_mtime, reverse=True)
    for old in [m for m in models if m != keep][retain - 1:]:
        old.unlink(missing_ok=True)
