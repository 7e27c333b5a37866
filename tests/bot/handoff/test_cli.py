"""`rapport agent …`: accounts from the command line; passwords never echoed."""

from __future__ import annotations

import io
import sys

import pytest

from bot.ops import cli

PASSWORD = "correct horse battery"


@pytest.fixture
def hub_env(tmp_path, monkeypatch):
    monkeypatch.setenv("RAPPORT_HOME", str(tmp_path))
    monkeypatch.setenv("RAPPORT_HUB_DB_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    return tmp_path


def run(argv, monkeypatch, stdin=""):
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return cli.main(argv)


def test_add_list_disable(hub_env, monkeypatch, capsys):
    assert run(["agent", "add", "sam", "--password-stdin"], monkeypatch, PASSWORD + "\n") == 0
    assert run(["agent", "add", "boss", "--role", "admin", "--password-stdin"], monkeypatch,
               PASSWORD + "\n") == 0
    assert run(["agent", "disable", "sam"], monkeypatch) == 0
    assert run(["agent", "list"], monkeypatch) == 0
    out = capsys.readouterr()
    assert "added agent sam" in out.out and "added admin boss" in out.out
    rows = {line.split()[0]: line.split() for line in out.out.splitlines()
            if line[:4] in ("sam ", "boss")}
    assert rows["sam"][1:3] == ["agent", "disabled"]
    assert rows["boss"][1:4] == ["admin", "active", "no"]
    assert PASSWORD not in out.out + out.err


def test_add_with_a_display_name_customers_see(hub_env, monkeypatch, capsys):
    assert run(["agent", "add", "skowalski", "--display-name", "Sam", "--password-stdin"],
               monkeypatch, PASSWORD + "\n") == 0
    assert run(["agent", "list"], monkeypatch) == 0
    assert run(["agent", "display-name", "skowalski", "Sam K."], monkeypatch) == 0
    assert run(["agent", "list"], monkeypatch) == 0
    out = capsys.readouterr().out
    assert "shown to customers as Sam" in out
    rows = [line.split() for line in out.splitlines() if line.startswith("skowalski ")]
    assert rows[0][4:] == ["Sam"] and rows[1][4:] == ["Sam", "K."]
    assert run(["agent", "display-name", "nobody", "X"], monkeypatch) == 2


def test_errors_are_one_line_and_exit_2(hub_env, monkeypatch, capsys):
    assert run(["agent", "add", "sam", "--password-stdin"], monkeypatch, "short\n") == 2
    assert run(["agent", "add", "sam", "--password-stdin"], monkeypatch, PASSWORD + "\n") == 0
    assert run(["agent", "add", "SAM", "--password-stdin"], monkeypatch, PASSWORD + "\n") == 2
    assert run(["agent", "passwd", "ghost", "--password-stdin"], monkeypatch, PASSWORD + "\n") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["rapport agent: error: a password needs 10 to 1024 characters",
                   "rapport agent: error: an agent called SAM already exists",
                   "rapport agent: error: no agent called ghost"]


def test_the_prompt_asks_twice_without_echo(hub_env, monkeypatch, capsys):
    answers = iter([PASSWORD, PASSWORD + "typo"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    assert cli.main(["agent", "add", "sam"]) == 2
    assert "the two passwords differ" in capsys.readouterr().err
    answers = iter([PASSWORD, PASSWORD])
    assert cli.main(["agent", "add", "sam"]) == 0
