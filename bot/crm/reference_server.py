"""The CRM HTTP API (see `bot.crm.http`) served from any `Crm`: the API's reference.

A brand that wants Rapport to use its own system can read this module as the specification
and test its adapter against the same client tests; Rapport's tests serve a `SqlCrm` with it.
`create_crm_api(crm, api_token=...)` returns an aiohttp app; the token, when set, is required
as `Authorization: Bearer <token>` on every request.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import replace
from datetime import datetime
from typing import Any, Awaitable, Callable, Optional

from aiohttp import web

from bot.crm.errors import InvalidRequest, OfferNotFound
from bot.crm.http import IDEMPOTENCY_HEADER
from bot.crm.interface import (
    AttemptKeys, CaseNotFound, Crm, CrmError, CrmUnavailable, CustomerNotFound, NewCase, OrderNotFound,
)
from bot.crm.serialise import SerialiseError, from_json, to_json
from bot.crm.validation import as_utc

CRM_KEY = web.AppKey("crm", Crm)  # type: ignore[type-abstract]
TOKEN_KEY = web.AppKey("api_token", str)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_NOT_FOUND = (  # most specific first: OfferNotFound is a CaseNotFound
    (OfferNotFound, "offer_not_found"), (OrderNotFound, "order_not_found"),
    (CustomerNotFound, "customer_not_found"), (CaseNotFound, "case_not_found"),
)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate, then turn the CRM's named errors into HTTP answers."""
    token = request.app[TOKEN_KEY]
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return _error(401, "unauthorized", "a valid bearer token is required")
    try:
        return await handler(request)
    except CrmError as error:
        for kind, code in _NOT_FOUND:
            if isinstance(error, kind):
                return _error(404, code, str(error))
        if isinstance(error, InvalidRequest):
            return _error(422, "invalid_request", str(error))
        if isinstance(error, CrmUnavailable):
            return _error(503, "unavailable", "the CRM is unavailable")
        return _error(500, "crm_error", "the CRM failed")
    except SerialiseError as error:
        return _error(422, "invalid_request", str(error))


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise InvalidRequest("the body must be a JSON object")
    return data


def _crm(request: web.Request) -> Crm:
    return request.app[CRM_KEY]


def _ok(value: Any, status: int = 200) -> web.Response:
    return web.json_response(to_json(value), status=status, dumps=_dumps)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


async def get_order(request: web.Request) -> web.Response:
    return _ok(await _crm(request).get_order(request.match_info["number"]))


async def get_customer(request: web.Request) -> web.Response:
    return _ok(await _crm(request).get_customer(request.match_info["customer_id"]))


async def get_card(request: web.Request) -> web.Response:
    return _ok(await _crm(request).customer_card(request.match_info["customer_id"]))


async def get_identity(request: web.Request) -> web.Response:
    channel, user_id = request.match_info["channel"], request.match_info["user_id"]
    customer_id = await _crm(request).find_identity(channel, user_id)
    if customer_id is None:
        return _error(404, "identity_not_found", "no customer linked to that channel user")
    return _ok({"customer_id": customer_id})


async def put_identity(request: web.Request) -> web.Response:
    body = await _body(request)
    await _crm(request).link_identity(
        request.match_info["channel"], request.match_info["user_id"],
        _field(body, "customer_id", str),
    )
    return web.Response(status=204)


async def post_attempt(request: web.Request) -> web.Response:
    body = await _body(request)
    reservation = await _crm(request).reserve_verification_attempt(
        from_json(AttemptKeys, body.get("keys")), since=_moment(body, "since"),
        breaker_since=_moment(body, "breaker_since"),
    )
    return _ok(reservation, status=201)


async def put_attempt_outcome(request: web.Request) -> web.Response:
    body = await _body(request)
    await _crm(request).settle_verification_attempt(
        request.match_info["attempt_id"], _field(body, "outcome", str))
    return web.Response(status=204)


def _moment(body: dict[str, Any], name: str) -> datetime:
    try:
        return as_utc(datetime.fromisoformat(_field(body, name, str).replace("Z", "+00:00")))
    except ValueError:
        raise InvalidRequest(f"{name} must be an ISO 8601 date-time") from None


async def post_case(request: web.Request) -> web.Response:
    """Open a case; the `Idempotency-Key` header, when sent, is its `request_key` (one case
    per key: a repeat answers the case the key opened). A `request_key` in the body is ignored."""
    new_case = from_json(NewCase, await _body(request))
    key = request.headers.get(IDEMPOTENCY_HEADER)
    new_case = replace(new_case, request_key=key)
    return _ok(await _crm(request).open_case(new_case), status=201)


async def get_case(request: web.Request) -> web.Response:
    return _ok(await _crm(request).get_case(request.match_info["case_id"]))


async def patch_case(request: web.Request) -> web.Response:
    body = await _body(request)
    changes = {
        "status": _field(body, "status", str, required=False),
        "resolution": _field(body, "resolution", str, required=False),
        "resolved": _field(body, "resolved", bool, required=False),
        "csat": _field(body, "csat", int, required=False),
        "add_detail": _field(body, "add_detail", str, required=False),
    }
    return _ok(await _crm(request).update_case(request.match_info["case_id"], **changes))


async def post_offer(request: web.Request) -> web.Response:
    body = await _body(request)
    amount = body.get("amount")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, (int, float))):
        raise InvalidRequest("amount must be a number or null")
    offer = await _crm(request).make_offer(
        request.match_info["case_id"], _field(body, "kind", str), amount
    )
    return _ok(offer, status=201)


async def get_offers(request: web.Request) -> web.Response:
    offers = await _crm(request).offers_for_case(request.match_info["case_id"])
    return _ok({"offers": offers})


async def settle_offer(request: web.Request) -> web.Response:
    body = await _body(request)
    offer = await _crm(request).settle_offer(
        request.match_info["offer_id"], _field(body, "accepted", bool)
    )
    return _ok(offer)


async def post_interaction(request: web.Request) -> web.Response:
    body = await _body(request)
    await _crm(request).add_interaction(
        request.match_info["customer_id"], _field(body, "channel", str),
        _field(body, "kind", str), _field(body, "summary", str),
    )
    return web.Response(status=201)


def _field(body: dict[str, Any], name: str, kind: type, *, required: bool = True) -> Any:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidRequest(f"{name} must be {kind.__name__}")
    return value


def create_crm_api(crm: Crm, *, api_token: Optional[str] = None) -> web.Application:
    """The CRM HTTP API over `crm`; the caller owns (and closes) `crm`."""
    app = web.Application(middlewares=[_errors])
    app[CRM_KEY] = crm
    app[TOKEN_KEY] = api_token or ""
    app.router.add_get("/orders/{number}", get_order)
    app.router.add_get("/customers/{customer_id}", get_customer)
    app.router.add_get("/customers/{customer_id}/card", get_card)
    app.router.add_post("/customers/{customer_id}/interactions", post_interaction)
    app.router.add_get("/identities/{channel}/{user_id}", get_identity)
    app.router.add_put("/identities/{channel}/{user_id}", put_identity)
    app.router.add_post("/verification-attempts", post_attempt)
    app.router.add_put("/verification-attempts/{attempt_id}/outcome", put_attempt_outcome)
    app.router.add_post("/cases", post_case)
    app.router.add_get("/cases/{case_id}", get_case)
    app.router.add_patch("/cases/{case_id}", patch_case)
    app.router.add_post("/cases/{case_id}/offers", post_offer)
    app.router.add_get("/cases/{case_id}/offers", get_offers)
    app.router.add_post("/offers/{offer_id}/settle", settle_offer)
    return app
