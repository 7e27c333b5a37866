"""Health and status: is each of Rapport's services up?"""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from bot.hub import keys


async def health(request: web.Request) -> web.Response:
    """200 while every store answers; 503 naming those that do not."""
    monitor = request.app.get(keys.DEPENDENCIES)
    down = [dependency.name for dependency in monitor.down] if monitor else []
    if down:
        return web.json_response({"status": "degraded", "service": "hub", "down": down},
                                 status=503)
    return web.json_response({"status": "ok", "service": "hub"})


def store_states(app: web.Application) -> list[dict]:
    monitor = app.get(keys.DEPENDENCIES)
    return [{"name": d.name, "where": d.where, "up": d.up, "reason": d.reason}
            for d in (monitor.dependencies if monitor else [])]


async def _probe(session: aiohttp.ClientSession, url: str) -> bool:
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
            return 200 <= response.status < 300
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return False


async def service_states(app: web.Application) -> list[dict]:
    settings = app[keys.SETTINGS]
    services = [
        ("Rasa server", settings.rasa_url, f"{settings.rasa_url}/"),
        ("Action server", settings.action_server_url, f"{settings.action_server_url}/health"),
        ("Hub", settings.hub_url, None),
    ]
    session = app[keys.HTTP]
    results = await asyncio.gather(*(_probe(session, probe) for _, _, probe in services if probe))
    states, probed = [], iter(results)
    for name, url, probe in services:
        states.append({"name": name, "url": url, "up": next(probed) if probe else True})
    return states


async def status_json(request: web.Request) -> web.Response:
    return web.json_response({"services": await service_states(request.app),
                              "stores": store_states(request.app)})


async def status_page(request: web.Request) -> web.Response:
    template = request.app[keys.TEMPLATES].get_template("status.html")
    settings = request.app[keys.SETTINGS]
    html = template.render(services=await service_states(request.app), settings=settings,
                           stores=store_states(request.app))
    return web.Response(text=html, content_type="text/html")
