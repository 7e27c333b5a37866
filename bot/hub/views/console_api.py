"""The console's JSON API and live event streams (server-sent events).

- `GET /api/console/queue`: the queue this agent may see, as JSON.
- `GET /api/console/handoffs/{id}`: one handoff with its transcript, as JSON.
- `GET /api/console/queue/stream`: `queue` events with the queue's HTML whenever it changes
  (and every few seconds, as waiting times grow).
- `GET /api/console/handoffs/{id}/stream?after=N`: `turn` events for each new message of the
  conversation (after event N, the page's starting point) and `panel` events when the
  handoff changes; `gone` when it is no longer this agent's to see.

An open stream is the console's heartbeat: it marks the agent online (presence), and it
ends when the session does (sign-out elsewhere, password change, disabled account).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any, AsyncIterator, Optional

from aiohttp import web

from bot.errors import StoreUnavailable
from bot.handoff.states import OPEN_STATES
from bot.handoff.store import Handoff, HandoffNotFound
from bot.handoff.transcript import turns
from bot.hub import audit, auth, keys
from bot.hub.auth import SESSION_KEY, agent_of, require_role
from bot.hub.console_view import Queue, render_events, render_panel, render_queue
from bot.hub.feed import Subscription, messages
from bot.hub.agent_desk import can_view, in_window
from bot.hub.rasa_api import RasaApiError
from bot.hub.views.console import panel_model, queue_model

log = logging.getLogger(__name__)

TICK_SECONDS = 10.0
STREAM_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "X-Accel-Buffering": "no",
    **auth.SECURITY_HEADERS,
}


def _row_json(row) -> dict[str, Any]:
    h = row.handoff
    return {"id": h.id, "state": h.state, "priority": row.priority.points,
            "band": row.priority.band, "reason": h.reason, "channel": h.channel,
            "customer_name": h.customer_name, "agent": h.agent_name, "waited": row.waited,
            "last_customer_text": h.last_customer_text, "case_id": h.case_id, "csat": h.csat}


def _queue_json(queue: Queue) -> dict[str, Any]:
    return {name: [_row_json(row) for row in getattr(queue, name)]
            for name in ("waiting", "mine", "others", "callbacks", "recent")}


async def queue_json(request: web.Request) -> web.Response:
    return web.json_response(_queue_json(await queue_model(request)))


def handoff_json(handoff: Handoff) -> dict[str, Any]:
    return {"id": handoff.id, "conversation_id": handoff.conversation_id,
            "channel": handoff.channel, "state": handoff.state, "reason": handoff.reason,
            "priority": handoff.priority().points, "agent": handoff.agent_name,
            "case_id": handoff.case_id, "customer_name": handoff.customer_name,
            "resolution_note": handoff.resolution_note, "csat": handoff.csat,
            "packet": handoff.packet, "created_at": handoff.created_at.isoformat()}


async def handoff_detail(request: web.Request) -> web.Response:
    desk = request.app[keys.HANDOFFS]
    agent = agent_of(request)
    handoff = await desk.visible(agent, request.match_info["handoff_id"])
    await request.app[keys.AUDIT].record(agent, audit.EXPORTED, handoff.id)
    body = handoff_json(handoff)
    try:
        body["transcript"] = [t.as_dict() for t in turns(await desk.transcript(handoff))]
    except RasaApiError:
        body["transcript"] = None
    body["notes"] = [{"author": n.author, "kind": n.kind, "text": n.text,
                      "at": n.created_at.isoformat()} for n in await desk.store.notes(handoff.id)]
    return web.json_response(body)


async def audit_json(request: web.Request) -> web.Response:
    """The console audit log, newest first (admins only)."""
    require_role(request, "admin")
    try:
        limit = int(request.query.get("limit", "200"))
    except ValueError:
        raise web.HTTPBadRequest(text="limit is a number") from None
    entries = await request.app[keys.AUDIT].entries(
        limit, request.query.get("handoff") or None, request.query.get("agent") or None)
    return web.json_response({"entries": [entry.as_dict() for entry in entries]})


# -- streams ---------------------------------------------------------------------------

class Stream:
    """One open event stream and its feed subscription: sending, heartbeat, session check.

    `name` says which stream it is in the log; `conversation_id` also subscribes to that
    conversation's turns (None: queue changes only). The stream is subscribed inside
    `async with stream:`; a browser that goes away, a shutdown or an unreachable store end
    it quietly there.
    """

    def __init__(self, request: web.Request, name: str,
                 conversation_id: Optional[str] = None) -> None:
        self.request = request
        self.response = web.StreamResponse(headers=STREAM_HEADERS)
        self.agent = agent_of(request)
        self.csrf = request[SESSION_KEY].csrf_token
        self.name = name
        self._feed = request.app[keys.FEED]
        self._conversation_id = conversation_id
        self._subscription: Optional[Subscription] = None
        self._beat = 0.0
        self._checked = time.monotonic()

    async def __aenter__(self) -> Stream:
        self._subscription = self._feed.subscribe(self._conversation_id)
        return self

    async def __aexit__(self, kind: Optional[type[BaseException]],
                        error: Optional[BaseException], traceback: Any) -> bool:
        try:
            if isinstance(error, (ConnectionResetError, asyncio.CancelledError)):
                log.debug("%s stream for %s closed by the browser or shutdown",
                          self.name, self.agent.name)
                return True
            if isinstance(error, StoreUnavailable):
                log.warning("%s stream for %s ended: %s", self.name, self.agent.name, error)
                return True
            return False
        finally:
            self._feed.unsubscribe(self._subscription)

    def due(self) -> bool:
        return time.monotonic() - self._checked >= TICK_SECONDS

    async def open(self) -> None:
        await self.response.prepare(self.request)
        await self.response.write(b"retry: 2000\n\n")

    async def send(self, event: str, data: Any) -> None:
        payload = json.dumps(data, separators=(",", ":"))
        await self.response.write(f"event: {event}\ndata: {payload}\n\n".encode())

    async def alive(self) -> bool:
        """Keep presence up; False once the session is gone."""
        self._checked = time.monotonic()
        directory = self.request.app[keys.AGENTS]
        token = self.request.cookies.get(auth.COOKIE, "")
        if await directory.session(token, auth.SESSION_IDLE) is None:
            await self.send("bye", {"reason": "signed out"})
            return False
        now = time.monotonic()
        if self.agent.handles_handoffs and now - self._beat >= TICK_SECONDS / 2:
            await directory.heartbeat(self.agent.id)
            self._beat = now
        await self.response.write(b": keep-alive\n\n")
        return True

    async def updates(self) -> AsyncIterator[Optional[dict[str, Any]]]:
        """The feed's messages, None every quiet tick, until the stream should end.

        It ends when the feed overflows or says `bye`, or when the session is gone (checked
        every TICK_SECONDS). Several queue changes waiting at once come as one `queue` message.
        """
        subscription = self._subscription
        async for message in messages(subscription, TICK_SECONDS):
            if subscription.overflowed or (message or {}).get("type") == "bye":
                return
            if message is None or self.due():
                if not await self.alive():
                    return
            if message is not None and message["type"] == "queue":
                _drain(subscription)
            yield message


def _drain(subscription: Subscription) -> None:
    """Several queue changes at once need one refresh."""
    kept = []
    while not subscription.queue.empty():
        message = subscription.queue.get_nowait()
        if message.get("type") != "queue":
            kept.append(message)
    for message in kept:
        subscription.offer(message)


async def queue_stream(request: web.Request) -> web.StreamResponse:
    env = request.app[keys.TEMPLATES]
    stream = Stream(request, "queue")

    async def push() -> None:
        queue = await queue_model(request)
        await stream.send("queue", {"html": render_queue(env, queue, stream.agent, stream.csrf),
                                    **queue.counts})

    async with stream:
        await stream.open()
        if not await stream.alive():
            return stream.response
        await push()
        async for message in stream.updates():
            if message is None or message["type"] == "queue":
                await push()
    return stream.response


async def conversation_stream(request: web.Request) -> web.StreamResponse:
    desk = request.app[keys.HANDOFFS]
    feed = request.app[keys.FEED]
    env = request.app[keys.TEMPLATES]
    handoff = await desk.visible(agent_of(request), request.match_info["handoff_id"])
    try:
        after = int(request.query.get("after", feed.cursor))
    except ValueError:
        after = feed.cursor
    # A closed handoff's window has ended: its stream carries no turns, only its panel.
    live = handoff.state in OPEN_STATES
    stream = Stream(request, "conversation", handoff.conversation_id if live else None)
    revision: Optional[int] = None

    async def push_turns(events: list[dict[str, Any]]) -> None:
        nonlocal handoff
        if handoff.state in OPEN_STATES:  # it may have closed since: check before showing
            with contextlib.suppress(HandoffNotFound):
                handoff = await desk.store.get(handoff.id)
        for key, html in render_events(env, in_window(handoff, events)):
            await stream.send("turn", {"key": key, "html": html})

    async def push_panel() -> bool:
        nonlocal revision
        try:
            current = await desk.store.get(handoff.id)
        except HandoffNotFound:
            current = None
        if current is None or not can_view(stream.agent, current):
            await stream.send("gone", {"message": "This conversation is no longer in your queue."})
            return False
        if current.revision != revision:
            revision = current.revision
            panel = await panel_model(request, current)
            await stream.send("panel", {"html": render_panel(env, panel, stream.csrf),
                                        "state": current.state,
                                        "can_act": panel.can_act, "revision": revision,
                                        "hint": panel.composer_hint})
        return True

    async with stream:
        await stream.open()
        await push_turns([event for _, event in feed.replay(handoff.conversation_id, after)])
        if not await push_panel():
            return stream.response
        async for message in stream.updates():
            if message is None or message["type"] == "queue":
                if not await push_panel():
                    break
            elif message["type"] == "turn":
                await push_turns([message["event"]])
    return stream.response
