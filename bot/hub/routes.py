"""Every route of the hub, in one place."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot.hub.views import status, webchat

STATIC_DIR = Path(__file__).parent / "static"


def add_routes(app: web.Application) -> None:
    app.router.add_get("/health", status.health)
    app.router.add_get("/", status.status_page)
    app.router.add_get("/api/status", status.status_json)
    app.router.add_static("/static", STATIC_DIR)
    app.router.add_get("/widget/rapport.js", webchat.widget_script)
    app.router.add_get("/widget/rapport.css", webchat.widget_styles)
    app.router.add_get("/demo", webchat.demo_page)
