"""Rasa's check of the action server's answers, with its JSON schema compiled once.

Rasa 3.6 checks every answer from the action server against a JSON schema
(`RemoteAction._validate_action_result`) with `jsonschema.validate`, which first checks the
schema itself against JSON Schema's meta-schema, every time: 14.5 ms per action call on this
machine, and a turn calls the action server two to four times (py-spy of the Rasa process
under load: about a third of a turn). `install()` keeps the check, with the same verdicts
and the same error message, and checks the schema once.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jsonschema.exceptions import best_match
from rasa.shared.constants import DOCS_BASE_URL


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    checker = validator_for(schema)
    checker.check_schema(schema)  # once, as jsonschema.validate does on every call
    return checker(schema)


def validate_action_result(_action: Any, result: dict[str, Any]) -> bool:
    """`RemoteAction._validate_action_result`: True, or Rasa's ValidationError."""
    error = best_match(_validator().iter_errors(result))  # what jsonschema.validate raises
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, make sure your response "
        "from the Action endpoint is valid. For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions")
    raise error


def install() -> None:
    """Use the compiled check in every `RemoteAction` (idempotent)."""
    from rasa.core.actions.action import RemoteAction

    current = RemoteAction._validate_action_result
    if current is validate_action_result:
        return
    validate_action_result.__wrapped__ = current  # type: ignore[attr-defined]
    RemoteAction._validate_action_result = validate_action_result
