"""A Redis lock store whose ticketing is atomic, so two Rasa processes never overlap a turn.

Rasa 3.6's `RedisLockStore` keeps a conversation's whole ticket queue as one JSON value and
changes it by read-modify-write (GET, change in Python, SET). Two processes issuing tickets for
one conversation at once read the same queue and both write it back: both get the same ticket, or
one's ticket is lost. Measured with real Redis and rasa 3.6.21, two processes on one conversation
for 20 s ran 11 to 31 turns concurrently and stalled up to the 60 s lock lifetime.

Here every change is one Lua script, which Redis runs atomically, per conversation:

    <prefix>:{<conversation>}:counter  INCR gives the next ticket number
    <prefix>:{<conversation>}:tickets  sorted set of live tickets, scored by number (the queue)
    <prefix>:{<conversation>}:expiry   sorted set of the same tickets, scored by expiry (Redis ms)

Expiry uses Redis's own clock, so processes on different machines agree. Expired tickets are
dropped at the start of every script. A ticket lives `lock_lifetime` seconds from its last sign of
life: a waiter renews it each time it polls, and the holder's clock starts when it is served, so a
crashed holder or waiter frees its place after at most one lifetime. Every key expires shortly after
the last live ticket, so nothing leaks. Redis unreachable: `LockStoreUnavailable` (a `LockError`),
never a turn without the lock.

endpoints.yml: `lock_store: {type: bot.scaleout.lock_store.AtomicRedisLockStore, host: ..., port: ...}`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, Dict, List, Optional, Text

import redis
from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore
from rasa.utils.endpoints import EndpointConfig

from bot.errors import Unavailable

logger = logging.getLogger(__name__)

DEFAULT_KEY_PREFIX = "rapport:lock"
DEFAULT_SOCKET_TIMEOUT = 10.0  # seconds, as Rasa's RedisLockStore
DEFAULT_MAX_POLL_INTERVAL = 0.05  # seconds between a waiter's polls, at most
FIRST_POLL_INTERVAL = 0.002  # seconds; doubles up to the maximum while waiting
KEY_MARGIN_MS = 60_000  # keys outlive their last live ticket by this much
_KEY_PREFIX = re.compile(r"[A-Za-z0-9_.:-]+")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

# Shared by every script: KEYS = counter, tickets, expiry.
_PRELUDE = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function drop_expired(now)
  for _, number in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)) do
    redis.call('ZREM', KEYS[3], number)
    redis.call('ZREM', KEYS[2], number)
  end
end
local function keep_keys_alive(margin)
  local last = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')
  if #last == 0 then return end
  local until_ms = tonumber(last[2]) + margin
  for i = 1, 3 do redis.call('PEXPIREAT', KEYS[i], until_ms) end
end
"""

# ARGV: lifetime ms, key margin ms. Returns the new ticket's number.
_ISSUE = _PRELUDE + """
local now = now_ms()
drop_expired(now)
local number = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], number, number)
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[1]), number)
keep_keys_alive(tonumber(ARGV[2]))
return number
"""

# ARGV: ticket, lifetime ms, key margin ms. Returns {tickets ahead, expiry ms}; ahead is -1
# when the ticket has expired (its place is lost), 0 when it is being served.
_POLL = _PRELUDE + """
local now = now_ms()
drop_expired(now)
local ahead = redis.call('ZRANK', KEYS[2], ARGV[1])
if not ahead then return {-1, 0} end
local expires = now + tonumber(ARGV[2])
redis.call('ZADD', KEYS[3], expires, ARGV[1])
keep_keys_alive(tonumber(ARGV[3]))
return {ahead, expires}
"""

# ARGV: ticket, key margin ms. Returns {1 if the ticket was still live else 0, tickets left}.
_RELEASE = _PRELUDE + """
drop_expired(now_ms())
local removed = redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
keep_keys_alive(tonumber(ARGV[2]))
return {removed, redis.call('ZCARD', KEYS[2])}
"""

# ARGV: key margin ms. Returns the live queue as {number, expiry ms, number, expiry ms, ...}.
_PEEK = _PRELUDE + """
drop_expired(now_ms())
keep_keys_alive(tonumber(ARGV[1]))
local queue = {}
for _, number in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  table.insert(queue, number)
  table.insert(queue, redis.call('ZSCORE', KEYS[3], number))
end
return queue
"""

# ARGV: key margin ms, then number, expiry ms pairs. Replaces the queue with the given tickets.
_REPLACE = _PRELUDE + """
redis.call('DEL', KEYS[2], KEYS[3])
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
for i = 2, #ARGV, 2 do
  local number = tonumber(ARGV[i])
  redis.call('ZADD', KEYS[2], number, number)
  redis.call('ZADD', KEYS[3], ARGV[i + 1], number)
  if number > last then last = number end
end
redis.call('SET', KEYS[1], last, 'PX', ARGV[1])
drop_expired(now_ms())
keep_keys_alive(tonumber(ARGV[1]))
return #ARGV
"""


class LockStoreUnavailable(LockError, Unavailable):
    """Redis cannot be reached: no ticket, so no turn (the lock store fails closed)."""


class AtomicRedisLockStore(LockStore):
    """Ticket locks in Redis where issuing, serving and releasing are each one atomic script."""

    def __init__(
        self,
        endpoint_config: Optional[EndpointConfig] = None,
        *,
        host: Text = "localhost",
        port: int = 6379,
        db: int = 1,
        username: Optional[Text] = None,
        password: Optional[Text] = None,
        use_ssl: bool = False,
        ssl_certfile: Optional[Text] = None,
        ssl_keyfile: Optional[Text] = None,
        ssl_ca_certs: Optional[Text] = None,
        key_prefix: Optional[Text] = None,
        socket_timeout: float = DEFAULT_SOCKET_TIMEOUT,
        lock_lifetime: Optional[float] = None,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
    ) -> None:
        """Connect lazily to Redis; Rasa passes `endpoint_config` (its `url` is the host)."""
        options: Dict[str, Any] = dict(
            host=host, port=port, db=db, username=username, password=password,
            use_ssl=use_ssl, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile,
            ssl_ca_certs=ssl_ca_certs, key_prefix=key_prefix, socket_timeout=socket_timeout,
            lock_lifetime=lock_lifetime, max_poll_interval=max_poll_interval,
        )
        if endpoint_config is not None:
            options.update(_endpoint_options(endpoint_config, known=set(options)))
        prefix = options["key_prefix"] or DEFAULT_KEY_PREFIX
        if not isinstance(prefix, str) or not _KEY_PREFIX.fullmatch(prefix):
            raise ValueError(f"lock store key_prefix {prefix!r}: use letters, digits and _ . : -")
        self.key_prefix = prefix
        self.lock_lifetime = _number(options["lock_lifetime"] or LOCK_LIFETIME, "lock_lifetime")
        self.max_poll_interval = _number(options["max_poll_interval"], "max_poll_interval")
        timeout = _number(options["socket_timeout"], "socket_timeout")
        self.red = redis.Redis(
            host=str(options["host"]), port=int(_number(options["port"], "port", int)),
            db=int(_number(options["db"], "db", int)),
            username=options["username"] or None, password=options["password"] or None,
            ssl=_as_bool(options["use_ssl"], "use_ssl"), ssl_certfile=options["ssl_certfile"],
            ssl_keyfile=options["ssl_keyfile"], ssl_ca_certs=options["ssl_ca_certs"],
            socket_timeout=timeout, socket_connect_timeout=timeout,
        )
        self._where = f"{options['host']}:{options['port']}/{options['db']}"
        self._issue = self.red.register_script(_ISSUE)
        self._poll = self.red.register_script(_POLL)
        self._release = self.red.register_script(_RELEASE)
        self._peek = self.red.register_script(_PEEK)
        self._replace = self.red.register_script(_REPLACE)
        super().__init__()

    def keys_for(self, conversation_id: Text) -> List[str]:
        """The conversation's counter, queue and expiry keys (one hash slot, for Redis Cluster)."""
        base = f"{self.key_prefix}:{{{conversation_id}}}"
        return [f"{base}:counter", f"{base}:tickets", f"{base}:expiry"]

    def issue_ticket(self, conversation_id: Text, lock_lifetime: Optional[float] = None) -> int:
        """Queue a new ticket for `conversation_id`: its number is one Redis INCR."""
        lifetime = self._lifetime_ms(lock_lifetime)
        return int(self._run(self._issue, conversation_id, [lifetime, KEY_MARGIN_MS]))

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: Text,
        lock_lifetime: Optional[float] = None,
        wait_time_in_seconds: float = 1,
    ) -> AsyncGenerator[TicketLock, None]:
        """Hold the conversation's lock: wait for this ticket's turn, release it afterwards.

        Yields a `TicketLock` whose `now_serving` is this holder's ticket. Polls back off from
        a few milliseconds to `min(wait_time_in_seconds, max_poll_interval)`.
        """
        lifetime = self._lifetime_ms(lock_lifetime)
        ticket = self.issue_ticket(conversation_id, lock_lifetime)
        try:
            yield await self._wait_for_turn(conversation_id, ticket, lifetime,
                                            min(wait_time_in_seconds, self.max_poll_interval))
        finally:
            self.cleanup(conversation_id, ticket)

    async def _wait_for_turn(self, conversation_id: Text, ticket: int, lifetime_ms: int,
                             max_interval: float) -> TicketLock:
        interval = FIRST_POLL_INTERVAL
        while True:
            ahead, expires_ms = self._run(self._poll, conversation_id,
                                          [ticket, lifetime_ms, KEY_MARGIN_MS])
            if ahead == 0:
                logger.debug("Conversation %s: serving ticket %s.", conversation_id, ticket)
                return TicketLock(conversation_id, deque([Ticket(ticket, expires_ms / 1000)]))
            if ahead < 0:
                raise LockError(f"Could not acquire the lock for conversation "
                                f"'{conversation_id}': ticket {ticket} expired while waiting.")
            await asyncio.sleep(interval)
            interval = min(interval * 2, max_interval)

    def get_lock(self, conversation_id: Text) -> Optional[TicketLock]:
        """A snapshot of the conversation's live tickets, or None if there are none."""
        flat = self._run(self._peek, conversation_id, [KEY_MARGIN_MS])
        if not flat:
            return None
        tickets = deque(Ticket(int(flat[i]), float(flat[i + 1]) / 1000)
                        for i in range(0, len(flat), 2))
        return TicketLock(conversation_id, tickets)

    def save_lock(self, lock: TicketLock) -> None:
        """Replace the conversation's queue with `lock`'s tickets, in one script (their
        expiry times are this machine's clock; tickets issued here use Redis's)."""
        pairs: List[Any] = []
        for ticket in lock.tickets:
            pairs += [ticket.number, int(ticket.expires * 1000)]
        self._run(self._replace, lock.conversation_id, [KEY_MARGIN_MS, *pairs])

    def delete_lock(self, conversation_id: Text) -> None:
        """Forget the conversation's queue and counter (anyone still waiting gets a LockError)."""
        deleted = self._call(conversation_id, lambda: self.red.delete(
            *self.keys_for(conversation_id)))
        self._log_deletion(conversation_id, bool(deleted))

    def update_lock(self, conversation_id: Text) -> None:
        """Drop the conversation's expired tickets."""
        self._run(self._peek, conversation_id, [KEY_MARGIN_MS])

    def is_someone_waiting(self, conversation_id: Text) -> bool:
        """Does the conversation have a live ticket?"""
        return bool(self._run(self._peek, conversation_id, [KEY_MARGIN_MS]))

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        """Take `ticket_number` off the queue; the next ticket is served."""
        still_live, _ = self._run(self._release, conversation_id, [ticket_number, KEY_MARGIN_MS])
        if not still_live:
            logger.warning("Conversation %s: ticket %s outlived its lock lifetime; the next turn "
                           "may have started before this one ended.", conversation_id,
                           ticket_number)

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        """Release the ticket. If Redis is gone the ticket expires on its own, so log, not raise:
        the turn already ran, and an error here would only hide its outcome."""
        try:
            self.finish_serving(conversation_id, ticket_number)
        except LockStoreUnavailable as error:
            logger.error("Conversation %s: could not release ticket %s (%s); it frees its place "
                         "when its lifetime ends.", conversation_id, ticket_number, error)

    def _lifetime_ms(self, lock_lifetime: Optional[float]) -> int:
        seconds = self.lock_lifetime if lock_lifetime is None else float(lock_lifetime)
        if seconds <= 0:
            raise ValueError(f"lock lifetime must be positive, got {seconds}")
        return max(1, int(seconds * 1000))

    def _run(self, script: Any, conversation_id: Text, args: List[Any]) -> Any:
        return self._call(conversation_id,
                          lambda: script(keys=self.keys_for(conversation_id), args=args))

    def _call(self, conversation_id: Text, command: Any) -> Any:
        try:
            return command()
        except redis.RedisError as error:
            raise LockStoreUnavailable(
                f"Lock store Redis at {self._where} failed for conversation "
                f"'{conversation_id}' ({type(error).__name__}: {error}); not running the turn "
                f"without its lock.") from error


def _endpoint_options(endpoint_config: EndpointConfig, known: set) -> Dict[str, Any]:
    """The options of an endpoints.yml `lock_store:` section (`url` is accepted as the host)."""
    options = dict(endpoint_config.kwargs)
    if endpoint_config.url:
        options.setdefault("host", endpoint_config.url)
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"lock_store in endpoints: unknown option(s) {', '.join(unknown)}; "
                         f"known: url, {', '.join(sorted(known))}")
    return options


def _number(value: Any, name: str, kind: type = float) -> float:
    """A number from YAML or an expanded ${VAR} (which is always a string)."""
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"lock_store {name}: expected a number, got {value!r}") from None


def _as_bool(value: Any, name: str) -> bool:
    """A boolean from YAML or an expanded ${VAR} (which is always a string)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise ValueError(f"lock_store {name}: expected true or false, got {value!r}")
