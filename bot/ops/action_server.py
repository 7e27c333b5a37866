"""Runs rasa-sdk's action server: loopback only, no CORS, and only for Rasa.

rasa-sdk itself has no authentication and allows every origin, so a web page opened on the
host could post a forged tracker and read CRM data. Here the server binds to
RAPPORT_ACTIONS_HOST (127.0.0.1), sends no CORS headers, and answers only requests that carry
the shared secret Rasa sends from endpoints.yml (`X-Rapport-Actions-Secret`). The secret is
checked when the route is known and before the body is read; `/health` stays open for the
supervisor and says nothing but "ok".

Bodies are bounded: at most RAPPORT_ACTIONS_MAX_BODY_BYTES on the wire (Sanic's default is
100 MB), and a deflate body (which rasa-sdk inflates without a limit) at most as much once
inflated, so a small bomb cannot make the server inflate gigabytes: 413 past that, 400 for a
body that does not inflate or is not JSON.
"""

from __future__ import annotations

import hmac
import json
import logging
import zlib
from typing import Any

from bot.settings import Settings, SettingsError

log = logging.getLogger(__name__)

ACTIONS_SECRET_HEADER = "X-Rapport-Actions-Secret"
OPEN_PATHS = frozenset({"health"})


def create_action_app(settings: Settings) -> Any:  # -> sanic.Sanic
    """rasa-sdk's Sanic app for `actions/`, with the secret check and without CORS."""
    from rasa_sdk.endpoint import create_app
    from sanic import response
    from sanic.exceptions import SanicException

    if not settings.actions_secret:
        raise SettingsError("RAPPORT_ACTIONS_SECRET must be set for the action server "
                            "(`rapport run` generates one per run)")
    expected = settings.actions_secret.encode()

    class Unauthorised(SanicException):
        status_code = 401
        quiet = True

    class TooLarge(SanicException):
        status_code = 413
        quiet = True

    class BadBody(SanicException):
        status_code = 400
        quiet = True

    app = create_app(action_package_name="actions", cors_origins=None)
    limit = settings.actions_max_body_bytes
    app.config.REQUEST_MAX_SIZE = limit

    @app.on_request
    async def bounded_inflate(request: Any) -> None:
        encoding = request.headers.get("content-encoding", "").strip().lower()
        if not encoding or encoding == "identity" or not request.body:
            return
        if encoding != "deflate":
            raise BadBody("unsupported content encoding")
        inflater = zlib.decompressobj()
        try:
            inflated = inflater.decompress(request.body, limit + 1)
        except zlib.error as error:
            raise BadBody("the body does not inflate") from error
        if len(inflated) > limit or inflater.unconsumed_tail:
            raise TooLarge("the inflated body is too large")
        try:
            json.loads(inflated)
        except (UnicodeDecodeError, ValueError, RecursionError) as error:
            raise BadBody("the body is not JSON") from error

    @app.signal("http.routing.after")
    async def require_secret(request: Any, route: Any, **_: Any) -> None:
        if route is not None and route.path.strip("/") in OPEN_PATHS:
            return
        given = request.headers.get(ACTIONS_SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            raise Unauthorised("the action server answers only Rasa")

    @app.exception(TooLarge)
    async def too_large(request: Any, error: Exception) -> Any:
        return response.json({"error": "the request is too large"}, status=413)

    @app.exception(Unauthorised)
    async def unauthorised(request: Any, error: Exception) -> Any:
        return response.json({"error": "unauthorised"}, status=401)

    @app.exception(Exception)
    async def failed(request: Any, error: Exception) -> Any:
        # rasa-sdk's own handler echoes the request body (the whole tracker) and the error.
        status = getattr(error, "status_code", 500)
        if isinstance(status, int) and 400 <= status < 500:
            return response.json({"error": "bad request"}, status=status)
        log.error("action server error in %s: %s", request.path, type(error).__name__,
                  exc_info=error)
        return response.json({"error": "the action failed"}, status=500)

    return app


def serve(settings: Settings) -> None:
    app = create_action_app(settings)
    app.run(host=settings.actions_host, port=settings.actions_port, workers=1,
            access_log=False, motd=False)
