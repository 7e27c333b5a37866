"""`HttpCrm`: the `Crm` on a brand's own HTTP JSON API.

A brand that keeps customers and orders in its own system exposes this API (or puts a thin
adapter in front of its system); `bot.crm.reference_server` implements it on any `Crm` and
is the executable specification. Bodies are JSON in the shape `bot.crm.serialise` defines
(the interface's dataclasses, field for field; date-times ISO 8601 with offset, dates
YYYY-MM-DD). Every request carries `Authorization: Bearer <token>` when a token is set.

| method and path | body | answer |
|---|---|---|
| GET /orders/{number} | | 200 Order |
| GET /customers/{id} | | 200 Customer |
| GET /customers/{id}/card | | 200 CustomerCard |
| GET /identities/{channel}/{user_id} | | 200 {"customer_id": "..."} |
| PUT /identities/{channel}/{user_id} | {"customer_id"} | 204 |
| POST /verification-attempts | {"keys": AttemptKeys, "since", "breaker_since"} | 201 Reservation |
| PUT /verification-attempts/{id}/outcome | {"outcome": "succeeded"/"failed"/"refused"} | 204 |
| POST /cases | NewCase (without `request_key`); header `Idempotency-Key` | 201 Case |
| GET /cases/{id} | | 200 Case |
| PATCH /cases/{id} | any of {"status", "resolution", "resolved", "csat"} | 200 Case |
| POST /cases/{id}/offers | {"kind", "amount"} | 201 Offer |
| GET /cases/{id}/offers | | 200 {"offers": [Offer, ...]} (oldest first) |
| POST /offers/{id}/settle | {"accepted": true/false} | 200 Offer |
| POST /customers/{id}/interactions | {"channel", "kind", "summary"} | 201 |

Errors are JSON `{"error": code, "message": text}`. A 404 must carry a code ending in
`not_found` (`order_not_found`, `customer_not_found`, `case_not_found`, `offer_not_found`,
`identity_not_found`): a bare 404 means a wrong base URL and is reported as unavailable,
not as "no such order". 400/409/422 mean the request was refused (`InvalidRequest`);
anything else, a timeout or a connection failure is `CrmUnavailable`.

`POST /verification-attempts` must record the attempt as pending and count the others in one
serialised transaction (see `Crm.reserve_verification_attempt`), so parallel guesses cannot all
see the same counts.

`POST /cases` carries `NewCase.request_key`, when there is one, as the header
`Idempotency-Key: <key>` (1 to 200 printable characters, UTF-8, no surrounding spaces) and not
in the body. The API must open one case per key: a POST with a key it has seen answers 201
with the case that key opened, as it is now (see `Crm.open_case`), also when two such POSTs
arrive at once. A bot turn run again after a crash sends the same key and so gets the same case.

PATCH sets absolute values, so it is idempotent like GET and PUT: those, and a `POST /cases`
with an `Idempotency-Key`, are retried with exponential backoff on 502/503/504 and connection
errors. Any other POST is retried only when the connection could not be opened at all (the
request was never sent). Timeouts are not retried: a slow CRM should not make the customer
wait twice.
"""

from __future__ import annotations

import contextlib
import asyncio
import json
import logging
from datetime import datetime
from typing import Any, Optional, TypeVar
from urllib.parse import quote

import aiohttp

from bot.crm.errors import InvalidRequest, OfferNotFound
from bot.crm.interface import (
    AttemptKeys, Reservation, Case, CaseNotFound, CrmError, CrmUnavailable, Customer, CustomerCard, CustomerNotFound,
    NewCase, Offer, Order, OrderNotFound,
)
from bot.crm.serialise import SerialiseError, from_json, to_json
from bot.crm.validation import (
    as_utc, clean_channel_user, clean_key, clean_text, normalise_order_number,
    require_request_key,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "PATCH"})
IDEMPOTENCY_HEADER = "Idempotency-Key"  # makes a POST safe to repeat (one case per key)
RETRY_STATUSES = frozenset({502, 503, 504})
NOT_FOUND_ERRORS: dict[str, type[CrmError]] = {
    "order_not_found": OrderNotFound,
    "customer_not_found": CustomerNotFound,
    "case_not_found": CaseNotFound,
    "offer_not_found": OfferNotFound,
}


class _IdentityNotFound(CrmUnavailable):
    """404 identity_not_found: `find_identity` answers None; any other call, unavailable."""


class HttpCrm:
    """The `Crm` over HTTP; pass the aiohttp session so tests can aim it at a local server."""

    def __init__(
        self, session: Optional[aiohttp.ClientSession], base_url: str, *,
        api_token: Optional[str] = None, timeout: float = 5.0, retries: int = 2,
        backoff: float = 0.2,
    ) -> None:
        self._session = session
        self._owns_session = session is None
        self._base_url = base_url.rstrip("/")
        self._headers = {"Accept": "application/json"}
        if api_token:
            self._headers["Authorization"] = f"Bearer {api_token}"
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._retries = max(0, retries)
        self._backoff = backoff

    async def get_order(self, order_number: str) -> Order:
        number = normalise_order_number(order_number)
        if number is None:
            raise OrderNotFound("no order with that number")
        return _read(Order, await self._call("GET", ("orders", number)))

    async def get_customer(self, customer_id: str) -> Customer:
        return _read(Customer, await self._call("GET", ("customers", _id(customer_id))))

    async def customer_card(self, customer_id: str) -> CustomerCard:
        data = await self._call("GET", ("customers", _id(customer_id), "card"))
        return _read(CustomerCard, data)

    async def find_identity(self, channel: str, channel_user_id: str) -> Optional[str]:
        key = clean_channel_user(channel, channel_user_id)
        if key is None:
            return None
        try:
            data = await self._call("GET", ("identities", *key))
        except _IdentityNotFound:
            return None
        customer_id = data.get("customer_id") if isinstance(data, dict) else None
        if not isinstance(customer_id, str):
            raise CrmUnavailable("CRM API answered an identity without a customer_id")
        return customer_id

    async def link_identity(self, channel: str, channel_user_id: str, customer_id: str) -> None:
        key = clean_channel_user(channel, channel_user_id)
        if key is None:
            raise InvalidRequest("channel and channel user id must be short keys")
        await self._call("PUT", ("identities", *key), {"customer_id": _id(customer_id)})

    async def reserve_verification_attempt(
        self, keys: AttemptKeys, *, since: datetime, breaker_since: datetime
    ) -> Reservation:
        body = {"keys": to_json(keys), "since": as_utc(since).isoformat(),
                "breaker_since": as_utc(breaker_since).isoformat()}
        return _read(Reservation, await self._call("POST", ("verification-attempts",), body))

    async def settle_verification_attempt(self, attempt_id: str, outcome: str) -> None:
        path = ("verification-attempts", clean_text(attempt_id, 64), "outcome")
        await self._call("PUT", path, {"outcome": outcome})

    async def open_case(self, new_case: NewCase) -> Case:
        body = to_json(new_case)
        key = require_request_key(body.pop("request_key", None))  # as a header, unchanged
        if key is None:
            return _read(Case, await self._call("POST", ("cases",), body))
        data = await self._call("POST", ("cases",), body, headers={IDEMPOTENCY_HEADER: key},
                                idempotent=True)
        return _read(Case, data)

    async def get_case(self, case_id: str) -> Case:
        return _read(Case, await self._call("GET", ("cases", _id(case_id, CaseNotFound))))

    async def update_case(
        self, case_id: str, *, status: Optional[str] = None, resolution: Optional[str] = None,
        resolved: Optional[bool] = None, csat: Optional[int] = None,
        add_detail: Optional[str] = None,
    ) -> Case:
        changes = {"status": status, "resolution": resolution, "resolved": resolved, "csat": csat,
                   "add_detail": add_detail}
        body = {name: value for name, value in changes.items() if value is not None}
        path = ("cases", _id(case_id, CaseNotFound))
        return _read(Case, await self._call("PATCH", path, body))

    async def make_offer(self, case_id: str, kind: str, amount: Optional[float] = None) -> Offer:
        path = ("cases", _id(case_id, CaseNotFound), "offers")
        return _read(Offer, await self._call("POST", path, {"kind": kind, "amount": amount}))

    async def settle_offer(self, offer_id: str, accepted: bool) -> Offer:
        path = ("offers", _id(offer_id, OfferNotFound), "settle")
        return _read(Offer, await self._call("POST", path, {"accepted": accepted}))

    async def offers_for_case(self, case_id: str) -> tuple[Offer, ...]:
        data = await self._call("GET", ("cases", _id(case_id, CaseNotFound), "offers"))
        offers = data.get("offers") if isinstance(data, dict) else None
        if not isinstance(offers, list):
            raise CrmUnavailable("CRM API answered offers without an 'offers' list")
        return tuple(_read(Offer, offer) for offer in offers)

    async def add_interaction(
        self, customer_id: str, channel: str, kind: str, summary: str
    ) -> None:
        body = {"channel": channel, "kind": kind, "summary": summary}
        await self._call("POST", ("customers", _id(customer_id), "interactions"), body)

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    # -- the one place that talks HTTP ---------------------------------------------------

    async def _call(
        self, method: str, path: tuple[str, ...], body: Any = None, *,
        params: Optional[dict[str, str]] = None, headers: Optional[dict[str, str]] = None,
        idempotent: Optional[bool] = None,
    ) -> Any:
        """One request, retried as `_retries` allows; `idempotent` overrides the method's
        (a POST with an `Idempotency-Key` is as safe to repeat as a PUT)."""
        url = self._base_url + "/" + "/".join(quote(part, safe="") for part in path)
        idempotent = method in IDEMPOTENT if idempotent is None else idempotent
        headers = {**self._headers, **headers} if headers else self._headers
        session = self._client()
        for attempt in range(self._retries + 1):
            last = attempt == self._retries
            try:
                async with session.request(
                    method, url, json=body, params=params, headers=headers,
                    timeout=self._timeout, allow_redirects=False,
                ) as response:
                    if 200 <= response.status < 300:
                        return await _json_or_none(response)
                    if response.status in RETRY_STATUSES and idempotent and not last:
                        await self._pause(attempt, f"{method} {path[0]}: {response.status}")
                        continue
                    raise await _error_for(response)
            except asyncio.TimeoutError as error:
                raise CrmUnavailable(f"CRM API did not answer {method} /{path[0]} in time") \
                    from error
            except aiohttp.ClientConnectorError as error:  # never sent: safe to retry
                if last:
                    raise CrmUnavailable(f"cannot connect to the CRM API ({error.os_error})") \
                        from error
                await self._pause(attempt, f"{method} {path[0]}: cannot connect")
            except aiohttp.ClientError as error:
                if not idempotent or last:
                    raise CrmUnavailable(f"CRM API connection failed ({type(error).__name__})") \
                        from error
                await self._pause(attempt, f"{method} {path[0]}: {type(error).__name__}")
        raise CrmUnavailable("CRM API retries exhausted")  # pragma: no cover

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def _pause(self, attempt: int, why: str) -> None:
        log.info("CRM API request failed (%s); retry %d", why, attempt + 1)
        await asyncio.sleep(self._backoff * (2**attempt))


def _read(cls: type[T], data: Any) -> T:
    try:
        return from_json(cls, data)
    except SerialiseError as error:
        raise CrmUnavailable(f"CRM API answered data Rapport cannot read: {error}") from error


def _id(raw: str, missing: type[CrmError] = CustomerNotFound) -> str:
    key = clean_key(raw)
    if key is None:
        raise missing("no record with that id")
    return key


async def _json_or_none(response: aiohttp.ClientResponse) -> Any:
    if response.status == 204:
        return None
    text = await response.text()
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError as error:
        raise CrmUnavailable("CRM API answered something that is not JSON") from error


async def _error_for(response: aiohttp.ClientResponse) -> CrmError:
    status = response.status
    code, message = "", ""
    with contextlib.suppress(ValueError, UnicodeDecodeError, aiohttp.ClientError):
        data = json.loads(await response.text())  # an error body is optional
        if isinstance(data, dict):
            code = str(data.get("error") or "")
            message = clean_text(data.get("message") or "", 300)
    if status == 404:
        if code in NOT_FOUND_ERRORS:
            return NOT_FOUND_ERRORS[code](message or code.replace("_", " "))
        if code == "identity_not_found":
            return _IdentityNotFound(code)
        if code.endswith("not_found"):
            return CrmUnavailable(f"CRM API answered 404 {code!r}, which Rapport does not know")
        return CrmUnavailable("CRM API answered 404 without an error code: check its base URL")
    if status in (400, 409, 422):
        return InvalidRequest(message or f"CRM API refused the request ({status})")
    if status in (401, 403):
        return CrmUnavailable(f"CRM API refused Rapport's token ({status})")
    return CrmUnavailable(f"CRM API answered {status}")
