"""One Rapport service (`rapport serve NAME`) as a subprocess, for tests that need just one.

`rapport run` starts the whole stack (tests/support/stack.py); a test of one service (the
action server), or one that adds a process to a running stack (a second Rasa server),
starts `rapport serve` itself: on the port its environment names, logging to a file, and
stopped however the test ends.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tests.support import PROJECT

POLL_S = 0.2
STOP_TIMEOUT_S = 30.0


@contextmanager
def serving(service: list[str], env: dict[str, str], log_path: Path, ready_url: str,
            timeout: float) -> Iterator[subprocess.Popen]:
    """`rapport serve *service` with `env` over this environment, yielded once GET `ready_url`
    answers 200; RuntimeError with its log's tail if it exits or is not ready in `timeout` s."""
    what = " ".join(["rapport serve", *service])
    with log_path.open("ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "bot.ops.cli", "serve", *service],
                                   cwd=PROJECT, env={**os.environ, **env}, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while not _answers(ready_url):
            if process.poll() is not None:
                raise RuntimeError(f"{what} exited while starting:\n{_tail(log_path)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not answer {ready_url} in {timeout:.0f} s:\n"
                                   f"{_tail(log_path)}")
            time.sleep(POLL_S)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers(url: str) -> bool:
    """GET `url` answers 200 (not yet listening, or listening but not serving: False)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):  # HTTPError is a URLError
        return False


def _tail(log_path: Path, characters: int = 4000) -> str:
    return log_path.read_text(errors="replace")[-characters:]
