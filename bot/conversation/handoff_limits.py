"""Handoffs opened by unverified clients: at most RAPPORT_UNVERIFIED_HANDOFFS_PER_HOUR each.

A handoff costs an agent's time and puts a case in front of a person, so a client nobody has
verified (`actions.identity.client_of`: a Telegram user, a REST integration's customer, a web
chat session, whose creation is itself limited per address) may open only a few an hour;
past that they are told to verify or try later. Verified customers are not limited here.

The counts live in the action server's process: it runs as one process (`rapport run`
starts one worker), so it sees every handoff; after a restart the counts start again, which
costs at most one more hour's allowance.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from typing import Callable

WINDOW_S = 3600.0
MAX_CLIENTS = 50_000
LIMIT_REPLY = ("I've already passed this chat to our team several times in the last hour, so "
               "I can't open another request just now. Once you've verified your details with "
               "me I can connect you straight away; otherwise please try again later.")


class HandoffLimiter:
    """A sliding one-hour window of handoffs per client."""

    def __init__(self, per_hour: int, *, clock: Callable[[], float] = time.monotonic,
                 window_s: float = WINDOW_S, max_clients: int = MAX_CLIENTS) -> None:
        self.per_hour = per_hour
        self.clock = clock
        self.window_s = window_s
        self.max_clients = max_clients
        self._opened: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, client: str) -> deque[float]:
        now = self.clock()
        opened = self._opened.pop(client, deque())
        while opened and now - opened[0] >= self.window_s:
            opened.popleft()
        self._opened[client] = opened
        while len(self._opened) > self.max_clients:
            self._opened.popitem(last=False)
        return opened

    def allowed(self, client: str) -> bool:
        """Whether `client` may open another handoff now (does not count it)."""
        return len(self._recent(client)) < self.per_hour

    def opened(self, client: str) -> None:
        """Count a handoff `client` opened."""
        self._recent(client).append(self.clock())
