"""AtomicRedisLockStore on the machine's real Redis, from several OS processes at once.

Skips only when nothing listens on 127.0.0.1:6379. Each test works under a key prefix of its own
and deletes its keys afterwards. Rasa's own RedisLockStore is not put through the same tests: it
overlaps turns only sometimes, so a test of it could not be relied on either way.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import secrets
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import pytest
import redis
from rasa.core.lock_store import LockError, LockStore
from rasa.core.utils import _lock_store_is_multi_worker_compatible
from rasa.utils.endpoints import EndpointConfig, read_endpoint_config

from bot.errors import Unavailable
from bot.scaleout.lock_store import AtomicRedisLockStore, LockStoreUnavailable
from tests.support import PROJECT
from tests.support.postgres import nothing_listens

pytestmark = pytest.mark.scaleout

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
PROCESS_TIMEOUT = 120  # seconds a child process may take (it imports Rasa first)
SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture
def options() -> Iterator[Dict[str, Any]]:
    """Store options on the real Redis under a fresh key prefix; the prefix's keys are deleted after."""
    if nothing_listens(REDIS_HOST, REDIS_PORT):
        pytest.skip(f"no Redis listening on {REDIS_HOST}:{REDIS_PORT}")
    prefix = f"rapport-test-{secrets.token_hex(6)}"
    yield {"host": REDIS_HOST, "port": REDIS_PORT, "db": 1, "key_prefix": prefix}
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=1)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def _run_processes(target: Callable[..., None], count: int, *args: Any) -> None:
    """Run `target(index, start_barrier, *args)` in `count` spawned processes; all must exit 0."""
    start = SPAWN.Barrier(count, timeout=PROCESS_TIMEOUT)
    processes = [SPAWN.Process(target=target, args=(index, start, *args)) for index in range(count)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(PROCESS_TIMEOUT)
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join()
    assert [p.exitcode for p in processes] == [0] * count


def _issue_from_threads(index: int, start: Any, options: Dict[str, Any], conversation_id: str,
                        threads: int, per_thread: int, out_dir: str) -> None:
    """Child process: `threads` threads issue `per_thread` tickets each, all released at once."""
    store = AtomicRedisLockStore(**options)
    go = threading.Barrier(threads + 1, timeout=PROCESS_TIMEOUT)
    issued: List[List[int]] = [[] for _ in range(threads)]

    def issue(thread: int) -> None:
        go.wait()
        for _ in range(per_thread):
            issued[thread].append(store.issue_ticket(conversation_id))

    workers = [threading.Thread(target=issue, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    go.wait()
    for worker in workers:
        worker.join()
    Path(out_dir, f"tickets-{index}.json").write_text(json.dumps(issued))


def _take_turns(index: int, start: Any, options: Dict[str, Any], conversation_id: str,
                customers: int, turns: int) -> None:
    """Child process: `customers` asyncio tasks each take `turns` turns under the lock.

    In its turn a task counts itself into a shared Redis counter, does some work that yields to
    the event loop, counts itself out, and logs (ticket, start, end, how many were inside).
    """
    store = AtomicRedisLockStore(**options)
    inside_key = f"{options['key_prefix']}:inside"
    log_key = f"{options['key_prefix']}:turns"

    async def customer() -> None:
        for _ in range(turns):
            async with store.lock(conversation_id) as lock:
                inside = store.red.incr(inside_key)
                started = time.monotonic_ns()
                await asyncio.sleep(0.002)  # the turn's work, while the other tasks poll
                ended = time.monotonic_ns()
                store.red.decr(inside_key)
                store.red.rpush(log_key, json.dumps(
                    [lock.now_serving, started, ended, inside, os.getpid()]))

    async def everyone() -> None:
        await asyncio.gather(*(customer() for _ in range(customers)))

    start.wait()
    asyncio.run(everyone())


def _crash_while_holding(index: int, start: Any, options: Dict[str, Any], conversation_id: str,
                         lifetime: float, held_file: str) -> None:
    """Child process: take the lock, say so, and die without releasing it."""
    store = AtomicRedisLockStore(**options)

    async def hold() -> None:
        async with store.lock(conversation_id, lock_lifetime=lifetime) as lock:
            Path(held_file).write_text(str(lock.now_serving))
            os._exit(0)

    start.wait()
    asyncio.run(hold())


def test_tickets_from_two_processes_are_unique_and_increase(options: Dict[str, Any],
                                                            tmp_path: Path) -> None:
    conversation_id = secrets.token_hex(4)
    processes, threads, per_thread = 2, 8, 40
    _run_processes(_issue_from_threads, processes, options, conversation_id, threads, per_thread,
                   str(tmp_path))

    per_issuer = [tickets for index in range(processes)
                  for tickets in json.loads((tmp_path / f"tickets-{index}.json").read_text())]
    everything = sorted(number for tickets in per_issuer for number in tickets)
    assert everything == list(range(1, processes * threads * per_thread + 1))
    for tickets in per_issuer:
        assert len(tickets) == per_thread
        assert all(a < b for a, b in zip(tickets, tickets[1:]))
    queue = AtomicRedisLockStore(**options).get_lock(conversation_id)
    assert [ticket.number for ticket in queue.tickets] == everything


def test_turns_from_two_processes_never_overlap_and_run_in_ticket_order(
        options: Dict[str, Any]) -> None:
    conversation_id = secrets.token_hex(4)
    processes, customers, turns = 2, 10, 5
    _run_processes(_take_turns, processes, options, conversation_id, customers, turns)

    store = AtomicRedisLockStore(**options)
    log = [json.loads(entry) for entry in store.red.lrange(f"{options['key_prefix']}:turns", 0, -1)]
    assert len(log) == processes * customers * turns
    assert {pid for *_, pid in log} and len({pid for *_, pid in log}) == processes
    assert [inside for _, _, _, inside, _ in log] == [1] * len(log)
    tickets = [ticket for ticket, *_ in log]
    assert tickets == list(range(1, len(log) + 1))
    for (_, _, ended, _, _), (_, started, _, _, _) in zip(log, log[1:]):
        assert ended <= started
    assert store.get_lock(conversation_id) is None
    assert not store.is_someone_waiting(conversation_id)


async def test_a_crashed_holder_frees_its_place_when_its_lifetime_ends(
        options: Dict[str, Any], tmp_path: Path) -> None:
    conversation_id = secrets.token_hex(4)
    lifetime = 3.0
    held_file = tmp_path / "held"
    _run_processes(_crash_while_holding, 1, options, conversation_id, lifetime, str(held_file))
    crashed_ticket = int(held_file.read_text())
    store = AtomicRedisLockStore(**options)

    waiting = store.issue_ticket(conversation_id)
    queue = store.get_lock(conversation_id)
    assert [ticket.number for ticket in queue.tickets] == [crashed_ticket, waiting]
    assert queue.is_locked(waiting)
    store.finish_serving(conversation_id, waiting)

    began = time.monotonic()
    async with store.lock(conversation_id, lock_lifetime=30) as lock:
        waited = time.monotonic() - began
        assert lock.now_serving == waiting + 1
        assert [t.number for t in store.get_lock(conversation_id).tickets] == [waiting + 1]
    assert waited < lifetime + 10
    assert store.get_lock(conversation_id) is None


def test_every_key_expires_and_the_queue_goes_when_empty(options: Dict[str, Any]) -> None:
    store = AtomicRedisLockStore(**options, lock_lifetime=30)
    conversation_id = secrets.token_hex(4)
    first, second = store.issue_ticket(conversation_id), store.issue_ticket(conversation_id)
    counter, queue, expiry = store.keys_for(conversation_id)
    assert all(store.red.pttl(key) > 30_000 for key in (counter, queue, expiry))

    store.finish_serving(conversation_id, first)
    assert store.is_someone_waiting(conversation_id)
    store.cleanup(conversation_id, second)
    assert not store.is_someone_waiting(conversation_id)
    assert store.red.exists(queue, expiry) == 0
    assert store.red.pttl(counter) > 0
    assert store.issue_ticket(conversation_id) == second + 1


def test_an_expired_ticket_leaves_the_queue_without_being_released(
        options: Dict[str, Any]) -> None:
    store = AtomicRedisLockStore(**options)
    conversation_id = secrets.token_hex(4)
    short = store.issue_ticket(conversation_id, lock_lifetime=0.001)
    deadline = time.monotonic() + 5
    while store.get_lock(conversation_id) is not None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert store.get_lock(conversation_id) is None
    later = store.issue_ticket(conversation_id)
    assert later == short + 1
    assert [t.number for t in store.get_lock(conversation_id).tickets] == [later]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_redis_down_fails_closed_quickly() -> None:
    port = _closed_port()
    assert nothing_listens("127.0.0.1", port)
    store = AtomicRedisLockStore(host="127.0.0.1", port=port, socket_timeout=2)
    conversation_id = secrets.token_hex(4)
    began = time.monotonic()
    with pytest.raises(LockStoreUnavailable, match=f"127.0.0.1:{port}.*without its lock"):
        store.issue_ticket(conversation_id)

    turns_run = []
    with pytest.raises(LockError):
        async with store.lock(conversation_id):
            turns_run.append(conversation_id)
    assert turns_run == []
    assert time.monotonic() - began < 2
    assert issubclass(LockStoreUnavailable, Unavailable)


def test_rasa_builds_the_store_from_an_endpoint_config(options: Dict[str, Any]) -> None:
    config = EndpointConfig.from_dict({
        "type": "bot.scaleout.lock_store.AtomicRedisLockStore", "url": REDIS_HOST,
        "port": str(REDIS_PORT), "db": "1", "use_ssl": "false",
        "key_prefix": options["key_prefix"], "lock_lifetime": "7",
    })
    store = LockStore.create(config)
    assert isinstance(store, AtomicRedisLockStore)
    assert _lock_store_is_multi_worker_compatible(config)
    assert store.lock_lifetime == 7
    conversation_id = secrets.token_hex(4)
    assert store.issue_ticket(conversation_id) == 1
    assert store.keys_for(conversation_id)[0].startswith(options["key_prefix"] + ":")


def test_endpoints_scale_yml_names_this_store(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.settings import Settings

    settings = Settings.from_env({"RAPPORT_HOME": str(PROJECT), "RAPPORT_PROFILE": "scale",
                                  "RAPPORT_ACTIONS_SECRET": secrets.token_urlsafe(16),
                                  "RAPPORT_REDIS_URL": "redis://redis.internal:6380/1"})
    for name, value in settings.child_env().items():  # what `rapport run` hands Rasa
        monkeypatch.setenv(name, value)
    config = read_endpoint_config(str(PROJECT / "endpoints.scale.yml"), "lock_store")
    store = LockStore.create(config)
    assert isinstance(store, AtomicRedisLockStore)
    connection = store.red.connection_pool.connection_kwargs
    assert (connection["host"], connection["port"]) == ("redis.internal", 6380)


@pytest.mark.parametrize("bad, message", [
    ({"colour": "blue"}, "unknown option.*colour"),
    ({"key_prefix": "has space"}, "key_prefix"),
    ({"use_ssl": "maybe"}, "use_ssl"),
    ({"port": "six"}, "port: expected a number"),
])
def test_a_bad_lock_store_section_is_refused_clearly(bad: Dict[str, str], message: str) -> None:
    config = EndpointConfig.from_dict(
        {"type": "bot.scaleout.lock_store.AtomicRedisLockStore", "url": REDIS_HOST, **bad})
    with pytest.raises(ValueError, match=message):
        LockStore.create(config)
