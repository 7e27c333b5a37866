"""How Rapport starts Rasa: the HTTP API only with a JWT secret, SQLite files under var/."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from bot.ops import rasa_server
from bot.settings import Settings
from tests.support import PROJECT


@pytest.fixture
def served(monkeypatch) -> dict[str, Any]:
    """What `serve` hands to Rasa, instead of starting a server."""
    import rasa.core.run

    seen: dict[str, Any] = {}
    # endpoints.yml reads the action server's secret from the environment, as Rasa does
    monkeypatch.setenv("RAPPORT_ACTIONS_SECRET", secrets.token_urlsafe(16))
    monkeypatch.setattr(rasa.core.run, "serve_application", lambda **kwargs: seen.update(kwargs))
    return seen


def settings_with(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"RAPPORT_HOME": str(PROJECT), "RAPPORT_VAR_DIR": str(tmp_path),
                              **env})


def test_without_a_jwt_secret_rasas_api_stays_off(served, tmp_path, caplog):
    rasa_server.serve(settings_with(tmp_path), tmp_path / "model.tar.gz")
    assert served["enable_api"] is False and served["jwt_secret"] is None
    assert "API stays off" in caplog.text


def test_with_a_jwt_secret_the_api_is_on_and_signed(served, tmp_path):
    secret = secrets.token_urlsafe(32)
    rasa_server.serve(settings_with(tmp_path, RAPPORT_RASA_JWT_SECRET=secret),
                      tmp_path / "model.tar.gz")
    assert served["enable_api"] is True
    assert (served["jwt_secret"], served["jwt_method"]) == (secret, "HS256")
    assert served["interface"] == "127.0.0.1"


def test_the_sqlite_stores_live_under_var(served, tmp_path):
    settings = settings_with(tmp_path)
    rasa_server.serve(settings, tmp_path / "model.tar.gz")
    endpoints = served["endpoints"]
    assert endpoints.tracker_store.kwargs["db"] == settings.tracker_db
    assert endpoints.event_broker.kwargs["db"] == settings.events_db
    assert Path(settings.tracker_db).parent.is_dir()


def test_a_tracker_store_that_does_not_answer_stops_the_start(served, tmp_path):
    """Rasa would fall back to an in-memory store and forget every conversation."""
    from bot.ops.tracker_store_guard import TrackerStoreUnavailable
    from tests.support.stack import free_port

    dead = f"postgresql://rapport:{secrets.token_urlsafe(8)}@127.0.0.1:{free_port()}/rapport"
    with pytest.raises(TrackerStoreUnavailable, match="in-memory store") as raised:
        rasa_server.serve(settings_with(tmp_path, RAPPORT_TRACKER_DB_URL=dead),
                          tmp_path / "model.tar.gz")
    assert served == {}  # Rasa was never started
    assert dead.split(":")[2].split("@")[0] not in str(raised.value)  # no password shown
