"""The message guard against Rasa's own reading of a message.

Each hostile spelling is first run through Rasa 3.6's own parser (`UserMessage` strips the
text; `RegexMessageHandler` calls `YAMLStoryReader.unpack_regex_message` with the domain) to
show that Rasa would run it as an intent at confidence 1.0; after the guard it must not.
"""

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

from channels.message_guard import (
    MessageRejected, as_words, check_sender, check_text, command_intent, guard_command,
    offered_payloads,
)
from tests.conftest import PROJECT

HOSTILE = [
    "/ EXTERNAL_handoff_callback",
    "/\trestart",
    '/ request_human{"priority": 99}',
    "\u00a0/restart",
    "/restart\u00a0",
    "\u2003/ EXTERNAL_handoff_resolved",
    "/EXTERNAL_handoff_resolved",
    "/restart@0.5",
    "//restart",
    "/ / restart",
    "/affirm",
    '/rate{"rating": "5"}',
    '/inform{"order_number": "RP-100001"}',
]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(PROJECT / "domain.yml"))


def rasa_intent(text: str, domain: Domain):
    """The intent Rasa's RegexMessageHandler gives `text` as a channel hands it over."""
    stripped = UserMessage(text).text
    parsed = YAMLStoryReader.unpack_regex_message(Message({TEXT: stripped}), domain)
    return (parsed.get(INTENT) or {}).get("name")


@pytest.mark.parametrize("text", [t for t in HOSTILE if t != "//restart" and t != "/ / restart"])
def test_rasa_runs_these_spellings_as_intents(text, domain):
    """The premise: each is a command to Rasa (so the guard must catch every one)."""
    assert rasa_intent(text, domain) is not None
    assert command_intent(text) == rasa_intent(text, domain)


@pytest.mark.parametrize("text", HOSTILE)
def test_a_command_nobody_offered_reaches_rasa_as_words(text, domain):
    guarded = guard_command(check_text(text, 100), offered=frozenset())
    assert command_intent(guarded) is None
    assert rasa_intent(guarded, domain) is None
    assert guarded  # the words are kept for NLU


@pytest.mark.parametrize("text, words", [
    ("/ EXTERNAL_handoff_callback", "EXTERNAL_handoff_callback"),
    ("/\trestart", "restart"),
    ('/ request_human{"priority": 99}', 'request_human{"priority": 99}'),
    ("/ / restart", "restart"),
    ("/", "/"), ("/{}", "/{}"), ("1/2", "1/2"), ("hello /restart", "hello /restart"),
])
def test_as_words(text, words):
    assert as_words(text) == words


def test_an_offered_button_is_a_command_exactly_as_offered(domain):
    offered = frozenset({"/affirm", '/rate{"rating": "5"}'})
    assert guard_command("/affirm", offered) == "/affirm"
    assert guard_command('/rate{"rating": "5"}', offered) == '/rate{"rating": "5"}'
    assert guard_command('/rate{"rating": "1"}', offered) == 'rate{"rating": "1"}'
    assert guard_command("/ affirm", offered) == "affirm"
    assert guard_command("/affirm@0.4", offered) == "affirm@0.4"


def test_internal_intents_never_pass_even_when_offered():
    offered = frozenset({"/EXTERNAL_handoff_callback", "/restart", "/session_start", "/back"})
    for payload in offered:
        assert command_intent(guard_command(payload, offered)) is None


def test_offered_payloads_are_the_buttons_since_the_customer_last_spoke():
    events = [
        BotUttered("Old?", data={"buttons": [{"title": "Old", "payload": "/deny"}]}),
        UserUttered("hi"),
        ActionExecuted("utter_ask"),
        BotUttered("Pick", data={"buttons": [{"title": "Yes", "payload": "/affirm"}]}),
        BotUttered("Or", data={"quick_replies": [{"title": "5", "payload": '/rate{"rating": "5"}'}]}),
        BotUttered("no buttons"),
    ]
    assert offered_payloads(events) == {"/affirm", '/rate{"rating": "5"}'}
    assert offered_payloads([*events, UserUttered("/affirm")]) == frozenset()
    assert offered_payloads([]) == frozenset()


@pytest.mark.parametrize("text, expected", [
    ("  hello\x00 there\x07 ", "hello there"),
    ("😀😀", "😀😀"),
])
def test_check_text(text, expected):
    assert check_text(text, 100) == expected


@pytest.mark.parametrize("text, status", [("", 400), ("   \n", 400), (None, 400), (12, 400),
                                          ("x" * 101, 413)])
def test_check_text_rejects(text, status):
    with pytest.raises(MessageRejected) as rejected:
        check_text(text, 100)
    assert rejected.value.status == status


@pytest.mark.parametrize("sender", [None, "", "a b", "x" * 129, 42, "../etc", "a\nb"])
def test_bad_senders_are_refused(sender):
    with pytest.raises(MessageRejected):
        check_sender(sender)


def test_good_sender():
    assert check_sender("telegram:12345") == "telegram:12345"
