"""Alembic environment for the CRM schema; `bot.crm.upgrade` builds the config in code."""

from __future__ import annotations

from alembic import context

from bot.database import make_engine
from bot.crm.models import metadata

config = context.config


def _configure(**options: object) -> None:
    context.configure(target_metadata=metadata, compare_type=True, **options)


def run_offline() -> None:
    """Render SQL for the configured URL instead of running it (`--sql`)."""
    _configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run_on(connection) -> None:  # type: ignore[no-untyped-def]
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Migrate the connection `upgrade_schema` passes, or one opened from the URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.begin() as connection:
            _run_on(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
