"""Fixtures shared across the suite: the brand, the policy, a seeded CRM, a trained model.

Anything slow is session-scoped: the CRM is seeded once into a template file that each test
copies, and the model is trained once per session (fewer epochs) and cached by content hash.
"""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path
from typing import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from sqlalchemy.engine import Engine

from bot.brand import Brand, load_brand
from bot.settings import Settings
from tests.support.stack import TEST_EPOCH_SCALE

from tests.support import PROJECT
# Rasa's training progress bars would flood captured output (and CI logs).
os.environ.setdefault("TQDM_DISABLE", "1")
# The seeded CRM's dates are relative to this day (the CRM's 90-day windows use the clock).
TODAY = date.today()


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    """An AUTOCOMMIT engine on the machine's PostgreSQL, or a skip that says why."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from tests.support.postgres import PG_ADMIN_URL, admin_engine

    admin = admin_engine()
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        admin.dispose()
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {reason}")
    yield admin
    admin.dispose()


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
    """A var/ for the session's trained model and spaCy pipeline, kept between runs."""
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
    """The bot trained once per session (reused while config, domain and data are unchanged)."""
    from bot.ops.spacy_pipeline import build_pipeline, is_up_to_date
    from bot.ops.training import train

    if not is_up_to_date(brand, test_settings.spacy_model_dir):
        build_pipeline(brand, test_settings.spacy_model_dir)
    return train(test_settings)
