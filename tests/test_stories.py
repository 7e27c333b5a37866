"""Rasa's own checks, inside the suite: `rasa data validate` and the end-to-end test stories.

The stories in tests/stories/test_*.yml carry the customer's text. `rasa test core --e2e` runs
each text through NLU (a wrong intent or entity fails the story) and predicts every action; it
replays the stories' `slot_was_set` events rather than running custom actions, so what the
actions do is tested over the real stack (tests/integration/).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from tests.conftest import PROJECT

STORIES = PROJECT / "tests" / "stories"
# What Rasa writes to failed_test_stories.yml when every story passed.
ALL_PASSED = "# None of the test stories failed - all good!"
# Intents the hub triggers through Rasa's API: no customer text to understand.
EXTERNAL_PREFIX = "EXTERNAL_"


def _rasa(*args: str, cwd: Path = PROJECT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rasa", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=900)


def _test_stories(model: Path, stories: Path, out: Path) -> subprocess.CompletedProcess:
    """`rasa test core --e2e`: NLU on every story text, then the dialogue predictions."""
    return _rasa("test", "core", "--e2e", "--model", str(model), "--stories", str(stories),
                 "--out", str(out), "--no-plot")


def _stories() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    for path in sorted(STORIES.glob("*.yml")):
        for story in yaml.safe_load(path.read_text())["stories"]:
            yield f"{path.name}: {story['story']}", story["steps"]


def test_rasa_data_validate_passes():
    result = _rasa("data", "validate", "--domain", "domain.yml", "--data", "data",
                   "--config", "config.yml")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "story structure conflicts" in (result.stdout + result.stderr).lower()


def test_story_files_are_named_for_rasa_e2e():
    """`--e2e` (and plain `rasa test`) only read story files named test_*."""
    names = sorted(path.name for path in STORIES.glob("*.yml"))
    assert names == ["test_basics.yml", "test_complaints.yml", "test_orders.yml", "test_repair.yml"]


def test_every_customer_turn_carries_its_text():
    missing = [(name, step["intent"]) for name, steps in _stories() for step in steps
               if "intent" in step and "user" not in step
               and not step["intent"].startswith(EXTERNAL_PREFIX)]
    assert missing == []


def test_no_story_checks_an_order_before_verification_ends():
    """The status action runs only after the form verified the customer or locked."""
    unverified = []
    for name, steps in _stories():
        verification_ended = False
        for step in steps:
            for slots in step.get("slot_was_set", []):
                if slots.get("customer_verified") is True or slots.get("verification_locked") is True:
                    verification_ended = True
            if step.get("action") == "action_check_order_status" and not verification_ended:
                unverified.append(name)
    assert unverified == []


@pytest.mark.integration
def test_every_test_story_passes_end_to_end(trained_model: Path, tmp_path: Path):
    out = tmp_path / "results"
    result = _test_stories(trained_model, STORIES, out)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (out / "failed_test_stories.yml").read_text() == ALL_PASSED, \
        (out / "failed_test_stories.yml").read_text()
    report = json.loads((out / "story_report.json").read_text())
    written = sum(1 for _ in _stories())
    assert report["conversation_accuracy"] == {
        "accuracy": 1.0, "correct": written, "with_warnings": 0, "total": written}
    # Intents are scored alongside actions only when NLU ran on the texts.
    assert {"ask_order_status", "complain", "provide_email"} <= set(report), sorted(report)


@pytest.mark.integration
def test_a_misunderstood_text_fails_its_story(trained_model: Path, tmp_path: Path):
    """The harness itself: a text the bot reads as a greeting fails a story that says goodbye."""
    stories = tmp_path / "stories"
    stories.mkdir()
    (stories / "test_canary.yml").write_text(
        'version: "3.1"\n'
        "stories:\n"
        "  - story: hello read as goodbye\n"
        "    steps:\n"
        "      - user: |\n"
        "          hello there\n"
        "        intent: goodbye\n"
        "      - action: utter_goodbye\n"
    )
    out = tmp_path / "results"
    result = _test_stories(trained_model, stories, out)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    failed = (out / "failed_test_stories.yml").read_text()
    assert "- story: hello read as goodbye" in failed
    assert "# predicted: greet: hello there" in failed
    report = json.loads((out / "story_report.json").read_text())
    assert report["conversation_accuracy"]["correct"] == 0
    assert report["conversation_accuracy"]["total"] == 1
