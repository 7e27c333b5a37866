"""Signing in to the agent console and out of it."""

from __future__ import annotations

import logging
import math

from aiohttp import web

from bot.errors import StoreUnavailable
from bot.hub import auth, keys

log = logging.getLogger(__name__)


def _page(request: web.Request, status: int = 200, error: str = "", name: str = "",
          next_url: str = "/console") -> web.Response:
    response = web.Response(status=status, content_type="text/html")
    nonce = auth.new_login_nonce(response, request)
    template = request.app[keys.TEMPLATES].get_template("console_login.html")
    response.text = template.render(
        login_token=auth.login_token(request.app[keys.HUB_SECRET], nonce), error=error,
        name=name, next=auth.safe_next(next_url), agent=None, csrf=None)
    return response


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"


async def login_page(request: web.Request) -> web.Response:
    session = await auth.current_session(request)
    if session is not None:
        raise web.HTTPSeeOther(auth.safe_next(request.query.get("next")))
    return _page(request, next_url=request.query.get("next", "/console"))


async def login(request: web.Request) -> web.Response:
    form = await request.post()
    name = str(form.get("name") or "")[:64]
    password = str(form.get("password") or "")
    next_url = str(form.get("next") or "/console")
    if not auth.login_token_ok(request, str(form.get("login_token") or "")):
        return _page(request, 403, "The sign-in form expired. Please try again.", name, next_url)
    directory = request.app[keys.AGENTS]
    address = auth.address_of(request)
    rules = auth.throttle_rules(name, address)
    try:
        reservation = await directory.reserve_login(rules, auth.LOGIN_WINDOW)
        if reservation.retry_after:
            log.warning("sign-in delayed %d s for name #%s from %s", reservation.retry_after,
                        auth.name_digest(name), address)
            response = _page(request, 429, "Too many failed attempts. Please wait "
                             f"{_duration(reservation.retry_after)} and try again.",
                             name, next_url)
            response.headers["Retry-After"] = str(reservation.retry_after)
            return response
        agent = await directory.authenticate(name, password)
        if agent is None:
            await directory.settle_login(reservation, False)
            log.info("failed sign-in for name #%s from %s", auth.name_digest(name), address)
            return _page(request, 401, "Wrong name or password.", name, next_url)
        await directory.settle_login(reservation, True, [rules[0].key])  # this name here
        token, _session = await directory.open_session(agent, auth.SESSION_LIFETIME)
    except StoreUnavailable:
        return _page(request, 503, "The console's database is unavailable. Try again shortly.",
                     name, next_url)
    log.info("%s %s signed in", agent.role, agent.name)
    response = web.HTTPSeeOther(auth.safe_next(next_url))
    auth.set_session_cookie(request, response, token)
    response.del_cookie(auth.LOGIN_COOKIE, path="/login")
    raise response


async def logout(request: web.Request) -> web.Response:
    """POST /console/logout (CSRF-checked by the guard): end the session."""
    session = await auth.current_session(request)
    token = request.cookies.get(auth.COOKIE, "")
    directory = request.app[keys.AGENTS]
    if token:
        await directory.close_session(token)
    if session is not None and session.agent.handles_handoffs:
        await directory.offline(session.agent.id)
    response = web.HTTPSeeOther("/login")
    auth.clear_session_cookie(response)
    raise response
