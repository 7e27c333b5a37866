"""bot.nlu.sparse_mlp: n-gram features and the one-hidden-layer network trained on them."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from bot.nlu.sparse_mlp import MlpWeights, NgramFeaturizer, train_mlp

CONFIG: dict[str, Any] = {
    "word_ngram_range": [1, 2], "char_analyzer": "char_wb", "char_ngram_range": [2, 5],
    "min_df": 2, "max_features": None, "max_text_chars": 2000,
}
TEXTS = {
    0: ["where is my order", "has my order shipped", "track my order please",
        "when will my order arrive"],
    1: ["i want a refund", "refund my money", "can i get a refund", "please refund me"],
    2: ["hello there", "hi", "good morning", "hey hello"],
}


def _data() -> tuple[list[str], np.ndarray]:
    texts = [text for label in TEXTS for text in TEXTS[label]]
    labels = np.array([label for label in TEXTS for _ in TEXTS[label]])
    return texts, labels


def _train(features: sp.csr_matrix, labels: np.ndarray, seed: int = 0) -> MlpWeights:
    return train_mlp(features, labels, n_classes=3, hidden_units=16, epochs=5, batch_size=4,
                     learning_rate=0.01, input_dropout=0.2, min_train_steps=200, seed=seed)


def test_features_have_one_row_per_text_and_one_unit_block_each() -> None:
    texts, _ = _data()
    featurizer = NgramFeaturizer(CONFIG)
    features = featurizer.fit_transform(texts)
    assert isinstance(features, sp.csr_matrix)
    assert features.dtype == np.float32
    assert features.shape == (len(texts), featurizer.n_features)
    n_words = len(featurizer.to_state()["vocabulary"]["word"])
    words, chars = features[:, :n_words], features[:, n_words:]
    # each block L2-normalised; a text with no word seen twice (min_df 2) has no word features
    alone = {"hi", "good morning"}
    word_norms = words.multiply(words).sum(axis=1).A1
    np.testing.assert_allclose(word_norms, [0.0 if text in alone else 1.0 for text in texts],
                               atol=1e-5)
    np.testing.assert_allclose(chars.multiply(chars).sum(axis=1).A1, 1.0, rtol=1e-5)


def test_transform_ignores_n_grams_never_seen_in_training() -> None:
    featurizer = NgramFeaturizer(CONFIG)
    featurizer.fit_transform(_data()[0])
    unseen = featurizer.transform(["zzzq"])
    assert unseen.shape == (1, featurizer.n_features)
    assert unseen.nnz == 0


def test_a_tiny_data_set_keeps_its_one_off_n_grams() -> None:
    featurizer = NgramFeaturizer(CONFIG)  # min_df 2 would leave no word seen twice
    features = featurizer.fit_transform(["apple", "banana"])
    assert features.shape[0] == 2
    assert featurizer.transform(["apple"]).nnz > 0
    assert "apple" in featurizer.to_state()["vocabulary"]["word"]


def test_long_texts_are_cut_before_featurizing() -> None:
    featurizer = NgramFeaturizer({**CONFIG, "max_text_chars": 10})
    featurizer.fit_transform(_data()[0])
    cut = featurizer.transform(["where is my order" + " refund" * 50])
    assert (cut != featurizer.transform(["where is m"])).nnz == 0


def test_a_featurizer_rebuilt_from_its_state_gives_identical_features() -> None:
    texts, _ = _data()
    featurizer = NgramFeaturizer(CONFIG)
    featurizer.fit_transform(texts)
    state = featurizer.to_state()
    rebuilt = NgramFeaturizer.from_state(CONFIG, state["vocabulary"], state["arrays"])
    new_texts = ["my order hasn't arrived", "refund please", "hiya"]
    assert (rebuilt.transform(new_texts) != featurizer.transform(new_texts)).nnz == 0
    assert rebuilt.n_features == featurizer.n_features


def test_a_loaded_featurizer_knows_its_size_before_first_use() -> None:
    featurizer = NgramFeaturizer(CONFIG)
    featurizer.fit_transform(_data()[0])
    state = featurizer.to_state()
    rebuilt = NgramFeaturizer.from_state(CONFIG, state["vocabulary"], state["arrays"])
    assert rebuilt.n_features == featurizer.n_features


def test_training_on_a_tiny_separable_set_fits_it_exactly() -> None:
    texts, labels = _data()
    featurizer = NgramFeaturizer(CONFIG)
    weights = _train(featurizer.fit_transform(texts), labels)
    assert weights.w1.shape == (featurizer.n_features, 16)
    assert weights.w2.shape == (16, 3)
    assert weights.logits(featurizer.fit_transform(texts)).argmax(axis=1).tolist() == (
        labels.tolist())
    predicted = weights.logits(featurizer.transform(
        ["where is my order now", "i want my refund", "hello"])).argmax(axis=1)
    assert predicted.tolist() == [0, 1, 2]


def test_training_is_deterministic_for_a_seed() -> None:
    texts, labels = _data()
    features = NgramFeaturizer(CONFIG).fit_transform(texts)
    first, again, other = _train(features, labels), _train(features, labels), _train(
        features, labels, seed=1)
    for name in ("w1", "b1", "w2", "b2"):
        assert np.array_equal(getattr(first, name), getattr(again, name))
    assert not np.array_equal(first.w1, other.w1)


def test_stored_weights_load_bit_for_bit_as_rounded() -> None:
    texts, labels = _data()
    features = NgramFeaturizer(CONFIG).fit_transform(texts)
    weights = _train(features, labels)
    rounded = weights.as_dtype("float16")
    loaded = MlpWeights.from_arrays(weights.to_arrays("float16"))
    assert loaded.w1.dtype == np.float32
    assert np.array_equal(rounded.logits(features), loaded.logits(features))


def test_logits_without_features_come_from_the_biases() -> None:
    weights = MlpWeights(w1=np.zeros((0, 2), np.float32), b1=np.array([1.0, -1.0], np.float32),
                         w2=np.array([[2.0, 0.0], [5.0, 1.0]], np.float32),
                         b2=np.array([0.5, 0.0], np.float32))
    logits = weights.logits(sp.csr_matrix((3, 0), dtype=np.float32))
    np.testing.assert_array_equal(logits, [[2.5, 0.0]] * 3)
