"""The web chat's store: sessions and each conversation's messages, and the hub's sender.

Two tables in the hub database (`RAPPORT_HUB_DB_URL`), created on first use:

- `webchat_sessions`: one row per widget session. Only the SHA-256 of the session token is
  kept; the Rasa sender id is derived from that hash, so the token itself never reaches a
  tracker, a log or the agent console.
- `webchat_messages`: every message of a conversation (customer, bot, agent), keyed by the
  Rasa sender id, numbered 1, 2, 3... per conversation (`seq`).
- `webchat_conversations`: each conversation's last number. Writers take numbers by updating
  this row, which holds its lock until they commit, so numbers become visible in order: a
  client that has read up to N never misses a message numbered below N that commits later
  (on PostgreSQL as on SQLite, from any number of processes).

`OutboxSender` is the hub's way to reach a web chat customer during a handoff: it appends
the agent's messages (and the bot's, after a hand-back) to the conversation, and the widget
picks them up on its next poll. A REST
conversation cannot be reached (Rasa's REST channel only answers requests), so its agent
messages are queued in the same table under its sender id, for an integration to collect.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Optional, TypeVar

from sqlalchemy import (
    BigInteger, Column, DateTime, Index, Integer, MetaData, String, Table, Text,
    UniqueConstraint, delete, func, insert, select, update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.database import make_engine
from channels.message_guard import MessageRejected, check_sender
from bot.settings import Settings
from channels.senders import DeliveryFailed

logger = logging.getLogger(__name__)

T = TypeVar("T")

ROLES = ("customer", "bot", "agent")
SENDER_PREFIX = "wc-"
SESSION_IDLE_DAYS = 30  # a session unused this long is refused; the widget starts a new one
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is refreshed at most this often
MAX_PAGE = 200
MAX_AGENT_NAME = 80
MAX_PAYLOAD_CHARS = 20_000
_APPEND_ATTEMPTS = 8
# Rasa response fields a message may carry; anything else is dropped before storing.
_FIELDS = ("text", "buttons", "image", "attachment", "custom")

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
})
_Id = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER keys only

sessions = Table(
    "webchat_sessions", metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("sender_id", String(64), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
)

conversations = Table(  # the last number given out in each conversation
    "webchat_conversations", metadata,
    Column("conversation_id", String(128), primary_key=True),
    Column("last_seq", Integer, nullable=False),
)

messages = Table(
    "webchat_messages", metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("conversation_id", String(128), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("role", String(16), nullable=False),
    Column("payload", Text, nullable=False),
    Column("agent_name", String(MAX_AGENT_NAME)),
    Column("client_id", String(64)),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("conversation_id", "seq"),
    UniqueConstraint("conversation_id", "client_id"),
    Index("ix_webchat_messages_created_at", "created_at"),
)


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def sender_id_for(token_hash: str) -> str:
    """The Rasa sender id of a session: derived from the token's hash, never the token."""
    return SENDER_PREFIX + token_hash[:24]


@dataclass(frozen=True)
class WebChatSession:
    sender_id: str
    created_at: datetime
    token: Optional[str] = None  # only when just created: it is not stored


@dataclass(frozen=True)
class StoredMessage:
    seq: int
    role: str
    payload: dict[str, Any]
    agent_name: Optional[str]
    created_at: datetime
    row_id: int = 0

    def to_json(self) -> dict[str, Any]:
        """The message as the widget receives it."""
        return {"id": self.seq, "role": self.role, "agent": self.agent_name,
                "timestamp": self.created_at.replace(tzinfo=timezone.utc).isoformat(),
                **self.payload}


class DuplicateMessage(Exception):
    """A customer message with this client id is already stored (a retried request)."""

    def __init__(self, seq: int) -> None:
        super().__init__(seq)
        self.seq = seq


def clean_payload(message: dict[str, Any]) -> dict[str, Any]:
    """Only the Rasa response fields the widget understands, with sane types."""
    payload: dict[str, Any] = {}
    if isinstance(message.get("text"), str) and message["text"]:
        payload["text"] = message["text"]
    if isinstance(message.get("image"), str) and message["image"].startswith(("https://",
                                                                             "http://")):
        payload["image"] = message["image"]
    if isinstance(message.get("attachment"), str) and message["attachment"]:
        payload["attachment"] = message["attachment"]
    if isinstance(message.get("custom"), dict):
        payload["custom"] = message["custom"]
    buttons = [{"title": str(b["title"]), "payload": str(b["payload"])}
               for b in message.get("buttons") or [] if isinstance(b, dict)
               and b.get("title") and b.get("payload")]
    if buttons:
        payload["buttons"] = buttons
    return payload


class WebChatStore:
    """Sessions and message histories; every call runs one short transaction in a thread."""

    def __init__(self, engine: Engine, *, dispose_engine: bool = False,
                 idle_days: int = SESSION_IDLE_DAYS) -> None:
        self._engine = engine
        self._dispose_engine = dispose_engine
        self._idle = timedelta(days=idle_days)
        self._schema_ready = False

    @classmethod
    def from_url(cls, url: str) -> "WebChatStore":
        return cls(make_engine(url), dispose_engine=True)

    async def _run(self, work: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(self._call, work, *args)

    def _call(self, work: Callable[..., T], *args: Any) -> T:
        if not self._schema_ready:
            try:
                metadata.create_all(self._engine, checkfirst=True)
            except SQLAlchemyError:
                # Another process created the tables between our check and our CREATE.
                metadata.create_all(self._engine, checkfirst=True)
            self._schema_ready = True
        return work(*args)

    async def ensure_schema(self) -> None:
        """Create the tables if they are missing (idempotent)."""
        await self._run(lambda: None)

    async def close(self) -> None:
        if self._dispose_engine:
            await asyncio.to_thread(self._engine.dispose)

    # -- sessions ------------------------------------------------------------------------

    async def create_session(self) -> WebChatSession:
        """A new session with a fresh random token (returned once, stored only as a hash)."""
        token = secrets.token_urlsafe(32)
        token_hash = hash_token(token)
        now = utcnow()

        def work() -> None:
            with self._engine.begin() as connection:
                connection.execute(insert(sessions).values(
                    token_hash=token_hash, sender_id=sender_id_for(token_hash),
                    created_at=now, last_seen_at=now))

        await self._run(work)
        return WebChatSession(sender_id_for(token_hash), now, token)

    async def session_for_token(self, token: str) -> Optional[WebChatSession]:
        """The live session a token opens (and mark it seen), or None."""
        token_hash = hash_token(token)
        now = utcnow()

        def work() -> Optional[WebChatSession]:
            with self._engine.begin() as connection:
                row = connection.execute(
                    select(sessions.c.sender_id, sessions.c.created_at, sessions.c.last_seen_at)
                    .where(sessions.c.token_hash == token_hash)).first()
                if row is None or now - row.last_seen_at > self._idle:
                    return None
                if now - row.last_seen_at > TOUCH_EVERY:
                    connection.execute(update(sessions).where(
                        sessions.c.token_hash == token_hash).values(last_seen_at=now))
                return WebChatSession(row.sender_id, row.created_at)

        return await self._run(work)

    async def has_session(self, sender_id: str) -> bool:
        def work() -> bool:
            with self._engine.connect() as connection:
                return connection.execute(select(sessions.c.id).where(
                    sessions.c.sender_id == sender_id)).first() is not None

        return await self._run(work)

    # -- messages ------------------------------------------------------------------------

    async def append(self, conversation_id: str, role: str, payloads: list[dict[str, Any]],
                     agent_name: Optional[str] = None,
                     client_id: Optional[str] = None) -> list[StoredMessage]:
        """Store messages at the end of a conversation, numbered after the last committed one.

        With `client_id` (one customer message), a repeat raises `DuplicateMessage`.
        """
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        if client_id is not None and len(payloads) != 1:
            raise ValueError("a client id names exactly one message")
        now = utcnow()
        encoded = [json.dumps(p, ensure_ascii=False, separators=(",", ":")) for p in payloads]

        def attempt(connection: Connection) -> list[StoredMessage]:
            if client_id is not None:
                seq = connection.execute(select(messages.c.seq).where(
                    messages.c.conversation_id == conversation_id,
                    messages.c.client_id == client_id)).scalar()
                if seq is not None:
                    raise DuplicateMessage(seq)
            # Taking numbers locks the conversation's counter row until commit, so numbers
            # become visible in order.
            counter = conversations.c.conversation_id == conversation_id
            taken = connection.execute(update(conversations).where(counter).values(
                last_seq=conversations.c.last_seq + len(payloads))).rowcount
            if not taken:
                connection.execute(insert(conversations).values(
                    conversation_id=conversation_id, last_seq=len(payloads)))
            last = connection.execute(
                select(conversations.c.last_seq).where(counter)).scalar_one() - len(payloads)
            stored = []
            for offset, (payload, text) in enumerate(zip(payloads, encoded), start=1):
                result = connection.execute(insert(messages).values(
                    conversation_id=conversation_id, seq=last + offset, role=role,
                    payload=text, agent_name=agent_name, client_id=client_id, created_at=now))
                stored.append(StoredMessage(last + offset, role, payload, agent_name, now,
                                            result.inserted_primary_key[0]))
            return stored

        def work() -> list[StoredMessage]:
            for _ in range(_APPEND_ATTEMPTS):
                try:
                    with self._engine.begin() as connection:
                        return attempt(connection)
                except IntegrityError:
                    # Two first messages of one conversation at once, or a repeated client
                    # id: the transaction rolled back; the next attempt sees the winner.
                    continue
            raise DeliveryFailed(f"could not append to conversation {conversation_id}")

        if not payloads:
            return []
        return await self._run(work)

    async def remove(self, conversation_id: str, seq: int) -> None:
        """Forget one message (a customer message whose turn failed, so a retry runs it)."""
        def work() -> None:
            with self._engine.begin() as connection:
                connection.execute(delete(messages).where(
                    messages.c.conversation_id == conversation_id, messages.c.seq == seq))

        await self._run(work)

    async def history(self, conversation_id: str, after: int = 0,
                      limit: int = MAX_PAGE) -> list[StoredMessage]:
        """The conversation's messages numbered after `after`, oldest first, at most `limit`."""
        limit = max(1, min(limit, MAX_PAGE))

        def work() -> list[StoredMessage]:
            with self._engine.connect() as connection:
                rows = connection.execute(
                    select(messages.c.id, messages.c.seq, messages.c.role, messages.c.payload,
                           messages.c.agent_name, messages.c.created_at)
                    .where(messages.c.conversation_id == conversation_id,
                           messages.c.seq > after)
                    .order_by(messages.c.seq).limit(limit)).all()
            return [StoredMessage(r.seq, r.role, json.loads(r.payload), r.agent_name,
                                  r.created_at, r.id) for r in rows]

        return await self._run(work)

    async def last_row_id(self) -> int:
        def work() -> int:
            with self._engine.connect() as connection:
                return connection.execute(
                    select(func.coalesce(func.max(messages.c.id), 0))).scalar_one()

        return await self._run(work)

    async def changed_since(self, row_id: int, limit: int = 1000) -> tuple[int, set[str]]:
        """(the newest row id, conversations with rows after `row_id`): wakes long polls."""
        def work() -> tuple[int, set[str]]:
            with self._engine.connect() as connection:
                rows = connection.execute(
                    select(messages.c.id, messages.c.conversation_id)
                    .where(messages.c.id > row_id).order_by(messages.c.id).limit(limit)).all()
            if not rows:
                return row_id, set()
            return rows[-1].id, {row.conversation_id for row in rows}

        return await self._run(work)


class OutboxSender:
    """The `ChannelSender` for web chat (and REST, queued): the hub's messages into history.

    A message with an `"agent"` key ({"text": ..., "agent": "Sam"}) is an agent's, shown with
    that name; one without is the bot's, relayed by the hub (e.g. its question after a
    hand-back, from Rasa's trigger_intent).
    """

    def __init__(self, store: WebChatStore, *, owns_store: bool = False) -> None:
        self._store = store
        self._owns_store = owns_store

    @classmethod
    def from_settings(cls, settings: Settings) -> "OutboxSender":
        return cls(WebChatStore.from_url(settings.hub_db_url), owns_store=True)

    async def send(self, recipient_id: str, messages: list[dict[str, Any]]) -> None:
        """Append `messages` (Rasa response format) to the conversation, in order."""
        try:
            check_sender(recipient_id)
        except MessageRejected as error:
            raise DeliveryFailed(f"not a conversation id: {error}") from error
        batches: list[tuple[str, Optional[str], list[dict[str, Any]]]] = []
        for message in messages:
            payload = clean_payload(message)
            if not payload or len(json.dumps(payload)) > MAX_PAYLOAD_CHARS:
                raise DeliveryFailed("a message must have text, buttons or an image, "
                                     f"and at most {MAX_PAYLOAD_CHARS} characters")
            agent = str(message.get("agent") or "").strip()[:MAX_AGENT_NAME] or None
            role = "agent" if "agent" in message else "bot"
            if batches and batches[-1][:2] == (role, agent):
                batches[-1][2].append(payload)
            else:
                batches.append((role, agent, [payload]))
        try:
            if recipient_id.startswith(SENDER_PREFIX) and not await self._store.has_session(
                    recipient_id):
                raise DeliveryFailed(f"no web chat session {recipient_id}")
            for role, agent, payloads in batches:
                await self._store.append(recipient_id, role, payloads, agent_name=agent)
        except SQLAlchemyError as error:
            logger.warning("web chat outbox unavailable for %s: %s", recipient_id,
                           type(error).__name__)
            raise DeliveryFailed("the web chat store is unavailable") from error

    async def close(self) -> None:
        if self._owns_store:
            await self._store.close()
