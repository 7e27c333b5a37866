"""`rapport privacy purge|forget|export` through the real CLI (bot.ops.cli.main)."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import AsyncIterator

import pytest_asyncio

from bot.crm.models import ChannelIdentityRow
from bot.insight import tables as log
from bot.ops import cli
from tests.bot.insight.privacy_world import (
    ADA, ADA_CONVERSATIONS, GRACE, World, build_world, count,
)


@pytest_asyncio.fixture
async def world(tmp_path: Path, seeded_crm_url: str, monkeypatch) -> AsyncIterator[World]:
    built = await build_world(tmp_path / "stores", seeded_crm_url)
    for name, value in built.settings.child_env().items():
        monkeypatch.setenv(name, value)
    yield built
    built.close()


def test_export_to_stdout_and_to_a_private_file(world, tmp_path, capsys):
    assert cli.main(["privacy", "export", ADA]) == 0
    document = json.loads(capsys.readouterr().out)
    assert {c["conversation_id"] for c in document["conversations"]} == set(ADA_CONVERSATIONS)

    target = tmp_path / "ada.json"
    assert cli.main(["privacy", "export", "ada@example.com", "--out", str(target)]) == 0
    assert json.loads(target.read_text(encoding="utf-8")) | {"exported_at": None} == \
        document | {"exported_at": None}
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert str(target) in capsys.readouterr().err


def test_forget_prints_what_it_erased_per_store(world, capsys):
    assert cli.main(["privacy", "forget", ADA]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"erased customer {ADA} (4 conversations):")
    for store in ("tracker store:", "event broker:", "exchange log:", "handoffs:",
                  "web chat:", "Telegram:", "CRM:"):
        assert store in out
    assert count(world.crm, ChannelIdentityRow.__table__, customer_id=ADA) == 0
    assert count(world.crm, ChannelIdentityRow.__table__, customer_id=GRACE) == 1
    assert cli.main(["privacy", "forget", ADA]) == 0  # again: nothing left, no error


def test_an_unknown_customer_is_one_line_and_exit_2(world, capsys):
    for command in ("forget", "export"):
        assert cli.main(["privacy", command, "nobody@example.com"]) == 2
        captured = capsys.readouterr()
        assert captured.err.strip() == ("rapport: error: no customer in the CRM has the id or "
                                        "e-mail 'nobody@example.com'")
        assert captured.out == ""
    assert count(world.hub, log.conversations) == 4


def test_an_unwritable_export_file_is_an_error(world, tmp_path, capsys):
    missing = tmp_path / "no-such-directory" / "ada.json"
    assert cli.main(["privacy", "export", ADA, "--out", str(missing)]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_purge_uses_the_configured_retention(world, monkeypatch, capsys):
    monkeypatch.setenv("RAPPORT_RETENTION_DAYS", "1000")
    assert cli.main(["privacy", "purge"]) == 0
    assert "(1000 days)" in capsys.readouterr().out
    assert count(world.hub, log.turns, conversation_id="tg-404") == 1  # 400 days: kept

    monkeypatch.setenv("RAPPORT_RETENTION_DAYS", "365")
    assert cli.main(["privacy", "purge"]) == 0
    out = capsys.readouterr().out
    assert "exchange log: 2 turns, 1 conversations" in out
    assert count(world.hub, log.turns, conversation_id="tg-404") == 0


def test_the_sql_crm_is_needed(world, monkeypatch, capsys):
    monkeypatch.setenv("RAPPORT_CRM_BACKEND", "http")
    assert cli.main(["privacy", "forget", ADA]) == 2
    assert "need the SQL CRM" in capsys.readouterr().err


def test_an_export_over_an_existing_file_makes_it_private(world, tmp_path):
    target = tmp_path / "shared.json"
    target.write_text("old")
    target.chmod(0o644)
    assert cli.main(["privacy", "export", ADA, "--out", str(target)]) == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert json.loads(target.read_text(encoding="utf-8"))["customer_id"] == ADA


def test_an_export_does_not_follow_a_symlink(world, tmp_path, capsys):
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("keep me")
    link = tmp_path / "ada.json"
    link.symlink_to(elsewhere)
    assert cli.main(["privacy", "export", ADA, "--out", str(link)]) == 2
    assert elsewhere.read_text() == "keep me"
    assert f"cannot write {link}" in capsys.readouterr().err
