"""The runner's checks on a made-up tracker, without the stack: what asks_for reads, when the
third-time question rule fires, and how the final keys read the CRM's cases."""

from __future__ import annotations

import pytest

from tests.support.conversation_channels import Answer, Reply
from tests.support.conversation_files import Turn
from tests.support.conversation_runner import (
    CheckFailed, State, Where, _check_always, _check_expect, _check_final, case_ids,
)


def bot(text: str, response: str = "") -> dict:
    return {"event": "bot", "text": text, "metadata": {"utter_action": response}}


def state(slots: dict | None = None, loop: str | None = None, events: list | None = None,
          handoffs: list | None = None, cases: list | None = None) -> State:
    events = events or []
    tracker = {"slots": slots or {}, "active_loop": {"name": loop} if loop else {},
               "events": events}
    return State(tracker, events, handoffs or [], cases or [])


def where(text: str = "", status: int = 200, **expect) -> Where:
    replies = (Reply(text),) if text else ()
    return Where(1, Turn("hi", expect), Answer(status, replies))


@pytest.mark.parametrize(("known", "expected"), [
    (state({"requested_slot": "order_contact"}, loop="verify_form"), "contact"),
    (state({"requested_slot": "issue_type"}, loop="complaint_form"), "issue"),
    (state({"pending_question": "remedy_offer"}), "remedy_answer"),
    (state(events=[{"event": "user"}, bot("How would you rate…?", "utter_ask_rating")]), "rating"),
    (state(events=[bot("How would you rate…?", "utter_ask_rating"), {"event": "user"}]),
     "nothing"),
    (state({"requested_slot": "order_number"}), "nothing"),  # no loop: a stale slot
])
def test_asks_for_reads_the_form_the_pending_question_or_the_rating_prompt(known, expected):
    assert known.asks_for() == expected


def test_the_same_question_a_third_time_without_a_way_out_fails():
    questions: list = []
    ask = state(events=[bot("What's your order number?", "utter_ask_order_number")])
    _check_always(where("What's your order number?"), ask, questions)
    _check_always(where("What's your order number?"), ask, questions)
    with pytest.raises(CheckFailed, match="asked 3 turns in a row"):
        _check_always(where("What's your order number?"), ask, questions)


def test_a_third_time_with_a_person_offered_passes():
    questions: list = []
    ask = state(events=[bot("What's your order number?", "utter_ask_order_number")])
    for _ in range(2):
        _check_always(where("What's your order number?"), ask, questions)
    _check_always(where("What's your order number? Or I can get a colleague."), ask, questions)


def test_no_reply_or_an_http_error_fails_unless_the_turn_expects_that_status():
    with pytest.raises(CheckFailed, match="at least one reply"):
        _check_always(where(), state(), [])
    with pytest.raises(CheckFailed, match="no HTTP error"):
        _check_always(where(status=413), state(), [])
    _check_always(where(status=413, http_status=413), state(), [])


def test_fragments_are_matched_case_insensitively_in_texts_and_buttons():
    answer = Answer(200, (Reply("Shall I send a Replacement?", ("Yes, replace it",)),))
    turn = Where(2, Turn("broken", {"replies_all": ["replacement", "yes, replace"]}), answer)
    _check_expect(turn, state())
    failing = Where(2, Turn("broken", {"replies_none": ["REPLACEMENT"]}), answer)
    with pytest.raises(CheckFailed, match=r"turn 2 \('broken'\): replies_none"):
        _check_expect(failing, state())


def test_a_callback_handoff_counts_as_handed_over_and_its_case_belongs_to_the_conversation():
    rows = [{"state": "callback", "base_priority": 50, "case_id": "CS-2", "packet": "{}"}]
    events = [{"event": "slot", "name": "case_id", "value": "CS-1"}]
    known = state(events=events, handoffs=rows,
                  cases=[{"id": "CS-1", "category": "poor_quality", "severity": "high",
                          "csat": 4}])
    assert known.handed_over()
    assert case_ids(known.tracker, rows) == {"CS-1", "CS-2"}
    _check_final({"handoff": True, "handoff_priority": "high", "case": True,
                  "case_issue": "defective", "case_severity_at_least": "medium", "csat": 4},
                 known, 3)
    with pytest.raises(CheckFailed, match="handoff_priority"):
        _check_final({"handoff_priority": "urgent"}, known, 3)
    with pytest.raises(CheckFailed, match="nothing records a callback time"):
        _check_final({"callback_time_recorded": True}, known, 3)
