"""Agent accounts, sessions, throttling and presence on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.handoff.agents import AgentError, hash_password, password_matches, token_hash
from bot.handoff.agents import _hasher as REAL_HASHER  # before the tests swap in a fast one
from bot.handoff.tables import agent_sessions, agents

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


async def test_failed_sign_ins_are_counted_per_key_and_cleared(directory):
    keys = ["user:sam", "ip:10.0.0.1"]
    await directory.record_failure(keys)
    await directory.record_failure(keys)
    await directory.record_failure(["user:kim", "ip:10.0.0.1"])
    counts = await directory.failures(keys + ["user:kim"], timedelta(minutes=15))
    assert counts == {"user:sam": 2, "ip:10.0.0.1": 3, "user:kim": 1}
    await directory.clear_failures("user:sam")
    assert (await directory.failures(["user:sam"], timedelta(minutes=15)))["user:sam"] == 0
    assert (await directory.failures(keys, timedelta(seconds=-1)))["ip:10.0.0.1"] == 0


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
