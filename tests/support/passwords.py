"""A fast argon2 hasher for tests (the real one takes a good fraction of a second per hash)."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.handoff.agents._hasher", FAST)
