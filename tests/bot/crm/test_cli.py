"""`rapport crm upgrade|seed|import` through argparse, as bot.ops.cli dispatches them."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bot.crm.cli import add_crm_commands
from bot.crm.upgrade import head_revision
from bot.settings import Settings

from tests.support import PROJECT


def _run(settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="rapport")
    add_crm_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return args.handler(settings, args)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=PROJECT, var_dir=tmp_path / "var",
                    crm_url=f"sqlite:///{tmp_path / 'var' / 'crm.db'}")


def test_upgrade_seed_and_force(settings, capsys):
    assert _run(settings, "crm", "upgrade") == 0
    assert f"revision {head_revision()}" in capsys.readouterr().out
    assert _run(settings, "crm", "seed", "--customers", "20", "--today", "2026-03-16") == 0
    assert "seeded 20 customers" in capsys.readouterr().out
    assert _run(settings, "crm", "seed", "--customers", "20") == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--force" in err and err.count("\n") == 1
    assert "Traceback" not in err
    assert _run(settings, "crm", "seed", "--customers", "10", "--force") == 0


def test_import_reports_each_problem(settings, tmp_path, capsys):
    good = tmp_path / "customers.csv"
    good.write_text("id,name,email\nc-1,Ann,ann@example.com\n", encoding="utf-8")
    assert _run(settings, "crm", "import", "--customers", str(good)) == 0
    assert "imported 1 customers" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name,email\nc-2,Bo,not-an-email\nc-3,,c3@example.com\n", encoding="utf-8")
    assert _run(settings, "crm", "import", "--customers", str(bad)) == 1
    err = capsys.readouterr().err
    assert "bad.csv:2: email 'not-an-email' is not a valid e-mail address" in err
    assert "bad.csv:3: name is empty" in err and "Traceback" not in err
    assert _run(settings, "crm", "import") == 2


def test_unreachable_database_is_one_line(tmp_path, capsys):
    settings = Settings(home=PROJECT, var_dir=tmp_path,
                        crm_url="postgresql+psycopg2://nobody:secret@127.0.0.1:1/crm")
    assert _run(settings, "crm", "upgrade") == 1
    err = capsys.readouterr().err
    assert err.startswith("error: CRM database:") and err.count("\n") == 1
    assert "secret" not in err


def test_bad_url_is_one_line(tmp_path, capsys):
    settings = Settings(home=PROJECT, var_dir=tmp_path, crm_url="not a url")
    assert _run(settings, "crm", "upgrade") == 1
    assert capsys.readouterr().err.count("\n") == 1
