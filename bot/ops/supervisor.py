"""Starts Rapport's three services, waits until each is healthy, restarts one that dies, and
stops them together.

One process per service (Rasa server, action server, hub), each logging to `var/logs/`. A
service that dies while starting stops the start (a service that cannot start is a
configuration problem). One that dies later, whatever its exit code (a server has no reason
to exit on its own), is restarted by itself, much as systemd's Restart=on-failure would, so a
crashed hub does not take the bot from customers: after a backoff (1 s, doubling, at most
30 s), with the same command, environment and log, while the others keep running. If it dies
more than `restart_limit` times within `restart_window_s`, the supervisor gives up and says
which one and why (its exit code and the last lines of its log); the caller then stops the
others. Ctrl-C stops everything cleanly, a service being restarted included.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from bot.errors import RapportError
from bot.log_redaction import Redactor


class SupervisorError(RapportError, RuntimeError):
    """A service could not start or stopped; the message says which and why."""


@dataclass
class Service:
    name: str
    argv: list[str]
    health_url: str
    port: int
    env: dict[str, str] = field(default_factory=dict)
    start_timeout: float = 300.0
    process: Optional[subprocess.Popen] = None
    log_path: Optional[Path] = None

    def log_tail(self, lines: int = 15, redact: Callable[[str], str] = Redactor()) -> str:
        """The log's last lines, secrets redacted (a service that died before it could
        redact its own log must not have its token printed)."""
        if not self.log_path or not self.log_path.is_file():
            return ""
        with self.log_path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 16384))
            text = handle.read().decode("utf-8", errors="replace")
        return redact("\n".join(text.splitlines()[-lines:]))


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def check_ports_free(host: str, ports: dict[str, int]) -> None:
    """Fail early, before any training, when a port a service needs is taken."""
    for name, port in ports.items():
        if not port_is_free(host, port):
            raise SupervisorError(
                f"port {port} on {host} is already in use (needed by {name}); stop whatever "
                f"uses it or choose another port (see bot/settings.py)"
            )


def is_healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback)
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def restart_delay(restarts: int, base: float, cap: float = 30.0) -> float:
    """The wait before a service's `restarts`-th restart in a row: `base`, doubling, at most
    `cap` (a crash loop must not spin, nor a service wait long for its first restart)."""
    return min(cap, base * 2 ** (restarts - 1))


@dataclass
class _Restarts:
    """What watch() knows about one service's deaths and restarts."""
    deaths: deque = field(default_factory=deque)  # monotonic times, within the window
    consecutive: int = 0  # restarts since the service was last healthy for a while
    respawn_at: Optional[float] = None  # dead, to be started again at this time
    starting: bool = False  # started again, not healthy yet
    healthy_since: Optional[float] = None


class Supervisor:
    """Runs a set of services as one unit."""

    poll_interval = 0.5
    max_backoff_s = 30.0

    def __init__(self, services: list[Service], host: str, logs_dir: Path,
                 say: Callable[[str], None] = print,
                 redact: Callable[[str], str] = Redactor(),
                 restart_limit: int = 5, restart_window_s: float = 300.0,
                 backoff_base_s: float = 1.0, backoff_reset_s: float = 60.0) -> None:
        """`restart_limit` deaths of one service within `restart_window_s` are restarted, one
        more gives up (0: the first death gives up). A service healthy for `backoff_reset_s`
        starts again from the `backoff_base_s` delay."""
        self.services = services
        self.host = host
        self.logs_dir = logs_dir
        self.say = say
        self.redact = redact
        self.restart_limit = restart_limit
        self.restart_window_s = restart_window_s
        self.backoff_base_s = backoff_base_s
        self.backoff_reset_s = backoff_reset_s
        self._stopping = False
        # stop() may run on another thread than watch(): no respawn once it has begun
        self._lock = threading.Lock()

    def check_ports(self) -> None:
        check_ports_free(self.host, {service.name: service.port for service in self.services})

    def start(self) -> None:
        """Start every service and wait until all are healthy (or raise)."""
        self.check_ports()
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self._stopping = False
        for service in self.services:
            service.log_path = self.logs_dir / f"{service.name}.log"
            self._spawn(service)
            self.say(f"  starting {service.name} (log: {service.log_path})")
        for service in self.services:
            self._wait_healthy(service)
            self.say(f"  {service.name} is up")

    def _spawn(self, service: Service) -> None:
        """Start the service in a session of its own (stop() signals its whole group; Ctrl-C
        in our terminal is ours alone), appending to its log."""
        with service.log_path.open("ab") as log:
            service.process = subprocess.Popen(  # noqa: S603 (our own argv)
                service.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, **service.env}, start_new_session=True,
            )

    def _wait_healthy(self, service: Service) -> None:
        deadline = time.monotonic() + service.start_timeout
        while time.monotonic() < deadline:
            self._raise_if_any_died()
            if is_healthy(service.health_url):
                return
            time.sleep(0.5)
        raise SupervisorError(
            f"{service.name} did not become healthy within {service.start_timeout:.0f} s "
            f"({service.health_url}); last log lines:\n{service.log_tail(redact=self.redact)}"
        )

    def _raise_if_any_died(self) -> None:
        for service in self.services:
            code = service.process.poll() if service.process else None
            if code is not None:
                raise SupervisorError(self._died_message(service, code))

    def _died_message(self, service: Service, code: int, times: Optional[int] = None) -> str:
        """Why we gave up; `times` (deaths within the window) unless it died only once."""
        count = "" if times is None else f" {times} times in {self.restart_window_s:g} s"
        return (f"{service.name} stopped with exit code {code}{count}; last log lines:\n"
                f"{service.log_tail(redact=self.redact)}")

    def watch(self) -> None:
        """Restart a service that dies (after a backoff, without holding up the others) until
        one dies too often (raise); return when a signal or stop() asks us to stop."""
        stop_requested = []

        def request_stop(signum: int, _frame: object) -> None:
            stop_requested.append(signum)

        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        restarts = {service.name: _Restarts() for service in self.services}
        try:
            while not stop_requested and not self._stopping:
                for service in self.services:
                    if stop_requested or self._stopping:
                        break
                    self._tend(service, restarts[service.name])
                time.sleep(self.poll_interval)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _tend(self, service: Service, state: _Restarts) -> None:
        """One look at one service: notice a death, respawn when its backoff is over, say
        when it answers again, forget old backoff once it has been healthy for a while."""
        now = time.monotonic()
        if state.respawn_at is not None:
            if now >= state.respawn_at:
                with self._lock:
                    if self._stopping:
                        return
                    try:
                        self._spawn(service)
                    except OSError as error:
                        raise SupervisorError(f"{service.name} could not be restarted: "
                                              f"{error}") from error
                state.respawn_at, state.starting = None, True
            return
        code = service.process.poll()
        if code is not None:
            with self._lock:
                if self._stopping:  # stop() ended it: not a death
                    return
                self._kill_group(service)
            self._died(service, state, code, now)
            return
        if state.starting:
            if is_healthy(service.health_url, timeout=1.0):
                state.starting, state.healthy_since = False, now
                self.say(f"  {service.name} is up again")
        elif state.consecutive and state.healthy_since is not None \
                and now - state.healthy_since >= self.backoff_reset_s:
            state.consecutive = 0

    def _died(self, service: Service, state: _Restarts, code: int, now: float) -> None:
        """Schedule the restart of a service that died, or give up on it (raise)."""
        state.deaths.append(now)
        while state.deaths and state.deaths[0] < now - self.restart_window_s:
            state.deaths.popleft()
        if len(state.deaths) > self.restart_limit:
            raise SupervisorError(self._died_message(
                service, code, len(state.deaths) if self.restart_limit else None))
        state.consecutive += 1
        state.starting, state.healthy_since = False, None
        state.respawn_at = now + restart_delay(state.consecutive, self.backoff_base_s,
                                               self.max_backoff_s)
        self.say(f"  {service.name} stopped with exit code {code}; restarting it "
                 f"(restart {len(state.deaths)} of {self.restart_limit} in "
                 f"{self.restart_window_s:g} s)")

    @staticmethod
    def _kill_group(service: Service) -> None:
        """Kill what is left of a dead service's process group (a child it forked would
        hold its port, or its files, against the restarted service)."""
        with contextlib.suppress(ProcessLookupError):  # nothing left of it
            os.killpg(service.process.pid, signal.SIGKILL)

    def stop(self, grace: float = 15.0) -> None:
        """Stop every service still running: SIGTERM, then SIGKILL after `grace` seconds.
        Safe from another thread while watch() runs: nothing is restarted once it begins."""
        with self._lock:
            self._stopping = True
            running = [s for s in self.services if s.process and s.process.poll() is None]
        for service in running:
            try:
                os.killpg(service.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        deadline = time.monotonic() + grace
        for service in running:
            try:
                service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._kill_group(service)
                service.process.wait()
            self.say(f"  stopped {service.name}")


def python_command(*args: str) -> list[str]:
    """Run a module with the same interpreter (the project's .venv)."""
    return [sys.executable, *args]
