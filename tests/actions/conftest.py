"""Action fixtures: the actions' services on the seeded CRM, the brand and its policy."""

from __future__ import annotations

import pytest

from actions import services
from bot.settings import Settings
from tests.conftest import PROJECT, TODAY


@pytest.fixture
def use_crm(crm, brand, policy, tmp_path):
    """The actions' services, as the action server makes them; yields the CRM."""
    settings = Settings.from_env({"RAPPORT_HOME": str(PROJECT), "RAPPORT_VAR_DIR": str(tmp_path)})
    services.use(services.Services(settings=settings,
                                   crm=crm, brand=brand, policy=policy, today=lambda: TODAY))
    yield crm
    services.use(None)
