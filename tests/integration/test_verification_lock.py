"""Verification that fails three times locks, over REST on the real stack (`rapport run`).

The test stories (tests/test_stories.py) replay the form's slot events instead of running the
actions; here the actions, the CRM's attempt log and the lock really run. Every reply must be
exactly one of the domain's response texts, in order.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, text

from tests.support import PROJECT
from tests.support.stack import (
    Stack, http, rasa_api_headers, rest_conversation, stack_env, texts,
)

pytestmark = pytest.mark.integration

WRONG_CONTACTS = ("eve@example.com", "mallory@example.com", "trudy@example.com")


@pytest.fixture(scope="module")
def stack(trained_model: Path, tmp_path_factory: pytest.TempPathFactory):
    db_dir = tmp_path_factory.mktemp("verification-lock")
    with Stack(stack_env(trained_model, db_dir), log_path=db_dir / "rapport-run.log") as stack:
        yield stack


@pytest.fixture(scope="module")
def response_names() -> dict[str, str]:
    """Every fixed response text in the domain, mapped to its response's name."""
    responses = yaml.safe_load((PROJECT / "domain.yml").read_text())["responses"]
    return {variant["text"]: name for name, variants in responses.items()
            for variant in variants if "{" not in variant["text"]}


def said(stack: Stack, response_names: dict[str, str], sender: str, message: str) -> list[str]:
    """The responses the bot answered `message` with (a text not in the domain stays as is)."""
    return [response_names.get(reply, reply) for reply in texts(stack.say(sender, message))]


def fail_three_times(stack: Stack, response_names: dict[str, str], sender: str,
                     order: str) -> None:
    """Ask for `order` and give a wrong e-mail three times, as a stranger would.

    The order number is kept after a failed match: only the contact is asked again, the
    second time with an example and a way out, and the third failure locks.
    """
    assert said(stack, response_names, sender, f"where's my order {order}") == [
        "utter_ask_order_contact"]
    asked_again = {1: "utter_ask_order_contact", 2: "utter_ask_order_contact_again"}
    for attempt, contact in enumerate(WRONG_CONTACTS, start=1):
        expected = (["utter_verify_locked"] if attempt == len(WRONG_CONTACTS)
                    else ["utter_verify_failed", asked_again[attempt]])
        assert said(stack, response_names, sender, contact) == expected, attempt


def failed_attempts(stack: Stack) -> list[tuple[str, str, bool]]:
    engine = create_engine(stack.env["RAPPORT_CRM_URL"], future=True)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(
                "SELECT conversation_id, order_number, succeeded FROM verification_attempts"
                " ORDER BY id")).all()
    finally:
        engine.dispose()
    return [(row[0], row[1], bool(row[2])) for row in rows]


def test_three_failures_lock_and_a_person_is_offered(stack: Stack, response_names):
    who = "lock-stranger"
    fail_three_times(stack, response_names, who, "RP-100001")
    # The lock message offers a person; "yes" takes it (nobody is online in the test hub).
    assert said(stack, response_names, who, "yes") == ["utter_handoff_no_agent_chat"]

    status, tracker = http("GET", f"{stack.rasa_url}/conversations/{rest_conversation(who)}/tracker",
                           headers=rasa_api_headers())
    assert status == 200
    assert tracker["slots"]["verification_locked"] is True
    assert tracker["slots"]["customer_verified"] is False
    assert tracker["slots"]["customer_id"] is None
    assert [("RP-100001", False)] * 3 == [
        attempt[1:] for attempt in failed_attempts(stack) if attempt[0].endswith(who)]


def test_a_strangers_failures_do_not_lock_the_owner_out(stack: Stack, response_names):
    stranger, owner = "lock-stranger-2", "lock-owner"
    fail_three_times(stack, response_names, stranger, "RP-100003")
    # The same conversation stays locked for the hour, even with the right e-mail (the
    # CRM's counts decide, so the lock ends with its window rather than never)...
    assert said(stack, response_names, stranger, "where is RP-100003") == [
        "utter_ask_order_contact"]
    assert said(stack, response_names, stranger, "ada@example.com") == ["utter_verify_locked"]
    # ...but the order is not locked for everyone: its owner, another client, still verifies.
    assert said(stack, response_names, owner, "where is RP-100003") == [
        "utter_ask_order_contact"]
    assert said(stack, response_names, owner, "ada@example.com")[0] == (
        "Thanks, Ada, you're verified.")
    failed = [attempt for attempt in failed_attempts(stack)
              if attempt[1] == "RP-100003" and not attempt[2]]
    assert len(failed) == 3 and all(attempt[0].endswith(stranger) for attempt in failed)
