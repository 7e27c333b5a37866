"""Agent accounts, sessions, throttling and presence on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.handoff.agents import (
    AgentError, ThrottleRule, hash_password, password_matches, token_hash,
)
from bot.handoff.agents import _hasher as REAL_HASHER  # before the tests swap in a fast one
from bot.handoff.tables import agent_sessions, agents, login_failures

PASSWORD = "correct horse battery"
HOUR = timedelta(hours=1)


async def test_add_stores_only_an_argon2id_hash(directory, db):
    agent = await directory.add("Sam", "agent", PASSWORD)
    assert (agent.name, agent.role, agent.active) == ("Sam", "agent", True)
    with db.engine.connect() as connection:
        stored = connection.execute(select(agents.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


@pytest.mark.parametrize("name, role, password, message", [
    ("sam", "agent", "short", "10 to 1024"),
    ("sam", "boss", PASSWORD, "role must be"),
    ("", "agent", PASSWORD, "agent name"),
    ("sam smith", "agent", PASSWORD, "agent name"),
    ("../x", "agent", PASSWORD, "agent name"),
])
async def test_add_refuses_bad_accounts(directory, name, role, password, message):
    with pytest.raises(AgentError, match=message):
        await directory.add(name, role, password)


async def test_names_are_unique_ignoring_case(directory):
    await directory.add("sam", "agent", PASSWORD)
    with pytest.raises(AgentError, match="already exists"):
        await directory.add("SAM", "admin", PASSWORD)


async def test_authenticate(directory):
    await directory.add("sam", "agent", PASSWORD)
    assert (await directory.authenticate("SAM", PASSWORD)).name == "sam"
    assert await directory.authenticate("sam", PASSWORD + "x") is None
    assert await directory.authenticate("nobody", PASSWORD) is None
    await directory.set_active("sam", False)
    assert await directory.authenticate("sam", PASSWORD) is None


def test_production_hashing_uses_argon2ids_recommended_cost():
    assert REAL_HASHER.memory_cost >= 64 * 1024 and REAL_HASHER.time_cost >= 3
    assert REAL_HASHER.type.name == "ID"


def test_password_checks_never_raise():
    assert password_matches(hash_password(PASSWORD), PASSWORD)
    assert not password_matches("not a hash", PASSWORD)
    assert not password_matches(None, PASSWORD)


async def test_sessions_store_only_a_hash_of_the_token(directory, db):
    agent = await directory.add("sam", "agent", PASSWORD)
    token, session = await directory.open_session(agent, HOUR)
    with db.engine.connect() as connection:
        stored = connection.execute(select(agent_sessions.c.token_hash)).scalar_one()
    assert stored == token_hash(token) and token not in stored
    found = await directory.session(token, HOUR)
    assert found.agent.id == agent.id and found.csrf_token == session.csrf_token
    assert await directory.session(token + "x", HOUR) is None
    assert await directory.session("", HOUR) is None


async def test_sessions_end_on_sign_out_idle_expiry_password_change_and_disabling(directory):
    agent = await directory.add("sam", "agent", PASSWORD)
    token, _ = await directory.open_session(agent, HOUR)
    await directory.close_session(token)
    assert await directory.session(token, HOUR) is None

    token, _ = await directory.open_session(agent, HOUR)
    assert await directory.session(token, timedelta(seconds=-1)) is None  # idle too long
    assert await directory.session(token, HOUR) is None  # and it is gone

    token, _ = await directory.open_session(agent, timedelta(seconds=-1))
    assert await directory.session(token, HOUR) is None  # past its lifetime

    token, _ = await directory.open_session(agent, HOUR)
    await directory.set_password("sam", PASSWORD + "!")
    assert await directory.session(token, HOUR) is None

    token, _ = await directory.open_session(agent, HOUR)
    await directory.set_active("sam", False)
    assert await directory.session(token, HOUR) is None


def rule(key: str, free: int = 2) -> ThrottleRule:
    return ThrottleRule(key, free=free, base=timedelta(seconds=5), cap=timedelta(minutes=1))


def test_delays_grow_from_the_free_tries_to_a_cap():
    delays = [rule("k").delay(failures).total_seconds() for failures in range(8)]
    assert delays == [0, 0, 5, 10, 20, 40, 60, 60]


async def test_failed_sign_ins_slow_down_their_key_only(directory, db):
    for _ in range(2):
        assert (await directory.reserve_login([rule("user:sam")], HOUR)).retry_after == 0
    waiting = await directory.reserve_login([rule("user:sam"), rule("ip:10.0.0.1")], HOUR)
    assert 0 < waiting.retry_after <= 5
    assert (await directory.reserve_login([rule("user:kim")], HOUR)).retry_after == 0
    # once the delay has passed (the failures are older), the next try goes ahead
    await db.run(older, timedelta(seconds=6))
    again = await directory.reserve_login([rule("user:sam")], HOUR)
    assert again.retry_after == 0
    await directory.settle_login(again, True, ["user:sam"])  # a success clears the key
    assert (await directory.reserve_login([rule("user:sam")], HOUR)).retry_after == 0


def older(conn, by: timedelta) -> None:
    """Every login failure `by` older (in Python: SQLite has no datetime arithmetic)."""
    for row in conn.execute(select(login_failures.c.id, login_failures.c.at)).all():
        conn.execute(update(login_failures).where(login_failures.c.id == row.id)
                     .values(at=row.at - by))


async def test_parallel_sign_ins_cannot_all_slip_through(directory):
    """Check and record are one transaction: of 20 at once, only the free tries go ahead."""
    results = await asyncio.gather(*(directory.reserve_login([rule("user:sam", free=3)], HOUR)
                                     for _ in range(20)))
    assert sum(1 for result in results if result.retry_after == 0) == 3


async def test_presence_counts_agents_and_admins_with_a_recent_heartbeat(directory):
    sam = await directory.add("sam", "agent", PASSWORD)
    ana = await directory.add("ana", "analyst", PASSWORD)
    boss = await directory.add("boss", "admin", PASSWORD)
    assert await directory.online(HOUR) == []
    for agent in (sam, ana, boss):
        await directory.heartbeat(agent.id)
    assert [a.name for a in await directory.online(HOUR)] == ["boss", "sam"]
    assert await directory.online(timedelta(seconds=-1)) == []
    await directory.offline(sam.id)
    await directory.set_active("boss", False)
    assert await directory.online(HOUR) == []


async def test_unknown_accounts_cannot_be_changed(directory):
    with pytest.raises(AgentError, match="no agent called"):
        await directory.set_password("ghost", PASSWORD)
    with pytest.raises(AgentError, match="no agent called"):
        await directory.set_active("ghost", False)


async def test_a_display_name_lives_beside_the_account(directory):
    sam = await directory.add("skowalski", "agent", PASSWORD, display_name="Sam")
    kim = await directory.add("kim", "agent", PASSWORD)
    assert (sam.display_name, sam.shown_name, kim.display_name, kim.shown_name) == \
        ("Sam", "Sam", None, "kim")
    signed_in = await directory.authenticate("SKowalski", PASSWORD)
    token, _ = await directory.open_session(signed_in, timedelta(hours=1))
    session = await directory.session(token, timedelta(hours=1))
    assert (session.agent.name, session.agent.shown_name) == ("skowalski", "Sam")
    await directory.set_display_name("kim", "Kim B.")
    assert {a.name: a.shown_name for a in await directory.list()} == \
        {"skowalski": "Sam", "kim": "Kim B."}
    with pytest.raises(AgentError):
        await directory.set_display_name("nobody", "X")


async def test_an_existing_hub_database_gains_the_new_tables_without_alter(tmp_path):
    from bot.handoff.tables import agent_profiles, console_audit, metadata, open_database
    from bot.handoff.agents import AgentDirectory

    url = f"sqlite:///{tmp_path / 'old-hub.db'}"
    schema = "SELECT group_concat(sql, ';') FROM sqlite_master WHERE name LIKE 'agents%'"
    old = open_database(url)
    metadata.create_all(old.engine, tables=[t for t in metadata.sorted_tables
                                            if t not in (agent_profiles, console_audit)])
    with old.engine.connect() as conn:
        before = conn.exec_driver_sql(schema).scalar()
    await old.close()
    database = open_database(url)
    directory = AgentDirectory(database)
    await directory.add("sam", "agent", PASSWORD, display_name="Sam")
    assert [a.shown_name for a in await directory.list()] == ["Sam"]
    after = await database.run(lambda conn: conn.exec_driver_sql(schema).scalar())
    assert after == before and "display_name" not in before  # no ALTER of old tables
    await database.close()
