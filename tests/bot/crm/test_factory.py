"""`make_crm` picks the backend the settings name (the settings may not have the fields yet)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bot.crm import make_crm
from bot.crm.http import HttpCrm
from bot.crm.sql import SqlCrm
from bot.settings import SettingsError

pytestmark = pytest.mark.asyncio(loop_scope="session")  # the loop the fixtures run on


async def test_sql_is_the_default(tmp_path):
    crm = make_crm(SimpleNamespace(crm_url=f"sqlite:///{tmp_path / 'crm.db'}"))
    assert isinstance(crm, SqlCrm)
    await crm.close()


async def test_http_when_asked():
    crm = make_crm(SimpleNamespace(crm_url="", crm_backend="http",
                                   crm_api_url="http://127.0.0.1:9/api", crm_api_token="t",
                                   crm_api_retries=0))
    assert isinstance(crm, HttpCrm) and crm._retries == 0
    await crm.close()


def test_misconfiguration_is_a_settings_error():
    with pytest.raises(SettingsError, match="RAPPORT_CRM_API_URL"):
        make_crm(SimpleNamespace(crm_url="", crm_backend="http"))
    with pytest.raises(SettingsError, match="sql or http"):
        make_crm(SimpleNamespace(crm_url="", crm_backend="ldap"))
