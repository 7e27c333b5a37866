"""CRM errors beyond the interface's: a request the CRM refuses, and an unknown offer.

Both derive from `CrmError`, so a caller that catches the interface's base class handles
them too; `OfferNotFound` is also a `CaseNotFound` (an offer belongs to a case).
"""

from __future__ import annotations

from bot.crm.interface import CaseNotFound, CrmError


class InvalidRequest(CrmError, ValueError):
    """The CRM refuses the request as given (unknown status, CSAT out of range, ...)."""


class OfferNotFound(CaseNotFound):
    """No offer with that id."""
