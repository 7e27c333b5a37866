"""Agent accounts, console sessions, login throttling and presence, in the hub database.

Sign-in throttling is progressive delays, not a lockout: each `ThrottleRule` lets `free`
failures through, then makes the next attempt wait `base`, doubling per failure up to `cap`.
An attempt is reserved (recorded as a failure) and the delays checked in one serialised
transaction before the password is checked, so parallel guesses cannot all slip through; a
success removes the reservation.

Passwords are hashed with argon2id (argon2-cffi's defaults); a session cookie carries a
random token of which only the SHA-256 is stored, so a copy of the database opens no
session. Presence is the console's heartbeat: an agent counts as online while their
console has been connected within the presence window.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from bot.database import aware, naive, utcnow
from bot.handoff.tables import (
    Database, agent_profiles, agent_sessions, agents, login_failures, new_hub_id,
)

ROLES = ("agent", "analyst", "admin")
HANDLING_ROLES = ("agent", "admin")  # roles that take handoffs (and count as online)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
MAX_DISPLAY_NAME = 64

_hasher = PasswordHasher()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Verified against when the name is unknown, so both cases take as long."""
    return _hasher.hash(secrets.token_urlsafe(16))


_LOGIN_LOCK_KEY = 0x52617077  # PostgreSQL advisory lock serialising sign-in reservations


@dataclass(frozen=True)
class ThrottleRule:
    """Failures under `key` allowed before the next attempt must wait, and how long."""

    key: str
    free: int
    base: timedelta
    cap: timedelta

    def delay(self, failures: int) -> timedelta:
        if failures < self.free:
            return timedelta(0)
        return min(self.cap, self.base * 2 ** min(failures - self.free, 30))


@dataclass(frozen=True)
class LoginReservation:
    """A reserved sign-in attempt (`ids` of its failure rows), or how long to wait first."""

    ids: tuple[int, ...] = ()
    retry_after: int = 0  # seconds; 0: go ahead


class AgentError(ValueError):
    """An agent account request Rapport refuses (the message says why)."""


@dataclass(frozen=True)
class Agent:
    id: str
    name: str
    role: str
    active: bool
    created_at: datetime
    last_seen_at: Optional[datetime] = None
    display_name: Optional[str] = None  # shown to customers; None: the login name

    @property
    def handles_handoffs(self) -> bool:
        return self.role in HANDLING_ROLES

    @property
    def shown_name(self) -> str:
        """The name customers (and Rasa's transcript) see: never the login name if one is set."""
        return self.display_name or self.name


@dataclass(frozen=True)
class ConsoleSession:
    agent: Agent
    csrf_token: str
    expires_at: datetime


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise AgentError("an agent name is 1-64 letters, digits, '.', '_' or '-', "
                         "starting with a letter or digit")
    return name


def check_display_name(display_name: Optional[str]) -> Optional[str]:
    """A display name: 1-64 printable characters, trimmed; None or blank: none."""
    if display_name is None:
        return None
    if not isinstance(display_name, str):
        raise AgentError("a display name is text")
    display_name = " ".join(display_name.split())
    if not display_name:
        return None
    if len(display_name) > MAX_DISPLAY_NAME or not display_name.isprintable():
        raise AgentError(f"a display name is 1-{MAX_DISPLAY_NAME} printable characters")
    return display_name


def check_password(password: str) -> str:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AgentError(f"a password needs {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(check_password(password))


def password_matches(password_hash: Optional[str], password: str) -> bool:
    """argon2 verification; an unknown account still costs one verification."""
    try:
        matched = _hasher.verify(password_hash or _dummy_hash(), password)
        return matched and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _agent(row) -> Agent:
    return Agent(row.id, row.name, row.role, bool(row.active), aware(row.created_at),
                 aware(row.last_seen_at), row.display_name)


def _agent_rows():
    """SELECT agents with their display name (agent_profiles, outer join)."""
    return select(agents, agent_profiles.c.display_name).select_from(
        agents.outerjoin(agent_profiles, agent_profiles.c.agent_id == agents.c.id))


class AgentDirectory:
    """Accounts, sessions, throttling and presence (all calls run off the event loop)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- accounts ----------------------------------------------------------------------

    async def add(self, name: str, role: str, password: str,
                  display_name: Optional[str] = None) -> Agent:
        check_name(name)
        if role not in ROLES:
            raise AgentError(f"role must be one of {', '.join(ROLES)}")
        display_name = check_display_name(display_name)
        hashed = hash_password(password)
        return await self.db.run(_add, name, role, hashed, display_name)

    async def set_display_name(self, name: str, display_name: Optional[str]) -> None:
        """Set (or, with None, remove) the name customers see for this agent."""
        await self.db.run(_set_display_name, name, check_display_name(display_name))

    async def set_password(self, name: str, password: str) -> None:
        hashed = hash_password(password)
        await self.db.run(_set, name, {"password_hash": hashed})

    async def set_active(self, name: str, active: bool) -> None:
        await self.db.run(_set, name, {"active": active})

    async def list(self) -> list[Agent]:
        return await self.db.run(_list)

    async def get(self, agent_id: str) -> Optional[Agent]:
        return await self.db.run(_get, agent_id)

    async def authenticate(self, name: str, password: str) -> Optional[Agent]:
        """The active agent with this name and password, else None (same cost either way)."""
        row = await self.db.run(_by_login, str(name or "")[:64].lower())
        ok = await asyncio.to_thread(password_matches, row.password_hash if row else None,
                                     str(password or "")[:MAX_PASSWORD])
        if not ok or row is None or not row.active:
            return None
        return _agent(row)

    # -- sessions ----------------------------------------------------------------------

    async def open_session(self, agent: Agent, lifetime: timedelta) -> tuple[str, ConsoleSession]:
        """A new session: (the cookie's token, the session). The token is never stored."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = utcnow()
        await self.db.run(_open_session, token_hash(token), agent.id, csrf, now, now + lifetime)
        return token, ConsoleSession(agent, csrf, now + lifetime)

    async def session(self, token: str, idle: timedelta) -> Optional[ConsoleSession]:
        """The live session for a cookie token (and its active agent), else None."""
        if not token or len(token) > 200:
            return None
        return await self.db.run(_session, token_hash(token), utcnow(), idle)

    async def close_session(self, token: str) -> None:
        await self.db.run(_close_session, token_hash(token))

    # -- throttling --------------------------------------------------------------------

    async def reserve_login(self, rules: list[ThrottleRule],
                            window: timedelta) -> LoginReservation:
        """Record this attempt as a failure under every rule's key, unless one says wait."""
        return await self.db.run(_reserve_login, rules, utcnow(), window)

    async def settle_login(self, reservation: LoginReservation, succeeded: bool,
                           clear_keys: list[str] = ()) -> None:
        """A success removes the reservation and the failures under `clear_keys`."""
        if succeeded:
            await self.db.run(_clear_login, list(reservation.ids), list(clear_keys))

    # -- presence ----------------------------------------------------------------------

    async def heartbeat(self, agent_id: str) -> None:
        await self.db.run(_touch, agent_id, utcnow())

    async def offline(self, agent_id: str) -> None:
        await self.db.run(_touch, agent_id, None)

    async def online(self, window: timedelta) -> list[Agent]:
        """Active agents who take handoffs and whose console was live within `window`."""
        return await self.db.run(_online, utcnow() - window)


def _add(conn: Connection, name: str, role: str, hashed: str,
         display_name: Optional[str] = None) -> Agent:
    if conn.execute(select(agents.c.id).where(agents.c.login == name.lower())).first():
        raise AgentError(f"an agent called {name} already exists")
    values = {"id": new_hub_id("A-"), "name": name, "login": name.lower(), "role": role,
              "password_hash": hashed, "active": True, "created_at": naive(utcnow())}
    try:
        conn.execute(insert(agents).values(**values))
    except IntegrityError as error:
        raise AgentError(f"an agent called {name} already exists") from error
    if display_name:
        conn.execute(insert(agent_profiles).values(agent_id=values["id"],
                                                   display_name=display_name))
    return _agent(conn.execute(_agent_rows().where(agents.c.id == values["id"])).one())


def _set_display_name(conn: Connection, name: str, display_name: Optional[str]) -> None:
    agent_id = conn.execute(select(agents.c.id).where(agents.c.login == name.lower())).scalar()
    if agent_id is None:
        raise AgentError(f"no agent called {name}")
    conn.execute(delete(agent_profiles).where(agent_profiles.c.agent_id == agent_id))
    if display_name:
        conn.execute(insert(agent_profiles).values(agent_id=agent_id, display_name=display_name))


def _set(conn: Connection, name: str, values: dict) -> None:
    result = conn.execute(update(agents).where(agents.c.login == name.lower()).values(**values))
    if result.rowcount != 1:
        raise AgentError(f"no agent called {name}")
    if values.get("active") is False or "password_hash" in values:
        ids = select(agents.c.id).where(agents.c.login == name.lower()).scalar_subquery()
        conn.execute(delete(agent_sessions).where(agent_sessions.c.agent_id == ids))


def _list(conn: Connection) -> list[Agent]:
    return [_agent(row) for row in conn.execute(_agent_rows().order_by(agents.c.login))]


def _get(conn: Connection, agent_id: str) -> Optional[Agent]:
    row = conn.execute(_agent_rows().where(agents.c.id == agent_id)).first()
    return _agent(row) if row else None


def _by_login(conn: Connection, login: str):
    return conn.execute(_agent_rows().where(agents.c.login == login)).first()


def _open_session(conn: Connection, hashed: str, agent_id: str, csrf: str, now: datetime,
                  expires: datetime) -> None:
    conn.execute(delete(agent_sessions).where(agent_sessions.c.expires_at < naive(now)))
    conn.execute(insert(agent_sessions).values(
        token_hash=hashed, agent_id=agent_id, csrf_token=csrf, created_at=naive(now),
        expires_at=naive(expires), last_used_at=naive(now)))


def _session(conn: Connection, hashed: str, now: datetime, idle: timedelta):
    row = conn.execute(
        select(agent_sessions, agents, agent_profiles.c.display_name)
        .join(agents, agents.c.id == agent_sessions.c.agent_id)
        .outerjoin(agent_profiles, agent_profiles.c.agent_id == agents.c.id)
        .where(agent_sessions.c.token_hash == hashed)
    ).first()
    if row is None:
        return None
    if not row.active or aware(row.expires_at) <= now or aware(row.last_used_at) + idle <= now:
        conn.execute(delete(agent_sessions).where(agent_sessions.c.token_hash == hashed))
        return None
    if (now - aware(row.last_used_at)).total_seconds() > 60:  # don't write on every request
        conn.execute(update(agent_sessions).where(agent_sessions.c.token_hash == hashed)
                     .values(last_used_at=naive(now)))
    agent = Agent(row.agent_id, row.name, row.role, bool(row.active), aware(row.created_at),
                  aware(row.last_seen_at), row.display_name)
    return ConsoleSession(agent, row.csrf_token, aware(row.expires_at))


def _close_session(conn: Connection, hashed: str) -> None:
    conn.execute(delete(agent_sessions).where(agent_sessions.c.token_hash == hashed))


def _reserve_login(conn: Connection, rules: list[ThrottleRule], now: datetime,
                   window: timedelta) -> LoginReservation:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOGIN_LOCK_KEY})
    conn.execute(delete(login_failures).where(login_failures.c.at < naive(now - timedelta(days=1))))
    ids = tuple(  # inserted first: on SQLite this takes the write lock before any count
        conn.execute(insert(login_failures).values(key=rule.key, at=naive(now)))
        .inserted_primary_key[0] for rule in rules)
    wait = timedelta(0)
    for rule in rules:
        failures, last = conn.execute(
            select(func.count(), func.max(login_failures.c.at)).where(
                login_failures.c.key == rule.key, login_failures.c.at >= naive(now - window),
                login_failures.c.id.notin_(ids))).one()
        if failures and last is not None:
            wait = max(wait, aware(last) + rule.delay(int(failures)) - now)
    if wait > timedelta(0):
        conn.execute(delete(login_failures).where(login_failures.c.id.in_(ids)))
        return LoginReservation(retry_after=max(1, math.ceil(wait.total_seconds())))
    return LoginReservation(ids)


def _clear_login(conn: Connection, ids: list[int], keys: list[str]) -> None:
    conn.execute(delete(login_failures).where(login_failures.c.id.in_(ids)))
    if keys:
        conn.execute(delete(login_failures).where(login_failures.c.key.in_(keys)))


def _touch(conn: Connection, agent_id: str, now: Optional[datetime]) -> None:
    conn.execute(update(agents).where(agents.c.id == agent_id)
                 .values(last_seen_at=naive(now) if now else None))


def _online(conn: Connection, since: datetime) -> list[Agent]:
    rows = conn.execute(_agent_rows().where(
        agents.c.active.is_(True), agents.c.role.in_(HANDLING_ROLES),
        agents.c.last_seen_at >= naive(since)).order_by(agents.c.login))
    return [_agent(row) for row in rows]
