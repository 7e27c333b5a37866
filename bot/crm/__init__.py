"""The CRM: what Rapport knows about customers, orders and complaints.

`make_crm(settings)` gives the configured `Crm`: `SqlCrm` on `settings.crm_url` (default),
or `HttpCrm` on a brand's API when `crm_backend` is "http". Callers catch the named errors.
Call `bot.crm.upgrade.upgrade_schema(settings.crm_url)` once at start-up (or run
`rapport crm upgrade`) before using the SQL backend.
"""

from __future__ import annotations

from typing import Any, Optional

from bot.crm.errors import InvalidRequest, OfferNotFound
from bot.crm.interface import (
    Case, CaseNotFound, Crm, CrmError, CrmUnavailable, Customer, CustomerCard,
    CustomerNotFound, Interaction, NewCase, Offer, Order, OrderLine, OrderNotFound,
)

__all__ = [
    "Case", "CaseNotFound", "Crm", "CrmError", "CrmUnavailable", "Customer", "CustomerCard",
    "CustomerNotFound", "Interaction", "InvalidRequest", "NewCase", "Offer", "OfferNotFound",
    "Order", "OrderLine", "OrderNotFound", "make_crm",
]


def make_crm(settings: Any, http_session: Optional[Any] = None) -> Crm:
    """The `Crm` the settings ask for; the caller closes it with `await crm.close()`.

    Reads `crm_backend` ("sql" | "http", default "sql"), `crm_url` (SQL), and for HTTP
    `crm_api_url`, `crm_api_token`, `crm_api_timeout` (seconds, default 5) and
    `crm_api_retries` (default 2). `http_session` is the aiohttp session HttpCrm uses
    (it opens and closes its own if none is given).
    """
    from bot.settings import SettingsError

    backend = (getattr(settings, "crm_backend", None) or "sql").lower()
    if backend == "sql":
        from bot.database import make_engine
        from bot.crm.sql import SqlCrm

        return SqlCrm(make_engine(settings.crm_url), dispose_engine=True)
    if backend == "http":
        from bot.crm.http import HttpCrm

        api_url = getattr(settings, "crm_api_url", None)
        if not api_url:
            raise SettingsError("RAPPORT_CRM_BACKEND=http needs RAPPORT_CRM_API_URL")
        timeout = getattr(settings, "crm_api_timeout", None)
        retries = getattr(settings, "crm_api_retries", None)
        return HttpCrm(
            http_session, api_url, api_token=getattr(settings, "crm_api_token", None),
            timeout=5.0 if timeout is None else float(timeout),
            retries=2 if retries is None else int(retries),
        )
    raise SettingsError(f"RAPPORT_CRM_BACKEND must be sql or http, not {backend!r}")
