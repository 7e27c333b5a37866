"""Console security: sessions, redirects and 401s, CSRF, throttling, cookies, headers."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.handoff.tables import login_failures
from bot.hub import auth, keys
from tests.bot.hub.conftest import PASSWORD, Console, waiting_handoff


def console_routes(app):
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or ""
        if path.startswith(("/console", "/api/console")) and route.method != "HEAD":
            yield route.method, path.replace("{handoff_id}", "H-0123456789AB")


async def test_every_console_route_needs_a_session(hub):
    routes = sorted(set(console_routes(hub.server.app)))
    assert len(routes) >= 15
    for method, path in routes:
        answer = await hub.request(method, path, allow_redirects=False)
        if path.startswith("/api/"):
            assert answer.status == 401, (method, path)
            assert (await answer.json()) == {"error": "sign in first"}
        else:
            assert answer.status == 303, (method, path)
            assert answer.headers["Location"].startswith("/login?next=/console")


async def test_a_page_remembers_where_you_were_going(hub):
    answer = await hub.get("/console/handoffs/H-1?x=1", allow_redirects=False)
    assert answer.headers["Location"] == "/login?next=/console/handoffs/H-1%3Fx%3D1"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/console/..//x",
                                    "/elsewhere", "/console\\@evil"])
def test_no_open_redirect_after_sign_in(target):
    assert auth.safe_next(target) == "/console"


async def test_sign_in_sets_a_strict_http_only_cookie_and_sign_out_ends_it(hub, console):
    await hub.server.app[keys.AGENTS].add("sam", "agent", PASSWORD)
    page = await (await hub.get("/login")).text()
    login_token = re.search(r'name="login_token" value="([^"]+)"', page).group(1)
    answer = await hub.post("/login", data={"name": "sam", "password": PASSWORD,
                                            "login_token": login_token}, allow_redirects=False)
    assert answer.status == 303 and answer.headers["Location"] == "/console"
    cookie = answer.cookies[auth.COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
    assert int(cookie["max-age"]) == 12 * 3600
    token = cookie.value
    sam = Console(hub, "sam")
    sam.csrf = re.search(r'name="csrf-token" content="([^"]+)"',
                         await (await hub.get("/console")).text()).group(1)
    answer = await sam.post("/console/logout")
    assert answer.status == 303 and answer.headers["Location"] == "/login"
    assert await hub.server.app[keys.AGENTS].session(token, auth.SESSION_IDLE) is None
    hub.session.cookie_jar.update_cookies({auth.COOKIE: token})  # replaying the old cookie
    assert (await hub.get("/api/console/queue")).status == 401


async def test_a_planted_session_cookie_is_replaced_at_sign_in(hub):
    await hub.server.app[keys.AGENTS].add("sam", "agent", PASSWORD)
    hub.session.cookie_jar.update_cookies({auth.COOKIE: "planted-by-an-attacker"})
    assert await Console(hub, "sam").sign_in() == 303
    token = hub.session.cookie_jar.filter_cookies(hub.make_url("/"))[auth.COOKIE].value
    assert token != "planted-by-an-attacker" and len(token) >= 40


async def test_wrong_password_and_unknown_names_look_the_same(hub):
    await hub.server.app[keys.AGENTS].add("sam", "agent", PASSWORD)
    for name, password in (("sam", "wrong password!"), ("nobody", PASSWORD)):
        answer = await Console(hub, name).sign_in(password)
        assert answer == 401
    assert (await hub.get("/api/console/queue")).status == 401


async def test_the_login_form_needs_its_signed_token(hub):
    await hub.server.app[keys.AGENTS].add("sam", "agent", PASSWORD)
    await hub.get("/login")  # sets the nonce cookie
    for token in ("", "forged", "0" * 64):
        answer = await hub.post("/login", data={"name": "sam", "password": PASSWORD,
                                                "login_token": token}, allow_redirects=False)
        assert answer.status == 403
    assert (await hub.get("/api/console/queue")).status == 401


async def test_sign_in_is_slowed_per_name(hub):
    await hub.server.app[keys.AGENTS].add("sam", "agent", PASSWORD)
    browser = Console(hub, "sam")
    for _ in range(auth.PER_NAME_AND_ADDRESS["free"]):
        assert await browser.sign_in("wrong password!") == 401
    assert await browser.sign_in(PASSWORD) == 429  # even the right password waits
    assert await Console(hub, "kim").sign_in("whatever it is") == 401  # other names go on


async def test_a_slowed_sign_in_says_how_long_and_works_after_the_wait(hub):
    await hub.server.app[keys.AGENTS].add("sam", "agent", PASSWORD)
    browser = Console(hub, "sam")
    waits = []
    for _ in range(auth.PER_NAME_AND_ADDRESS["free"] + 6):
        if await browser.sign_in("wrong password!") == 429:
            waits.append(await retry_after(hub, "sam"))
            await age_failures(hub, timedelta(seconds=waits[-1] + 1))
    assert waits and waits == sorted(waits) and waits[-1] > waits[0]  # progressive
    await age_failures(hub, timedelta(minutes=20))
    assert await browser.sign_in(PASSWORD) == 303  # a delay, never a lockout


async def test_behind_a_trusted_proxy_each_client_is_throttled_on_its_own(
        aiohttp_client, hub_settings, sender):
    """20 bad sign-ins through the proxy used to lock every agent out (all from 127.0.0.1)."""
    from bot.channel_registry import ChannelPlugin, ChannelRegistry
    from bot.hub.app import create_app

    settings = hub_settings.with_changes(trusted_proxies=("127.0.0.1",))
    recording = ChannelPlugin("recording", reaches=("webchat", "rest", "telegram"),
                              make_sender=lambda settings: sender)
    client = await aiohttp_client(create_app(settings, channels=ChannelRegistry([recording])))
    await client.server.app[keys.AGENTS].add("sam", "agent", PASSWORD)
    for number in range(auth.PER_ADDRESS["free"] + 5):
        status = await Console(client, f"guess{number}").sign_in(
            "wrong password!", headers={"X-Forwarded-For": "203.0.113.9"})
        assert status in (401, 429)
    assert await Console(client, "guess99").sign_in(
        "wrong password!", headers={"X-Forwarded-For": "203.0.113.9"}) == 429
    assert await Console(client, "sam").sign_in(
        PASSWORD, headers={"X-Forwarded-For": "198.51.100.7"}) == 303


async def test_without_a_trusted_proxy_forwarded_for_is_ignored(hub):
    for number in range(auth.PER_ADDRESS["free"]):
        await Console(hub, f"guess{number}").sign_in(
            "wrong password!", headers={"X-Forwarded-For": f"203.0.113.{number}"})
    assert await Console(hub, "guess99").sign_in(
        "wrong password!", headers={"X-Forwarded-For": "198.51.100.7"}) == 429


async def test_passwords_and_failed_names_never_reach_the_log(hub, caplog):
    caplog.set_level(logging.DEBUG)
    await hub.server.app[keys.AGENTS].add("sam", "agent", PASSWORD)
    await Console(hub, "sam").sign_in("a wrong secret guess")
    await Console(hub, "my-Secret-Passw0rd").sign_in("typed in the wrong field")
    await Console(hub, "sam").sign_in(PASSWORD)
    assert "secret guess" not in caplog.text and PASSWORD not in caplog.text
    assert "my-Secret-Passw0rd" not in caplog.text
    assert "failed sign-in" in caplog.text
    assert f"#{auth.name_digest('my-Secret-Passw0rd')}" in caplog.text


async def retry_after(client, name: str) -> int:
    page = await client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', await page.text()).group(1)
    answer = await client.post("/login", data={"name": name, "password": "x" * 12,
                                               "login_token": token}, allow_redirects=False)
    assert answer.status == 429
    return int(answer.headers["Retry-After"])


async def age_failures(client, by: timedelta) -> None:
    """Let time pass for the throttle: every recorded failure becomes older by `by`."""
    await client.server.app[keys.AGENTS].db.run(older, by)


def older(conn, by: timedelta) -> None:
    """Every login failure `by` older (in Python: SQLite has no datetime arithmetic)."""
    for row in conn.execute(select(login_failures.c.id, login_failures.c.at)).all():
        conn.execute(update(login_failures).where(login_failures.c.id == row.id)
                     .values(at=row.at - by))


async def test_a_forged_or_missing_csrf_token_is_refused(hub, console, desk):
    sam = await console("sam")
    handoff = await waiting_handoff(desk)
    for data, headers in (({"csrf_token": "forged"}, {}), ({}, {}),
                          ({}, {"X-CSRF-Token": "forged"})):
        answer = await hub.post(f"/console/handoffs/{handoff.id}/claim", data=data,
                                headers=headers, allow_redirects=False)
        assert answer.status == 403
    assert (await desk.store.get(handoff.id)).state == "waiting"
    answer = await hub.post(f"/console/handoffs/{handoff.id}/claim",
                            headers={"X-CSRF-Token": sam.csrf, "Accept": "application/json"})
    assert answer.status == 200 and (await desk.store.get(handoff.id)).state == "assigned"


async def test_another_sessions_csrf_token_is_refused(hub, console, desk):
    sam = await console("sam")
    kim = await console("kim")
    handoff = await waiting_handoff(desk)
    answer = await kim.client.post(f"/console/handoffs/{handoff.id}/claim",
                                   data={"csrf_token": sam.csrf}, allow_redirects=False)
    assert answer.status == 403


async def test_console_responses_carry_security_headers(hub, console):
    await console("sam")
    for path in ("/login", "/console", "/api/console/queue", "/console/handoffs/H-nope"):
        answer = await hub.get(path)
        policy = answer.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["Cache-Control"] == "no-store"


async def test_pages_load_nothing_from_elsewhere(hub, console, desk):
    await console("sam")
    handoff = await waiting_handoff(desk)
    for path in ("/login", "/console", f"/console/handoffs/{handoff.id}"):
        html = await (await hub.get(path)).text()
        assert not re.search(r'(src|href)="(https?:)?//', html), path
        assert "<script>" not in html and " style=" not in html and "onclick" not in html


async def test_a_disabled_account_is_signed_out_at_once(hub, console):
    await console("sam")
    await hub.server.app[keys.AGENTS].set_active("sam", False)
    assert (await hub.get("/api/console/queue")).status == 401
