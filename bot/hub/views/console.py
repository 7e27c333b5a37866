"""The agent console's pages (queue, conversation) and its actions (claim, reply, resolve…).

Actions answer JSON to the page's script (`Accept: application/json`) and a redirect to a
plain form post, so the console also works without JavaScript. Sessions and CSRF are
checked before any of this runs (`bot.hub.auth.console_guard`); who may do what to which
handoff is `bot.hub.agent_desk`.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Optional

from aiohttp import web

from bot.handoff.canned import CannedResponsesError, load_canned
from bot.database import utcnow
from bot.handoff.store import Handoff
from bot.handoff.transcript import turns
from bot.hub import audit, keys
from bot.hub.agent_desk import AgentDesk
from bot.hub.auth import SESSION_KEY, agent_of, require_role
from bot.hub.console_view import build_panel, build_queue, macros
from bot.hub.rasa_api import RasaApiError

CANNED_FILE = ("brand", "canned_responses.yml")
View = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _csrf(request: web.Request) -> str:
    return request[SESSION_KEY].csrf_token


def render_page(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    env = request.app[keys.TEMPLATES]
    session = request.get(SESSION_KEY)
    context.setdefault("agent", session.agent if session else None)
    context.setdefault("csrf", session.csrf_token if session else None)
    context.setdefault("macros", macros(env))
    monitor = request.app.get(keys.DEPENDENCIES)
    context.setdefault("stores_down", monitor.down if monitor else [])
    html = env.get_template(template).render(**context)
    return web.Response(text=html, status=status, content_type="text/html")


async def queue_model(request: web.Request):
    desk = request.app[keys.HANDOFFS]
    agent = agent_of(request)
    open_handoffs = await desk.store.open_handoffs()
    closed = await desk.store.recent(60)
    return build_queue(agent, open_handoffs, closed, utcnow())


async def queue_page(request: web.Request) -> web.Response:
    queue = await queue_model(request)
    return render_page(request, "console_queue.html", queue=queue, page="queue",
                  waiting_count=len(queue.waiting))


async def panel_model(request: web.Request, handoff: Handoff,
                      events: Optional[list[dict]] = None):
    desk = request.app[keys.HANDOFFS]
    return build_panel(agent_of(request), handoff, await desk.store.notes(handoff.id),
                       await desk.agents.list(), events, utcnow())


def canned_for(request: web.Request, handoff: Handoff) -> tuple[list, Optional[str]]:
    settings = request.app[keys.SETTINGS]
    try:
        responses = load_canned(settings.home.joinpath(*CANNED_FILE))
    except CannedResponsesError as error:
        return [], f"canned responses unavailable: {error}"
    agent = agent_of(request)
    filled = [type(c)(c.title, c.fill(handoff.customer_name, agent.shown_name)) for c in responses]
    return filled, None


async def conversation_page(request: web.Request) -> web.Response:
    desk = request.app[keys.HANDOFFS]
    agent = agent_of(request)
    handoff = await desk.visible(agent, request.match_info["handoff_id"])
    await request.app[keys.AUDIT].record(agent, audit.VIEWED, handoff.id)
    cursor = request.app[keys.FEED].cursor  # read before the transcript: the stream replays after
    events, error = None, None
    try:
        events = await desk.transcript(handoff)
    except RasaApiError:
        error = "The transcript is unavailable: the bot's server can't be reached right now."
    canned, canned_error = canned_for(request, handoff)
    return render_page(request, "console_conversation.html", handoff=handoff, cursor=cursor,
                  transcript=turns(events or []), transcript_error=error,
                  panel=await panel_model(request, handoff, events), canned=canned,
                  canned_error=canned_error, page="conversation")


# -- actions ---------------------------------------------------------------------------

def _wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def done(request: web.Request, location: str, **payload: Any) -> web.StreamResponse:
    if _wants_json(request):
        return web.json_response({"ok": True, "location": location, **payload})
    raise web.HTTPSeeOther(location)


async def _form(request: web.Request) -> dict[str, str]:
    form = await request.post()
    return {key: value for key, value in form.items() if isinstance(value, str)}


def _back(handoff_id: str) -> str:
    return f"/console/handoffs/{handoff_id}"


def desk_action(act: Callable[..., Awaitable[Any]], action: str, field: Optional[str] = None,
                back_to_queue: bool = False, detail_field: bool = False) -> View:
    """A view for one of the desk's handoff actions: `act(agent, handoff_id[, form[field]])`.

    Once it succeeded it goes on the audit log as `action` (with the form field as detail
    when `detail_field`: a transfer's target, never a reply's or a note's text). Afterwards
    the agent goes back to the handoff's page, or to the queue when the handoff is no longer
    theirs (transfer, release).
    """

    async def view(request: web.Request) -> web.StreamResponse:
        handoff_id = request.match_info["handoff_id"]
        agent = agent_of(request)
        extra = [] if field is None else [(await _form(request)).get(field, "")]
        await act(request.app[keys.HANDOFFS], agent, handoff_id, *extra)
        detail = f"{field}={extra[0].strip()}" if detail_field and extra else ""
        await request.app[keys.AUDIT].record(agent, action, handoff_id, detail)
        return done(request, "/console" if back_to_queue else _back(handoff_id))

    return view


claim = desk_action(AgentDesk.claim, audit.CLAIMED)
reply = desk_action(AgentDesk.reply, audit.REPLIED, field="text")
note = desk_action(AgentDesk.note, audit.NOTED, field="text")
resolve = desk_action(AgentDesk.resolve, audit.RESOLVED, field="note")
transfer = desk_action(AgentDesk.transfer, audit.TRANSFERRED, field="to", back_to_queue=True,
                       detail_field=True)
release = desk_action(AgentDesk.release, audit.RELEASED, back_to_queue=True)
close = desk_action(AgentDesk.close, audit.CLOSED)


async def follow_up(request: web.Request) -> web.StreamResponse:
    agent = agent_of(request)
    previous = request.match_info["handoff_id"]
    handoff = await request.app[keys.HANDOFFS].follow_up(agent, previous)
    await request.app[keys.AUDIT].record(agent, audit.FOLLOWED_UP, handoff.id,
                                         f"callback {previous}")
    return done(request, _back(handoff.id))


async def takeover(request: web.Request) -> web.StreamResponse:
    agent = require_role(request, "admin")
    form = await _form(request)
    handoff = await request.app[keys.HANDOFFS].takeover(agent, form.get("conversation_id", ""))
    await request.app[keys.AUDIT].record(agent, audit.TOOK_OVER, handoff.id)
    return done(request, _back(handoff.id))
