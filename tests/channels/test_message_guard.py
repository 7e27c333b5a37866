import pytest

from channels.message_guard import (
    MessageRejected, button_intents, check_metadata, check_sender, check_text,
)
from tests.conftest import PROJECT

ALLOWED = {"affirm", "deny", "rate", "inform"}


def test_only_the_bots_own_buttons_are_commands():
    intents = button_intents(PROJECT / "domain.yml")
    assert {"affirm", "deny", "rate", "inform"} <= intents
    assert not any(intent.startswith("EXTERNAL_") for intent in intents)


@pytest.mark.parametrize("text, expected", [
    ("/affirm", "/affirm"),
    ('/rate{"rating": "5"}', '/rate{"rating": "5"}'),
    ("/EXTERNAL_handoff_resolved", "EXTERNAL_handoff_resolved"),
    ("/restart", "restart"),
    ("  hello\x00 there\x07 ", "hello there"),
    ("😀😀", "😀😀"),
])
def test_check_text(text, expected):
    assert check_text(text, 100, ALLOWED) == expected


@pytest.mark.parametrize("text, status", [("", 400), ("   \n", 400), (None, 400), (12, 400),
                                          ("x" * 101, 413)])
def test_check_text_rejects(text, status):
    with pytest.raises(MessageRejected) as rejected:
        check_text(text, 100, ALLOWED)
    assert rejected.value.status == status


@pytest.mark.parametrize("sender", [None, "", "a b", "x" * 129, 42, "../etc", "a\nb"])
def test_bad_senders_are_refused(sender):
    with pytest.raises(MessageRejected):
        check_sender(sender)


def test_good_sender_and_metadata():
    assert check_sender("telegram:12345") == "telegram:12345"
    assert check_metadata({"a": 1}) == {"a": 1}
    with pytest.raises(MessageRejected):
        check_metadata([1])
