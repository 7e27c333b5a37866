"""Console sign-in: sessions, CSRF, roles, login throttling and security headers.

- Sessions live in the hub database (`bot.handoff.agents`); the cookie holds a random
  token (HttpOnly, SameSite=Strict, Secure behind https), 12 h at most, 2 h idle.
- Every state-changing request under /console and /api/console must carry the session's
  CSRF token (form field `csrf_token` or header `X-CSRF-Token`). The login form, before
  any session exists, carries an HMAC of a nonce cookie signed with RAPPORT_HUB_SECRET.
- No session: pages redirect to /login, API and event streams answer 401.
- Sign-in is slowed by progressive delays per name, per (name, address) and per address,
  where the address is the client's (`X-Forwarded-For` believed only from
  RAPPORT_TRUSTED_PROXIES). Passwords and failed names are never logged (a hash of the name is).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Awaitable, Callable, Optional
from urllib.parse import quote

from aiohttp import web

from bot.client_address import client_address, parse_networks
from bot.handoff.agents import Agent, ConsoleSession, ThrottleRule
from bot.hub import keys
from bot.hub.errors import NotAllowed

COOKIE = "rapport_console"
LOGIN_COOKIE = "rapport_login"
SESSION_LIFETIME = timedelta(hours=12)
SESSION_IDLE = timedelta(hours=2)
LOGIN_WINDOW = timedelta(hours=1)  # failures older than this no longer slow anyone down
# A name from one address: 3 free tries, then 5 s, 10 s, ... up to 15 minutes.
PER_NAME_AND_ADDRESS = dict(free=3, base=timedelta(seconds=5), cap=timedelta(minutes=15))
# A name from anywhere: capped at a minute, so strangers cannot lock its agent out.
PER_NAME = dict(free=5, base=timedelta(seconds=5), cap=timedelta(minutes=1))
# One address trying many names.
PER_ADDRESS = dict(free=20, base=timedelta(seconds=5), cap=timedelta(minutes=15))
PAGE_PREFIX = "/console"
API_PREFIX = "/api/console"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SESSION_KEY = "console_session"

SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; "
                                "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
                                "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _guarded(path: str) -> Optional[str]:
    """'page' or 'api' for paths that need a session, else None."""
    if path == PAGE_PREFIX or path.startswith(PAGE_PREFIX + "/"):
        return "page"
    if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
        return "api"
    return None


def _is_console(path: str) -> bool:
    return _guarded(path) is not None or path in ("/login",)


def safe_next(target: Optional[str]) -> str:
    """Only same-site console paths: never an open redirect."""
    if target and target.startswith(PAGE_PREFIX) and "//" not in target and "\\" not in target:
        return target
    return PAGE_PREFIX


def secure_cookies(request: web.Request) -> bool:
    settings = request.app[keys.SETTINGS]
    return request.secure or settings.hub_public_url.startswith("https://")


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    response.set_cookie(COOKIE, token, max_age=int(SESSION_LIFETIME.total_seconds()), path="/",
                        httponly=True, samesite="Strict", secure=secure_cookies(request))


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/")


async def current_session(request: web.Request) -> Optional[ConsoleSession]:
    if SESSION_KEY in request:
        return request[SESSION_KEY]
    token = request.cookies.get(COOKIE, "")
    session = await request.app[keys.AGENTS].session(token, SESSION_IDLE) if token else None
    request[SESSION_KEY] = session
    return session


def agent_of(request: web.Request) -> Agent:
    session = request.get(SESSION_KEY)
    if session is None:
        raise web.HTTPUnauthorized()
    return session.agent


def require_role(request: web.Request, *roles: str) -> Agent:
    agent = agent_of(request)
    if agent.role not in roles:
        raise NotAllowed(f"this needs the role {' or '.join(roles)}")
    return agent


async def _submitted_csrf(request: web.Request) -> str:
    header = request.headers.get("X-CSRF-Token")
    if header:
        return header
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        value = form.get("csrf_token")
        return value if isinstance(value, str) else ""
    return ""


def _unauthorized(kind: str, request: web.Request) -> web.StreamResponse:
    if kind == "api":
        return web.json_response({"error": "sign in first"}, status=401)
    target = request.path_qs if request.method == "GET" else PAGE_PREFIX
    return web.Response(status=303,
                        headers={"Location": f"/login?next={quote(safe_next(target), safe='/')}"})


@web.middleware
async def console_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Sessions and CSRF for the console; security headers on its responses."""
    kind = _guarded(request.path)
    if kind is not None:
        session = await current_session(request)
        if session is None:
            response = _unauthorized(kind, request)
            _secure(response)
            return response
        if request.method in UNSAFE_METHODS:
            submitted = await _submitted_csrf(request)
            if not submitted or not hmac.compare_digest(submitted.encode(),
                                                        session.csrf_token.encode()):
                response = web.json_response({"error": "the form has expired or was forged: "
                                                       "reload the page"}, status=403)
                _secure(response)
                return response
    try:
        response = await handler(request)
    except web.HTTPException as error:
        if _is_console(request.path):
            _secure(error)
        raise
    if _is_console(request.path) and not response.prepared:
        _secure(response)
    return response


def _secure(response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


# -- the login form's CSRF (no session yet) --------------------------------------------

def login_token(secret: str, nonce: str) -> str:
    return hmac.new(secret.encode(), f"login|{nonce}".encode(), hashlib.sha256).hexdigest()


def new_login_nonce(response: web.StreamResponse, request: web.Request) -> str:
    nonce = secrets.token_urlsafe(24)
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=1800, path="/login", httponly=True,
                        samesite="Strict", secure=secure_cookies(request))
    return nonce


def login_token_ok(request: web.Request, submitted: str) -> bool:
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    if not nonce or not submitted:
        return False
    expected = login_token(request.app[keys.HUB_SECRET], nonce)
    return hmac.compare_digest(expected.encode(), submitted.encode())


# -- throttling ------------------------------------------------------------------------

def address_of(request: web.Request) -> str:
    """The client's address: X-Forwarded-For only when the peer is a trusted proxy."""
    proxies = parse_networks(request.app[keys.SETTINGS].trusted_proxies)
    return client_address(request.remote, request.headers.get("X-Forwarded-For"), proxies)


def name_digest(name: str) -> str:
    """What the log says about a login name: people type passwords into the name field."""
    return hashlib.sha256(name.strip().lower().encode("utf-8")).hexdigest()[:12]


def throttle_rules(name: str, address: str) -> list[ThrottleRule]:
    login = name.strip().lower()[:64]
    return [ThrottleRule(f"user:{login}|ip:{address[:64]}", **PER_NAME_AND_ADDRESS),
            ThrottleRule(f"user:{login}", **PER_NAME),
            ThrottleRule(f"ip:{address[:64]}", **PER_ADDRESS)]
