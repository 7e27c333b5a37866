"""Start the real Rapport stack (`rapport run`) as a subprocess and talk to it over HTTP."""

from __future__ import annotations

import secrets
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from tests.support import PROJECT

TEST_EPOCH_SCALE = "0.5"  # tests train faster; tests/conftest.py trains with the same scale
TEST_JWT_SECRET = "rapport-test-jwt-secret"  # so tests can call Rasa's API as the hub does
TEST_REST_INTEGRATION = "test"  # the REST integration the tests (and `rapport chat`) talk as
TEST_REST_TOKEN = secrets.token_urlsafe(24)  # made per test session, handed to the stack
PORT_SETTINGS = ("RAPPORT_RASA_PORT", "RAPPORT_ACTIONS_PORT", "RAPPORT_HUB_PORT")
START_ATTEMPTS = 3  # a port picked for a subprocess may be taken before it binds it


def free_ports(count: int) -> list[int]:
    """`count` distinct ports nobody listens on right now.

    Only for a subprocess that binds the port itself: someone else may take it first, so the
    caller must retry with new ports (as `Stack.start` does). An in-process server takes a
    `listening_socket()` instead.
    """
    with contextlib.ExitStack() as probes:
        sockets = [probes.enter_context(socket.socket()) for _ in range(count)]
        for probe in sockets:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in sockets]


def free_port() -> int:
    """A port nobody listens on right now (see `free_ports` for the race)."""
    return free_ports(1)[0]


def listening_socket() -> socket.socket:
    """A loopback socket bound to a port of its own, for an in-process server (`sock=`): the
    port stays ours from here until the server closes it."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def http(method: str, url: str, body: Any = None, *, raw: Optional[bytes] = None,
         headers: Optional[dict] = None, timeout: float = 60.0) -> tuple[int, Any]:
    """(status, parsed JSON or text); never raises on HTTP error statuses."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, payload = error.code, error.read()
    text = payload.decode("utf-8", errors="replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


@dataclass
class Stack:
    """One `rapport run` process tree with its own ports and databases."""

    env: dict[str, str]
    log_path: Path
    process: Optional[subprocess.Popen] = None
    output: list[str] = field(default_factory=list)

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.env['RAPPORT_RASA_PORT']}"

    @property
    def hub_url(self) -> str:
        return f"http://127.0.0.1:{self.env['RAPPORT_HUB_PORT']}"

    @property
    def actions_url(self) -> str:
        return f"http://127.0.0.1:{self.env['RAPPORT_ACTIONS_PORT']}"

    def __enter__(self) -> "Stack":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self, timeout: float = 420.0) -> None:
        """Start `rapport run`; on new ports if one was taken between picking and binding."""
        for _ in range(START_ATTEMPTS - 1):
            if self._start_once(timeout):
                return
            self.env.update(zip(PORT_SETTINGS, map(str, free_ports(len(PORT_SETTINGS)))))
        if not self._start_once(timeout):
            raise RuntimeError(f"rapport run found its ports taken {START_ATTEMPTS} times:\n"
                               f"{self.log()}")

    def _start_once(self, timeout: float) -> bool:
        """True once it runs; False if it stopped because a port was taken."""
        offset = len(self.log())
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.ops.cli", "run"], cwd=PROJECT, env={**os.environ, **self.env},
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if "already in use" in self.log()[offset:].lower():
                    return False
                raise RuntimeError(f"rapport run exited early:\n{self.log()}")
            if "Rapport is running" in self.log()[offset:]:
                return True
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"rapport run did not come up in {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 60.0) -> int:
        if not self.process or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait()

    def service_pids(self) -> dict[str, int]:
        """The pid of each `rapport serve NAME` running as a child of this `rapport run`."""
        found: dict[str, int] = {}
        if self.process is None:
            return found
        for task in Path(f"/proc/{self.process.pid}/task").glob("*"):
            with contextlib.suppress(OSError):
                for child in (task / "children").read_text().split():
                    with contextlib.suppress(OSError):
                        argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
                        if b"serve" in argv[:-1]:
                            found[argv[argv.index(b"serve") + 1].decode()] = int(child)
        return found

    def crash(self) -> None:
        """kill -9 of everything at once, as a power cut would: `rapport run` and each
        service's process group (each service runs in a session of its own)."""
        assert self.process is not None
        groups = list(self.service_pids().values())
        os.killpg(self.process.pid, signal.SIGKILL)
        for group in groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        self.process.wait(30)

    def say(self, sender: str, message: str) -> list[dict]:
        status, replies = http("POST", f"{self.rasa_url}/webhooks/rest/webhook",
                               {"sender": sender, "message": message}, headers=REST_AUTH)
        assert status == 200, (status, replies)
        return replies


REST_AUTH = {"Authorization": f"Bearer {TEST_REST_TOKEN}"}


def rest_conversation(sender: str) -> str:
    """Rasa's conversation id for a REST `sender` of the tests' integration."""
    return f"rest-{TEST_REST_INTEGRATION}-{sender}"


def rasa_api_headers(secret: str = TEST_JWT_SECRET) -> dict[str, str]:
    """A JWT like the hub's: Rasa's API accepts it as admin."""
    import jwt

    token = jwt.encode({"user": {"username": "rapport-test", "role": "admin"}}, secret,
                       algorithm="HS256")
    return {"Authorization": f"Bearer {token}"}


def texts(replies: list[dict]) -> list[str]:
    return [reply.get("text", "") for reply in replies]


def stack_env(model: Path, db_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for a stack of its own in `db_dir` (databases, var/, logs) that runs the
    session's cached `model` (tests/conftest.py's `trained_model`) instead of training."""
    db_dir.mkdir(parents=True, exist_ok=True)
    env = {
        "RAPPORT_HOME": str(PROJECT),
        "RAPPORT_VAR_DIR": str(db_dir / "var"),
        **dict(zip(PORT_SETTINGS, map(str, free_ports(len(PORT_SETTINGS))))),
        "RAPPORT_TRACKER_DB": str(db_dir / "tracker.db"),
        "RAPPORT_EVENTS_DB": str(db_dir / "events.db"),
        "RAPPORT_CRM_URL": f"sqlite:///{db_dir / 'crm.db'}",
        "RAPPORT_HUB_DB_URL": f"sqlite:///{db_dir / 'hub.db'}",
        "RAPPORT_TELEGRAM_DB_URL": f"sqlite:///{db_dir / 'telegram.db'}",
        "RAPPORT_TRAIN_EPOCHS_SCALE": TEST_EPOCH_SCALE,
        "RAPPORT_RASA_JWT_SECRET": TEST_JWT_SECRET,
        "RAPPORT_REST_TOKENS": f"{TEST_REST_INTEGRATION}={TEST_REST_TOKEN}",
    }
    env.update(extra)
    link_cached_model(model, env)
    return env


def link_cached_model(model: Path, env: dict[str, str]) -> None:
    """Make the stack's var/ hold `model` and its spaCy pipeline, as links into the cache.

    A model's name hashes the content and the spaCy pipeline's path, so the stack's own var/
    expects another name: the link gets that name, once the stack's settings are checked to
    describe the very content the cached model was trained on.
    """
    from bot.ops.training import model_path_for
    from bot.settings import Settings

    stack = Settings.from_env(env)
    cache = stack.with_changes(var_dir=model.parent.parent)  # the cache's var/models/<model>
    if model_path_for(cache) != model:
        raise ValueError(f"the stack's settings do not describe the content of {model.name}")
    stack.spacy_model_dir.parent.mkdir(parents=True, exist_ok=True)
    stack.spacy_model_dir.symlink_to(cache.spacy_model_dir, target_is_directory=True)
    stack.models_dir.mkdir(parents=True, exist_ok=True)
    model_path_for(stack).symlink_to(model)
