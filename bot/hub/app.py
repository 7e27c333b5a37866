"""The hub's app factory: settings in, a ready aiohttp application out."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import AsyncIterator, Optional

import aiohttp
import jinja2
from aiohttp import web

from bot.channel_registry import ChannelRegistry
from bot.hub import keys
from bot.hub.console_app import add_console
from bot.hub.dependencies import DependencyMonitor
from bot.hub.insight_app import add_insight
from bot.hub.routes import add_routes
from bot.hub.views.nlu_inbox import inbox_resources
from bot.settings import Settings

_HERE = Path(__file__).parent


async def _dependency_checks(app: web.Application) -> AsyncIterator[None]:
    """Check the stores at start and every few seconds after (bot.hub.dependencies)."""
    monitor = DependencyMonitor(app[keys.SETTINGS])
    app[keys.DEPENDENCIES] = monitor
    await monitor.check()
    task = asyncio.create_task(monitor.run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    monitor.close()


async def _http_client(app: web.Application) -> AsyncIterator[None]:
    """One client session for calls to Rasa and the action server."""
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        app[keys.HTTP] = session
        yield


def create_app(settings: Settings, channels: Optional[ChannelRegistry] = None) -> web.Application:
    """Build the hub for `settings`; resources open and close with the app.

    `channels` are the channel plugins the hub reaches customers through (default: those
    installed); tests hand in their own.
    """
    app = web.Application(client_max_size=1024**2)
    app[keys.SETTINGS] = settings
    app[keys.CHANNELS] = channels if channels is not None else ChannelRegistry.installed()
    app[keys.TEMPLATES] = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
    )
    app.cleanup_ctx.append(_http_client)
    app.cleanup_ctx.append(_dependency_checks)
    add_console(app)
    add_insight(app)
    app.cleanup_ctx.append(inbox_resources)  # the NLU inbox and its retraining job
    add_routes(app)
    return app


def serve(settings: Settings) -> None:
    """Run the hub until the process is told to stop."""
    web.run_app(create_app(settings), host=settings.host, port=settings.hub_port,
                print=None, access_log=None)
