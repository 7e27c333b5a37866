"""Starts Rapport's three services, waits until each is healthy, and stops them together.

One process per service (Rasa server, action server, hub), each logging to `var/logs/`. If
one dies, the others are stopped and the supervisor says which one and why (its exit code
and the last lines of its log). Ctrl-C stops everything cleanly.
"""

from __future__ import annotations

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


class Supervisor:
    """Runs a set of services as one unit."""

    def __init__(self, services: list[Service], host: str, logs_dir: Path,
                 say: Callable[[str], None] = print,
                 redact: Callable[[str], str] = Redactor()) -> None:
        self.services = services
        self.host = host
        self.logs_dir = logs_dir
        self.say = say
        self.redact = redact
        self._stopping = False

    def check_ports(self) -> None:
        check_ports_free(self.host, {service.name: service.port for service in self.services})

    def start(self) -> None:
        """Start every service and wait until all are healthy (or raise)."""
        self.check_ports()
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        for service in self.services:
            service.log_path = self.logs_dir / f"{service.name}.log"
            log = service.log_path.open("ab")
            service.process = subprocess.Popen(  # noqa: S603 (our own argv)
                service.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, **service.env}, start_new_session=True,
            )
            log.close()
            self.say(f"  starting {service.name} (log: {service.log_path})")
        for service in self.services:
            self._wait_healthy(service)
            self.say(f"  {service.name} is up")

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
                raise SupervisorError(
                    f"{service.name} stopped with exit code {code}; last log lines:\n"
                    f"{service.log_tail(redact=self.redact)}"
                )

    def watch(self) -> None:
        """Block until a service dies (raise) or a signal asks us to stop (return)."""
        stop_requested = []

        def request_stop(signum: int, _frame: object) -> None:
            stop_requested.append(signum)

        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            while not stop_requested:
                self._raise_if_any_died()
                time.sleep(0.5)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def stop(self, grace: float = 15.0) -> None:
        """Stop every service still running: SIGTERM, then SIGKILL after `grace` seconds."""
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
                os.killpg(service.process.pid, signal.SIGKILL)
                service.process.wait()
            self.say(f"  stopped {service.name}")


def python_command(*args: str) -> list[str]:
    """Run a module with the same interpreter (the project's .venv)."""
    return [sys.executable, *args]
