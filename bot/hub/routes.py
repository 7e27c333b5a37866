"""Every route of the hub, in one place."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot.hub.views import (
    console, console_api, dashboard, insight_api, login, nlu_inbox, status, webchat,
)

STATIC_DIR = Path(__file__).parent / "static"


def add_routes(app: web.Application) -> None:
    app.router.add_get("/health", status.health)
    app.router.add_get("/", status.status_page)
    app.router.add_get("/api/status", status.status_json)
    app.router.add_static("/static", STATIC_DIR)
    app.router.add_get("/widget/rapport.js", webchat.widget_script)
    app.router.add_get("/widget/rapport.css", webchat.widget_styles)
    app.router.add_get("/demo", webchat.demo_page)
    app.router.add_get("/api/insight/conversations", insight_api.conversations)
    app.router.add_get("/api/insight/conversations/{conversation_id:.+}", insight_api.conversation)
    add_console_routes(app)


def add_console_routes(app: web.Application) -> None:
    """The agent console: sign-in, pages, actions, JSON and live streams."""
    app.router.add_get("/login", login.login_page)
    app.router.add_post("/login", login.login)
    app.router.add_post("/console/logout", login.logout)
    app.router.add_get("/console", console.queue_page)
    app.router.add_post("/console/takeover", console.takeover)
    handoff = "/console/handoffs/{handoff_id}"
    app.router.add_get(handoff, console.conversation_page)
    app.router.add_post(f"{handoff}/claim", console.claim)
    app.router.add_post(f"{handoff}/reply", console.reply)
    app.router.add_post(f"{handoff}/note", console.note)
    app.router.add_post(f"{handoff}/resolve", console.resolve)
    app.router.add_post(f"{handoff}/transfer", console.transfer)
    app.router.add_post(f"{handoff}/release", console.release)
    app.router.add_post(f"{handoff}/close", console.close)
    app.router.add_post(f"{handoff}/follow-up", console.follow_up)
    app.router.add_get("/api/console/queue", console_api.queue_json)
    app.router.add_get("/api/console/queue/stream", console_api.queue_stream)
    app.router.add_get("/api/console/handoffs/{handoff_id}", console_api.handoff_detail)
    app.router.add_get("/api/console/handoffs/{handoff_id}/stream",
                       console_api.conversation_stream)
    app.router.add_get("/api/console/audit", console_api.audit_json)
    app.router.add_get(nlu_inbox.PAGE, nlu_inbox.inbox_page)
    app.router.add_post(f"{nlu_inbox.PAGE}/label", nlu_inbox.label)
    app.router.add_post(f"{nlu_inbox.PAGE}/dismiss", nlu_inbox.dismiss)
    app.router.add_post(f"{nlu_inbox.PAGE}/retrain", nlu_inbox.retrain)
    app.router.add_get("/api/console/inbox/retrain", nlu_inbox.retrain_progress)
    app.router.add_get("/console/dashboard", dashboard.dashboard_page)
    app.router.add_get(dashboard.DRILL_PATH, dashboard.conversations_page)
    app.router.add_get(dashboard.DRILL_PATH + "/{conversation_id:.+}", dashboard.transcript_page)
