"""bot.database: the one clock and the store base every SQL store uses."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, event, func, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from bot.database import (
    ThreadedStore, aware, create_tables, make_engine, naive, naive_utcnow, utcnow,
)
from bot.errors import StoreUnavailable

metadata = MetaData()
things = Table("things", metadata, Column("id", Integer, primary_key=True))


class ThingStore(ThreadedStore):
    metadata = metadata
    label = "thing store"


@pytest.fixture
def creates() -> Iterator[list[int]]:
    """One entry per CREATE of the test tables (create_all with tables missing or not)."""
    calls: list[int] = []

    def count(*_args: Any, **_kwargs: Any) -> None:
        calls.append(1)

    event.listen(metadata, "before_create", count)
    yield calls
    event.remove(metadata, "before_create", count)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'things.db'}"


async def test_a_transaction_runs_in_a_worker_thread(url: str) -> None:
    store = ThingStore(make_engine(url), dispose_engine=True)
    seen: dict[str, Any] = {}

    def work(connection: Connection, value: int) -> int:
        seen["thread"] = threading.get_ident()
        seen["in_transaction"] = connection.in_transaction()
        connection.execute(insert(things).values(id=value))
        return connection.execute(select(func.count()).select_from(things)).scalar_one()

    try:
        assert await store.run(work, 7) == 1
        assert seen["thread"] != threading.get_ident() and seen["in_transaction"]
        with store.engine.connect() as connection:  # committed
            assert connection.execute(select(things.c.id)).scalars().all() == [7]
    finally:
        await store.close()


async def test_a_store_may_bring_its_own_threads(url: str) -> None:
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="things")
    store = ThingStore(make_engine(url), dispose_engine=True, executor=pool)
    try:
        name = await store.call(lambda: threading.current_thread().name)
        assert name.startswith("things")
    finally:
        await store.close()
        pool.shutdown()


async def test_tables_are_created_once(url: str, creates: list[int]) -> None:
    store = ThingStore(make_engine(url), dispose_engine=True)
    try:
        for value in range(3):
            await store.run(lambda connection, v: connection.execute(
                insert(things).values(id=v)), value)
        await store.ensure_tables()
        assert len(creates) == 1
    finally:
        await store.close()


async def test_tables_made_by_another_store_are_used_as_they_are(url: str) -> None:
    first, second = ThingStore(make_engine(url)), ThingStore(make_engine(url))
    try:
        await first.ensure_tables()
        await second.ensure_tables()  # they exist already: nothing to do, no error
        await first.run(lambda connection: connection.execute(insert(things).values(id=1)))
        assert await second.run(lambda connection: connection.execute(
            select(things.c.id)).scalars().all()) == [1]
    finally:
        first.engine.dispose()
        second.engine.dispose()


def test_a_concurrent_create_is_retried(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(url)
    real_create_all = MetaData.create_all
    attempts: list[int] = []

    def create_all(self: MetaData, *args: Any, **kwargs: Any) -> None:
        attempts.append(1)
        if len(attempts) == 1:  # another process's CREATE won between check and create
            raise OperationalError("CREATE TABLE things", {}, Exception("table things exists"))
        real_create_all(self, *args, **kwargs)

    monkeypatch.setattr(MetaData, "create_all", create_all)
    try:
        create_tables(engine, metadata)
        assert len(attempts) == 2
        with engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(things)).scalar() == 0
    finally:
        engine.dispose()


async def test_a_database_error_becomes_store_unavailable(url: str) -> None:
    store = ThingStore(make_engine(url), dispose_engine=True)
    try:
        with pytest.raises(StoreUnavailable, match=r"the thing store failed \(OperationalError\)"
                           ) as raised:
            await store.run(lambda connection: connection.execute(text("SELECT * FROM nowhere")))
        assert isinstance(raised.value.__cause__, OperationalError)
        with pytest.raises(ValueError, match="not ours"):  # other errors pass through as they are
            await store.call(_raise, ValueError("not ours"))
    finally:
        await store.close()


async def test_an_unreachable_database_is_unavailable_not_a_hang() -> None:
    store = ThingStore(make_engine("postgresql+psycopg2://postgres@127.0.0.1:1/nothing_here",
                                   timeout=2.0), dispose_engine=True)
    try:
        with pytest.raises(StoreUnavailable):
            await store.ensure_tables()
    finally:
        await store.close()


def _raise(error: Exception) -> None:
    raise error


def test_utcnow_is_aware_utc() -> None:
    now = utcnow()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)
    assert abs(now - datetime.now(timezone.utc)) < timedelta(seconds=5)


def test_naive_and_aware_round_trip() -> None:
    now = utcnow()
    stored = naive(now)
    assert stored.tzinfo is None and stored == now.replace(tzinfo=None)
    assert aware(stored) == now and aware(stored).tzinfo is not None
    assert naive(stored) is stored  # naive values are taken to be UTC already
    assert aware(now) is now and aware(None) is None
    paris = datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=1)))
    assert naive(paris) == datetime(2026, 3, 1, 11, 0)
    assert aware(naive(paris)) == paris


def test_naive_utcnow_is_what_tables_store() -> None:
    stored = naive_utcnow()
    assert stored.tzinfo is None
    assert abs(aware(stored) - utcnow()) < timedelta(seconds=5)
