"""A store that stops answering is noticed: logged once, /health 503, status page, console."""

from __future__ import annotations

import logging
import socket

import pytest

from bot.hub import keys
from bot.hub.dependencies import DependencyMonitor
from bot.settings import Settings
from tests.conftest import PROJECT
from tests.support.stack import free_port


def scale_settings(tmp_path, **env: str) -> Settings:
    return Settings.from_env({"RAPPORT_HOME": str(PROJECT), "RAPPORT_VAR_DIR": str(tmp_path),
                              "RAPPORT_HUB_DB_URL": f"sqlite:///{tmp_path / 'hub.db'}",
                              "RAPPORT_CRM_URL": f"sqlite:///{tmp_path / 'crm.db'}", **env})


async def test_a_store_going_down_and_coming_back_is_logged_once_each(tmp_path, caplog):
    port = free_port()  # nothing listens there yet: "RabbitMQ" is down
    monitor = DependencyMonitor(scale_settings(
        tmp_path, RAPPORT_RABBITMQ_URL=f"amqp://127.0.0.1:{port}/"))
    caplog.set_level(logging.INFO, "bot.hub.dependencies")
    await monitor.check()
    await monitor.check()
    assert [d.name for d in monitor.down] == ["event broker (RabbitMQ)"]
    assert monitor.down[0].reason == "ConnectionRefusedError"
    assert caplog.text.count("is DOWN") == 1  # a change is logged, not every check
    with socket.create_server(("127.0.0.1", port)):
        await monitor.check()
        assert monitor.down == []
    assert caplog.text.count(f"event broker (RabbitMQ) at 127.0.0.1:{port} is back") == 1
    monitor.close()


async def test_postgresql_and_redis_that_do_not_answer_are_down(tmp_path):
    dead = free_port()
    monitor = DependencyMonitor(scale_settings(
        tmp_path, RAPPORT_TRACKER_DB_URL=f"postgresql://127.0.0.1:{dead}/rapport",
        RAPPORT_REDIS_URL=f"redis://127.0.0.1:{dead}/1"))
    await monitor.check()
    down = {d.name: d for d in monitor.down}
    assert set(down) == {"tracker store", "lock store (Redis)"}
    assert "password" not in down["tracker store"].where and str(dead) in down["tracker store"].where
    assert [d.name for d in monitor.dependencies if d.up] == ["CRM database", "hub database"]
    monitor.close()


@pytest.fixture
def hub_settings(hub_settings: Settings) -> Settings:
    """The hub of tests/bot/hub/conftest.py, with a tracker store nobody answers for."""
    return hub_settings.with_changes(
        tracker_db_url=f"postgresql://127.0.0.1:{free_port()}/rapport")


async def test_the_hub_says_so_everywhere(hub, console):
    assert [d.name for d in hub.server.app[keys.DEPENDENCIES].down] == ["tracker store"]
    health = await hub.get("/health")
    assert health.status == 503
    assert (await health.json())["down"] == ["tracker store"]
    stores = {s["name"]: s["up"] for s in (await (await hub.get("/api/status")).json())["stores"]}
    assert stores["tracker store"] is False and stores["hub database"] is True
    sam = await console("sam")
    page = await (await sam.client.get("/console")).text()
    assert 'class="stores-down"' in page and "Not reachable: tracker store" in page
