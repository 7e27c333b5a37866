"""Engines and sessions for the CRM database (SQLite embedded, PostgreSQL to scale out)."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.database import make_engine

__all__ = ["make_engine", "make_session_factory"]


def make_session_factory(engine: Engine) -> sessionmaker:
    """Sessions in SQLAlchemy 2.0 style whose objects stay readable after commit."""
    return sessionmaker(bind=engine, class_=Session, future=True, expire_on_commit=False)
