"""The analysts' dashboard: KPIs by channel, charts, and the conversations behind each number.

- `GET /console/dashboard?since=&until=&channel=`: KPI tiles (all channels, then a row per
  channel) and server-rendered SVG charts; every number links to its conversations.
- `GET /console/insight/conversations?since=&until=&channel=&outcome=&intent=&product=
  &complaint=&recovered=&rated=&fallback=&handoff=&page=`: those conversations.
- `GET /console/insight/conversations/{conversation_id}`: one redacted transcript.

Roles analyst and admin (an agent gets 403). `since`/`until` take `7d`, `24h` or an ISO
date or time (default: the last 7 days); a bare `until` date takes in that day, as in the
analyst API (`bot.insight.period`). Everything is read from the exchange log, whose text is
redacted when written; transcripts are redacted once more on the way out
(`conversation_search.transcript`). Reading a transcript goes on the console audit log. The queries run on the hub database the console
opened (the audit log's).
"""

from __future__ import annotations

from typing import Any, Optional
from urllib.parse import quote, urlencode

from aiohttp import web

from bot.database import utcnow
from bot.hub import audit, keys
from bot.hub.auth import require_role
from bot.hub.errors import BadRequest
from bot.hub.views.analyst import MAX_NUMBER, MAX_TEXT, ROLES, hub_db, whole_number
from bot.hub.views.console import render_page
from bot.insight import conversation_search
from bot.insight.drilldown import DRILL_FLAGS, PAGE_SIZE, Drill, find_conversations
from bot.insight.metrics import insight
from bot.insight.period import Period, PeriodError
from bot.insight.report import channel_name, charts, period_text, tiles
from bot.insight.voice_of_customer import ANY_PRODUCT, voice_of_customer, weeks_of
from bot.insight.tables import OUTCOMES

DRILL_PATH = "/console/insight/conversations"
VOICE_INTENT = {"praise": "praise", "suggestion": "suggest"}  # kind of feedback -> intent
MAX_PAGE = MAX_NUMBER // PAGE_SIZE  # its offset stays within what the database counts


def _period(request: web.Request) -> Period:
    query = request.query
    try:
        return Period.parse(query.get("since"), query.get("until"),
                            _text(query.get("channel"), "channel"), utcnow())
    except PeriodError as error:
        raise BadRequest(str(error)) from None


def _text(value: Optional[str], name: str) -> Optional[str]:
    value = (value or "").strip()
    if len(value) > MAX_TEXT:
        raise BadRequest(f"{name} is longer than {MAX_TEXT} characters")
    return value or None


def drill_link(period: Period, **filters: str) -> str:
    """The URL of the conversations behind a number (the period's, narrowed by `filters`)."""
    return f"{DRILL_PATH}?{urlencode({**period.query(), **filters})}"


def transcript_link(conversation_id: str) -> str:
    return f"{DRILL_PATH}/{quote(conversation_id, safe='')}"


async def dashboard_page(request: web.Request) -> web.Response:
    """KPI tiles by channel and the charts, for the period asked for."""
    require_role(request, *ROLES)
    period = _period(request)
    data = await hub_db(request).run(insight, period)
    voice = await hub_db(request).run(voice_of_customer, period)

    def link(filters: dict[str, str]) -> str:
        return drill_link(period, **filters)

    def channel_tiles(kpis: Any) -> list[tuple[Any, str]]:
        narrowed = Period(period.since, period.until, kpis.channel or period.channel)
        return [(tile, drill_link(narrowed, **tile.drill)) for tile in tiles(kpis)]

    return render_page(
        request, "dashboard.html", page="dashboard", period=period,
        period_text=period_text(period), since=request.query.get("since", "7d"),
        until=request.query.get("until", ""), total=channel_tiles(data.kpis.total),
        by_channel=[(channel_name(k.channel), channel_tiles(k)) for k in data.kpis.by_channel],
        charts=charts(data, link), voice=voice, weeks=weeks_of(period),
        voice_link=lambda group: drill_link(period, intent=VOICE_INTENT[group.kind], **(
            {} if group.product == ANY_PRODUCT else {"product": group.product})))


def _drill(request: web.Request) -> Drill:
    query = request.query
    outcome = _text(query.get("outcome"), "outcome")
    if outcome and outcome not in OUTCOMES:
        raise BadRequest(f"outcome must be one of {', '.join(OUTCOMES)}")
    page = whole_number(query.get("page"), "page", 1, 1, most=MAX_PAGE)
    flags = tuple(flag for flag in DRILL_FLAGS if query.get(flag) == "yes")
    return Drill(_period(request), outcome, _text(query.get("intent"), "intent"),
                 _text(query.get("product"), "product"), flags, (page - 1) * PAGE_SIZE)


def _described(drill: Drill) -> list[str]:
    said = [f"outcome {drill.outcome}"] if drill.outcome else []
    said += [f"intent {drill.intent}"] if drill.intent else []
    said += [f"product {drill.product}"] if drill.product else []
    labels = {"complaint": "complaints", "recovered": "recovered complaints",
              "rated": "with a CSAT rating", "fallback": "with a misunderstood message",
              "handoff": "handed to a person"}
    return said + [labels[flag] for flag in drill.flags]


async def conversations_page(request: web.Request) -> web.Response:
    """The conversations behind a dashboard number, newest first, a page at a time."""
    require_role(request, *ROLES)
    drill = _drill(request)
    total, rows = await hub_db(request).run(find_conversations, drill)
    page = drill.offset // PAGE_SIZE + 1
    params = {key: value for key, value in request.query.items() if key != "page"}
    more = f"{DRILL_PATH}?{urlencode({**params, 'page': page + 1})}" \
        if drill.offset + len(rows) < total else None
    return render_page(
        request, "dashboard_conversations.html", page="dashboard", drill=drill, total=total,
        rows=[(row, transcript_link(row.conversation_id)) for row in rows],
        described=_described(drill), period_text=period_text(drill.period), more=more,
        back=f"/console/dashboard?{urlencode(drill.period.query())}")


async def transcript_page(request: web.Request) -> web.Response:
    """One conversation's turns from the exchange log, redacted."""
    agent = require_role(request, *ROLES)
    conversation_id = request.match_info["conversation_id"]
    if len(conversation_id) > MAX_TEXT:
        raise BadRequest("that is not a conversation id")
    body = await hub_db(request).run(conversation_search.transcript, conversation_id)
    if body is None:
        return render_page(request, "console_error.html", status=404, heading="Not found",
                           message="No such conversation in the exchange log.")
    await request.app[keys.AUDIT].record(agent, audit.VIEWED,
                                         detail=f"insight conversation {conversation_id}")
    return render_page(request, "dashboard_transcript.html", page="dashboard",
                       conversation=body, turns=body["turns"])
