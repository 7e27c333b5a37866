"""Typed application keys shared by the hub's modules."""

from __future__ import annotations

import aiohttp
import jinja2
from aiohttp import web

from bot.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
HTTP = web.AppKey("http", aiohttp.ClientSession)
