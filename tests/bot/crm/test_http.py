"""HttpCrm against the reference API server (over a seeded SqlCrm) and misbehaving servers."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest
from aiohttp import web

from bot.crm import (
    CaseNotFound, CrmUnavailable, CustomerNotFound, InvalidRequest, NewCase, OfferNotFound,
    OrderNotFound,
)
from bot.crm.http import HttpCrm
from bot.crm.interface import AttemptCounts, AttemptKeys
from bot.crm.reference_server import create_crm_api
from bot.crm.serialise import to_json

from .helpers import API_TOKEN

pytestmark = pytest.mark.asyncio(loop_scope="session")  # the loop the fixtures run on

ADA = "C-000000000001"
KEYS = AttemptKeys(conversation_id="c", order_number="RP-100001", client="rest:app",
                   contact_hash="h")
NOW = datetime(2026, 11, 30, tzinfo=timezone.utc)


async def test_http_answers_equal_the_sql_answers(crm, http_crm):
    for number in ("RP-100001", "RP-100002", "RP-100003", "RP-100005"):
        assert await http_crm.get_order(number) == await crm.get_order(number)
    assert await http_crm.get_customer(ADA) == await crm.get_customer(ADA)
    assert await http_crm.customer_card("C-000000000003") == await crm.customer_card(
        "C-000000000003")


async def test_a_whole_complaint_over_http(crm, http_crm):
    await http_crm.link_identity("telegram", "42", ADA)
    assert await http_crm.find_identity("telegram", "42") == ADA
    assert await http_crm.find_identity("telegram", "43") is None
    await http_crm.link_identity("rest", "ada+shop@example.com:1=2", ADA)  # quoted in the path
    assert await crm.find_identity("rest", "ada+shop@example.com:1=2") == ADA
    since = datetime.now(timezone.utc) - timedelta(minutes=1)
    keys = AttemptKeys(conversation_id="c1", order_number="RP-100003", client="rest:app",
                       contact_hash="h")
    first = await http_crm.reserve_verification_attempt(keys, since=since, breaker_since=since)
    assert first.counts == AttemptCounts(0, 0, 0, 0, 0, 0, 0)
    await http_crm.settle_verification_attempt(first.attempt_id, "failed")
    second = await http_crm.reserve_verification_attempt(keys, since=since, breaker_since=since)
    assert second.counts == AttemptCounts(1, 1, 1, 1, 1, 1, 1)
    await http_crm.settle_verification_attempt(second.attempt_id, "refused")
    with pytest.raises(InvalidRequest):
        await http_crm.settle_verification_attempt(second.attempt_id, "failed")  # forgotten

    case = await http_crm.open_case(NewCase(
        customer_id=ADA, order_number="RP-100003", category="damaged", severity="high",
        severity_score=0.75, severity_reasons=("damaged",), description="dented pans",
    ))
    assert await crm.get_case(case.id) == case
    offer = await http_crm.make_offer(case.id, "voucher", 20.0)
    settled = await http_crm.settle_offer(offer.id, True)
    assert settled.voucher_code and settled.voucher_code.startswith("LO-")
    assert await http_crm.offers_for_case(case.id) == (settled,)
    updated = await http_crm.update_case(case.id, status="resolved", resolved=True, csat=4)
    assert (updated.status, updated.csat) == ("resolved", 4)
    added = await http_crm.update_case(case.id, add_detail="the lid is cracked too")
    assert added.description == "dented pans\nthe lid is cracked too"
    await http_crm.add_interaction(ADA, "telegram", "csat", "rated 4")
    assert (await crm.customer_card(ADA)).timeline[0].summary == "rated 4"


async def test_named_errors_cross_http(http_crm):
    with pytest.raises(OrderNotFound):
        await http_crm.get_order("RP-999999")
    with pytest.raises(CustomerNotFound):
        await http_crm.customer_card("C-nobody")
    with pytest.raises(CaseNotFound):
        await http_crm.get_case("CS-nothing")
    with pytest.raises(OfferNotFound):
        await http_crm.settle_offer("OF-nothing", False)
    with pytest.raises(InvalidRequest):
        await http_crm.make_offer((await _any_case(http_crm)).id, "free_pony")
    with pytest.raises(InvalidRequest):
        await http_crm.update_case((await _any_case(http_crm)).id, csat=9)


async def _any_case(crm):
    return await crm.open_case(NewCase(
        customer_id=ADA, order_number=None, category="bad_service", severity="low",
        severity_score=0.2, severity_reasons=(), description="rude courier"))


# -- misbehaving servers -----------------------------------------------------------------


class Scripted:
    """A server that answers each request with the next scripted (status, body, delay).

    It keeps each request's (method, path, headers) in `requests` and its body in `bodies`.
    """

    def __init__(self, *answers: tuple[int, object, float]) -> None:
        self.answers = list(answers)
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.bodies: list[bytes] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.method, request.path_qs, dict(request.headers)))
        self.bodies.append(await request.read())
        status, body, delay = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if delay:
            await asyncio.sleep(delay)
        if isinstance(body, str):
            return web.Response(status=status, text=body)
        headers = {"Location": "http://example.invalid/"} if 300 <= status < 400 else None
        return web.json_response(body, status=status, headers=headers)


ORDER = {
    "number": "RP-100001", "customer_id": ADA, "status": "shipped",
    "placed_at": "2026-03-14T10:00:00Z", "total": 78.95, "currency": "EUR", "carrier": "DPD",
    "shipped_at": "2026-03-15T15:00:00+00:00", "promised_date": "2026-03-17",
    "delivered_at": None, "email": "ada@example.com", "postcode": "1012 AB",
    "lines": [{"sku": "LO-0001", "product_name": "Skillet", "quantity": 1, "unit_price": 49.95}],
    "something_new": "ignored",
}


@pytest.fixture
async def scripted_crm(aiohttp_server):
    """Start a Scripted server: `client, server = await scripted_crm(Scripted(...), **opts)`."""
    clients = []

    async def start(scripted: Scripted, **options) -> HttpCrm:
        server = await aiohttp_server(scripted.app())
        session = aiohttp.ClientSession()
        options = {"api_token": "t0k3n", "timeout": 2.0, "retries": 2, "backoff": 0.01,
                   **options}
        client = HttpCrm(session, str(server.make_url("/api")), **options)
        clients.append((client, session))
        return client

    yield start
    for client, session in clients:
        await client.close()
        await session.close()


async def test_sends_the_bearer_token_and_reads_the_order(scripted_crm):
    scripted = Scripted((200, ORDER, 0))
    order = await (await scripted_crm(scripted)).get_order("rp-100001")
    assert order.lines[0].unit_price == 49.95 and order.placed_at.tzinfo is not None
    method, path, headers = scripted.requests[0]
    assert (method, path) == ("GET", "/api/orders/RP-100001")
    assert headers["Authorization"] == "Bearer t0k3n"


async def test_reference_server_requires_the_token(crm, aiohttp_server):
    server = await aiohttp_server(create_crm_api(crm, api_token=API_TOKEN))
    async with aiohttp.ClientSession() as session:
        for token in (None, "wrong"):
            client = HttpCrm(session, str(server.make_url("/")), api_token=token)
            with pytest.raises(CrmUnavailable, match="401"):
                await client.get_order("RP-100001")
        async with session.get(server.make_url("/orders/RP-100001")) as response:
            assert response.status == 401
            assert "ada@example.com" not in await response.text()


async def test_a_slow_server_times_out_without_retrying(scripted_crm):
    scripted = Scripted((200, ORDER, 3.0))
    client = await scripted_crm(scripted, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(CrmUnavailable, match="in time"):
        await client.get_order("RP-100001")
    assert time.monotonic() - started < 1.5
    assert len(scripted.requests) == 1


async def test_a_flaky_server_is_retried_on_idempotent_requests(scripted_crm):
    scripted = Scripted((503, {"error": "busy"}, 0), (502, "bad gateway", 0), (200, ORDER, 0))
    assert (await (await scripted_crm(scripted)).get_order("RP-100001")).number == "RP-100001"
    assert len(scripted.requests) == 3


async def test_retries_give_up_after_the_configured_number(scripted_crm):
    scripted = Scripted((504, "", 0))
    with pytest.raises(CrmUnavailable, match="504"):
        await (await scripted_crm(scripted, retries=2)).get_order("RP-100001")
    assert len(scripted.requests) == 3


async def test_a_post_is_not_retried_after_it_was_sent(scripted_crm):
    scripted = Scripted((503, "", 0), (201, "", 0))
    client = await scripted_crm(scripted)
    with pytest.raises(CrmUnavailable, match="503"):
        await client.reserve_verification_attempt(KEYS, since=NOW, breaker_since=NOW)
    assert len(scripted.requests) == 1


async def test_a_refused_connection_is_retried_then_unavailable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with aiohttp.ClientSession() as session:
        client = HttpCrm(session, f"http://127.0.0.1:{port}", retries=2, backoff=0.01)
        with pytest.raises(CrmUnavailable, match="cannot connect"):
            await client.reserve_verification_attempt(KEYS, since=NOW, breaker_since=NOW)


@pytest.mark.parametrize("status, body, error", [
    (404, {"error": "order_not_found", "message": "no order"}, OrderNotFound),
    (404, "Not Found", CrmUnavailable),  # a wrong base URL is not "no such order"
    (404, {"error": "widget_not_found"}, CrmUnavailable),
    (422, {"error": "invalid_request", "message": "bad"}, InvalidRequest),
    (500, {"error": "boom"}, CrmUnavailable),
    (302, {}, CrmUnavailable),  # redirects are not followed (they could leak the token)
    (200, "<html>not json</html>", CrmUnavailable),
    (200, {"number": "RP-100001"}, CrmUnavailable),  # not an Order
    (200, {**ORDER, "total": "a lot"}, CrmUnavailable),
])
async def test_answers_map_to_named_errors(scripted_crm, status, body, error):
    client = await scripted_crm(Scripted((status, body, 0)))
    with pytest.raises(error):
        await client.get_order("RP-100001")


async def test_identity_not_found_is_none(scripted_crm):
    client = await scripted_crm(Scripted((404, {"error": "identity_not_found"}, 0)))
    assert await client.find_identity("telegram", "99") is None
    with pytest.raises(CrmUnavailable):  # the same answer to another question
        await client.get_order("RP-100001")


async def test_update_sends_only_what_changes(scripted_crm):
    case = {"id": "CS-1", "customer_id": ADA, "order_number": None, "category": "damaged",
            "severity": "low", "severity_score": 0.1, "severity_reasons": [], "status": "closed",
            "description": "x", "resolution": None, "resolved": None, "csat": 5,
            "created_at": "2026-03-14T10:00:00Z", "updated_at": "2026-03-14T10:00:00Z"}
    scripted = Scripted((200, case, 0))
    client = await scripted_crm(scripted)
    assert (await client.update_case("CS-1", status="closed", csat=5)).csat == 5
    assert scripted.requests[0][:2] == ("PATCH", "/api/cases/CS-1")
    assert json.loads(scripted.bodies[0]) == {"status": "closed", "csat": 5}


def test_new_case_body_is_the_serialised_dataclass():
    new_case = NewCase(customer_id=ADA, order_number=None, category="damaged", severity="low",
                       severity_score=0.1, severity_reasons=("a",), description="d")
    assert to_json(new_case)["severity_reasons"] == ["a"]


# -- one case per Idempotency-Key ----------------------------------------------------------


def _keyed_case(key, **changes) -> NewCase:
    values = dict(customer_id=ADA, order_number="RP-100003", category="damaged",
                  severity="high", severity_score=0.75, severity_reasons=("damaged",),
                  description="dented pans", request_key=key)
    return NewCase(**{**values, **changes})


def _stored_keys(engine) -> dict[str, str]:
    from sqlalchemy import text

    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT id, request_key FROM cases WHERE request_key IS NOT NULL")).all()
    return {case_id: key for case_id, key in rows}


async def test_the_key_reaches_the_reference_server_and_a_repeat_is_the_same_case(
        crm, http_crm, seeded):
    first = await http_crm.open_case(_keyed_case("telegram-42:upd-9"))
    await http_crm.update_case(first.id, status="offered")
    again = await http_crm.open_case(_keyed_case("telegram-42:upd-9", description="again"))
    other = await http_crm.open_case(_keyed_case("telegram-42:upd-10"))
    plain = [await http_crm.open_case(_keyed_case(None)) for _ in range(2)]
    assert (again.id, again.status, again.description) == (first.id, "offered", "dented pans")
    assert len({first.id, other.id, *(case.id for case in plain)}) == 4
    assert _stored_keys(seeded) == {first.id: "telegram-42:upd-9", other.id: "telegram-42:upd-10"}
    assert await crm.open_case(_keyed_case("telegram-42:upd-9")) == again  # one key, any door


async def test_concurrent_keyed_posts_give_one_case(http_crm, seeded):
    cases = await asyncio.gather(*(http_crm.open_case(_keyed_case("web:replayed"))
                                   for _ in range(6)))
    assert len({case.id for case in cases}) == 1
    assert list(_stored_keys(seeded).values()) == ["web:replayed"]


@pytest.mark.parametrize("key", ["", " padded", "x" * 201, "line\r\nX-Injected: 1", 7])
async def test_a_bad_key_is_refused_before_it_is_sent(scripted_crm, key):
    scripted = Scripted((201, {}, 0))
    client = await scripted_crm(scripted)
    with pytest.raises(InvalidRequest, match="request_key"):
        await client.open_case(_keyed_case(key))
    assert scripted.requests == []


async def test_the_reference_server_refuses_a_bad_key_header(crm, aiohttp_server):
    server = await aiohttp_server(create_crm_api(crm, api_token=API_TOKEN))
    body = to_json(_keyed_case(None))
    headers = {"Authorization": f"Bearer {API_TOKEN}", "Idempotency-Key": "k" * 201}
    async with aiohttp.ClientSession() as session:
        async with session.post(server.make_url("/cases"), json=body,
                                headers=headers) as response:
            assert response.status == 422
            assert "request_key" in (await response.json())["message"]


async def test_the_header_wins_over_a_key_in_the_body(crm, aiohttp_server, seeded):
    server = await aiohttp_server(create_crm_api(crm, api_token=API_TOKEN))
    body = {**to_json(_keyed_case(None)), "request_key": "from-the-body"}
    headers = {"Authorization": f"Bearer {API_TOKEN}", "Idempotency-Key": "from-the-header"}
    async with aiohttp.ClientSession() as session:
        async with session.post(server.make_url("/cases"), json=body,
                                headers=headers) as response:
            assert response.status == 201
    assert list(_stored_keys(seeded).values()) == ["from-the-header"]


CASE = {"id": "CS-1", "customer_id": ADA, "order_number": None, "category": "damaged",
        "severity": "low", "severity_score": 0.1, "severity_reasons": [], "status": "open",
        "description": "x", "resolution": None, "resolved": None, "csat": None,
        "created_at": "2026-03-14T10:00:00Z", "updated_at": "2026-03-14T10:00:00Z"}


async def test_a_keyed_case_post_is_retried_like_an_idempotent_request(scripted_crm):
    scripted = Scripted((503, {"error": "busy"}, 0), (502, "bad gateway", 0), (201, CASE, 0))
    client = await scripted_crm(scripted)
    assert (await client.open_case(_keyed_case("conv:msg-1"))).id == "CS-1"
    assert len(scripted.requests) == 3
    assert {request[2]["Idempotency-Key"] for request in scripted.requests} == {"conv:msg-1"}
    assert all("request_key" not in json.loads(body) for body in scripted.bodies)


async def test_an_unkeyed_case_post_is_still_not_retried(scripted_crm):
    scripted = Scripted((503, "", 0), (201, CASE, 0))
    client = await scripted_crm(scripted)
    with pytest.raises(CrmUnavailable, match="503"):
        await client.open_case(_keyed_case(None))
    assert len(scripted.requests) == 1
    assert "Idempotency-Key" not in scripted.requests[0][2]


async def test_a_keyed_case_post_is_retried_after_a_dropped_connection(aiohttp_server):
    """The connection drops after the request was sent: with a key, sending it again is safe."""
    seen: list[str] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        seen.append(request.headers.get("Idempotency-Key", ""))
        if len(seen) == 1:
            request.transport.close()  # no answer at all: a ServerDisconnectedError
            return web.Response(status=500)
        return web.json_response(CASE, status=201)

    app = web.Application()
    app.router.add_post("/cases", handle)
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession() as session:
        client = HttpCrm(session, str(server.make_url("/")), retries=2, backoff=0.01)
        assert (await client.open_case(_keyed_case("conv:msg-2"))).id == "CS-1"
    assert seen == ["conv:msg-2", "conv:msg-2"]
