"""SparseMlpIntentClassifier through its GraphComponent API, on small synthetic data.

Trains with a real LocalModelStorage, so persistence is the one `rasa train` uses. BANKING77
accuracy, timing and calibration are measured by benchmarks/nlu_banking77.py, not here.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.calibration import (
    expected_calibration_error, fit_temperature, softmax, stratified_holdout, threshold_table,
)
from bot.nlu.intent_classifier import SparseMlpIntentClassifier

from tests.support import PROJECT

EXAMPLES: Dict[str, List[str]] = {
    "greet": ["hi", "hello", "hello there", "hey", "good morning", "good evening", "hi there",
              "hey hey", "morning!", "hello friend"],
    "goodbye": ["bye", "goodbye", "see you later", "bye bye", "see you soon", "talk to you later",
                "good night", "catch you later", "farewell", "ok bye then"],
    "order_status": ["where is my order", "has my order shipped", "track my parcel",
                     "when will my package arrive", "my delivery is late", "order status please",
                     "is my parcel on the way", "where is my package", "track order 1234",
                     "when does my order arrive"],
    "complaint": ["the product is broken", "I want to complain", "this is unacceptable",
                  "the item arrived damaged", "terrible service", "my blender is broken",
                  "I am very unhappy with the quality", "the screen cracked after a day",
                  "I want a refund, it is faulty", "worst purchase ever"],
    "human": ["can I talk to a person", "I want a human", "connect me to an agent",
              "let me speak to someone", "real person please", "transfer me to an agent",
              "is there a human I can talk to", "speak to a manager", "get me a person",
              "agent please"],
}
PARAPHRASES = [
    ("hello, good morning", "greet"),
    ("ok see you later, bye", "goodbye"),
    ("where is my parcel? it has not arrived", "order_status"),
    ("my kettle arrived broken and damaged", "complaint"),
    ("please let me talk to a human agent", "human"),
]
NASTY_TEXTS = ["", "   ", "😀🙈🔥", "x" * 100_000, "where is my order " * 6_000]


def training_data(examples: Dict[str, List[str]]) -> TrainingData:
    return TrainingData([Message(data={"text": t, "intent": i})
                         for i, texts in examples.items() for t in texts])


def context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "test-model")


def train(path: Path, data: TrainingData, **config) -> SparseMlpIntentClassifier:
    path.mkdir(parents=True, exist_ok=True)
    classifier = SparseMlpIntentClassifier.create(
        config, LocalModelStorage(path), Resource("intent_classifier"), context())
    classifier.train(data)
    return classifier


def load(path: Path, **config) -> SparseMlpIntentClassifier:
    return SparseMlpIntentClassifier.load(
        config, LocalModelStorage(path), Resource("intent_classifier"), context())


def parse(classifier: SparseMlpIntentClassifier, *texts: str) -> List[Message]:
    return classifier.process([Message(data={"text": t}) for t in texts])


def ranking(message: Message) -> List[Dict]:
    return message.get("intent_ranking")


# Calibration on: with 50 examples the hold-out is 5, so lower the minimum.
CONFIG = {"ranking_length": 3, "min_calibration_examples": 5}


@pytest.fixture(scope="module")
def storage_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("intent-classifier")


@pytest.fixture(scope="module")
def trained(storage_path: Path) -> SparseMlpIntentClassifier:
    return train(storage_path, training_data(EXAMPLES), **CONFIG)


# With WordLlama's static token embeddings, as config.yml sets it.
EMBEDDING_CONFIG = {**CONFIG, "static_embeddings": True}


@pytest.fixture(scope="module")
def embedded_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("intent-classifier-embedded")


@pytest.fixture(scope="module")
def embedded(embedded_path: Path) -> SparseMlpIntentClassifier:
    return train(embedded_path, training_data(EXAMPLES), **EMBEDDING_CONFIG)


@pytest.mark.parametrize("which", ["trained", "embedded"])
@pytest.mark.parametrize("text, intent", PARAPHRASES)
def test_predicts_held_out_paraphrases(request: pytest.FixtureRequest, which: str, text: str,
                                       intent: str) -> None:
    (message,) = parse(request.getfixturevalue(which), text)
    assert message.get("intent")["name"] == intent


def test_ranking_is_sorted_truncated_and_headed_by_the_intent(
        trained: SparseMlpIntentClassifier) -> None:
    (message,) = parse(trained, "where is my order")
    confidences = [r["confidence"] for r in ranking(message)]
    assert len(confidences) == 3
    assert confidences == sorted(confidences, reverse=True)
    assert ranking(message)[0] == message.get("intent")
    assert all(isinstance(c, float) for c in confidences)
    assert set(message.get("intent")) == {"name", "confidence"}


def test_confidences_over_all_intents_sum_to_one(storage_path: Path,
                                                 trained: SparseMlpIntentClassifier) -> None:
    full = load(storage_path, ranking_length=0)
    for message in parse(full, "hello", "my order is broken", *NASTY_TEXTS):
        assert len(ranking(message)) == len(EXAMPLES)
        assert sum(r["confidence"] for r in ranking(message)) == pytest.approx(1.0, abs=1e-6)
        assert all(0.0 <= r["confidence"] <= 1.0 for r in ranking(message))


def test_loaded_component_predicts_identically(storage_path: Path,
                                               trained: SparseMlpIntentClassifier) -> None:
    texts = [t for t, _ in PARAPHRASES] + NASTY_TEXTS + ["bye", "an unrelated sentence"]
    loaded = load(storage_path, **CONFIG)
    for before, after in zip(parse(trained, *texts), parse(loaded, *texts)):
        assert after.get("intent") == before.get("intent")
        assert ranking(after) == ranking(before)


FRESH_PROCESS = (
    "import json, sys\n"
    "from pathlib import Path\n"
    "from rasa.engine.graph import ExecutionContext, GraphSchema\n"
    "from rasa.engine.storage.local_model_storage import LocalModelStorage\n"
    "from rasa.engine.storage.resource import Resource\n"
    "from rasa.shared.nlu.training_data.message import Message\n"
    "from bot.nlu.intent_classifier import SparseMlpIntentClassifier as C\n"
    "c = C.load(json.loads(sys.argv[2]), LocalModelStorage(Path(sys.argv[1])),\n"
    "           Resource('intent_classifier'), ExecutionContext(GraphSchema({}), 'm'))\n"
    "m = c.process([Message(data={'text': sys.argv[3]})])[0]\n"
    "print(json.dumps(m.get('intent_ranking')))\n"
)


def ranking_in_a_fresh_process(path: Path, config: Dict, text: str, **env: str) -> List[Dict]:
    """The ranking a newly started Python process gets from the model stored at `path`."""
    done = subprocess.run([sys.executable, "-c", FRESH_PROCESS, str(path), json.dumps(config),
                           text], cwd=PROJECT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_loads_in_a_fresh_process(storage_path: Path, trained: SparseMlpIntentClassifier) -> None:
    (expected,) = parse(trained, "hello, good morning")
    assert ranking_in_a_fresh_process(storage_path, {"ranking_length": 3},
                                      "hello, good morning") == ranking(expected)


@pytest.mark.parametrize("text", NASTY_TEXTS, ids=["empty", "blank", "emoji", "100k", "long"])
def test_hostile_input_is_harmless(trained: SparseMlpIntentClassifier, text: str) -> None:
    (message,) = parse(trained, text)
    assert message.get("intent")["name"] in EXAMPLES
    assert 0.0 < message.get("intent")["confidence"] <= 1.0


def test_a_long_message_is_read_only_up_to_max_text_chars(
        trained: SparseMlpIntentClassifier) -> None:
    """Why a 100 KB paste costs no more than a short message (its latency is measured by
    benchmarks/nlu_banking77.py): nothing past the limit is read."""
    limit = int(trained.config["max_text_chars"])
    for text in (t for t in NASTY_TEXTS if len(t) > limit):
        head = text[:limit]
        other_tail = head + " I want to talk to a human agent please" * 1_000
        assert ranking(parse(trained, text)[0]) == ranking(parse(trained, head)[0])
        assert ranking(parse(trained, other_tail)[0]) == ranking(parse(trained, head)[0])


def test_text_without_known_ngrams_gets_low_confidence(trained: SparseMlpIntentClassifier) -> None:
    for message in parse(trained, "", "😀🙈🔥"):
        assert message.get("intent")["confidence"] == pytest.approx(1 / len(EXAMPLES))


def test_persisted_model_is_plain_arrays(storage_path: Path,
                                         trained: SparseMlpIntentClassifier) -> None:
    with LocalModelStorage(storage_path).read_from(Resource("intent_classifier")) as directory:
        assert sorted(p.name for p in directory.iterdir()) == ["meta.json", "weights.npz"]
        with np.load(directory / "weights.npz", allow_pickle=False) as arrays:
            assert arrays["w1"].dtype == np.float16
        meta = json.loads((directory / "meta.json").read_text())
    assert meta["intents"] == sorted(EXAMPLES)
    assert 0.1 <= meta["temperature"] <= 10


def test_training_is_reproducible(tmp_path: Path) -> None:
    first = train(tmp_path / "a", training_data(EXAMPLES), ranking_length=0)
    second = train(tmp_path / "b", training_data(EXAMPLES), ranking_length=0)
    texts = [t for t, _ in PARAPHRASES]
    assert [ranking(m) for m in parse(first, *texts)] == [ranking(m) for m in parse(second, *texts)]


def test_examples_without_intent_are_skipped(tmp_path: Path) -> None:
    data = training_data(EXAMPLES)
    data = TrainingData(data.training_examples + [Message(data={"text": "no label here"}),
                                                  Message(data={"text": "", "intent": "greet"})])
    classifier = train(tmp_path, data, ranking_length=0)
    (message,) = parse(classifier, "hello there")
    assert {r["name"] for r in ranking(message)} == set(EXAMPLES)


def test_single_intent(tmp_path: Path) -> None:
    classifier = train(tmp_path, training_data({"greet": EXAMPLES["greet"]}))
    for message in parse(classifier, "hello", "where is my order", ""):
        assert message.get("intent") == {"name": "greet", "confidence": pytest.approx(1.0)}
    assert ranking(load(tmp_path).process([Message(data={"text": "hi"})])[0])[0]["name"] == "greet"


def test_two_examples_per_intent(tmp_path: Path) -> None:
    tiny = {intent: texts[:2] for intent, texts in EXAMPLES.items()}
    classifier = train(tmp_path, training_data(tiny))
    for intent, texts in tiny.items():
        for message in parse(classifier, *texts):
            assert message.get("intent")["name"] == intent


def test_one_example_in_total(tmp_path: Path) -> None:
    classifier = train(tmp_path, training_data({"greet": ["😀"]}))
    assert parse(classifier, "😀")[0].get("intent")["name"] == "greet"


def test_only_blank_training_texts(tmp_path: Path) -> None:
    classifier = train(tmp_path, training_data({"a": [" "], "b": ["  "]}), ranking_length=0)
    for source in (classifier, load(tmp_path, ranking_length=0)):
        assert [r["confidence"] for r in ranking(parse(source, "hello")[0])] == [0.5, 0.5]


def test_no_intent_examples_leaves_messages_alone(tmp_path: Path) -> None:
    classifier = train(tmp_path, TrainingData([Message(data={"text": "no label"})]))
    assert parse(classifier, "hello")[0].get("intent") is None
    assert parse(load(tmp_path), "hello")[0].get("intent") is None


@pytest.mark.parametrize("bad", [{"word_ngram_range": [2, 1]}, {"input_dropout": 1.0},
                                 {"char_analyzer": "bytes"}, {"weights_dtype": "int8"},
                                 {"calibration_holdout": 0.6}, {"epochs": 0}, {"linear_share": 1.0},
                                 {"static_embedding_weight": -1}])
def test_bad_config_is_rejected(tmp_path: Path, bad: Dict) -> None:
    with pytest.raises(InvalidConfigException):
        SparseMlpIntentClassifier.create(bad, LocalModelStorage(tmp_path),
                                         Resource("x"), context())


# --- calibration helpers ----------------------------------------------------------------

def test_fit_temperature_recovers_the_true_temperature() -> None:
    rng = np.random.RandomState(0)
    logits = rng.normal(0, 3, size=(5000, 10))
    true_probs = softmax(logits, 2.0)
    labels = np.array([rng.choice(10, p=p) for p in true_probs])
    assert fit_temperature(logits, labels) == pytest.approx(2.0, rel=0.1)


def test_fit_temperature_stays_near_one_on_a_small_error_free_holdout() -> None:
    logits = np.array([[3.0, 0.0, 0.0]] * 20)
    assert 0.5 < fit_temperature(logits, np.zeros(20, dtype=int)) <= 1.0


def test_stratified_holdout_keeps_a_training_example_of_every_class() -> None:
    labels = np.array([0] * 20 + [1] * 2 + [2])
    train_rows, held_rows = stratified_holdout(labels, 0.5, seed=1)
    assert sorted(np.concatenate([train_rows, held_rows]).tolist()) == list(range(len(labels)))
    assert set(labels[train_rows]) == {0, 1, 2}
    assert len(held_rows) == 10 + 1


def test_ece_and_threshold_table() -> None:
    confidences = [0.95] * 100 + [0.55] * 100
    correct = [True] * 95 + [False] * 5 + [True] * 55 + [False] * 45
    assert expected_calibration_error(confidences, correct) == pytest.approx(0.0, abs=1e-9)
    assert expected_calibration_error([0.9] * 10, [False] * 10) == pytest.approx(0.9)
    row: Optional[Dict] = threshold_table(confidences, correct, [0.7])[0]
    assert row == {"threshold": 0.7, "coverage": 0.5, "accuracy_accepted": 0.95,
                   "accuracy_rejected": 0.55}


# --- with WordLlama's static token embeddings (config.yml's setting) ---------------------



def test_embedded_model_carries_its_embeddings(embedded_path: Path,
                                               embedded: SparseMlpIntentClassifier) -> None:
    """A trained model loads without the fetched directory: no download at run time."""
    with LocalModelStorage(embedded_path).read_from(Resource("intent_classifier")) as directory:
        assert sorted(p.name for p in directory.iterdir()) == [
            "meta.json", "tokenizer.json", "weights.npz"]
        with np.load(directory / "weights.npz", allow_pickle=False) as arrays:
            assert arrays["embedding_table"].shape == (32000, 256)
    (expected,) = parse(embedded, "ok cheerio then")
    assert ranking_in_a_fresh_process(
        embedded_path, {"ranking_length": 3, "static_embeddings": True}, "ok cheerio then",
        RAPPORT_STATIC_EMBEDDINGS_DIR=str(embedded_path / "no")) == ranking(expected)


def test_embedded_reads_a_long_message_only_up_to_max_text_chars(
        embedded: SparseMlpIntentClassifier) -> None:
    limit = int(embedded.config["max_text_chars"])
    head = ("where is my order " * 500)[:limit]
    tail = head + " I want to talk to a human agent please" * 1_000
    assert ranking(parse(embedded, tail)[0]) == ranking(parse(embedded, head)[0])


def test_embedded_texts_without_known_ngrams_still_get_low_confidence(
        embedded: SparseMlpIntentClassifier) -> None:
    for message in parse(embedded, "", "😀🙈🔥"):
        assert message.get("intent")["confidence"] == pytest.approx(1 / len(EXAMPLES))


def test_missing_embeddings_stop_training_with_a_clear_error(tmp_path: Path) -> None:
    from bot.nlu.static_embeddings import StaticEmbeddingsError

    with pytest.raises(StaticEmbeddingsError, match="rapport nlp build"):
        train(tmp_path, training_data(EXAMPLES), static_embeddings=str(tmp_path / "none"))


# --- keyboard mashes -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def bot_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Trained on the bot's own NLU data: letter statistics need real text to mean anything."""
    from rasa.shared.importers.importer import TrainingDataImporter

    data = TrainingDataImporter.load_from_dict(
        training_data_paths=[str(PROJECT / "data" / "nlu")],
        domain_path=str(PROJECT / "domain.yml")).get_nlu_data()
    path = tmp_path_factory.mktemp("intent-classifier-bot")
    train(path, data, **CONFIG)
    return path


def test_a_keyboard_mash_gets_no_confidence(bot_path: Path) -> None:
    """No known word and letters like no language: uniform, so FallbackClassifier asks again."""
    classifier = load(bot_path, **CONFIG)
    uniform = 1 / len(classifier._model.intents)
    for message in parse(classifier, "qwpoe rtzu", "sdfsdf ewrwer lkjlkj"):
        assert message.get("intent")["confidence"] == pytest.approx(uniform)
    # typos, an unknown real word, a mash beside a known word: read as usual
    for message in parse(classifier, "thankss", "Llanelli", "qwpoe rtzu where is my order"):
        assert message.get("intent")["confidence"] > 3 * uniform


def test_the_mash_check_can_be_turned_off(tmp_path: Path) -> None:
    classifier = train(tmp_path, training_data(EXAMPLES), min_letter_log_prob=None)
    (message,) = parse(classifier, "qwpoe rtzu")  # whatever the n-grams say, not overruled
    assert message.get("intent")["confidence"] > 0
    with LocalModelStorage(tmp_path).read_from(Resource("intent_classifier")) as directory:
        assert json.loads((directory / "meta.json").read_text())["letter_trigrams"] is None
    assert load(tmp_path)._model.letters is None


# --- the linear SVM blended into the logits ------------------------------------------------

def test_the_linear_blend_is_stored_and_can_be_turned_off(tmp_path: Path) -> None:
    blended = train(tmp_path / "on", training_data(EXAMPLES))
    plain = train(tmp_path / "off", training_data(EXAMPLES), linear_share=0.0)
    for path, expected in ((tmp_path / "on", True), (tmp_path / "off", False)):
        with LocalModelStorage(path).read_from(Resource("intent_classifier")) as directory:
            with np.load(directory / "weights.npz", allow_pickle=False) as arrays:
                assert ("lw" in arrays.files) is expected
    for classifier in (blended, plain):
        for text, intent in PARAPHRASES:
            assert parse(classifier, text)[0].get("intent")["name"] == intent


def test_two_intents_blend_the_svms_single_decision_function(tmp_path: Path) -> None:
    two = {intent: EXAMPLES[intent] for intent in ("greet", "goodbye")}
    classifier = train(tmp_path, training_data(two))
    assert classifier._model.weights.lw.shape[1] == 2
    for source in (classifier, load(tmp_path)):
        assert parse(source, "hello, good morning")[0].get("intent")["name"] == "greet"
        assert parse(source, "ok see you later, bye")[0].get("intent")["name"] == "goodbye"


def test_a_model_whose_tokenizer_is_lost_asks_to_be_retrained(
        embedded_path: Path, embedded: SparseMlpIntentClassifier, tmp_path: Path) -> None:
    """Not a silently untrained classifier that gives no message an intent."""
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(embedded_path, copy)
    with LocalModelStorage(copy).read_from(Resource("intent_classifier")) as directory:
        (directory / "tokenizer.json").unlink()
    with pytest.raises(InvalidConfigException, match="retrain"):
        load(copy, **EMBEDDING_CONFIG)
