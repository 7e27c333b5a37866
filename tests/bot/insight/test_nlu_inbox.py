"""The NLU inbox: which turns are in it, how they group, what it suggests, labelling.

Grouping and suggestions are checked on the project's own NLU examples; the store on a
real SQLite hub database with exchange-log turns written as the consumer writes them.
"""

from __future__ import annotations

import random
from datetime import timezone

import pytest
import yaml

from bot.database import make_engine
from bot.insight.inbox_tables import inbox_labels
from bot.insight.nlu_inbox import (
    EXAMPLES, MODEL, ExampleIndex, InboxError, InboxMessage, NluInbox, build_groups,
    find_group, group_similar, label_messages,
)
from bot.insight.training_data import TrainingDataError
from tests.bot.insight.insight_db import rows
from tests.bot.insight.nlu_project import START, add_turns, project_copy, snapshot
from tests.support import PROJECT

GIFT_WRAP = ["can you gift wrap my order", "can you giftwrap it please", "do you gift wrap?"]
UTRECHT = ["where is your shop in utrecht", "do you have a store in utrecht",
           "store in Utrecht?"]
FLICKER = ["my lamp flickers", "the lamp keeps flickering"]


@pytest.fixture(scope="module")
def index() -> ExampleIndex:
    return ExampleIndex.of_project(PROJECT)


def _messages(texts: list[str], intent: str = "nlu_fallback",
              confidence: float = 0.3) -> list[InboxMessage]:
    return [InboxMessage(turn_id=index + 1, conversation_id="c", at=START, text=text,
                         intent=intent, confidence=confidence)
            for index, text in enumerate(texts)]


def test_similar_messages_share_a_group_and_different_ones_do_not(index):
    texts = GIFT_WRAP + UTRECHT + FLICKER + ["asdf"]
    groups = group_similar(texts, background=index.texts)
    assert sorted(groups) == [[0, 1, 2], [3, 4, 5], [6, 7], [8]]


def test_grouping_is_the_same_whatever_order_the_messages_come_in(index):
    messages = _messages(GIFT_WRAP + UTRECHT + FLICKER)
    expected = build_groups(messages, index)
    for seed in range(5):
        shuffled = list(messages)
        random.Random(seed).shuffle(shuffled)
        assert build_groups(shuffled, index) == expected
    assert [(group.key, group.count) for group in expected] == [(1, 3), (4, 3), (7, 2)]


def test_a_group_is_named_by_its_first_turn_and_found_by_it(index):
    groups = build_groups(_messages(UTRECHT + GIFT_WRAP), index)
    assert find_group(groups, 4).turn_ids == [4, 5, 6]
    with pytest.raises(InboxError, match="group 2 is not in the inbox"):
        find_group(groups, 2)


def test_suggestions_come_from_the_nearest_examples_when_the_model_had_no_guess(index):
    [group] = build_groups(_messages(["where is my parcel, it should be here by now",
                                      "where is my parcel? it should have arrived by now"]), index)
    assert len(group.suggestions) == 3
    assert {s.source for s in group.suggestions} == {EXAMPLES}
    assert "ask_order_status" in [s.intent for s in group.suggestions]
    scores = [s.score for s in group.suggestions]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0


def test_the_models_own_guesses_come_first(index):
    messages = [InboxMessage(1, "c", START, FLICKER[0], "complain", 0.55),
                InboxMessage(2, "c", START, FLICKER[1], "complain", 0.41)]
    [group] = build_groups(messages, index)
    assert group.suggestions[0].intent == "complain"
    assert group.suggestions[0].source == MODEL
    assert group.suggestions[0].score == pytest.approx(0.48)
    assert [s.source for s in group.suggestions[1:]] == [EXAMPLES, EXAMPLES]
    assert len({s.intent for s in group.suggestions}) == 3


# -- the store -------------------------------------------------------------------------------


@pytest.fixture
async def inbox(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    store = NluInbox(engine, confidence_threshold=0.6, dispose_engine=True)
    await store.ensure_tables()
    yield store
    await store.close()


async def test_fallbacks_and_low_confidence_customer_turns_are_in_the_inbox(inbox):
    fallback, shaky, sure, edge = add_turns(inbox.engine, [
        ("can you gift wrap my order", "nlu_fallback", 0.9),
        ("do you gift wrap?", "faq/returns", 0.42),
        ("hello", "greet", 0.98),
        ("hi hi", "greet", 0.6),  # at the threshold: understood
    ])
    add_turns(inbox.engine, [("Sorry, I didn't get that.", None, None)], role="bot")
    pending = await inbox.pending()
    assert [m.turn_id for m in pending] == [fallback, shaky]
    assert pending[1].text == "do you gift wrap?"
    assert (pending[1].intent, pending[1].confidence) == ("faq/returns", 0.42)
    assert pending[0].at == START.replace(tzinfo=timezone.utc)


async def test_a_decision_takes_a_turn_out_of_the_inbox_once(inbox):
    first, second = add_turns(inbox.engine, [("asdf", "nlu_fallback", 0.2),
                                             ("qwerty", "nlu_fallback", 0.1)])
    assert await inbox.dismiss([first], "ana") == [first]
    assert await inbox.dismiss([first, second], "kim") == [second]
    assert await inbox.pending() == []
    recorded = rows(inbox.engine, inbox_labels)
    assert [(r["turn_id"], r["status"], r["intent"], r["labelled_by"]) for r in recorded] == [
        (first, "dismissed", None, "ana"), (second, "dismissed", None, "kim")]


async def test_only_messages_in_the_inbox_can_be_dismissed(inbox):
    waiting, understood = add_turns(inbox.engine, [("asdf", "nlu_fallback", 0.2),
                                                   ("hello", "greet", 0.98)])
    not_yet = understood + 1000  # a turn the log has not written (yet)
    assert await inbox.dismiss([understood, not_yet], "ana") == []
    assert rows(inbox.engine, inbox_labels) == []
    assert await inbox.dismiss([waiting, understood, not_yet], "ana") == [waiting]
    assert [r["turn_id"] for r in rows(inbox.engine, inbox_labels)] == [waiting]


async def test_the_inbox_groups_its_messages(inbox):
    ids = add_turns(inbox.engine, [(text, "nlu_fallback", 0.3) for text in UTRECHT + GIFT_WRAP])
    groups = await inbox.groups(PROJECT)
    assert [group.turn_ids for group in groups] == [ids[:3], ids[3:]]


async def test_labelling_writes_examples_then_marks_the_turns(inbox, tmp_path):
    home = project_copy(tmp_path / "project")
    ids = add_turns(inbox.engine, [(text, "nlu_fallback", 0.3) for text in GIFT_WRAP]
                    + [("my email is [email], gift wrap it", "nlu_fallback", 0.2)])

    result = await label_messages(inbox, home, ids, "ask_gift_wrap", "ana")

    assert result.turn_ids == tuple(ids)
    assert result.examples.added == tuple(GIFT_WRAP)
    assert [s.reason for s in result.examples.skipped] == ["contains redacted personal data"]
    data = yaml.safe_load((home / "data" / "nlu" / "ask_gift_wrap.yml").read_text())
    assert data["nlu"][0]["examples"].splitlines() == [f"- {text}" for text in GIFT_WRAP]
    assert await inbox.pending() == []
    labelled = rows(inbox.engine, inbox_labels)
    assert {(r["status"], r["intent"], r["labelled_by"]) for r in labelled} == {
        ("labelled", "ask_gift_wrap", "ana")}
    with pytest.raises(InboxError, match="none of those messages"):
        await label_messages(inbox, home, ids, "greet", "ana")


async def test_a_label_that_cannot_be_written_leaves_the_turns_in_the_inbox(inbox, tmp_path):
    home = project_copy(tmp_path / "project")
    before = snapshot(home)
    [turn] = add_turns(inbox.engine, [("gift wrap please", "nlu_fallback", 0.3)])
    with pytest.raises(TrainingDataError, match="retrieval intent"):
        await label_messages(inbox, home, [turn], "faq", "ana")
    assert [m.turn_id for m in await inbox.pending()] == [turn]
    assert snapshot(home) == before

