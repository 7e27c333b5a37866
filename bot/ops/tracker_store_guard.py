"""The tracker store is never silently replaced by an empty, in-memory one.

Rasa 3.6 falls back to `InMemoryTrackerStore` three times over. At start-up, a tracker store
it cannot reach, or a store class it cannot import, becomes an in-memory one;
`check_tracker_store` and `check_tracker_store_class` refuse to start instead. At run
time, every agent wraps its store in `FailSafeTrackerStore`, which logs a failed `retrieve`
and answers from an empty conversation, and saves a failed `save` in memory: the customer is
greeted like a stranger, mid-order, while the event broker publishes turns the database never
gets. `install()` (called as the Rasa server starts) gives that wrapper a callback that raises
`TrackerStoreUnavailable` instead: the message is refused (each channel answers "please try
again", Telegram re-runs the turn later), nothing is kept in memory, and the conversation
goes on from the database once it answers again.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from bot.errors import Unavailable
from bot.settings import Settings

logger = logging.getLogger(__name__)


class TrackerStoreUnavailable(Unavailable):
    """The tracker store's database does not answer (at start-up, or for one message)."""


def check_tracker_store(settings: Settings) -> None:
    """Refuse to start on a tracker store that does not answer."""
    url = settings.tracker_store_url
    if url.startswith("sqlite"):
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    engine = create_engine(url, connect_args={"connect_timeout": 5}
                           if url.startswith("postgresql") else {})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        where = engine.url.render_as_string(hide_password=True)
        raise TrackerStoreUnavailable(
            f"the tracker store at {where} does not answer ({type(error.orig or error).__name__}"
            "); Rasa would fall back to an in-memory store and forget every conversation, so "
            "the Rasa server does not start") from error
    finally:
        engine.dispose()


RASA_STORE_TYPES = {"sql", "redis", "mongod", "dynamo"}  # Rasa's own, by their short names


def check_tracker_store_class(store_type: Optional[str]) -> None:
    """Refuse to start on a tracker store class that cannot be imported: Rasa would log a
    warning and use an in-memory store instead."""
    if not store_type or store_type.lower() in RASA_STORE_TYPES:
        return
    from rasa.shared.utils.common import class_from_module_path

    try:
        class_from_module_path(store_type)
    except (ImportError, AttributeError) as error:
        raise TrackerStoreUnavailable(
            f"the tracker store type {store_type} in the endpoints file cannot be loaded "
            f"({error}); Rasa would use an in-memory store and forget every conversation, so "
            "the Rasa server does not start") from error


def refuse(error: Exception) -> None:
    """`FailSafeTrackerStore`'s error callback: raise where Rasa would fall back."""
    logger.error("the tracker store failed (%s): this message is refused rather than answered "
                 "from an empty conversation; the customer is asked to try again",
                 type(error).__name__)
    raise TrackerStoreUnavailable(f"tracker store: {type(error).__name__}") from error


def install() -> None:
    """Make every agent's fail-safe wrapper fail closed (idempotent)."""
    from rasa.core.agent import Agent
    from rasa.core.tracker_store import FailSafeTrackerStore, InMemoryTrackerStore

    if getattr(Agent._create_tracker_store, "rapport_fails_closed", False):
        return

    def create_tracker_store(store: Any, domain: Any) -> FailSafeTrackerStore:
        if store is not None:
            store.domain = domain
        else:
            store = InMemoryTrackerStore(domain)
        return FailSafeTrackerStore(store, on_tracker_store_error=refuse)

    create_tracker_store.rapport_fails_closed = True  # type: ignore[attr-defined]
    Agent._create_tracker_store = staticmethod(create_tracker_store)
