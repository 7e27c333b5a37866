"""Errors the console's views raise; `bot.hub.console_app.console_errors` makes them HTTP."""

from __future__ import annotations


class NotAllowed(Exception):
    """The signed-in person's role or assignment doesn't allow this (403)."""


class BadRequest(ValueError):
    """The request itself is wrong (400)."""
