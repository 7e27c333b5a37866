"""The web chat channel: the widget's REST + long-polling API on the Rasa server.

Routes under /webhooks/webchat/ (credentials.yml: `channels.webchat.WebChatInput:`):

- `POST /session` → 201 {"token": ...}: a new conversation. The token is a bearer secret the
  widget keeps in localStorage; Rasa's sender id is derived from its hash.
- `POST /message` {"message", "title"?, "client_id"?, "after"?} (Bearer) → {"messages": [...]}:
  runs the message through Rasa and answers with the conversation's messages after `after`
  (default: this customer message and the bot's replies). A button click sends its payload as
  `message` and its title as `title` (what the history shows). A repeated `client_id` (a
  retry after a lost answer) is not run again: it gets the answer, waits for it while
  another request is still answering, or, if the process answering died mid-turn (its turn
  lease, `channels.leases`), runs the turn again here, first recovering the replies from
  Rasa's tracker if Rasa had finished it (Rasa's message id is `webchat-<number>`).
- `GET /history?after=N&limit=M&wait=S` (Bearer) → {"messages": [...], "more": bool}: messages
  numbered after N. With `wait` (at most 20 s) it long-polls: it answers as soon as a message
  arrives (an agent's reply during a handoff) or after `wait` seconds with none.

Limits (`channels.rate_limit`): new sessions per client address
(RAPPORT_WEBCHAT_SESSIONS_PER_HOUR, the address from RAPPORT_TRUSTED_PROXIES), messages per
conversation (RAPPORT_FLOOD_PER_MINUTE / RAPPORT_FLOOD_BURST) and open long polls per session
(RAPPORT_WEBCHAT_POLLS_PER_SESSION) each answer a 429 with Retry-After past their bound.
Sessions idle RAPPORT_WEBCHAT_RETENTION_DAYS are purged with their messages at start and
hourly.

Every message: {"id", "role": customer|bot|agent, "agent", "timestamp", "text"?, "buttons"?,
"image"?, ...}. CORS: only RAPPORT_WEBCHAT_ORIGINS, exactly; other origins get 403. Input goes
through `channels.message_guard` like every channel; errors are JSON 4xx, or 503 if the store or
Rasa fails, never a 500.

Long-polling, not short polling: an agent's message reaches the customer within about a
second, and an idle widget makes three requests a minute instead of thirty. One watcher per
process reads the newest message rows once a second while anyone waits and wakes the waiting
requests of the conversations that changed (so the database sees one query a second, not
one per open widget); writes from this process wake them at once.
"""

from __future__ import annotations

import contextlib
import asyncio
import logging
import re
import time
from dataclasses import dataclass, replace
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import (
    CollectingOutputChannel, InputChannel, OutputChannel, UserMessage,
)
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.client_address import client_address, parse_networks
from bot.conversation.identity import contact_hash
from bot.errors import StoreUnavailable
from channels.message_guard import MessageRejected, check_command, check_text, command_intent
from bot.settings import Settings
from channels.rate_limit import FLOOD_REPLY, RateLimiter, flood_limiter
from channels.http_body import cap_request_size
from channels.rest import CLIENT_KEY, parse_json_body
from bot.channel_registry import DeliveryFailed
from channels.leases import new_owner
from channels.turn_recovery import replies_in_tracker
from channels.webchat.store import (
    DuplicateMessage, MAX_PAGE, StoredMessage, TurnLease, TurnState, WebChatSession,
    WebChatStore, clean_payload,
)

logger = logging.getLogger(__name__)

BLUEPRINT = "rapport_webchat"
MAX_WAIT_S = 20.0
RECHECK_S = 5.0  # a waiting request re-reads the history at least this often
MAX_TITLE_CHARS = 200
TURN_LEASE_S = 120.0  # a turn longer than this (actions are bounded far below) may run again
PURGE_EVERY_S = 3600.0  # stale sessions and their messages are purged this often
TOO_MANY_SESSIONS = "too many new chats from your network; please try again later"
TOO_MANY_WAITS = ("this chat is already open in too many windows; close one, "
                  "or wait for its answer first")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,128}$")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CORS_ALLOW = {
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Max-Age": "600",
}
try:  # Rasa's app-wide sanic-cors must not add its own (duplicate) headers to our answers
    from sanic_cors.core import SANIC_CORS_EVALUATED
except ImportError:  # pragma: no cover
    SANIC_CORS_EVALUATED = "_cors_evaluated"


def _error(reason: str, status: int, **headers: str) -> HTTPResponse:
    return response.json({"error": reason}, status=status, headers=headers or None)


def _int_arg(request: Request, name: str, default: float, low: float, high: float) -> float:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw) if name == "wait" else int(raw)
    except ValueError as error:
        raise MessageRejected(f"{name} must be a number") from error
    if not low <= value <= high:
        raise MessageRejected(f"{name} must be between {low:g} and {high:g}")
    return value


class HistoryWatcher:
    """Wakes long-polling requests when their conversation gets a new message."""

    def __init__(self, store: WebChatStore, interval: float = 1.0) -> None:
        self._store = store
        self._interval = interval
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._task: Optional[asyncio.Task] = None
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def notify(self, conversation_id: str) -> None:
        for event in self._waiters.get(conversation_id, ()):
            event.set()

    async def wait(self, conversation_id: str, timeout: float) -> None:
        """Return when `conversation_id` may have news, or after `timeout` seconds."""
        if self._closed or timeout <= 0:
            return
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._watch())
        event = asyncio.Event()
        self._waiters.setdefault(conversation_id, set()).add(event)
        waiter = asyncio.ensure_future(event.wait())
        try:
            # asyncio.wait, not wait_for: on Python 3.10 wait_for can swallow a cancellation
            await asyncio.wait({waiter}, timeout=timeout)
        finally:
            waiter.cancel()
            waiting = self._waiters.get(conversation_id)
            if waiting is not None:
                waiting.discard(event)
                if not waiting:
                    del self._waiters[conversation_id]

    async def _watch(self) -> None:
        cursor: Optional[int] = None
        while not self._closed:
            await asyncio.sleep(self._interval)
            if not self._waiters:
                cursor = None  # nobody waits: stop reading until someone does
                continue
            try:
                if cursor is None:
                    cursor = await self._store.last_row_id()
                    continue
                cursor, changed = await self._store.changed_since(cursor)
            except StoreUnavailable as error:
                logger.warning("web chat watcher cannot read the store: %s",
                               type(error.__cause__).__name__)
                continue
            for conversation_id in changed:
                self.notify(conversation_id)

    async def close(self) -> None:
        self._closed = True
        for events in list(self._waiters.values()):
            for event in events:
                event.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@dataclass(frozen=True)
class Turn:
    """A customer message to run through Rasa: its conversation, text, metadata and number."""

    sender: str
    text: str
    metadata: dict[str, Any]
    seq: int = 0

    def at(self, seq: int) -> "Turn":
        return replace(self, seq=seq)

    @property
    def message_id(self) -> str:
        """Rasa's message id: the number is unique in its conversation, and known again
        when the same message comes back after a crash."""
        return f"webchat-{self.seq}"


class WebChatOutput(CollectingOutputChannel):
    """Bot messages sent outside a customer's request (e.g. after a handoff) into history."""

    def __init__(self, store: WebChatStore, watcher: HistoryWatcher) -> None:
        super().__init__()
        self._store = store
        self._watcher = watcher

    @classmethod
    def name(cls) -> Text:
        return "webchat"

    async def _persist_message(self, message: Dict[Text, Any]) -> None:
        payload = clean_payload(message)
        if payload and message.get("recipient_id"):
            await self._store.append(message["recipient_id"], "bot", [payload])
            self._watcher.notify(message["recipient_id"])


class WebChatInput(InputChannel):
    """The web chat widget's channel: sessions, messages and history over REST."""

    @classmethod
    def name(cls) -> Text:
        return "webchat"

    def __init__(self, settings: Optional[Settings] = None,
                 store: Optional[WebChatStore] = None, *, max_wait: float = MAX_WAIT_S,
                 watch_interval: float = 1.0) -> None:
        self._settings = settings
        self._store = store
        self._watcher: Optional[HistoryWatcher] = None
        self._max_wait = max_wait
        self._watch_interval = watch_interval
        self._flood: Optional[RateLimiter] = None
        self._new_sessions: Optional[RateLimiter] = None
        self._polls: dict[str, int] = {}  # open long polls per conversation
        self._purger: Optional[asyncio.Task] = None
        self._owner = new_owner()  # names this process on the turns it runs

    @property
    def flood(self) -> RateLimiter:
        if self._flood is None:
            self._flood = flood_limiter(self.settings)
        return self._flood

    @property
    def new_sessions(self) -> RateLimiter:
        """New sessions per client address: RAPPORT_WEBCHAT_SESSIONS_PER_HOUR, refilling."""
        if self._new_sessions is None:
            per_hour = self.settings.webchat_sessions_per_hour
            self._new_sessions = RateLimiter(per_hour, per_hour, window_s=3600.0)
        return self._new_sessions

    def client_address(self, request: Request) -> str:
        return client_address(request.ip, request.headers.get("x-forwarded-for"),
                              parse_networks(self.settings.trusted_proxies))

    def creator_of(self, request: Request) -> str:
        """Who opens a session: a keyed hash of their address (the address is not stored).

        Verification failures in any of their sessions count against it, so a fresh session
        gives a guesser nothing new. Keyed with RAPPORT_VERIFICATION_SECRET, like the contact
        hashes those counts sit beside.
        """
        secret = self.settings.verification_secret
        return contact_hash("webchat-client:" + self.client_address(request),
                            secret.encode() if secret else None)[:32]

    async def purge(self) -> tuple[int, int]:
        """Forget sessions idle RAPPORT_WEBCHAT_RETENTION_DAYS and their messages."""
        removed = await self.store.purge_stale(self.settings.webchat_retention_days)
        if any(removed):
            logger.info("web chat: purged %d stale sessions and %d messages", *removed)
        return removed

    async def _purge_periodically(self) -> None:
        while True:
            try:
                await self.purge()
            except StoreUnavailable as error:
                logger.warning("web chat purge failed: %s", type(error.__cause__).__name__)
            await asyncio.sleep(PURGE_EVERY_S)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.from_env()
        return self._settings

    @property
    def store(self) -> WebChatStore:
        if self._store is None:
            self._store = WebChatStore.from_url(self.settings.hub_db_url)
        return self._store

    @property
    def watcher(self) -> HistoryWatcher:
        if self._watcher is None:
            self._watcher = HistoryWatcher(self.store, self._watch_interval)
        return self._watcher

    def get_output_channel(self) -> OutputChannel:
        return WebChatOutput(self.store, self.watcher)

    # -- CORS ----------------------------------------------------------------------------

    def _origin_allowed(self, origin: Optional[str]) -> bool:
        return origin is None or origin in self.settings.allowed_webchat_origins

    def _cors_headers(self, request: Request) -> dict[str, str]:
        origin = request.headers.get("origin")
        if origin and self._origin_allowed(origin):
            return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        return {"Vary": "Origin"}

    def _screen(self, request: Request) -> Optional[HTTPResponse]:
        """The answer for a preflight or a foreign origin; None lets the request through."""
        setattr(request.ctx, SANIC_CORS_EVALUATED, "1")
        if not self._origin_allowed(request.headers.get("origin")):
            return _error("this site may not use the chat", 403, Vary="Origin")
        if request.method == "OPTIONS":
            return response.empty(status=204, headers={**self._cors_headers(request),
                                                       **_CORS_ALLOW})
        return None

    async def _gate(self, request: Request) -> Optional[HTTPResponse]:
        """App middleware, first in line: Rasa's app-wide sanic-cors would otherwise answer
        every OPTIONS request itself (without our origins)."""
        route = getattr(request, "route", None)
        if route is None or f".{BLUEPRINT}." not in f".{route.name}.":
            return None
        return self._screen(request)

    # -- requests ------------------------------------------------------------------------

    async def _session(self, request: Request) -> WebChatSession:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not _TOKEN.match(token):
            raise MessageRejected("a session token is required", 401)
        session = await self.store.session_for_token(token)
        if session is None:
            raise MessageRejected("this chat session has expired; start a new one", 401)
        return session

    def _body(self, request: Request) -> dict[str, Any]:
        limit = max(64 * 1024, self.settings.max_message_chars * 8)
        if len(request.body or b"") > limit:
            raise MessageRejected("the request is too large", 413)
        return parse_json_body(request)

    async def _customer_message(self, request: Request, body: dict[str, Any],
                                sender: str) -> tuple[str, dict[str, Any]]:
        """(the text for Rasa, what the history shows). A button the bot just offered sends
        its payload and title; any other command is plain words (`message_guard`)."""
        text = check_text(body.get("message"), self.settings.max_message_chars)
        agent = getattr(request.app.ctx, "agent", None)
        try:
            text = await check_command(text, sender, getattr(agent, "tracker_store", None))
        except Exception as error:  # noqa: BLE001 (any tracker store's failure: a 503)
            raise StoreUnavailable(f"tracker store: {type(error).__name__}") from error
        title = body.get("title")
        if command_intent(text) is not None and isinstance(title, str):
            try:
                shown = check_text(title[:MAX_TITLE_CHARS], MAX_TITLE_CHARS)
            except MessageRejected:
                shown = ""  # an empty title: show the command itself
            if shown:
                return text, {"text": shown, "payload": text}
        return text, {"text": text}

    async def _history(self, conversation_id: str, after: int, limit: int = MAX_PAGE,
                       wait: float = 0.0) -> list[StoredMessage]:
        deadline = time.monotonic() + wait
        while True:
            found = await self.store.history(conversation_id, after, limit)
            left = deadline - time.monotonic()
            if found or left <= 0:
                return found
            if self.watcher.closed:
                return found
            await self.watcher.wait(conversation_id, min(left, RECHECK_S))

    async def _receive(self, request: Request, on_new_message: Callable) -> HTTPResponse:
        session = await self._session(request)
        body = self._body(request)
        text, shown = await self._customer_message(request, body, session.sender_id)
        client_id = body.get("client_id")
        if client_id is not None and (not isinstance(client_id, str)
                                      or not _CLIENT_ID.match(client_id)):
            raise MessageRejected("client_id must be 1-64 letters, digits, - or _")
        after = body.get("after")
        if after is not None and (not isinstance(after, int) or isinstance(after, bool)
                                  or not 0 <= after <= 2**31):
            raise MessageRejected("after must be a message id (a whole number, 0 or more)")
        sender = session.sender_id
        verdict = self.flood.take(sender)
        if not verdict.allowed:
            return _error(FLOOD_REPLY, 429, **{"Retry-After": str(verdict.retry_after)})
        turn = Turn(sender, text, {CLIENT_KEY: session.creator or sender})
        try:
            customer = (await self.store.append(sender, "customer", [shown], client_id=client_id,
                                                turn=self._lease()))[0]
        except DuplicateMessage as duplicate:
            return await self._repeated(request, turn.at(duplicate.seq), after, on_new_message)
        self.watcher.notify(sender)
        failed = await self._run_turn(request, turn.at(customer.seq), on_new_message)
        if failed is not None:
            return failed
        found = await self.store.history(sender, customer.seq - 1 if after is None else after)
        return response.json({"messages": [m.to_json() for m in found]})

    def _lease(self) -> TurnLease:
        return TurnLease(self._owner, time.time() + TURN_LEASE_S)

    async def _run_turn(self, request: Request, turn: "Turn", on_new_message: Callable,
                        rerun: bool = False) -> Optional[HTTPResponse]:
        """Run the customer message's turn and store the replies; a 503 if it failed.

        The message id is the message's number, so a turn run again after a crash first looks
        for its replies in Rasa's tracker (`channels.turn_recovery`) and is not run twice.
        """
        replies: Optional[list[dict[str, Any]]] = None
        try:
            if rerun:
                agent = getattr(request.app.ctx, "agent", None)
                replies = await replies_in_tracker(getattr(agent, "tracker_store", None),
                                                   turn.sender, turn.message_id)
                if replies is not None:
                    logger.info("web chat message %s: Rasa had finished the turn; replies "
                                "recovered", turn.message_id)
            if replies is None:
                collector = CollectingOutputChannel()
                await on_new_message(UserMessage(
                    turn.text, collector, turn.sender, input_channel=self.name(),
                    message_id=turn.message_id, metadata=turn.metadata))
                replies = collector.messages
        except Exception:  # noqa: BLE001 (the boundary: log, answer honestly, never a 500)
            logger.exception("web chat message in %s failed", turn.sender)
            await self.store.remove(turn.sender, turn.seq)
            return _error("the assistant could not answer just now; please try again", 503)
        stored = [payload for payload in map(clean_payload, replies) if payload]
        await self.store.append(turn.sender, "bot", stored, answering=turn.seq)
        self.watcher.notify(turn.sender)
        return None

    async def _repeated(self, request: Request, turn: "Turn", after: Optional[int],
                        on_new_message: Callable) -> HTTPResponse:
        """A retried message (same client id): answered already, being answered, or left
        unanswered by a process that died mid-turn — then it is run again, here."""
        since = turn.seq - 1 if after is None else min(after, turn.seq - 1)
        deadline = time.monotonic() + self._max_wait
        while True:
            state = await self.store.claim_turn(turn.sender, turn.seq, self._owner,
                                                TURN_LEASE_S)
            if state is TurnState.CLAIMED:
                logger.info("web chat message %s: its turn was left unfinished; running it "
                            "again", turn.message_id)
                failed = await self._run_turn(request, turn, on_new_message, rerun=True)
                if failed is not None:
                    return failed
                break
            if state is TurnState.ANSWERED:
                break
            left = deadline - time.monotonic()
            if left <= 0 or self.watcher.closed:
                return _error("still answering that message; please try again in a moment",
                              503, **{"Retry-After": "2"})
            await self.watcher.wait(turn.sender, min(left, RECHECK_S))
        found = await self.store.history(turn.sender, since)
        return response.json({"messages": [m.to_json() for m in found]})

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webchat = Blueprint(BLUEPRINT, __name__)

        def guarded(handler: Callable[[Request], Awaitable[HTTPResponse]]):
            async def run(request: Request) -> HTTPResponse:
                screened = self._screen(request)  # again, in case the gate is not installed
                if screened is not None:
                    return screened
                try:
                    answer = await handler(request)
                except MessageRejected as rejected:
                    headers = {"WWW-Authenticate": "Bearer"} if rejected.status == 401 else {}
                    answer = _error(str(rejected), rejected.status, **headers)
                except (StoreUnavailable, DeliveryFailed) as error:
                    logger.warning("web chat store unavailable: %s", type(error).__name__)
                    answer = _error("the chat is unavailable just now; please try again", 503)
                answer.headers.update(self._cors_headers(request))
                return answer

            run.__name__ = handler.__name__
            return run

        @webchat.listener("before_server_start")
        async def install_gate(app: Sanic, _loop: Any) -> None:
            app.request_middleware.appendleft(self._gate)
            cap_request_size(app)

        @webchat.listener("after_server_start")
        async def start_purging(_app: Sanic, _loop: Any) -> None:
            if self._purger is None:
                self._purger = asyncio.create_task(self._purge_periodically())

        @webchat.listener("before_server_stop")
        async def end_long_polls(_app: Sanic, _loop: Any) -> None:
            if self._purger is not None:
                self._purger.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._purger
                self._purger = None
            if self._watcher is not None:
                await self._watcher.close()  # waiting requests answer now, not in 20 s

        @webchat.listener("after_server_stop")
        async def close(_app: Sanic, _loop: Any) -> None:
            if self._store is not None:
                await self._store.close()

        @webchat.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        async def create_session(request: Request) -> HTTPResponse:
            verdict = self.new_sessions.take(self.client_address(request))
            if not verdict.allowed:
                return _error(TOO_MANY_SESSIONS, 429, **{"Retry-After": str(verdict.retry_after)})
            session = await self.store.create_session(self.creator_of(request))
            return response.json({"token": session.token}, status=201,
                                 headers={"Cache-Control": "no-store"})

        async def receive(request: Request) -> HTTPResponse:
            return await self._receive(request, on_new_message)

        async def history(request: Request) -> HTTPResponse:
            session = await self._session(request)
            after = int(_int_arg(request, "after", 0, 0, 2**31))
            limit = int(_int_arg(request, "limit", MAX_PAGE, 1, MAX_PAGE))
            wait = _int_arg(request, "wait", 0.0, 0.0, self._max_wait)
            sender = session.sender_id
            if wait > 0 and self._polls.get(sender, 0) >= self.settings.webchat_polls_per_session:
                return _error(TOO_MANY_WAITS, 429, **{"Retry-After": "5"})
            if wait > 0:
                self._polls[sender] = self._polls.get(sender, 0) + 1
            try:
                found = await self._history(sender, after, limit, wait)
            finally:
                if wait > 0:
                    left = self._polls.pop(sender) - 1
                    if left:
                        self._polls[sender] = left
            return response.json({"messages": [m.to_json() for m in found],
                                  "more": len(found) == limit},
                                 headers={"Cache-Control": "no-store"})

        webchat.add_route(guarded(create_session), "/session", methods=["POST", "OPTIONS"])
        webchat.add_route(guarded(receive), "/message", methods=["POST", "OPTIONS"])
        webchat.add_route(guarded(history), "/history", methods=["GET", "OPTIONS"])
        return webchat
