"""The supervisor with real child processes: small Python servers that answer, exit or hang.

Every child is `python -c` with a script below; each test stops what it started.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, Optional

import pytest

from bot.ops.supervisor import (
    Service, Supervisor, SupervisorError, check_ports_free, is_healthy, port_is_free,
    python_command, restart_delay,
)
from tests.support.stack import free_port

HOST = "127.0.0.1"

# Answers GET /health with 200 (anything else 404); GET /exit makes it exit with code 7.
# `ignore-term` makes it ignore SIGTERM (a service that will not stop when asked).
# `exit-again=PATH` / `hang-again=PATH`: started a second time (PATH exists), it exits with
# code 5 at once / never answers. `fork-child` starts a child that sleeps, in its group.
SERVER = """
import http.server, os, signal, subprocess, sys, threading, time
port = int(sys.argv[1])
if "ignore-term" in sys.argv:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
for arg in sys.argv[2:]:
    how, _, marker = arg.partition("-again=")
    if marker and os.path.exists(marker):
        print("started again", flush=True)
        if how == "exit":
            sys.exit(5)
        time.sleep(600)
    elif marker:
        open(marker, "w").close()
if "fork-child" in sys.argv:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    print(f"child {child.pid}", flush=True)
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/exit":
            print("asked to exit", flush=True)
            self.send_response(200)
            self.end_headers()
            threading.Thread(target=os._exit, args=(7,)).start()
            return
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()
    def log_message(self, *args):
        print("request", self.path, flush=True)
print(f"listening on {port}", flush=True)
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""

CRASHES = """
import sys
print("loading the model...", flush=True)
print("error: the model file is corrupt", file=sys.stderr, flush=True)
sys.exit(3)
"""

NEVER_READY = """
import time
print("still warming up", flush=True)
time.sleep(600)
"""


def server(name: str, *extra: str, timeout: float = 120.0) -> Service:
    port = free_port()
    return Service(name, python_command("-c", SERVER, str(port), *extra),
                   f"http://{HOST}:{port}/health", port, start_timeout=timeout)


def script(name: str, code: str, timeout: float = 120.0) -> Service:
    port = free_port()
    return Service(name, python_command("-c", code), f"http://{HOST}:{port}/health", port,
                   start_timeout=timeout)


@pytest.fixture
def run(tmp_path: Path) -> Iterator:
    """`run(services)`: a Supervisor logging to tmp_path; whatever it started is stopped."""
    made: list[tuple[Supervisor, list[str]]] = []

    def make(services: list[Service], **options) -> tuple[Supervisor, list[str]]:
        said: list[str] = []
        supervisor = Supervisor(services, HOST, tmp_path / "logs", say=said.append, **options)
        made.append((supervisor, said))
        return supervisor, said

    yield make
    for supervisor, _ in made:
        supervisor.stop(grace=5)


def exited(service: Service) -> bool:
    return service.process is not None and service.process.poll() is not None


def wait_until_exited(service: Service, seconds: float = 60) -> int:
    return service.process.wait(timeout=seconds)


def wait_for(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"still not true after {seconds} s"
        time.sleep(0.05)


def running(pid: int) -> bool:
    """Whether the process exists and is not a zombie (an orphan's zombie may linger)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def watch_while(supervisor: Supervisor, action: Optional[Callable[[], None]] = None,
                then_sigterm: bool = True, seconds: float = 120) -> float:
    """Run supervisor.watch() here (only the main thread can install its signal handlers)
    and `action` on a helper thread once watch() listens; then SIGTERM asks watch() to
    return, at once (an action and `then_sigterm`) or, as a safety net, after `seconds`: a
    watch() that should have ended by itself ends the test instead of hanging it. Returns
    when the action finished (monotonic); the action's failure is raised here."""
    finished = threading.Event()
    errors: list[BaseException] = []
    acted_at: list[float] = []

    def helper() -> None:
        try:
            deadline = time.monotonic() + 60
            while getattr(signal.getsignal(signal.SIGTERM), "__name__", "") != "request_stop":
                if finished.is_set() or time.monotonic() > deadline:
                    return
                time.sleep(0.01)
            if action is not None:
                action()
            acted_at.append(time.monotonic())
            if action is None or not then_sigterm:
                finished.wait(seconds)
        except BaseException as error:  # noqa: BLE001 (raised again on the main thread)
            errors.append(error)
        finally:
            if not finished.is_set():
                os.kill(os.getpid(), signal.SIGTERM)

    original = signal.signal(signal.SIGTERM, lambda *_: None)  # a late one must not end pytest
    thread = threading.Thread(target=helper, daemon=True)
    thread.start()
    try:
        supervisor.watch()
    finally:
        finished.set()
        thread.join()
        signal.signal(signal.SIGTERM, original)
    if errors:
        raise errors[0]
    return acted_at[0]


# -- start and stop ------------------------------------------------------------------------

def test_start_waits_until_every_service_is_healthy_then_stop_ends_them(run, tmp_path):
    first, second = server("first"), server("second")
    supervisor, said = run([first, second])
    supervisor.start()
    logs = tmp_path / "logs"
    assert said == [f"  starting first (log: {logs / 'first.log'})",
                    f"  starting second (log: {logs / 'second.log'})",
                    "  first is up", "  second is up"]
    assert is_healthy(first.health_url) and is_healthy(second.health_url)
    assert not exited(first) and not exited(second)

    supervisor.stop()
    assert said[4:] == ["  stopped first", "  stopped second"]
    assert (first.process.returncode, second.process.returncode) == (-signal.SIGTERM,
                                                                    -signal.SIGTERM)
    assert not is_healthy(first.health_url)
    assert first.log_tail().splitlines()[0] == f"listening on {first.port}"


def test_each_service_gets_ours_and_its_own_environment(run, monkeypatch):
    monkeypatch.setenv("RAPPORT_TEST_INHERITED", "from the parent")
    code = ("import os; print(os.environ['RAPPORT_TEST_INHERITED']); "
            "print(os.environ['RAPPORT_TEST_SECRET'])")
    service = script("env", code)
    service.env = {"RAPPORT_TEST_SECRET": "s3cret"}
    supervisor, _ = run([service])
    with pytest.raises(SupervisorError):
        supervisor.start()  # it exits at once; what matters here is what it saw
    assert service.log_tail() == "from the parent\ns3cret"


def test_log_tail_is_the_last_lines_and_empty_before_any_log(tmp_path):
    service = Service("x", ["true"], "http://127.0.0.1:1/", 1)
    assert service.log_tail() == ""
    service.log_path = tmp_path / "x.log"
    assert service.log_tail() == ""
    service.log_path.write_text("".join(f"line {n}\n" for n in range(1, 41)))
    assert service.log_tail(3) == "line 38\nline 39\nline 40"
    assert service.log_tail().splitlines() == [f"line {n}" for n in range(26, 41)]


def test_stop_kills_a_service_that_ignores_sigterm_after_the_grace(run):
    stubborn = server("stubborn", "ignore-term")
    supervisor, said = run([stubborn])
    supervisor.start()
    supervisor.stop(grace=1)
    assert stubborn.process.returncode == -signal.SIGKILL
    assert said[-1] == "  stopped stubborn"


def test_stop_is_safe_before_start_and_twice(run):
    supervisor, said = run([server("idle")])
    supervisor.stop()
    assert said == []
    supervisor.start()
    supervisor.stop()
    supervisor.stop()
    assert said.count("  stopped idle") == 1


# -- failures are named --------------------------------------------------------------------

def test_a_service_that_dies_while_starting_is_named_with_its_exit_code_and_log(run):
    healthy, broken = server("rasa"), script("actions", CRASHES)
    supervisor, _ = run([healthy, broken])
    with pytest.raises(SupervisorError) as raised:
        supervisor.start()
    assert str(raised.value) == ("actions stopped with exit code 3; last log lines:\n"
                                 "loading the model...\nerror: the model file is corrupt")
    # The caller (`rapport run`) then stops the rest: nothing is left running.
    supervisor.stop()
    assert exited(healthy) and exited(broken)


def test_a_service_that_never_becomes_healthy_is_named_after_its_timeout(run):
    slow = script("hub", NEVER_READY, timeout=2)
    supervisor, _ = run([slow])
    with pytest.raises(SupervisorError) as raised:
        supervisor.start()
    assert str(raised.value) == (f"hub did not become healthy within 2 s ({slow.health_url}); "
                                 "last log lines:\nstill warming up")
    assert not exited(slow)  # still running: `rapport run` stops it
    supervisor.stop(grace=5)
    assert exited(slow)


def test_without_restarts_watch_names_the_service_that_died_and_stop_ends_the_others(run):
    rasa, actions, hub = server("rasa"), server("actions"), server("hub")
    supervisor, said = run([rasa, actions, hub], restart_limit=0)
    supervisor.start()
    assert is_healthy(actions.health_url.replace("/health", "/exit")) is True
    assert wait_until_exited(actions) == 7
    with pytest.raises(SupervisorError) as raised:
        supervisor.watch()
    assert str(raised.value).startswith("actions stopped with exit code 7; last log lines:\n")
    assert str(raised.value).endswith("\nasked to exit\nrequest /exit")
    supervisor.stop()
    assert exited(rasa) and exited(hub)
    assert said[-2:] == ["  stopped rasa", "  stopped hub"]  # actions had already gone


def test_watch_returns_when_asked_to_stop_and_restores_the_signal_handlers(run):
    supervisor, _ = run([server("rasa")])
    supervisor.start()
    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))

    def ask_to_stop() -> None:
        """SIGTERM this process once watch() has put its own handler in place."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            handler = signal.getsignal(signal.SIGTERM)
            if getattr(handler, "__name__", "") == "request_stop":
                os.kill(os.getpid(), signal.SIGTERM)
                return
            time.sleep(0.01)

    asker = threading.Thread(target=ask_to_stop)
    asker.start()
    supervisor.watch()  # returns instead of raising: nothing died
    asker.join()
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    assert not exited(supervisor.services[0])


# -- restarts ------------------------------------------------------------------------------

def test_a_service_killed_after_start_is_restarted_and_the_others_are_left_alone(run):
    rasa, actions, hub = server("rasa"), server("actions"), server("hub")
    supervisor, said = run([rasa, actions, hub])
    supervisor.start()
    pids = {service.name: service.process.pid for service in (rasa, actions, hub)}
    seen = {}

    def kill_the_hub() -> None:
        os.kill(hub.process.pid, signal.SIGKILL)
        wait_for(lambda: "  hub is up again" in said)
        seen.update(pid=hub.process.pid, healthy=is_healthy(hub.health_url))

    watch_while(supervisor, kill_the_hub)
    assert said[6:] == [f"  hub stopped with exit code {-signal.SIGKILL}; restarting it "
                        "(restart 1 of 5 in 300 s)", "  hub is up again"]
    assert seen == {"pid": hub.process.pid, "healthy": True}
    assert hub.process.pid != pids["hub"]
    assert (rasa.process.pid, actions.process.pid) == (pids["rasa"], pids["actions"])
    assert not exited(rasa) and not exited(actions) and not exited(hub)
    assert os.getpgid(hub.process.pid) == hub.process.pid  # a session of its own again
    assert hub.log_tail(100).count(f"listening on {hub.port}") == 2  # the same log, appended


def test_what_is_left_of_a_dead_service_is_killed_before_it_is_restarted(run):
    hub = server("hub", "fork-child")
    supervisor, said = run([hub], backoff_base_s=0.1)
    supervisor.start()
    wait_for(lambda: "child " in hub.log_tail())
    orphan = int(hub.log_tail().split("child ")[1].split()[0])
    assert running(orphan)

    def kill_the_hub_alone() -> None:
        os.kill(hub.process.pid, signal.SIGKILL)  # not its group: the child stays, orphaned
        wait_for(lambda: "  hub is up again" in said)
        wait_for(lambda: not running(orphan))

    watch_while(supervisor, kill_the_hub_alone)
    assert not running(orphan)


def test_a_service_that_keeps_dying_is_given_up_on_after_the_restart_limit(run, tmp_path):
    rasa, flaky = server("rasa"), server("flaky", f"exit-again={tmp_path / 'started'}")
    supervisor, said = run([rasa, flaky], restart_limit=2, restart_window_s=60,
                           backoff_base_s=0.1)
    supervisor.start()
    rasa_pid = rasa.process.pid
    assert is_healthy(flaky.health_url.replace("/health", "/exit")) is True
    assert wait_until_exited(flaky) == 7
    with pytest.raises(SupervisorError) as raised:
        watch_while(supervisor)  # no action: it must end by itself
    assert str(raised.value).startswith(
        "flaky stopped with exit code 5 3 times in 60 s; last log lines:\n")
    assert str(raised.value).endswith(
        "\nasked to exit\nrequest /exit\nstarted again\nstarted again")
    assert said[4:] == [
        "  flaky stopped with exit code 7; restarting it (restart 1 of 2 in 60 s)",
        "  flaky stopped with exit code 5; restarting it (restart 2 of 2 in 60 s)"]
    assert rasa.process.pid == rasa_pid and not exited(rasa)
    supervisor.stop()  # as `rapport run` does
    assert exited(rasa) and exited(flaky)
    assert said[-1] == "  stopped rasa"


@pytest.mark.parametrize("when, how", [("waiting", "signal"), ("waiting", "stop"),
                                       ("starting", "signal")])
def test_a_stop_while_a_service_is_restarted_ends_everything_promptly(run, tmp_path, when, how):
    """While it waits out its backoff (600 s here) or starts again but never answers."""
    rasa = server("rasa")
    hub = server("hub", f"hang-again={tmp_path / 'started'}")
    supervisor, said = run([rasa, hub], backoff_base_s=600 if when == "waiting" else 0.1)
    supervisor.start()
    dead = hub.process.pid

    def kill_the_hub_then_stop() -> None:
        os.kill(dead, signal.SIGKILL)
        wait_for(lambda: any("restarting it" in line for line in said))
        if when == "starting":
            wait_for(lambda: hub.process.pid != dead and "started again" in hub.log_tail())
        if how == "stop":
            supervisor.stop(grace=5)  # from another thread than watch()

    acted_at = watch_while(supervisor, kill_the_hub_then_stop, then_sigterm=how == "signal")
    assert time.monotonic() - acted_at < 10  # not the backoff, not the 120 s safety net
    began = time.monotonic()
    supervisor.stop(grace=5)  # as `rapport run` does
    assert time.monotonic() - began < 10
    assert exited(rasa) and exited(hub)
    assert (hub.process.pid == dead) is (when == "waiting")
    assert not any("up again" in line for line in said)
    assert said.count("  stopped rasa") == 1
    assert said.count("  stopped hub") == (1 if when == "starting" else 0)


def test_restart_delay_doubles_from_the_base_up_to_the_cap():
    assert [restart_delay(n, 1.0) for n in range(1, 9)] == [1, 2, 4, 8, 16, 30, 30, 30]
    assert [restart_delay(n, 0.1, cap=0.3) for n in (1, 2, 3)] == [0.1, 0.2, 0.3]


# -- ports ---------------------------------------------------------------------------------

def test_a_busy_port_is_named_before_anything_starts(run, tmp_path):
    first, second = server("first"), server("hub")
    with socket.socket() as busy:
        busy.bind((HOST, second.port))
        busy.listen()
        assert not port_is_free(HOST, second.port)
        supervisor, said = run([first, second])
        with pytest.raises(SupervisorError) as raised:
            supervisor.start()
    assert str(raised.value) == (
        f"port {second.port} on {HOST} is already in use (needed by hub); stop whatever "
        "uses it or choose another port (see bot/settings.py)")
    assert said == [] and first.process is None and second.process is None
    assert not (tmp_path / "logs").exists()


def test_check_ports_free_names_the_first_taken_port(tmp_path):
    free = free_port()
    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen()
        taken = busy.getsockname()[1]
        assert port_is_free(HOST, free)
        check_ports_free(HOST, {"rasa": free})
        with pytest.raises(SupervisorError, match=rf"^port {taken} on {HOST} is already in use "
                                                  r"\(needed by actions\);"):
            check_ports_free(HOST, {"rasa": free, "actions": taken})


# -- health --------------------------------------------------------------------------------

def test_is_healthy_only_for_a_2xx_answer(run):
    service = server("probe")
    supervisor, _ = run([service])
    supervisor.start()
    base = service.health_url.removesuffix("/health")
    assert is_healthy(f"{base}/health") is True
    assert is_healthy(f"{base}/missing") is False  # 404
    assert is_healthy(f"http://{HOST}:{free_port()}/health") is False  # nobody listening
    assert is_healthy("not a url") is False


def test_children_run_on_this_interpreter():
    assert python_command("-m", "bot.ops.cli", "serve", "hub") == [
        sys.executable, "-m", "bot.ops.cli", "serve", "hub"]


def test_children_get_their_own_process_group(run):
    """So stop() can signal a service and everything it started, and Ctrl-C is ours alone."""
    service = server("group")
    supervisor, _ = run([service])
    supervisor.start()
    assert os.getpgid(service.process.pid) == service.process.pid != os.getpgid(0)
