"""When PostgreSQL tests skip: only when nothing listens; a misconfigured server fails them."""

from __future__ import annotations

import socket
import threading
from typing import Iterator

import pytest

from tests.support import postgres
from tests.support.postgres import NothingListens, PgMisconfigured, connect_admin, nothing_listens


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound but not listening: a connect to it is refused (and nobody else takes it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def not_postgres_port() -> Iterator[int]:
    """A port that accepts connections and hangs up at once, as a wrong service might."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def test_a_refused_connect_means_nothing_listens(closed_port: int):
    assert nothing_listens("127.0.0.1", closed_port) is True
    with pytest.raises(NothingListens, match=f"no PostgreSQL listening on 127.0.0.1:{closed_port}"):
        connect_admin(f"postgresql+psycopg2://postgres@127.0.0.1:{closed_port}/test")


def test_a_timeout_is_not_taken_for_an_absent_server(monkeypatch: pytest.MonkeyPatch):
    def time_out(*args, **kwargs):
        raise TimeoutError("timed out")

    monkeypatch.setattr(postgres.socket, "create_connection", time_out)
    assert nothing_listens("10.255.255.1", 5432) is False


def test_a_server_that_is_not_postgres_fails_loudly(not_postgres_port: int):
    url = f"postgresql+psycopg2://postgres:secret@127.0.0.1:{not_postgres_port}/test"
    with pytest.raises(PgMisconfigured) as failure:
        connect_admin(url)
    message = str(failure.value)
    assert message.startswith(f"PostgreSQL listens on 127.0.0.1:{not_postgres_port} but the "
                              "tests cannot use postgresql+psycopg2://postgres:***@")
    assert message.endswith("Fix the server or set RAPPORT_TEST_PG_ADMIN_URL.")
    assert "secret" not in message


def test_a_missing_database_fails_loudly(pg_admin):
    url = pg_admin.url.set(database="rapport_no_such_database")
    with pytest.raises(PgMisconfigured, match='database "rapport_no_such_database" does not exist'):
        connect_admin(url.render_as_string(hide_password=False))
