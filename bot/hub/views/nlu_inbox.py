"""The NLU inbox page (analysts and admins): label, dismiss, retrain, and the retrain's progress.

`GET /console/inbox` shows the groups of messages the bot did not understand
(bot/insight/nlu_inbox.py) with suggested intents, and the last retraining's progress; while
one runs, the page asks the browser to reload itself (an HTTP `Refresh` header: nothing
inline, under the console's CSP). The forms post plain (CSRF checked by
`bot.hub.auth.console_guard`) and come back here; `GET /api/console/inbox/retrain` is the
progress as JSON. Labelling writes the training data and validates it (about ten seconds)
before the page answers; retraining runs in the background (bot/insight/retrain.py) and
swaps the model into the running bot through Rasa's API.
"""

from __future__ import annotations

import re
from typing import Any, AsyncIterator
from urllib.parse import urlencode

from aiohttp import web

from bot.database import make_engine
from bot.errors import ContentError
from bot.hub import keys
from bot.hub.auth import require_role
from bot.hub.errors import BadRequest
from bot.hub.rasa_api import model_loader
from bot.hub.views.analyst import MAX_NUMBER, ROLES
from bot.hub.views.console import done, render_page
from bot.insight.nlu_inbox import InboxError, NluInbox, label_messages
from bot.insight.retrain import RetrainBusy, RetrainJob
from bot.insight.training_data import labelable_intents

INBOX = web.AppKey("nlu_inbox", NluInbox)
RETRAIN = web.AppKey("nlu_retrain", RetrainJob)
PAGE = "/console/inbox"
GROUPS_SHOWN = 100
REFRESH_SECONDS = 3
MAX_TURNS_PER_POST = 2000
LABELLED, DISMISSED, RETRAIN_STARTED = "inbox_labelled", "inbox_dismissed", "retrain_started"
_SHOWN_INTENT = re.compile(r"[A-Za-z0-9_/]{1,128}")


async def inbox_resources(app: web.Application) -> AsyncIterator[None]:
    """The inbox store and the one retraining job, for as long as the hub runs."""
    settings = app[keys.SETTINGS]
    inbox = NluInbox(make_engine(settings.hub_db_url), settings.inbox_confidence,
                     dispose_engine=True)
    app[INBOX] = inbox
    app[RETRAIN] = RetrainJob(settings, model_loader(app[keys.HTTP], settings.model_servers,
                                                     settings.rasa_jwt_secret))
    try:
        yield
    finally:
        await app[RETRAIN].close()
        await inbox.close()


def _notice(query: Any) -> str:
    """The sentence the page opens with after a form, from fixed words and checked values."""
    count = query.get("n", "")
    count = count if count.isdigit() else "0"
    intent = query.get("intent", "")
    intent = intent if _SHOWN_INTENT.fullmatch(intent) else "the intent"
    added = query.get("added", "")
    added = added if added.isdigit() else "0"
    return {
        "labelled": f"Labelled {count} message(s) {intent}: {added} new training example(s), "
                    "validated.",
        "dismissed": f"Dismissed {count} message(s).",
        "retraining": "Retraining started: this page follows its progress.",
    }.get(query.get("done", ""), "") + {
        "started": " Retraining started: this page follows its progress.",
        "busy": " A retraining was already running, so none was started: retrain again "
                "when it has finished.",
    }.get(query.get("retrain", ""), "")


async def inbox_page(request: web.Request) -> web.Response:
    require_role(request, *ROLES)
    settings = request.app[keys.SETTINGS]
    inbox = request.app[INBOX]
    error = ""
    try:
        groups = await inbox.groups(settings.home)
        intents = labelable_intents(settings.home)
    except ContentError as problem:
        groups, intents, error = [], [], str(problem)
    progress = request.app[RETRAIN].progress
    response = render_page(request, "nlu_inbox.html", page="inbox",
                           groups=groups[:GROUPS_SHOWN], total_groups=len(groups),
                           intents=intents, progress=progress, error=error,
                           notice=_notice(request.query))
    if progress.active:
        response.headers["Refresh"] = str(REFRESH_SECONDS)
    return response


async def _turn_ids(request: web.Request) -> list[int]:
    form = await request.post()
    values = [value for value in form.getall("turn_id", []) if isinstance(value, str)]
    if not values or len(values) > MAX_TURNS_PER_POST:
        raise BadRequest("choose the messages (one to a group's worth)")
    try:
        ids = [int(value) for value in values]
    except ValueError as error:
        raise BadRequest("a message id is not a number") from error
    if not all(1 <= turn_id <= MAX_NUMBER for turn_id in ids):
        raise BadRequest("that is not a message id (out of range)")
    return ids


async def label(request: web.Request) -> web.StreamResponse:
    """Label messages (one, or a group's) with an intent; optionally start a retraining."""
    agent = require_role(request, *ROLES)
    form = await request.post()
    turn_ids = await _turn_ids(request)
    intent = str(form.get("intent", "")).strip()
    if not intent:
        raise BadRequest("choose or type an intent")
    settings = request.app[keys.SETTINGS]
    try:
        result = await label_messages(request.app[INBOX], settings.home, turn_ids, intent,
                                      agent.name)
    except (InboxError, ContentError) as error:  # ContentError: did not validate, restored
        raise BadRequest(str(error)) from error
    examples = result.examples
    await request.app[keys.AUDIT].record(
        agent, LABELLED, None, f"intent={examples.intent} messages={len(result.turn_ids)} "
                               f"examples={len(examples.added)}")
    query = {"done": "labelled", "n": len(result.turn_ids), "intent": examples.intent,
             "added": len(examples.added)}
    retraining = None
    if form.get("retrain"):
        retraining = await _start_retrain(request, agent)
        query["retrain"] = "started" if retraining is not None else "busy"
    return done(request, f"{PAGE}?{urlencode(query)}", labelled=list(result.turn_ids),
                added=list(examples.added),
                skipped=[{"text": s.text, "reason": s.reason} for s in examples.skipped],
                file=examples.file, retrain=retraining)


async def dismiss(request: web.Request) -> web.StreamResponse:
    agent = require_role(request, *ROLES)
    dismissed = await request.app[INBOX].dismiss(await _turn_ids(request), agent.name)
    await request.app[keys.AUDIT].record(agent, DISMISSED, None, f"messages={len(dismissed)}")
    return done(request, f"{PAGE}?{urlencode({'done': 'dismissed', 'n': len(dismissed)})}",
                dismissed=dismissed)


async def _start_retrain(request: web.Request, agent: Any) -> Any:
    """The new job's progress (JSON), or None when one is already running."""
    try:
        progress = request.app[RETRAIN].start()
    except RetrainBusy:
        return None
    await request.app[keys.AUDIT].record(agent, RETRAIN_STARTED, None, "")
    return progress.to_json()


async def retrain(request: web.Request) -> web.StreamResponse:
    agent = require_role(request, *ROLES)
    progress = await _start_retrain(request, agent)
    if progress is None:
        busy = "a retraining is already running: wait for it to finish"
        if "application/json" in request.headers.get("Accept", ""):
            return web.json_response({"error": busy,
                                      "progress": request.app[RETRAIN].progress.to_json()},
                                     status=409)
        return render_page(request, "console_error.html", status=409,
                           heading="Already retraining", message=busy)
    return done(request, f"{PAGE}?done=retraining", progress=progress)


async def retrain_progress(request: web.Request) -> web.Response:
    require_role(request, *ROLES)
    return web.json_response(request.app[RETRAIN].progress.to_json())
