"""The Telegram channel's durable store: what was received, who works on it, what to send.

Every method is a short transaction run in a small thread pool, so the event loop never waits
on the database. Database failures surface as `StoreUnavailable` (the webhook answers 503 and
Telegram re-sends). Claims are compare-and-swap updates on a row version, so any number of
processes can share one database and exactly one wins each chat and each outbox row.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Optional, TypeVar

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.database import ThreadedStore, make_engine
from bot.errors import StoreUnavailable
from channels.telegram import tables
from channels.leases import lease_is_free
from channels.telegram.rendering import ApiCall, Rendered
from channels.telegram.tables import buttons, chats, dead_letters, outbox, updates

__all__ = ["OutboxRow", "StoreUnavailable", "StoredUpdate", "TelegramStore"]  # re-exported

T = TypeVar("T")

RECEIVED, ANSWERED, DEAD, IGNORED = "received", "answered", "dead", "ignored"
PENDING, SENT, FAILED = "pending", "sent", "failed"


@dataclass(frozen=True)
class StoredUpdate:
    update_id: int
    chat_id: Optional[str]
    payload: str
    attempts: int
    not_before: float
    received_at: float


@dataclass(frozen=True)
class OutboxRow:
    id: int
    chat_id: str
    update_id: Optional[int]
    call: ApiCall
    attempts: int


def _threaded(method: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """Run a blocking store method in the store's thread pool; map database errors."""

    @functools.wraps(method)
    async def wrapper(self: "TelegramStore", *args: Any, **kwargs: Any) -> T:
        return await self.call(method, self, *args, **kwargs)

    return wrapper


class TelegramStore(ThreadedStore):
    """Updates, chat leases, outbox, dead letters and button payloads in one SQL database."""

    metadata = tables.metadata
    label = "telegram store"

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="telegram-store")
        # durable: an update we answered 200 for must survive a power cut, not only a crash
        super().__init__(make_engine(url, timeout=timeout, durable=True), executor=self._pool)

    def unavailable(self, error: SQLAlchemyError, work: Callable[..., Any]) -> Exception:
        """Name the driver's first line of the error: the CLI and the logs show it."""
        detail = str(getattr(error, "orig", None) or error).splitlines()[0]
        return StoreUnavailable(f"telegram store: {detail}")

    async def close(self) -> None:
        """Let running statements finish (each is bounded by the timeout), then disconnect."""
        await asyncio.get_running_loop().run_in_executor(None, self._pool.shutdown, True)
        self.engine.dispose()

    # ------------------------------------------------------------------ receiving

    @_threaded
    def receive(self, update_id: int, chat_id: Optional[str], payload: str,
                state: str = RECEIVED) -> bool:
        """Store an update; False if it was already stored (Telegram re-sent it)."""
        try:
            with self.engine.begin() as db:
                db.execute(insert(updates).values(
                    update_id=update_id, chat_id=chat_id, payload=payload, state=state,
                    attempts=0, not_before=0.0, received_at=time.time()))
        except IntegrityError:
            return False
        return True

    @_threaded
    def receive_unreadable(self, update_id: int, payload: str, error: str) -> bool:
        """Store an update that cannot be parsed straight into the dead letters."""
        try:
            with self.engine.begin() as db:
                now = time.time()
                db.execute(insert(updates).values(
                    update_id=update_id, chat_id=None, payload=payload, state=DEAD, attempts=0,
                    not_before=0.0, received_at=now, finished_at=now, last_error=error))
                db.execute(insert(dead_letters).values(update_id=update_id, chat_id=None,
                                                       payload=payload, error=error, at=now))
        except IntegrityError:
            return False
        return True

    # ------------------------------------------------------------------ chats and updates

    @_threaded
    def chats_with_work(self, now: float, limit: int = 100) -> list[str]:
        """Chats with an update due, whose lease is free (or whose owner is gone)."""
        query = (select(updates.c.chat_id, chats.c.owner, chats.c.lease_until)
                 .select_from(updates.outerjoin(chats, chats.c.chat_id == updates.c.chat_id))
                 .where(updates.c.state == RECEIVED, updates.c.not_before <= now,
                        updates.c.chat_id.is_not(None))
                 .distinct().limit(limit))
        with self.engine.connect() as db:
            rows = db.execute(query).all()
        return [row.chat_id for row in rows
                if row.lease_until is None or lease_is_free(row.owner, row.lease_until, now)]

    @_threaded
    def claim_chat(self, chat_id: str, owner: str, lease: float, now: float) -> bool:
        with self.engine.begin() as db:
            row = db.execute(select(chats).where(chats.c.chat_id == chat_id)).first()
            if row is None:
                try:
                    db.execute(insert(chats).values(chat_id=chat_id, owner=owner,
                                                    lease_until=now + lease, version=1))
                except IntegrityError:
                    return False
                return True
            if row.owner != owner and not lease_is_free(row.owner, row.lease_until, now):
                return False
            claimed = db.execute(update(chats).where(chats.c.chat_id == chat_id,
                                                     chats.c.version == row.version)
                                 .values(owner=owner, lease_until=now + lease,
                                         version=row.version + 1))
            return claimed.rowcount == 1

    @_threaded
    def renew_chat(self, chat_id: str, owner: str, until: float) -> bool:
        with self.engine.begin() as db:
            renewed = db.execute(update(chats).where(chats.c.chat_id == chat_id,
                                                     chats.c.owner == owner)
                                 .values(lease_until=until, version=chats.c.version + 1))
            return renewed.rowcount == 1

    @_threaded
    def release_chat(self, chat_id: str, owner: str) -> None:
        with self.engine.begin() as db:
            db.execute(update(chats).where(chats.c.chat_id == chat_id, chats.c.owner == owner)
                       .values(owner=None, lease_until=0.0, version=chats.c.version + 1))

    @_threaded
    def next_update(self, chat_id: str) -> Optional[StoredUpdate]:
        """The chat's oldest unanswered update (it may not be due yet: see `not_before`)."""
        query = (select(updates).where(updates.c.chat_id == chat_id,
                                       updates.c.state == RECEIVED)
                 .order_by(updates.c.update_id).limit(1))
        with self.engine.connect() as db:
            row = db.execute(query).first()
        if row is None:
            return None
        return StoredUpdate(row.update_id, row.chat_id, row.payload, row.attempts,
                            row.not_before, row.received_at)

    @_threaded
    def nothing_missing_before(self, chat_id: str, update_id: int) -> bool:
        """True if every update id between the chat's last finished update and `update_id`
        is stored (so no earlier update of this chat can still be arriving)."""
        with self.engine.connect() as db:
            last = db.execute(select(func.max(updates.c.update_id))
                              .where(updates.c.chat_id == chat_id, updates.c.state != RECEIVED,
                                     updates.c.update_id < update_id)).scalar()
            if last is None:
                return False
            between = db.execute(select(func.count()).select_from(updates)
                                 .where(updates.c.update_id > last,
                                        updates.c.update_id < update_id)).scalar_one()
        return between == update_id - last - 1

    @_threaded
    def begin_attempt(self, update_id: int) -> int:
        """Count an attempt before it starts (so a crash loop ends in the dead letters)."""
        with self.engine.begin() as db:
            db.execute(update(updates).where(updates.c.update_id == update_id,
                                             updates.c.state == RECEIVED)
                       .values(attempts=updates.c.attempts + 1))
            return db.execute(select(updates.c.attempts)
                              .where(updates.c.update_id == update_id)).scalar_one()

    @_threaded
    def retry_later(self, update_id: int, error: str, not_before: float,
                    refund_attempt: bool = False) -> None:
        """Try the update again from `not_before`; a refunded attempt does not count."""
        values: dict[str, Any] = dict(not_before=not_before, last_error=error)
        if refund_attempt:
            values["attempts"] = updates.c.attempts - 1
        with self.engine.begin() as db:
            db.execute(update(updates).where(updates.c.update_id == update_id,
                                             updates.c.state == RECEIVED).values(**values))

    @_threaded
    def answer(self, update_id: int, chat_id: str, owner: str, rendered: Rendered) -> bool:
        """Mark the update answered and queue its replies, atomically; False if someone else
        answered it first (our lease had expired) — then nothing is queued."""
        with self.engine.begin() as db:
            holds_lease = (select(chats.c.chat_id)
                           .where(chats.c.chat_id == chat_id, chats.c.owner == owner).exists())
            done = db.execute(update(updates)
                              .where(updates.c.update_id == update_id,
                                     updates.c.state == RECEIVED, holds_lease)
                              .values(state=ANSWERED, finished_at=time.time(), last_error=None))
            if done.rowcount != 1:
                return False
            self._queue(db, chat_id, update_id, rendered)
            return True

    @_threaded
    def dead_letter(self, stored: StoredUpdate, error: str, rendered: Optional[Rendered]) -> None:
        """Give up on an update: record it with the error, optionally queue an apology."""
        with self.engine.begin() as db:
            db.execute(update_state(stored.update_id, DEAD, error))
            db.execute(insert(dead_letters).values(
                update_id=stored.update_id, chat_id=stored.chat_id, payload=stored.payload,
                error=error, at=time.time()))
            if rendered and stored.chat_id:
                self._queue(db, stored.chat_id, stored.update_id, rendered)

    @_threaded
    def enqueue(self, chat_id: str, rendered: Rendered) -> None:
        """Queue messages that answer no update (Rasa's proactive messages)."""
        with self.engine.begin() as db:
            self._queue(db, chat_id, None, rendered)

    @staticmethod
    def _queue(db: Any, chat_id: str, update_id: Optional[int], rendered: Rendered) -> None:
        now = time.time()
        for token, payload in rendered.buttons.items():
            db.execute(insert(buttons).values(token=token, payload=payload, created_at=now))
        for call in rendered.calls:
            db.execute(insert(outbox).values(
                chat_id=chat_id, update_id=update_id, method=call.method,
                params=json.dumps(call.params), state=PENDING, attempts=0, not_before=0.0,
                owner=None, lease_until=0.0, version=0, created_at=now))

    # ------------------------------------------------------------------ outbox

    @_threaded
    def outbox_chats(self, now: float, limit: int = 100) -> list[str]:
        """Chats whose first pending outbox row is due and free to claim."""
        heads = (select(outbox.c.chat_id, func.min(outbox.c.id).label("head"))
                 .where(outbox.c.state == PENDING).group_by(outbox.c.chat_id).subquery())
        query = (select(outbox.c.chat_id, outbox.c.owner, outbox.c.lease_until,
                        outbox.c.not_before)
                 .join(heads, outbox.c.id == heads.c.head).limit(limit))
        with self.engine.connect() as db:
            rows = db.execute(query).all()
        return [row.chat_id for row in rows
                if row.not_before <= now and lease_is_free(row.owner, row.lease_until, now)]

    @_threaded
    def claim_outbox_head(self, chat_id: str, owner: str, lease: float,
                          now: float) -> Optional[OutboxRow]:
        """Claim the chat's first pending row, if it is due and nobody else holds it."""
        with self.engine.begin() as db:
            row = db.execute(select(outbox).where(outbox.c.chat_id == chat_id,
                                                  outbox.c.state == PENDING)
                             .order_by(outbox.c.id).limit(1)).first()
            if row is None or row.not_before > now:
                return None
            if row.owner != owner and not lease_is_free(row.owner, row.lease_until, now):
                return None
            claimed = db.execute(update(outbox).where(outbox.c.id == row.id,
                                                      outbox.c.version == row.version)
                                 .values(owner=owner, lease_until=now + lease,
                                         version=row.version + 1))
            if claimed.rowcount != 1:
                return None
        return OutboxRow(row.id, row.chat_id, row.update_id,
                         ApiCall(row.method, json.loads(row.params)), row.attempts)

    @_threaded
    def outbox_sent(self, row_id: int) -> None:
        with self.engine.begin() as db:
            db.execute(update(outbox).where(outbox.c.id == row_id)
                       .values(state=SENT, sent_at=time.time(), owner=None, lease_until=0.0,
                               version=outbox.c.version + 1))

    @_threaded
    def outbox_retry(self, row_id: int, not_before: float, error: str, attempt: bool) -> None:
        values: dict[str, Any] = dict(not_before=not_before, last_error=error, owner=None,
                                      lease_until=0.0, version=outbox.c.version + 1)
        if attempt:
            values["attempts"] = outbox.c.attempts + 1
        with self.engine.begin() as db:
            db.execute(update(outbox).where(outbox.c.id == row_id, outbox.c.state == PENDING)
                       .values(**values))

    @_threaded
    def outbox_failed(self, row_id: int, error: str) -> None:
        with self.engine.begin() as db:
            db.execute(update(outbox).where(outbox.c.id == row_id)
                       .values(state=FAILED, last_error=error, owner=None, lease_until=0.0,
                               attempts=outbox.c.attempts + 1, version=outbox.c.version + 1))

    # ------------------------------------------------------------------ buttons, upkeep

    @_threaded
    def save_buttons(self, payloads: dict[str, str]) -> None:
        with self.engine.begin() as db:
            for token, payload in payloads.items():
                db.execute(insert(buttons).values(token=token, payload=payload,
                                                  created_at=time.time()))

    @_threaded
    def button_payload(self, token: str) -> Optional[str]:
        with self.engine.connect() as db:
            return db.execute(select(buttons.c.payload)
                              .where(buttons.c.token == token)).scalar_one_or_none()

    @_threaded
    def purge(self, before: float, buttons_before: float) -> int:
        """Forget finished updates and sent rows older than `before` (Telegram re-sends for
        24 h, so keep them longer) and button payloads older than `buttons_before`."""
        with self.engine.begin() as db:
            removed = db.execute(delete(updates).where(updates.c.state != RECEIVED,
                                                       updates.c.received_at < before)).rowcount
            removed += db.execute(delete(outbox).where(outbox.c.state != PENDING,
                                                       outbox.c.created_at < before)).rowcount
            removed += db.execute(delete(buttons)
                                  .where(buttons.c.created_at < buttons_before)).rowcount
        return removed

    @_threaded
    def counts(self) -> dict[str, int]:
        """What is waiting: updates to process, messages to send, failures to look at."""
        with self.engine.connect() as db:
            def count(table: Any, *where: Any) -> int:
                return db.execute(select(func.count()).select_from(table).where(*where)
                                  ).scalar_one()

            return {"updates waiting": count(updates, updates.c.state == RECEIVED),
                    "messages waiting": count(outbox, outbox.c.state == PENDING),
                    "messages failed": count(outbox, outbox.c.state == FAILED),
                    "dead letters": count(dead_letters)}

    @_threaded
    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        with self.engine.connect() as db:
            rows = db.execute(select(dead_letters).order_by(dead_letters.c.id.desc())
                              .limit(limit)).all()
        return [dict(row._mapping) for row in rows]


def update_state(update_id: int, state: str, error: Optional[str] = None) -> Any:
    return (update(updates)
            .where(and_(updates.c.update_id == update_id, updates.c.state == RECEIVED))
            .values(state=state, finished_at=time.time(), last_error=error))
