"""Typed application keys shared by the hub's modules."""

from __future__ import annotations

import aiohttp
import jinja2
from aiohttp import web

from bot.channel_registry import ChannelRegistry
from bot.handoff.agents import AgentDirectory
from bot.hub.audit import AuditLog
from bot.hub.dependencies import DependencyMonitor
from bot.hub.feed import EventFeed
from bot.hub.agent_desk import AgentDesk
from bot.insight.exchange_log import ExchangeLog
from bot.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
HTTP = web.AppKey("http", aiohttp.ClientSession)
CHANNELS = web.AppKey("channels", ChannelRegistry)  # senders and widget files, by channel

# The agent console and the handoff queue (bot.hub.agent_desk, bot.hub.feed, bot.hub.auth).
HUB_SECRET = web.AppKey("hub_secret", str)
AGENTS = web.AppKey("agents", AgentDirectory)
HANDOFFS = web.AppKey("handoffs", AgentDesk)
FEED = web.AppKey("feed", EventFeed)
AUDIT = web.AppKey("audit", AuditLog)  # the console's audit log (bot.hub.audit)
EXCHANGE_LOG = web.AppKey("exchange_log", ExchangeLog)  # the exchange log (bot.insight)
DEPENDENCIES = web.AppKey("dependencies", DependencyMonitor)  # stores reachable? (bot.hub.dependencies)
