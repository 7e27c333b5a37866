"""Wiring the agent console into the hub: its resources, background tasks and middlewares.

`add_console(app)` (called by `create_app`) opens the hub database, the Rasa API client,
the channel senders and the CRM when the app starts, runs the event feed and the sweeper
(callbacks after RAPPORT_HANDOFF_MAX_WAIT, pending hand-backs) while it runs, and closes
everything when it stops. One middleware checks sessions and CSRF; one turns the
console's domain errors into HTTP answers.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import AsyncIterator

from aiohttp import web

from bot.channel_registry import DeliveryFailed
from bot.handoff.agents import AgentDirectory
from bot.errors import StoreUnavailable
from bot.handoff.tables import create_hub_tables, open_database
from bot.handoff.store import HandoffConflict, HandoffNotFound, HandoffStore
from bot.hub import keys
from bot.hub.background import stop_tasks
from bot.hub.audit import AuditLog
from bot.hub.auth import API_PREFIX, console_guard
from bot.hub.console_view import install_filters
from bot.hub.errors import BadRequest, NotAllowed
from bot.hub.feed import EventFeed
from bot.hub.agent_desk import AgentDesk, Senders
from bot.hub.rasa_api import RasaApi, RasaApiError

log = logging.getLogger(__name__)

_ERRORS = (
    (HandoffNotFound, 404, "Not found", "No such conversation in your queue."),
    (NotAllowed, 403, "Not allowed", None),
    (HandoffConflict, 409, "Already changed", None),
    (BadRequest, 400, "Check the form", None),
    (DeliveryFailed, 502, "Not delivered", None),
    (RasaApiError, 503, "The bot's server is unavailable", None),
    (StoreUnavailable, 503, "The console's database is unavailable", None),
)


@web.middleware
async def console_errors(request: web.Request, handler) -> web.StreamResponse:
    """The console's domain errors as HTTP: JSON for scripts, a page for people."""
    try:
        return await handler(request)
    except tuple(kind for kind, *_ in _ERRORS) as error:
        status, heading, fixed = next(entry[1:] for entry in _ERRORS
                                      if isinstance(error, entry[0]))
        message = fixed or str(error)
        if isinstance(error, HandoffConflict) and error.agent_name and not fixed:
            message = f"{message} ({error.agent_name} has it)"
        if request.path.startswith(API_PREFIX) or \
                "application/json" in request.headers.get("Accept", ""):
            return web.json_response({"error": message}, status=status)
        from bot.hub.views.console import render_page

        return render_page(request, "console_error.html", status=status, heading=heading,
                      message=message)


async def _console_resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    db = open_database(settings.hub_db_url)
    await asyncio.to_thread(create_hub_tables, db.engine)
    store = HandoffStore(db)
    crm = None
    try:
        from bot.crm import make_crm

        crm = make_crm(settings, app[keys.HTTP])
    except Exception as error:  # noqa: BLE001 (no CRM: resolutions stay on the handoff)
        log.warning("console without a CRM: %s", type(error).__name__)
    senders = Senders(settings, app[keys.CHANNELS])
    desk = AgentDesk(settings, store, AgentDirectory(db),
                       RasaApi(app[keys.HTTP], settings.rasa_url, settings.rasa_jwt_secret),
                       senders, crm)
    feed = EventFeed(settings.events_db, store)
    app[keys.AGENTS] = desk.agents
    app[keys.HANDOFFS] = desk
    app[keys.FEED] = feed
    app[keys.AUDIT] = AuditLog(db)
    tasks = [asyncio.create_task(feed.run(), name="console-feed"),
             asyncio.create_task(desk.run_sweeper(), name="console-sweeper")]
    if settings.rabbitmq_url:  # the scale-out profile: events come from RabbitMQ
        from bot.hub.live_events import RabbitMqLiveEvents

        live = RabbitMqLiveEvents(feed, settings.rabbitmq_url)
        tasks.append(asyncio.create_task(live.run(), name="console-live-events"))
    try:
        yield
    finally:
        await stop_tasks(tasks)
        await senders.close()
        if crm is not None:
            await crm.close()
        await db.close()


async def _end_streams(app: web.Application) -> None:
    if keys.FEED in app:
        app[keys.FEED].close_all()


def add_console(app: web.Application) -> None:
    """Add the console's middlewares, resources and shutdown hook to the hub app."""
    settings = app[keys.SETTINGS]
    app[keys.HUB_SECRET] = settings.hub_secret or secrets.token_urlsafe(32)
    install_filters(app[keys.TEMPLATES])
    app.middlewares.extend([console_guard, console_errors])
    app.cleanup_ctx.append(_console_resources)
    app.on_shutdown.append(_end_streams)
