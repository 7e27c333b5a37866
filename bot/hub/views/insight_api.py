"""The analyst API over the exchange log: list, filter and export conversations, read one.

- `GET /api/insight/conversations?since=&until=&channel=&intent=&sentiment=&outcome=
  &handoff=yes|no&product=&limit=&offset=&format=json|csv`: one page of conversations,
  newest first (filters: `bot.insight.conversation_search`); CSV comes as a download.
- `GET /api/insight/conversations/{conversation_id}`: the conversation and its whole
  transcript, turns in order, redacted once more on the way out (the id may hold "/", as
  REST senders' ids do; send it as it is or with %2F).

Roles analyst and admin only. /api/insight is outside the console guard's prefixes, so these
views load the session themselves: none is 401, another role 403, all answered as JSON.
Every export and every transcript read goes on the console audit log (`bot.hub.audit`).
The queries run on the hub database the console opened (the audit log's).
"""

from __future__ import annotations

from typing import Optional

from aiohttp import web

from bot.errors import StoreUnavailable
from bot.handoff.agents import Agent
from bot.hub import audit, auth, keys
from bot.hub.errors import NotAllowed
from bot.hub.views.analyst import MAX_TEXT, ROLES, hub_db
from bot.insight import conversation_search as search
from bot.insight.conversation_search import SearchError


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=auth.SECURITY_HEADERS)


async def _analyst(request: web.Request) -> Optional[Agent]:
    """The signed-in analyst or admin, or None (the caller answers 401)."""
    if await auth.current_session(request) is None:
        return None
    return auth.require_role(request, *ROLES)


async def conversations(request: web.Request) -> web.Response:
    """A filtered page of conversations, as JSON or a CSV download."""
    try:
        agent = await _analyst(request)
        if agent is None:
            return _error(401, "sign in first")
        query = search.parse_query(request.query)
        page = await hub_db(request).run(search.search, query)
        filters = ", ".join(f"{name}={value}" for name, value in query.filters().items())
        await request.app[keys.AUDIT].record(
            agent, audit.EXPORTED, detail=f"insight conversations ({query.format}, "
                                          f"{len(page.conversations)} rows) {filters}".strip())
    except NotAllowed as error:
        return _error(403, str(error))
    except SearchError as error:
        return _error(400, str(error))
    except StoreUnavailable:
        return _error(503, "the exchange log is unavailable; try again shortly")
    if query.format == "csv":
        return web.Response(
            text=search.to_csv(page), content_type="text/csv", charset="utf-8",
            headers={**auth.SECURITY_HEADERS,
                     "Content-Disposition": 'attachment; filename="conversations.csv"'})
    return web.json_response({"total": page.total, "limit": query.limit, "offset": query.offset,
                              "filters": {name: str(value) for name, value
                                          in query.filters().items()},
                              "conversations": page.conversations},
                             headers=auth.SECURITY_HEADERS)


async def conversation(request: web.Request) -> web.Response:
    """One conversation with its whole redacted transcript."""
    conversation_id = request.match_info["conversation_id"]
    try:
        agent = await _analyst(request)
        if agent is None:
            return _error(401, "sign in first")
        if len(conversation_id) > MAX_TEXT:
            return _error(400, f"a conversation id has at most {MAX_TEXT} characters")
        body = await hub_db(request).run(search.transcript, conversation_id)
        if body is None:
            return _error(404, "no such conversation in the exchange log")
        await request.app[keys.AUDIT].record(agent, audit.VIEWED,
                                             detail=f"insight conversation {conversation_id}")
    except NotAllowed as error:
        return _error(403, str(error))
    except StoreUnavailable:
        return _error(503, "the exchange log is unavailable; try again shortly")
    return web.json_response(body, headers=auth.SECURITY_HEADERS)
