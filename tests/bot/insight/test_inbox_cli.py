"""`rapport inbox list|label|dismiss` on a real SQLite hub database and a copy of the project."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import yaml

from bot.database import make_engine
from bot.insight.inbox_cli import InboxCliError, add_inbox_commands
from bot.insight.nlu_inbox import InboxError
from bot.settings import Settings
from tests.bot.insight.nlu_project import add_turns, project_copy

UTRECHT = [("where is your shop in utrecht", "nlu_fallback", 0.3),
           ("do you have a store in utrecht", "out_of_scope", 0.35),
           ("store in Utrecht?", "nlu_fallback", 0.2)]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"RAPPORT_HOME": str(project_copy(tmp_path / "project")),
                              "RAPPORT_VAR_DIR": str(tmp_path / "var"),
                              "RAPPORT_HUB_DB_URL": f"sqlite:///{tmp_path / 'hub.db'}"})


@pytest.fixture
def turn_ids(settings: Settings) -> list[int]:
    engine = make_engine(settings.hub_db_url)
    try:
        return add_turns(engine, UTRECHT + [("asdfgh", "nlu_fallback", 0.1)])
    finally:
        engine.dispose()


def run(settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="rapport")
    add_inbox_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["inbox", *argv])
    return args.handler(settings, args)


def test_list_shows_groups_with_suggestions(settings, turn_ids, capsys):
    assert run(settings, "list") == 0
    out = capsys.readouterr().out
    assert out.startswith(f"group {turn_ids[0]}: 3 messages   suggested: "
                          "out_of_scope (0.35, model)")
    assert f"group {turn_ids[3]}: 1 message " in out
    assert f"  {turn_ids[1]:>8}  do you have a store in utrecht   [out_of_scope 0.35]" in out


def test_list_as_json_with_a_limit(settings, turn_ids, capsys):
    assert run(settings, "list", "--json", "--limit", "1") == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["total_groups"] == 2
    [group] = listing["groups"]
    assert (group["key"], group["count"]) == (turn_ids[0], 3)
    assert [m["turn_id"] for m in group["messages"]] == turn_ids[:3]


def test_label_a_group_then_it_is_gone(settings, turn_ids, capsys):
    assert run(settings, "label", "--group", str(turn_ids[0]), "ask_store_location") == 0
    out = capsys.readouterr().out
    assert out.startswith("labelled 3 message(s) ask_store_location; 3 new example(s) in "
                          "data/nlu/ask_store_location.yml (a new intent, added to domain.yml)")
    written = yaml.safe_load((settings.home / "data/nlu/ask_store_location.yml").read_text())
    assert written["nlu"][0]["examples"].splitlines() == [f"- {t}" for t, _, _ in UTRECHT]
    assert run(settings, "list", "--json") == 0
    remaining = json.loads(capsys.readouterr().out)["groups"]
    assert [group["key"] for group in remaining] == [turn_ids[3]]
    with pytest.raises(InboxError, match=f"group {turn_ids[0]} is not in the inbox"):
        run(settings, "label", "--group", str(turn_ids[0]), "greet")


def test_dismiss_by_id(settings, turn_ids, capsys):
    assert run(settings, "dismiss", str(turn_ids[3])) == 0
    assert capsys.readouterr().out == "dismissed 1 message(s)\n"
    assert run(settings, "list", "--json") == 0
    assert json.loads(capsys.readouterr().out)["total_groups"] == 1


@pytest.mark.parametrize("argv, complaint", [
    (("label", "greet"), "say which messages"),
    (("label", "one", "greet"), "message ids are numbers"),
    (("label", "--group", "1", "2", "greet"), "either --group or message ids"),
])
def test_unclear_commands_are_one_clear_error(settings, turn_ids, argv, complaint):
    with pytest.raises(InboxCliError, match=complaint):
        run(settings, *argv)
