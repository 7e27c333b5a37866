"""bot/ops/action_response_check.py: Rasa's verdicts on action server answers, unchanged."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

from bot.ops import action_response_check

ANSWERS = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "timestamp": None, "name": "order_number",
                 "value": "RP-100003"},
                {"event": "active_loop", "name": None},
                {"event": "followup", "name": "action_listen"}],
     "responses": [{"response": "utter_ask_email", "order_number": "RP-100003"}]},
    {},  # Rasa accepts an answer with neither
    {"events": "not a list"},
    {"events": [{"name": "order_number"}]},  # an event without its type
    {"events": [{"event": "slot", "name": 7}]},
    {"responses": ["not an object"]},
    {"events": [{"event": "no_such_event"}]},
]


def _verdict(check, answer):
    try:
        return check(RemoteAction("action_x", None), answer)
    except ValidationError as error:
        return ("invalid", error.message)


@pytest.fixture
def installed():
    original = RemoteAction._validate_action_result
    action_response_check.install()
    action_response_check.install()  # twice: still one wrapper
    yield original
    RemoteAction._validate_action_result = original


@pytest.mark.parametrize("answer", ANSWERS)
def test_the_same_verdict_and_message_as_rasas_own_check(installed, answer) -> None:
    ours = _verdict(RemoteAction._validate_action_result, answer)
    assert ours == _verdict(installed, answer)
    assert RemoteAction._validate_action_result.__wrapped__ is installed


def test_a_bad_answer_names_the_docs() -> None:
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action_response_check.validate_action_result(None, {"events": "not a list"})
