"""The hub's client for Rasa's HTTP API: read a conversation, record, pause, resume, trigger.

Rasa's API is on only with a JWT secret (see bot/ops/rasa_server.py); the hub signs short-lived
HS256 tokens with the admin role (`requires_auth` in rasa/server.py lets role "admin"
reach every conversation). No Rasa imports: just HTTP, with explicit timeouts.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional, Sequence
from urllib.parse import quote

import aiohttp
import jwt

from bot.errors import Unavailable

HUB_USER = {"username": "rapport-hub", "role": "admin"}
TOKEN_SECONDS = 300
MODEL_LOAD_SECONDS = 300.0  # loading a model (spaCy, TensorFlow) takes far longer than a call
HANDOFF_RESOLVED = "EXTERNAL_handoff_resolved"
HANDOFF_CALLBACK = "EXTERNAL_handoff_callback"


class RasaApiError(Unavailable, RuntimeError):
    """Rasa answered with an error (or is off: no JWT secret)."""


class RasaUnavailable(RasaApiError):
    """Rasa could not be reached in time."""


class RasaApi:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, jwt_secret: Optional[str],
                 timeout: float = 15.0) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._secret = jwt_secret
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    def _headers(self) -> dict[str, str]:
        if not self._secret:
            raise RasaApiError("Rasa's API is off (no RAPPORT_RASA_JWT_SECRET)")
        now = int(time.time())
        token = jwt.encode({"user": HUB_USER, "iat": now, "exp": now + TOKEN_SECONDS},
                           self._secret, algorithm="HS256")
        return {"Authorization": f"Bearer {token}"}

    def _url(self, conversation_id: str, tail: str) -> str:
        return f"{self._base}/conversations/{quote(conversation_id, safe='')}/{tail}"

    async def _call(self, method: str, url: str, body: Any = None,
                    params: Optional[dict] = None,
                    timeout: Optional[aiohttp.ClientTimeout] = None) -> Any:
        try:
            async with self._session.request(method, url, json=body, params=params,
                                             headers=self._headers(),
                                             timeout=timeout or self._timeout) as response:
                if not 200 <= response.status < 300:
                    text = (await response.text())[:300]
                    raise RasaApiError(f"Rasa answered {response.status}: {text}")
                try:
                    return await response.json(content_type=None)
                except ValueError as error:  # not Rasa on that port, or a proxy's page
                    raise RasaApiError(f"Rasa answered {response.status} with a body that is "
                                       "not JSON") from error
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise RasaUnavailable(f"Rasa is unreachable ({type(error).__name__})") from error

    async def events(self, conversation_id: str) -> list[dict[str, Any]]:
        """Every event of the conversation since its last restart."""
        state = await self._call("GET", self._url(conversation_id, "tracker"),
                                 params={"include_events": "AFTER_RESTART"})
        return list((state or {}).get("events") or [])

    async def append(self, conversation_id: str, events: list[dict[str, Any]]) -> None:
        await self._call("POST", self._url(conversation_id, "tracker/events"), events)

    async def record_agent_message(self, conversation_id: str, text: str, agent: str) -> None:
        """Put an agent's reply on the conversation as a bot turn naming the agent."""
        await self.append(conversation_id, [{"event": "bot", "text": text, "timestamp": time.time(),
                                             "metadata": {"agent": agent}}])

    async def pause(self, conversation_id: str) -> None:
        await self.append(conversation_id, [{"event": "pause", "timestamp": time.time()}])

    async def resume(self, conversation_id: str) -> None:
        """Hand the conversation back to the bot, listening (as if it had been all along).

        The paused tracker ends with the handoff action, not `action_listen`; without one,
        the rules that react to the next message (or to the external intent the hub
        triggers) would not match.
        """
        now = time.time()
        await self.append(conversation_id, [{"event": "resume", "timestamp": now},
                                            {"event": "action", "name": "action_listen",
                                             "timestamp": now}])

    async def trigger(self, conversation_id: str, intent: str,
                      entities: Optional[dict] = None) -> list[dict[str, Any]]:
        """Run the bot on an external intent; the messages it would send (we deliver them)."""
        result = await self._call("POST", self._url(conversation_id, "trigger_intent"),
                                  {"name": intent, "entities": entities or {}})
        return list((result or {}).get("messages") or [])

    async def load_model(self, path: Path, timeout: float = MODEL_LOAD_SECONDS) -> None:
        """Make the running Rasa server serve the model file at `path` (on its machine).

        Rasa loads the new model before it swaps it in, so conversations carry on; when the
        load fails, Rasa answers an error and keeps the model it had.
        """
        await self._call("PUT", f"{self._base}/model", {"model_file": str(path)},
                         timeout=aiohttp.ClientTimeout(total=timeout))


def model_loader(session: aiohttp.ClientSession, servers: Sequence[str],
                 jwt_secret: Optional[str]) -> Callable[[Path], Awaitable[None]]:
    """Load a model into every Rasa server (RAPPORT_RASA_URLS), at once.

    Several Rasa processes share the conversations: a retrained model must reach each, or a
    customer's next message could be answered by the old model on another process. A server
    that fails keeps its model; the error names it and says which ones took the new one.
    """
    clients = [(url, RasaApi(session, url, jwt_secret)) for url in servers]

    async def load_everywhere(path: Path) -> None:
        outcomes = await asyncio.gather(*(client.load_model(path) for _, client in clients),
                                        return_exceptions=True)
        failed = [(url, outcome) for (url, _), outcome in zip(clients, outcomes)
                  if isinstance(outcome, BaseException)]
        for _, outcome in failed:
            if not isinstance(outcome, Exception):
                raise outcome  # a cancellation, not a server's failure
        if failed:
            loaded = len(clients) - len(failed)
            reasons = "; ".join(f"{url}: {error}" for url, error in failed)
            raise RasaApiError(f"loaded into {loaded} of {len(clients)} Rasa servers ({reasons})")

    return load_everywhere
