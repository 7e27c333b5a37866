"""The servers benchmarks/load.py measures: stock `rasa init`, `rapport run`, a second Rasa.

Each is a subprocess on free ports, logging to a file; each failure to come up is a
`BenchmarkError` whose one line says what is missing and where its log is.
"""

from __future__ import annotations

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
from typing import Callable, Optional

from benchmarks.load_client import ADA, DemoCustomer

PROJECT = Path(__file__).resolve().parents[1]
RASA = Path(sys.executable).parent / "rasa"  # the same rasa Rapport runs on
START_TIMEOUT_S = 420.0
PORT_ATTEMPTS = 3  # a port picked here may be taken before the subprocess binds it


class BenchmarkError(RuntimeError):
    """Something the benchmark needs is missing or did not start; printed as one line."""


def free_ports(count: int) -> list[int]:
    """`count` distinct ports nobody listens on now (a subprocess binds them later: retry)."""
    with contextlib.ExitStack() as probes:
        sockets = [probes.enter_context(socket.socket()) for _ in range(count)]
        for probe in sockets:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in sockets]


def listens(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2.0):
            return True
    except OSError:
        return False


def http_get(url: str, timeout: float = 5.0) -> Optional[int]:
    """The status of GET `url`, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return None


def post_json(url: str, body: dict, headers: dict[str, str], timeout: float = 120.0) -> object:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def rss_mb(pid: int) -> Optional[float]:
    """Resident memory of one process (VmRSS), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def children_of(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found.extend(int(child) for child in (task / "children").read_text().split())
    return found


def tail(path: Path, lines: int = 20) -> str:
    if not path.is_file():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def outside_env() -> dict[str, str]:
    """This process's environment without Rapport's settings: each server gets exactly the
    settings the benchmark gives it, whatever the shell has exported."""
    return {name: value for name, value in os.environ.items() if not name.startswith("RAPPORT_")}


@dataclass
class Process:
    """A subprocess in its own session (so stopping it stops its children), logging to a file."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    log_path: Path
    popen: Optional[subprocess.Popen] = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(self.argv, cwd=self.cwd, env={**outside_env(), **self.env},
                                          stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True)

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def exited(self) -> bool:
        return self.popen is None or self.popen.poll() is not None

    def stop(self, timeout: float = 60.0) -> None:
        if self.exited():
            return
        assert self.popen is not None
        self.popen.send_signal(signal.SIGINT)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()


def wait_until_answers(process: Process, url: str, what: str,
                       timeout: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while http_get(url) != 200:
        if process.exited():
            raise BenchmarkError(f"{what} exited while starting; see {process.log_path}:\n"
                                 f"{tail(process.log_path)}")
        if time.monotonic() > deadline:
            process.stop()
            raise BenchmarkError(f"{what} did not answer {url} in {timeout:.0f} s; "
                                 f"see {process.log_path}")
        time.sleep(0.2)


def start_answering(process_on: Callable[[int], Process], path: str,
                    what: str) -> tuple[Process, str, float]:
    """Start `process_on(port)` on a free port and wait until GET `path` there answers 200:
    process, URL, seconds until it answered. A port taken before the process bound it (it
    says "address already in use") is tried again with another."""
    for _ in range(PORT_ATTEMPTS):
        port = free_ports(1)[0]
        process = process_on(port)
        started = time.monotonic()
        process.start()
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_answers(process, f"{url}{path}", what)
        except BenchmarkError:
            if "address already in use" in tail(process.log_path, 60).lower():
                continue
            raise
        return process, url, time.monotonic() - started
    raise BenchmarkError(f"{what} found its port taken {PORT_ATTEMPTS} times")


# --------------------------------------------------------------------------- stock Rasa

def prepare_stock_bot(directory: Path) -> Path:
    """A `rasa init` project (the moodbot) trained by this rasa; made once, then reused."""
    models = sorted((directory / "models").glob("*.tar.gz"))
    if models:
        return models[-1]
    directory.mkdir(parents=True, exist_ok=True)
    print(f"stock bot: `rasa init --no-prompt` in {directory} (trains the moodbot)...", flush=True)
    log_path = directory.parent / f"{directory.name}-init.log"
    with log_path.open("wb") as log:
        result = subprocess.run([str(RASA), "init", "--no-prompt", "--init-dir", str(directory)],
                                cwd=directory, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"})
    models = sorted((directory / "models").glob("*.tar.gz"))
    if result.returncode != 0 or not models:
        raise BenchmarkError(f"`rasa init --no-prompt` failed (exit {result.returncode}); "
                             f"see {log_path}")
    return models[-1]


def start_stock_rasa(directory: Path, model: Path, log_path: Path) -> tuple[Process, str, float]:
    """`rasa run --enable-api` on the stock project (in-memory tracker store): process, URL,
    seconds until it answered."""
    return start_answering(
        lambda port: Process([str(RASA), "run", "--enable-api", "--model", str(model),
                              "--port", str(port), "--interface", "127.0.0.1",
                              "--credentials", "credentials.yml", "--endpoints", "endpoints.yml"],
                             {"RASA_TELEMETRY_ENABLED": "false"}, directory, log_path),
        "/status", "stock `rasa run`")


# --------------------------------------------------------------------------- Rapport

PORT_SETTINGS = ("RAPPORT_RASA_PORT", "RAPPORT_ACTIONS_PORT", "RAPPORT_HUB_PORT")
READY_LINE = "Rapport is running"
TRAINING_LINE = "training one now"  # `rapport run` found no model for the content


@dataclass
class RapportRun:
    """One `rapport run` (bot.ops.cli run) with the given environment."""

    env: dict[str, str]
    log_path: Path
    process: Optional[Process] = None
    ready_s: Optional[float] = None
    trained_at_start: bool = False
    rss_mb: Optional[float] = None
    services_rss_mb: dict[str, float] = field(default_factory=dict)

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.env['RAPPORT_RASA_PORT']}"

    def start(self) -> None:
        """Start it on free ports and time it until it prints that it is running."""
        for _ in range(PORT_ATTEMPTS):
            self.env.update(zip(PORT_SETTINGS, map(str, free_ports(len(PORT_SETTINGS)))))
            if self._start_once():
                return
        raise BenchmarkError(f"rapport run found its ports taken {PORT_ATTEMPTS} times")

    def _start_once(self) -> bool:
        offset = self.log_path.stat().st_size if self.log_path.is_file() else 0
        self.process = Process([sys.executable, "-m", "bot.ops.cli", "run"], self.env, PROJECT,
                               self.log_path)
        started = time.monotonic()
        self.process.start()
        deadline = started + START_TIMEOUT_S
        while True:
            output = self._output_since(offset)
            if READY_LINE in output:
                self.ready_s = time.monotonic() - started
                self.trained_at_start = TRAINING_LINE in output  # content changed meanwhile
                break
            if self.process.exited():
                if "already in use" in output.lower():
                    return False
                raise BenchmarkError(f"rapport run exited while starting; see {self.log_path}:\n"
                                     f"{tail(self.log_path)}")
            if time.monotonic() > deadline:
                self.process.stop()
                raise BenchmarkError(f"rapport run was not running after {START_TIMEOUT_S:.0f} s;"
                                     f" see {self.log_path}")
            time.sleep(0.1)
        self.rss_mb = rss_mb(self.process.pid)
        self.services_rss_mb = {str(child): rss for child in children_of(self.process.pid)
                                if (rss := rss_mb(child)) is not None}
        return True

    def _output_since(self, offset: int) -> str:
        with self.log_path.open("rb") as log:
            log.seek(offset)
            return log.read().decode("utf-8", errors="replace")

    def stop(self) -> None:
        if self.process:
            self.process.stop()


def start_second_rasa(env: dict[str, str], log_path: Path) -> tuple[Process, str]:
    """Another Rasa process of a running stack (`serve rasa`), on a port of its own."""
    process, url, _ = start_answering(
        lambda port: Process([sys.executable, "-m", "bot.ops.cli", "serve", "rasa"],
                             {**env, "RAPPORT_RASA_PORT": str(port)}, PROJECT, log_path),
        "/", "the second Rasa process")
    return process, url


def demo_customers(crm_url: str) -> list[DemoCustomer]:
    """The seeded CRM's standard customers with no case yet and a delivered order under
    EUR 450 (a damaged item the policy offers a remedy for, as with Ada's RP-100003), each
    with that order and its first product; Ada's first."""
    from sqlalchemy import create_engine, select

    from bot.crm.models import CaseRow, CustomerRow, OrderLineRow, OrderRow

    engine = create_engine(crm_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(OrderRow.number, OrderRow.email, OrderLineRow.product_name)
                .join(CustomerRow, CustomerRow.id == OrderRow.customer_id)
                .join(OrderLineRow, OrderLineRow.order_id == OrderRow.id)
                .where(OrderRow.status == "delivered", OrderRow.total < 450,
                       OrderLineRow.position == 1,
                       CustomerRow.tier == "standard",
                       ~CustomerRow.id.in_(select(CaseRow.customer_id)
                                           .where(CaseRow.customer_id.is_not(None))))
                .order_by(OrderRow.number)).all()
    finally:
        engine.dispose()
    customers, seen = [ADA], {ADA.email}
    for number, email, product in rows:
        if email not in seen:  # one order per customer: a second complaint weighs more
            seen.add(email)
            customers.append(DemoCustomer(number, email, product.lower()))
    return customers
