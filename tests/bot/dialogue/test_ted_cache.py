"""bot/dialogue/ted_cache.py: TED answers from memory exactly what it would compute."""

from __future__ import annotations


import pytest
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.generator import TrainingDataGenerator
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.core.training_data.structures import StoryGraph
from rasa.shared.nlu.constants import TEXT

from bot.dialogue import ted_cache

DOMAIN = Domain.from_yaml("""
version: "3.1"
intents: [greet, ask_order, thanks]
entities: [order_number]
slots:
  verified:
    type: bool
    influence_conversation: true
    mappings: [{type: custom}]
responses:
  utter_greet: [{text: "Hello!"}]
  utter_ask_number: [{text: "Your order number?"}]
  utter_status: [{text: "It is on its way."}]
  utter_welcome: [{text: "You're welcome."}]
""")
STORIES = """
version: "3.1"
stories:
- story: greet
  steps: [{intent: greet}, {action: utter_greet}]
- story: order, not verified
  steps: [{intent: ask_order}, {action: utter_ask_number}]
- story: order, verified
  steps: [{slot_was_set: [{verified: true}]}, {intent: ask_order}, {action: utter_status}]
- story: thanks
  steps: [{intent: thanks}, {action: utter_welcome}]
"""


@pytest.fixture(scope="module")
def ted(tmp_path_factory: pytest.TempPathFactory) -> TEDPolicy:
    steps = YAMLStoryReader(DOMAIN).read_from_string(STORIES)
    trackers = TrainingDataGenerator(StoryGraph(steps), DOMAIN, augmentation_factor=0).generate()
    policy = TEDPolicy.create(
        {**TEDPolicy.get_default_config(), "epochs": 3, "max_history": 3, "random_seed": 1},
        LocalModelStorage(tmp_path_factory.mktemp("ted")), Resource("ted"),
        ExecutionContext(GraphSchema({}), "test"))
    policy.train(trackers, DOMAIN)
    return policy


@pytest.fixture
def cached(ted: TEDPolicy):
    original = TEDPolicy.predict_action_probabilities
    ted_cache.install()
    ted_cache.install()  # twice: one wrapper
    yield original
    TEDPolicy.predict_action_probabilities = original
    ted_cache._caches.pop(ted, None)


def tracker(sender: str, text: str, intent: str, verified: bool = False,
            before: tuple = ()) -> DialogueStateTracker:
    events = [ActionExecuted("action_listen"), *before,
              *([SlotSet("verified", True)] if verified else []),
              UserUttered(text, {"name": intent, "confidence": 1.0})]
    return DialogueStateTracker.from_events(sender, events, DOMAIN.slots)


TRACKERS = [
    tracker("a", "hi", "greet"),
    tracker("b", "where is my order", "ask_order"),
    tracker("c", "where is my order", "ask_order", verified=True),
    tracker("d", "thanks!", "thanks", before=(UserUttered("hi", {"name": "greet"}),
                                            ActionExecuted("utter_greet"),
                                            BotUttered("Hello!"),
                                            ActionExecuted("action_listen"))),
]


@pytest.mark.parametrize("state", TRACKERS, ids=lambda t: t.sender_id)
def test_the_same_prediction_as_the_model_computes(ted: TEDPolicy, cached, state) -> None:
    for _ in range(2):  # computed, then remembered
        ours = ted.predict_action_probabilities(state, DOMAIN)
        assert ours.probabilities == cached(ted, state, DOMAIN).probabilities
        assert ours.policy_name == "TEDPolicy"


def test_equal_states_are_computed_once_and_different_ones_each(ted: TEDPolicy, cached) -> None:
    cache = ted_cache.cache_of(ted)
    first = ted.predict_action_probabilities(tracker("x1", "hello", "greet"), DOMAIN)
    again = ted.predict_action_probabilities(tracker("x2", "hey there", "greet"), DOMAIN)
    assert (cache.misses, cache.hits) == (1, 1)  # other words, other customer: same state
    assert again.probabilities == first.probabilities
    ted.predict_action_probabilities(tracker("x3", "hello", "greet", verified=True), DOMAIN)
    assert (cache.misses, cache.hits) == (2, 1)  # a slot that counts: another state


def test_a_changed_answer_does_not_change_what_is_remembered(ted: TEDPolicy, cached) -> None:
    state = tracker("y", "hi", "greet")
    given = ted.predict_action_probabilities(state, DOMAIN)
    best = max(range(len(given.probabilities)), key=given.probabilities.__getitem__)
    given.probabilities[best] = 0.0  # as the ensemble does to a rejected action
    assert ted.predict_action_probabilities(state, DOMAIN).probabilities[best] > 0.0


def test_the_cache_is_bounded() -> None:
    cache = ted_cache.PredictionCache(size=2)
    for key in ("a", "b", "c"):
        cache.put(key, key)
    assert cache.get("a") is None and cache.get("c") == "c"


def test_a_policy_that_reads_user_text_is_not_cached(ted: TEDPolicy) -> None:
    assert not ted_cache.reads_text(ted)
    original = ted.fake_features
    try:
        ted.fake_features = {**original, TEXT: []}
        assert ted_cache.reads_text(ted)
    finally:
        ted.fake_features = original
