"""The insight side of a running stack: console accounts, a signed-in console over HTTP, and
waiting until the hub's exchange log has read everything Rasa published."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any, Optional

import requests
from sqlalchemy import create_engine, func, inspect, select

from bot.insight.consumer import POSITION_NAME, events, events_url
from bot.insight.tables import positions
from tests.support import PROJECT
from tests.support.console_sign_in import csrf_token, login_form
from tests.support.stack import Stack

CATCH_UP_S = 60.0


def add_account(env: dict[str, str], name: str, role: str, password: str) -> None:
    """`rapport agent add NAME --role ROLE` on the stack's hub database; it never echoes the
    password."""
    added = subprocess.run(
        [sys.executable, "-m", "bot.ops.cli", "agent", "add", name, "--role", role,
         "--password-stdin"], input=password + "\n", text=True, capture_output=True,
        cwd=PROJECT, env={**os.environ, **env}, timeout=60)
    assert added.returncode == 0, added.stderr
    assert password not in added.stdout + added.stderr


class ConsoleClient:
    """One signed-in console browser, without the browser: its cookie and CSRF token."""

    def __init__(self, hub_url: str) -> None:
        self.hub_url = hub_url
        self.http = requests.Session()
        self.csrf = ""

    def sign_in(self, name: str, password: str, landing: str = "/console") -> None:
        form = self.http.get(f"{self.hub_url}/login", timeout=30)
        answer = self.http.post(f"{self.hub_url}/login", timeout=30, allow_redirects=False,
                                data=login_form(form.text, name, password, landing))
        assert answer.status_code == 303, (answer.status_code, answer.text[:500])
        self.csrf = csrf_token(self.get(landing).text)

    def get(self, path: str, **params: Any) -> requests.Response:
        answer = self.http.get(f"{self.hub_url}{path}", params=params or None, timeout=60)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:500])
        return answer

    def post(self, path: str, **form: str) -> dict[str, Any]:
        answer = self.http.post(f"{self.hub_url}{path}", data={"csrf_token": self.csrf, **form},
                                headers={"Accept": "application/json"}, timeout=120,
                                allow_redirects=False)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:500])
        return answer.json()

    def close(self) -> None:
        self.http.close()


def broker_head(stack: Stack) -> int:
    """The id of the newest event in Rasa's SQL broker table (0: none yet)."""
    engine = create_engine(events_url(stack.env["RAPPORT_EVENTS_DB"]), future=True)
    try:
        with engine.connect() as connection:
            return int(connection.execute(select(func.max(events.c.id))).scalar() or 0)
    finally:
        engine.dispose()


def consumer_position(stack: Stack) -> int:
    """How far the hub's exchange log consumer has read the broker table (0: not started)."""
    engine = create_engine(stack.env["RAPPORT_HUB_DB_URL"], future=True)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table(positions.name):
                return 0
            return int(connection.execute(select(positions.c.position).where(
                positions.c.name == POSITION_NAME)).scalar() or 0)
    finally:
        engine.dispose()


def wait_for_exchange_log(stack: Stack, timeout: float = CATCH_UP_S) -> int:
    """Wait (bounded) until the consumer has recorded every event Rasa has published so far;
    the broker position it reached."""
    head = broker_head(stack)
    assert head > 0, "Rasa published no events"
    deadline = time.monotonic() + timeout
    reached: Optional[int] = None
    while time.monotonic() < deadline:
        reached = consumer_position(stack)
        if reached >= head:
            return reached
        time.sleep(0.2)
    raise AssertionError(f"the exchange log consumer reached {reached} of {head} events in "
                         f"{timeout:.0f} s:\n{stack.log()[-3000:]}")
