"""Labelled messages written into a copy of the project's data/nlu, checked by `rapport validate`.

Each test works on its own copy (tests/bot/insight/nlu_project.py) and compares files byte
for byte: what the change did not touch must be exactly as it was.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rasa.shared.core.constants import DEFAULT_INTENTS

from bot.insight.training_data import (
    TrainingDataError, add_examples, clean_example, labelable_intents, validate_project,
)
from tests.bot.insight.nlu_project import project_copy, snapshot


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return project_copy(tmp_path / "project")


def _examples(path: Path, intent: str) -> list[str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    lines = []
    for block in data["nlu"]:
        if block.get("intent") == intent:
            lines += [line[2:] for line in block["examples"].splitlines()]
    return lines


def test_examples_join_their_intent_and_nothing_else_changes(home):
    before = snapshot(home)
    basics = home / "data" / "nlu" / "basics.yml"
    original = basics.read_text(encoding="utf-8")

    result = add_examples(home, "greet", ["hiya folks, anyone there?", "  well   hello\nagain  "])

    assert result.added == ("hiya folks, anyone there?", "well hello again")
    assert (result.file, result.new_intent, result.skipped) == ("data/nlu/basics.yml", False, ())
    after = snapshot(home)
    assert {name for name in after if after[name] != before.get(name)} == {"data/nlu/basics.yml"}
    # The file is the old one with two lines inserted at the end of greet's block: every
    # comment, blank line and quote around them is the same, byte for byte.
    old_lines = original.splitlines(keepends=True)
    new_lines = basics.read_text(encoding="utf-8").splitlines(keepends=True)
    end_of_greet = old_lines.index("- intent: goodbye\n") - 1  # the blank line before it
    assert new_lines[:end_of_greet] == old_lines[:end_of_greet]
    assert new_lines[end_of_greet:end_of_greet + 2] == ["    - hiya folks, anyone there?\n",
                                                        "    - well hello again\n"]
    assert new_lines[end_of_greet + 2:] == old_lines[end_of_greet:]
    assert _examples(basics, "greet")[-2:] == ["hiya folks, anyone there?", "well hello again"]


def test_a_new_intent_gets_its_own_file_and_a_place_in_the_domain(home):
    before = snapshot(home)
    domain_before = (home / "domain.yml").read_text(encoding="utf-8")

    result = add_examples(home, "ask_gift_wrap", ["can you gift wrap my order",
                                                  "do you do gift wrapping?"])

    assert (result.file, result.new_intent) == ("data/nlu/ask_gift_wrap.yml", True)
    new_file = home / "data" / "nlu" / "ask_gift_wrap.yml"
    assert _examples(new_file, "ask_gift_wrap") == ["can you gift wrap my order",
                                                    "do you do gift wrapping?"]
    assert "examples: |\n    - can you gift wrap my order\n" in new_file.read_text()
    domain_after = (home / "domain.yml").read_text(encoding="utf-8")
    assert domain_after == domain_before.replace("  - faq\n", "  - faq\n  - ask_gift_wrap\n", 1)
    assert "ask_gift_wrap" in yaml.safe_load(domain_after)["intents"]
    after = snapshot(home)
    changed = {name for name in after if after[name] != before.get(name)}
    assert changed == {"domain.yml", "data/nlu/ask_gift_wrap.yml"}
    assert "ask_gift_wrap" in labelable_intents(home)


def test_duplicates_placeholders_and_markup_are_skipped_with_reasons(home):
    basics = home / "data" / "nlu" / "basics.yml"
    greet_before = _examples(basics, "greet")

    result = add_examples(home, "greet", ["hello", "HELLO   from Leeds", "Good Morning",
                                          "hello from leeds", "my address is [email]",
                                          "order [RP-1](order_number)", "where is my order"],
                          validate=lambda path: [])

    assert result.added == ("HELLO from Leeds",)
    assert [(s.text, s.reason) for s in result.skipped] == [
        ("hello", "already an example"),
        ("Good Morning", "already an example"),  # case and spacing do not make it new
        ("hello from leeds", "already an example"),  # the one just added
        ("my address is [email]", "contains redacted personal data"),
        ("order [RP-1](order_number)", "Rasa would read it as entity markup"),
        ("where is my order", "already an example of ask_order_status"),
    ]
    assert _examples(basics, "greet") == greet_before + ["HELLO from Leeds"]


def test_nothing_new_writes_nothing_and_validates_nothing(home):
    before = snapshot(home)
    calls = []

    result = add_examples(home, "greet", ["hello", "hi"], validate=lambda path: calls.append(path))

    assert result.added == () and [s.reason for s in result.skipped] == ["already an example"] * 2
    assert calls == [] and snapshot(home) == before


@pytest.mark.parametrize("intent, complaint", [
    ("faq", "retrieval intent"),
    ("nlu_fallback", "set by Rasa"),
    ("EXTERNAL_handoff_resolved", "set by Rasa or the hub"),
    ("Gift Wrap!", "not a usable intent name"),
    ("faq/new_topic", "not a usable intent name"),
])
def test_intents_that_cannot_be_learned_are_refused(home, intent, complaint):
    before = snapshot(home)
    with pytest.raises(TrainingDataError, match=complaint):
        add_examples(home, intent, ["something new entirely"], validate=lambda path: [])
    assert snapshot(home) == before


def test_a_validation_failure_restores_every_file_exactly(home):
    rules = home / "data" / "rules" / "basics.yml"
    rules.write_text(rules.read_text() + "\n  - rule: broken on purpose\n    steps:\n"
                     "      - intent: greet\n      - action: action_that_does_not_exist\n")
    before = snapshot(home)

    with pytest.raises(TrainingDataError) as failure:
        add_examples(home, "ask_gift_wrap", ["can you gift wrap my order"])

    assert "did not validate, so nothing was changed" in str(failure.value)
    assert "action_that_does_not_exist" in str(failure.value)
    assert snapshot(home) == before
    assert not (home / "data" / "nlu" / "ask_gift_wrap.yml").exists()


def test_a_validator_that_raises_also_restores(home):
    before = snapshot(home)

    def broken(path: Path) -> list[str]:
        raise OSError("no interpreter")

    with pytest.raises(TrainingDataError, match="no interpreter"):
        add_examples(home, "thank", ["cheers, legend"], validate=broken)
    assert snapshot(home) == before


def test_a_validation_that_cannot_start_is_a_training_data_error(tmp_path):
    with pytest.raises(TrainingDataError, match="could not run"):
        validate_project(tmp_path / "no-such-project")


@pytest.mark.parametrize("intent", sorted(set(DEFAULT_INTENTS) - {"out_of_scope"})
                         + ["EXTERNAL_reminder"])
def test_rasas_own_intents_are_reserved(home, intent):
    with pytest.raises(TrainingDataError, match="set by Rasa"):
        add_examples(home, intent, ["something new entirely"], validate=lambda path: [])
    assert intent not in labelable_intents(home)


def test_characters_yaml_cannot_print_are_dropped():
    text = "gift\x80wrap\x9f my\ufeff order\ufffe please\uffff now\ud800 ok\x85done"
    assert clean_example(text) == "gift wrap my order please now ok done"


def test_an_example_with_unprintable_characters_round_trips(home):
    result = add_examples(home, "greet", ["hey\x9c\ufeffthere\udfff folks"],
                          validate=lambda path: [])
    assert result.added == ("hey there folks",)
    assert "hey there folks" in _examples(home / "data" / "nlu" / "basics.yml", "greet")
