"""What the analysts' views share (dashboard, NLU inbox, insight API): who may use them, the
database they read, and the bounds on what their query strings and forms may say."""

from __future__ import annotations

from typing import Optional

from aiohttp import web

from bot.handoff.tables import Database
from bot.hub import keys
from bot.hub.errors import BadRequest
from bot.insight.conversation_search import MAX_NUMBER
from bot.insight.conversation_search import MAX_TEXT as _SEARCH_TEXT

ROLES = ("analyst", "admin")
MAX_TEXT = _SEARCH_TEXT  # a conversation id, channel, intent or product
__all__ = ["ROLES", "MAX_TEXT", "MAX_NUMBER", "hub_db", "whole_number"]


def hub_db(request: web.Request) -> Database:
    """The hub database the console opened (the audit log's), where the exchange log is."""
    return request.app[keys.AUDIT].db


def whole_number(raw: Optional[str], what: str, least: int, default: int,
                 most: int = MAX_NUMBER) -> int:
    """A whole number from `least` to `most` (at most MAX_NUMBER) typed in a query or form;
    BadRequest otherwise (a bigger one would overflow the database's integers: a 500)."""
    if raw is None or not raw.strip():
        return default
    try:
        number = int(raw)
    except ValueError:
        raise BadRequest(f"{what} must be a whole number") from None
    if not least <= number <= min(most, MAX_NUMBER):
        raise BadRequest(f"{what} must be between {least} and {min(most, MAX_NUMBER)}")
    return number
