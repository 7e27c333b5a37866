"""bot/ops/orphan_watch.py: a service whose supervisor was killed stops itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bot.ops.orphan_watch import watch_supervisor
from tests.support import PROJECT

# A "supervisor" that starts one "service" in a session of its own (as rapport run does),
# prints the service's pid and waits. The service watches it; `ignore_term` makes it a service
# that does not stop on SIGTERM.
SUPERVISOR = """
import os, subprocess, sys, time
service = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2], str(os.getpid())],
                           start_new_session=True)
print(service.pid, flush=True)
time.sleep(600)
"""
SERVICE = """
import os, signal, sys, time
from bot.ops.orphan_watch import watch_supervisor
if sys.argv[1] == "ignore_term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
watch_supervisor(int(sys.argv[2]), check_every=0.05, grace=1.0)
time.sleep(600)
"""


def _gone(pid: int, timeout: float = 60.0) -> bool:
    """True once `pid` is no longer running (a hang guard, not a speed target)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":  # exited, waiting for its new parent to reap it
            return True
        time.sleep(0.05)
    return False


def _supervised(mode: str) -> tuple[subprocess.Popen, int]:
    supervisor = subprocess.Popen([sys.executable, "-c", SUPERVISOR, SERVICE, mode], cwd=PROJECT,
                                  stdout=subprocess.PIPE, text=True)
    return supervisor, int(supervisor.stdout.readline())


def test_a_service_stops_when_its_supervisor_is_killed() -> None:
    supervisor, service = _supervised("plain")
    try:
        time.sleep(0.3)
        assert not _gone(service, timeout=0.2)  # supervised: it keeps running
        supervisor.kill()
        supervisor.wait()
        assert _gone(service)
    finally:
        supervisor.kill()
        if not _gone(service, timeout=0):
            os.kill(service, signal.SIGKILL)


def test_a_service_deaf_to_sigterm_is_killed_after_the_grace_period() -> None:
    """(Killed at once: the service may not even have started watching, and still stops.)"""
    supervisor, service = _supervised("ignore_term")
    try:
        supervisor.kill()
        supervisor.wait()
        assert _gone(service)
    finally:
        if not _gone(service, timeout=0):
            os.kill(service, signal.SIGKILL)


def test_nothing_is_watched_without_a_supervisor() -> None:
    assert watch_supervisor(None) is None
