"""For the NLU inbox's tests: a private copy of the project to write into, and inbox turns."""

from __future__ import annotations

import secrets
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Optional

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from bot.insight.tables import create_insight_tables, turns
from tests.support import PROJECT

COPIED_FILES = ("config.yml", "domain.yml", "credentials.yml", "endpoints.yml")
COPIED_DIRS = ("data", "brand", "policies")
START = datetime(2026, 11, 2, 9, 0)


def project_copy(target: Path) -> Path:
    """The project's Rasa content and brand data copied to `target` (what `rapport validate`
    reads), so tests may change it."""
    target.mkdir(parents=True, exist_ok=True)
    for name in COPIED_FILES:
        shutil.copy(PROJECT / name, target / name)
    for name in COPIED_DIRS:
        shutil.copytree(PROJECT / name, target / name)
    return target


def snapshot(home: Path) -> dict[str, bytes]:
    """Every file under data/ and domain.yml, by relative path, byte for byte."""
    files = {"domain.yml": (home / "domain.yml").read_bytes()}
    files.update({str(path.relative_to(home)): path.read_bytes()
                  for path in sorted((home / "data").rglob("*")) if path.is_file()})
    return files


def add_turns(engine: Engine, said: list[tuple[str, Optional[str], Optional[float]]], *,
              role: str = "customer", conversation: Optional[str] = None) -> list[int]:
    """Customer turns (text, intent, confidence), a minute apart; their ids, in order."""
    create_insight_tables(engine)
    conversation = conversation or f"webchat-{secrets.token_hex(4)}"
    ids = []
    with engine.begin() as connection:
        for index, (text, intent, confidence) in enumerate(said):
            result = connection.execute(insert(turns).values(
                conversation_id=conversation, event_key=secrets.token_hex(16),
                at=START + timedelta(minutes=index), role=role, text=text, intent=intent,
                confidence=confidence, channel="webchat"))
            ids.append(result.inserted_primary_key[0])
    return ids
