"""The web chat's store: sessions and each conversation's messages (tables in tables.py).

Sessions are found by the SHA-256 of their token, never the token. Messages are numbered per
conversation in commit order (see tables.py), so a widget that polls "after N" misses
nothing. Every call runs in a worker thread; a database error becomes `StoreUnavailable`.
"""

from __future__ import annotations

import enum
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from bot.database import ThreadedStore, make_engine, naive_utcnow
from bot.channel_registry import DeliveryFailed
from channels.leases import lease_is_free
from channels.webchat import tables
from channels.webchat.tables import conversations, messages, sessions

ROLES = ("customer", "bot", "agent")
SENDER_PREFIX = "wc-"
SESSION_IDLE_DAYS = 30  # a session unused this long is refused; the widget starts a new one
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is refreshed at most this often
MAX_PAGE = 200
_APPEND_ATTEMPTS = 8
# Rasa response fields a message may carry; anything else is dropped before storing.
_FIELDS = ("text", "buttons", "image", "attachment", "custom")


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
    creator: Optional[str] = None  # who opened it (`creator_of`); None on old sessions


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


@dataclass(frozen=True)
class TurnLease:
    """Who runs a customer message's turn (a `channels.leases` owner) and until when (epoch s)."""

    owner: str
    until: float


class TurnState(enum.Enum):
    """A stored customer message's turn, as `claim_turn` finds it."""

    ANSWERED = "answered"  # its replies are stored (or it predates turn leases)
    BUSY = "busy"  # a live process is running it
    CLAIMED = "claimed"  # its runner died or timed out: the caller runs it now


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


class WebChatStore(ThreadedStore):
    """Sessions and message histories; every call runs one short transaction in a thread."""

    metadata = tables.metadata
    label = "web chat store"

    def __init__(self, engine: Engine, *, dispose_engine: bool = False,
                 idle_days: int = SESSION_IDLE_DAYS) -> None:
        super().__init__(engine, dispose_engine=dispose_engine)
        self._idle = timedelta(days=idle_days)

    @classmethod
    def from_url(cls, url: str) -> "WebChatStore":
        return cls(make_engine(url), dispose_engine=True)

    # -- sessions ------------------------------------------------------------------------

    def create_schema(self) -> None:
        super().create_schema()
        tables.add_missing_columns(self.engine)

    async def create_session(self, creator: Optional[str] = None) -> WebChatSession:
        """A new session with a fresh random token (returned once, stored only as a hash)."""
        token = secrets.token_urlsafe(32)
        token_hash = hash_token(token)
        now = naive_utcnow()

        def work() -> None:
            with self.engine.begin() as connection:
                connection.execute(insert(sessions).values(
                    token_hash=token_hash, sender_id=sender_id_for(token_hash),
                    created_at=now, last_seen_at=now, creator=creator))

        await self.call(work)
        return WebChatSession(sender_id_for(token_hash), now, token, creator)

    async def session_for_token(self, token: str) -> Optional[WebChatSession]:
        """The live session a token opens (and mark it seen), or None."""
        token_hash = hash_token(token)
        now = naive_utcnow()

        def work() -> Optional[WebChatSession]:
            with self.engine.begin() as connection:
                row = connection.execute(
                    select(sessions.c.sender_id, sessions.c.created_at, sessions.c.last_seen_at,
                           sessions.c.creator)
                    .where(sessions.c.token_hash == token_hash)).first()
                if row is None or now - row.last_seen_at > self._idle:
                    return None
                if now - row.last_seen_at > TOUCH_EVERY:
                    connection.execute(update(sessions).where(
                        sessions.c.token_hash == token_hash).values(last_seen_at=now))
                return WebChatSession(row.sender_id, row.created_at, creator=row.creator)

        return await self.call(work)

    async def has_session(self, sender_id: str) -> bool:
        def work() -> bool:
            with self.engine.connect() as connection:
                return connection.execute(select(sessions.c.id).where(
                    sessions.c.sender_id == sender_id)).first() is not None

        return await self.call(work)

    async def purge_stale(self, idle_days: Optional[int] = None) -> tuple[int, int]:
        """Forget sessions unused for `idle_days` (default: the store's idle limit) with their
        conversations' messages: (sessions, messages) removed. Their tokens no longer open
        anything, so nobody can read those messages again."""
        idle = self._idle if idle_days is None else timedelta(days=idle_days)
        cutoff = naive_utcnow() - idle

        def work() -> tuple[int, int]:
            removed_sessions = removed_messages = 0
            while True:  # in batches, so no transaction holds the tables for long
                with self.engine.begin() as connection:
                    senders = list(connection.execute(
                        select(sessions.c.sender_id).where(sessions.c.last_seen_at < cutoff)
                        .limit(500)).scalars())
                    if not senders:
                        return removed_sessions, removed_messages
                    removed_messages += connection.execute(delete(messages).where(
                        messages.c.conversation_id.in_(senders))).rowcount
                    connection.execute(delete(conversations).where(
                        conversations.c.conversation_id.in_(senders)))
                    removed_sessions += connection.execute(delete(sessions).where(
                        sessions.c.sender_id.in_(senders))).rowcount

        return await self.call(work)

    # -- messages ------------------------------------------------------------------------

    async def append(self, conversation_id: str, role: str, payloads: list[dict[str, Any]],
                     agent_name: Optional[str] = None, client_id: Optional[str] = None,
                     turn: Optional[TurnLease] = None,
                     answering: Optional[int] = None) -> list[StoredMessage]:
        """Store messages at the end of a conversation, numbered after the last committed one.

        With `client_id` (one customer message), a repeat raises `DuplicateMessage`. `turn`
        marks a customer message whose turn starts now; `answering` (bot replies) clears the
        turn of customer message number `answering` in the same transaction, so a message is
        either answered or still owned by a runner, never neither.
        """
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        if client_id is not None and len(payloads) != 1:
            raise ValueError("a client id names exactly one message")
        now = naive_utcnow()
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
                    payload=text, agent_name=agent_name, client_id=client_id, created_at=now,
                    turn_owner=turn.owner if turn else None,
                    turn_lease_until=turn.until if turn else None))
                stored.append(StoredMessage(last + offset, role, payload, agent_name, now,
                                            result.inserted_primary_key[0]))
            if answering is not None:
                _finish_turn(connection, conversation_id, answering)
            return stored

        def work() -> list[StoredMessage]:
            for _ in range(_APPEND_ATTEMPTS):
                try:
                    with self.engine.begin() as connection:
                        return attempt(connection)
                except IntegrityError:
                    # Two first messages of one conversation at once, or a repeated client
                    # id: the transaction rolled back; the next attempt sees the winner.
                    continue
            raise DeliveryFailed(f"could not append to conversation {conversation_id}")

        if not payloads:
            if answering is not None:
                await self.finish_turn(conversation_id, answering)
            return []
        return await self.call(work)

    async def finish_turn(self, conversation_id: str, seq: int) -> None:
        """Mark customer message `seq` answered (a turn with no reply at all)."""
        def work() -> None:
            with self.engine.begin() as connection:
                _finish_turn(connection, conversation_id, seq)

        await self.call(work)

    async def claim_turn(self, conversation_id: str, seq: int, owner: str,
                         lease_s: float) -> TurnState:
        """Take over the turn of customer message `seq` if its runner is gone or timed out.

        The takeover is a compare-and-set on the runner and its lease, so of two processes
        claiming at once exactly one gets CLAIMED.
        """
        def work() -> TurnState:
            row_of = (messages.c.conversation_id == conversation_id, messages.c.seq == seq)
            with self.engine.begin() as connection:
                row = connection.execute(select(
                    messages.c.turn_owner, messages.c.turn_lease_until).where(*row_of)).first()
                if row is None or row.turn_owner is None:
                    return TurnState.ANSWERED
                now = time.time()
                if row.turn_owner == owner or not lease_is_free(
                        row.turn_owner, row.turn_lease_until or 0.0, now):
                    return TurnState.BUSY
                taken = connection.execute(update(messages).where(
                    *row_of, messages.c.turn_owner == row.turn_owner,
                    messages.c.turn_lease_until == row.turn_lease_until,
                ).values(turn_owner=owner, turn_lease_until=now + lease_s)).rowcount
                return TurnState.CLAIMED if taken == 1 else TurnState.BUSY

        return await self.call(work)

    async def remove(self, conversation_id: str, seq: int) -> None:
        """Forget one message (a customer message whose turn failed, so a retry runs it)."""
        def work() -> None:
            with self.engine.begin() as connection:
                connection.execute(delete(messages).where(
                    messages.c.conversation_id == conversation_id, messages.c.seq == seq))

        await self.call(work)

    async def history(self, conversation_id: str, after: int = 0,
                      limit: int = MAX_PAGE) -> list[StoredMessage]:
        """The conversation's messages numbered after `after`, oldest first, at most `limit`."""
        limit = max(1, min(limit, MAX_PAGE))

        def work() -> list[StoredMessage]:
            with self.engine.connect() as connection:
                rows = connection.execute(
                    select(messages.c.id, messages.c.seq, messages.c.role, messages.c.payload,
                           messages.c.agent_name, messages.c.created_at)
                    .where(messages.c.conversation_id == conversation_id,
                           messages.c.seq > after)
                    .order_by(messages.c.seq).limit(limit)).all()
            return [StoredMessage(r.seq, r.role, json.loads(r.payload), r.agent_name,
                                  r.created_at, r.id) for r in rows]

        return await self.call(work)

    async def last_row_id(self) -> int:
        def work() -> int:
            with self.engine.connect() as connection:
                return connection.execute(
                    select(func.coalesce(func.max(messages.c.id), 0))).scalar_one()

        return await self.call(work)

    async def changed_since(self, row_id: int, limit: int = 1000) -> tuple[int, set[str]]:
        """(the newest row id, conversations with rows after `row_id`): wakes long polls."""
        def work() -> tuple[int, set[str]]:
            with self.engine.connect() as connection:
                rows = connection.execute(
                    select(messages.c.id, messages.c.conversation_id)
                    .where(messages.c.id > row_id).order_by(messages.c.id).limit(limit)).all()
            if not rows:
                return row_id, set()
            return rows[-1].id, {row.conversation_id for row in rows}

        return await self.call(work)


def _finish_turn(connection: Connection, conversation_id: str, seq: int) -> None:
    connection.execute(update(messages).where(
        messages.c.conversation_id == conversation_id, messages.c.seq == seq,
        messages.c.role == "customer").values(turn_owner=None, turn_lease_until=None))
