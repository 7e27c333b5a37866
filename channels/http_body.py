"""Request bodies for the channels' webhooks: read at most N bytes, then parse as JSON."""

from __future__ import annotations

import json
from typing import Any, Dict

from sanic.request import Request

from channels.message_guard import MessageRejected


# The most any request to Rasa's server may carry: Sanic's default (100 MB) is read whole
# before a non-streamed route (web chat, Rasa's own API) can look at the token.
MAX_REQUEST_BYTES = 1_048_576


def cap_request_size(app: Any, limit: int = MAX_REQUEST_BYTES) -> None:
    """Lower the app's request cap to `limit`: bigger bodies get 413 before they are read,
    with a JSON error like every other refusal.

    Sanic reads the cap as each connection opens, so a channel calls this from a
    `before_server_start` listener; every channel does, since any one may be the only one.
    """
    from sanic import response
    from sanic.exceptions import PayloadTooLarge

    app.config.REQUEST_MAX_SIZE = min(int(app.config.REQUEST_MAX_SIZE), limit)

    def too_large(_request: Any, _error: Exception) -> Any:
        return response.json({"error": f"the request is too large (at most "
                                       f"{app.config.REQUEST_MAX_SIZE} bytes)"}, status=413)

    app.error_handler.add(PayloadTooLarge, too_large)


class BodyTooLarge(ValueError):
    """The request body is larger than the route accepts."""


async def read_body(request: Request, limit: int) -> bytes:
    """The streamed body (a `stream=True` route), refusing without reading on past `limit`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge()
    chunks, size = [], 0
    while True:
        chunk = await request.stream.read()
        if chunk is None:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        chunks.append(chunk)


def parse_json_object(raw: bytes) -> Dict[str, Any]:
    """The body as a JSON object, or MessageRejected (bad UTF-8, bad JSON, not an object)."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise MessageRejected("body is not valid UTF-8") from error
    except json.JSONDecodeError as error:
        raise MessageRejected(f"body is not valid JSON ({error.msg})") from error
    except RecursionError as error:
        raise MessageRejected("body is nested too deeply") from error
    if not isinstance(body, dict):
        raise MessageRejected("body must be a JSON object")
    return body
