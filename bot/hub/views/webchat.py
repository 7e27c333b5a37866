"""The web chat widget's files (/widget/rapport.js, /widget/rapport.css) and the /demo shop."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from aiohttp import web

from bot.brand import BrandDataError, load_brand
from bot.hub import keys

ASSETS = {"rapport.js": "application/javascript", "rapport.css": "text/css"}
DEMO_PRODUCTS = 6


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


async def _asset(request: web.Request, name: str) -> web.FileResponse:
    plugin = request.app[keys.CHANNELS].get("webchat")
    if plugin is None or plugin.static_dir is None:
        raise web.HTTPNotFound(text="the web chat channel is not installed")
    return web.FileResponse(plugin.static_dir / name, headers={
        "Content-Type": f"{ASSETS[name]}; charset=utf-8",
        "Cache-Control": "public, max-age=300",
        "X-Content-Type-Options": "nosniff",
        # The brand's pages load these from another origin, even with COEP on.
        "Cross-Origin-Resource-Policy": "cross-origin",
    })


async def widget_script(request: web.Request) -> web.FileResponse:
    return await _asset(request, "rapport.js")


async def widget_styles(request: web.Request) -> web.FileResponse:
    return await _asset(request, "rapport.css")


async def demo_page(request: web.Request) -> web.Response:
    """A plain shop page for the brand with the widget on it, under a strict CSP."""
    settings = request.app[keys.SETTINGS]
    try:
        brand = load_brand(settings.home / "brand")
        name, profile, products = brand.name, brand.profile, brand.products[:DEMO_PRODUCTS]
    except BrandDataError:
        name, profile, products = "Rapport", {}, ()
    hub_url = settings.hub_public_url
    rasa_url = settings.public_url or settings.rasa_url
    nonce = secrets.token_urlsafe(16)
    html = request.app[keys.TEMPLATES].get_template("demo.html").render(
        brand_name=name, assistant=profile.get("assistant_name") or "our assistant",
        currency=profile.get("currency") or "EUR", products=products,
        hub_url=hub_url, rasa_url=rasa_url, nonce=nonce,
    )
    policy = "; ".join((
        "default-src 'none'",
        f"script-src {_origin(hub_url)}",
        f"style-src 'nonce-{nonce}' {_origin(hub_url)}",
        f"connect-src {_origin(rasa_url)}",
        "img-src 'self' https: data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ))
    return web.Response(text=html, content_type="text/html", headers={
        "Content-Security-Policy": policy, "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    })
