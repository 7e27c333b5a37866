"""Every route of the hub, in one place."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot.hub.views import status

STATIC_DIR = Path(__file__).parent / "static"


def add_routes(app: web.Application) -> None:
    app.router.add_get("/health", status.health)
    app.router.add_get("/", status.status_page)
    app.router.add_get("/api/status", status.status_json)
    app.router.add_static("/static", STATIC_DIR)
