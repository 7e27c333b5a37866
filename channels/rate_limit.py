"""Per-key token buckets: one sender flooding a channel is slowed to a human pace.

Each conversation (REST `rest-<integration>-<sender>`, web chat `wc-…`, Telegram `tg-…`) has
a bucket of `burst` messages that refills at `per_minute`; a message that finds it empty is
refused before Rasa sees it, with `FLOOD_REPLY` (REST and web chat: a 429 with Retry-After;
Telegram: one reply, then silence until the bucket refills). Web chat also meters new sessions
per client address the same way.

The buckets live in the process, not the database, on purpose: a flood must cost nothing,
and a database write per refused message would let the flood reach the database. Each
conversation's messages reach one process (Rasa serves a channel from one Sanic process; a
Telegram chat is leased to one worker at a time), so a conversation meets one bucket; with N
Rasa processes behind a balancer a sender gets at most N times the rate, still bounded. The
number of keys is bounded too (the least recently used are forgotten first), so a flood of
new senders cannot grow memory without limit.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

FLOOD_REPLY = ("You're sending messages faster than I can read them. Please wait a moment, "
               "then send your message again.")
MAX_KEYS = 100_000


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # whole seconds until a message would be allowed
    first_refusal: bool = False  # the first refusal since the last allowed message


class RateLimiter:
    """`take(key)`: a token from `key`'s bucket (`burst` tokens, `per_minute` a minute)."""

    def __init__(self, per_minute: float, burst: int, *, window_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_KEYS) -> None:
        self.rate = max(per_minute, 0.0) / window_s  # tokens a second
        self.burst = max(int(burst), 1)
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float, bool]] = OrderedDict()

    def take(self, key: str) -> Verdict:
        now = self.clock()
        tokens, last, refused = self._buckets.pop(key, (float(self.burst), now, False))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            verdict = Verdict(True)
            tokens, refused = tokens - 1.0, False
        else:
            wait = math.inf if self.rate <= 0 else (1.0 - tokens) / self.rate
            verdict = Verdict(False, max(1, math.ceil(min(wait, 24 * 3600))), not refused)
            refused = True
        self._buckets[key] = (tokens, now, refused)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return verdict


def flood_limiter(settings) -> RateLimiter:  # settings: bot.settings.Settings
    """The per-conversation message limiter from RAPPORT_FLOOD_PER_MINUTE / _BURST."""
    return RateLimiter(settings.flood_per_minute, settings.flood_burst)
