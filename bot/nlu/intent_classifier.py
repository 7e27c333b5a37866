"""Rapport's intent classifier: TF-IDF word + char n-grams into one hidden layer, calibrated.

Why not DIET: on 2 cores DIET needs hours for BANKING77 (per-token sequence features); this
sentence-level model trains in well under a minute and is more accurate (see DESIGN.md, "NLU
speed", and benchmarks/nlu_banking77.py). It computes its own features from the raw text, so
it needs no Rasa featurizer (nor even a tokenizer) before it. With `static_embeddings` set,
the mean of WordLlama's static token vectors (bot/nlu/static_embeddings.py) is appended to the
n-grams, so words never seen in training still count by their meaning.

Confidences are calibrated by temperature scaling: a copy of the model is trained on 90% of
the examples (stratified), the temperature is fitted on the other 10%, and the final model is
trained on all examples (both fits run side by side on two threads). The FallbackClassifier's
threshold then means what it says (BANKING77: 97% of predictions above 0.7 are right).
"""

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple, Type

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import (
    INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.calibration import fit_temperature, softmax, stratified_holdout
from bot.nlu.letter_trigrams import MIN_MEAN_LOG_PROB, LetterTrigrams
from bot.nlu.sparse_mlp import MlpWeights, NgramFeaturizer, blend_linear_svm, train_mlp
from bot.nlu.static_embeddings import MeanTokenEmbedding

logger = logging.getLogger(__name__)

# Version 2 adds the token embeddings, the linear blend and the letter model: code that reads
# version 1 only must not load a version 2 model as if it were one.
WEIGHTS_FILE, META_FILE, FORMAT_VERSION = "weights.npz", "meta.json", 2
READABLE_VERSIONS = (1, 2)
MODEL_TOKENIZER_FILE, TABLE_ARRAY = "tokenizer.json", "embedding_table"
FEATURE_KEYS = ("word_ngram_range", "word_token_pattern", "char_analyzer", "char_ngram_range",
                "min_df", "max_features", "max_text_chars")


@dataclass
class _Model:
    """Everything a trained classifier needs to predict."""

    featurizer: NgramFeaturizer
    weights: MlpWeights
    intents: List[str]
    temperature: float
    embedding: Optional[MeanTokenEmbedding] = None
    embedding_weight: float = 0.0
    letters: Optional[LetterTrigrams] = None

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated class probabilities; uniform for a text without evidence: no known
        n-gram at all (empty, only unseen symbols), or no known word and letters that read
        like no language (a keyboard mash). No evidence should mean low confidence (->
        fallback)."""
        texts = self.featurizer.clip(texts)
        ngrams = self.featurizer.transform(texts)
        dense = None if self.embedding is None else self.embedding(texts) * self.embedding_weight
        probabilities = softmax(self.weights.logits(with_dense(ngrams, dense)), self.temperature)
        no_evidence = ngrams.getnnz(axis=1) == 0
        if self.letters is not None:
            for row in np.flatnonzero(self.featurizer.known_words(ngrams) == 0):
                no_evidence[row] |= self.letters.reads_as_no_language(texts[row])
        probabilities[no_evidence] = 1.0 / len(self.intents)
        return probabilities


def with_dense(ngrams: sp.csr_matrix, dense: Optional[np.ndarray]) -> sp.csr_matrix:
    """The n-gram features, with the texts' (weighted) mean token embeddings appended."""
    if dense is None:
        return ngrams
    return sp.hstack([ngrams, sp.csr_matrix(dense)], format="csr", dtype=np.float32)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)
class SparseMlpIntentClassifier(IntentClassifier, GraphComponent):
    """Predicts `intent` and `intent_ranking` with calibrated confidences from raw text."""

    @classmethod
    def required_components(cls) -> List[Type]:
        """None: the classifier reads the message text and builds its own n-gram features."""
        return []

    @staticmethod
    def required_packages() -> List[Text]:
        """scikit-learn for the TF-IDF vectorizers, scipy for sparse algebra."""
        return ["sklearn", "scipy", "threadpoolctl"]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Defaults measured on BANKING77 (benchmarks/nlu_banking77.py): ~92.5% accuracy."""
        return {
            # features: word 1-2 grams + char_wb 2-5 grams, TF-IDF (sublinear tf)
            "word_ngram_range": [1, 2],
            # one-character words count: a rating "5", "k" for ok, "n" for no
            "word_token_pattern": r"(?u)\b\w+\b",
            "char_analyzer": "char_wb",
            "char_ngram_range": [2, 5],
            "min_df": 2,  # n-grams seen in fewer training texts are dropped
            "max_features": None,  # cap per vectorizer (most frequent kept)
            "max_text_chars": 2000,  # longer messages are cut: a 100 KB paste costs no more
            # WordLlama's token table and tokenizer (bot/nlu/static_embeddings.py): true (the
            # directory in Rapport's settings), a directory, or None for n-grams only; the
            # trained model keeps its own copy
            "static_embeddings": None,
            "static_embedding_weight": 2.0,  # the dense block's scale next to the n-grams
            # a message with no known word whose letters score below this mean log
            # probability (bot/nlu/letter_trigrams.py) reads as a keyboard mash: no evidence.
            # None turns the check off
            "min_letter_log_prob": MIN_MEAN_LOG_PROB,
            # model
            "hidden_units": 256,
            "epochs": 6,
            "batch_size": 32,
            "learning_rate": 0.002,  # Adam, decayed linearly to 0
            "input_dropout": 0.3,
            # small data sets get more epochs (the bot's own ~3,800 examples: 11; BANKING77: 6)
            "min_train_steps": 1200,
            # a linear SVM on the same features, blended into the logits (0: network only);
            # share and scale chosen on BANKING77's calibration hold-out, not its test split
            "linear_share": 0.15,
            "linear_scale": 5.0,
            "linear_c": 0.5,
            # calibration: fraction of each intent held out to fit the temperature (0: off)
            "calibration_holdout": 0.1,
            "min_calibration_examples": 50,
            "weights_dtype": "float16",  # halves the model on disk; trained == loaded exactly
            "random_seed": 42,
            "ranking_length": 10,  # entries in intent_ranking (0: all intents)
        }

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage,
                 resource: Resource, model: Optional[_Model] = None) -> None:
        """Keeps the storage handles so `train` can persist into its resource."""
        self.config = {**self.get_default_config(), **config}
        self._validate(self.config)
        self._model_storage = model_storage
        self._resource = resource
        self._model = model

    @staticmethod
    def _validate(config: Dict[Text, Any]) -> None:
        """Fail at `rasa train` start, not after minutes of training, on a bad config."""
        problems = []
        for key in ("word_ngram_range", "char_ngram_range"):
            low_high = config[key]
            if len(low_high) != 2 or not 1 <= int(low_high[0]) <= int(low_high[1]):
                problems.append(f"{key} must be [min, max] with 1 <= min <= max")
        if config["char_analyzer"] not in ("char", "char_wb"):
            problems.append("char_analyzer must be 'char' or 'char_wb'")
        if not 0.0 <= float(config["input_dropout"]) < 1.0:
            problems.append("input_dropout must be in [0, 1)")
        if not 0.0 <= float(config["calibration_holdout"]) < 0.5:
            problems.append("calibration_holdout must be in [0, 0.5)")
        if not 0.0 <= float(config["linear_share"]) < 1.0:
            problems.append("linear_share must be in [0, 1)")
        if float(config["linear_c"]) <= 0 or float(config["linear_scale"]) < 0:
            problems.append("linear_c must be > 0 and linear_scale >= 0")
        if config["min_letter_log_prob"] is not None and float(config["min_letter_log_prob"]) > 0:
            problems.append("min_letter_log_prob must be a log probability (<= 0) or null")
        if float(config["static_embedding_weight"]) < 0:
            problems.append("static_embedding_weight must be >= 0")
        if config["weights_dtype"] not in ("float16", "float32"):
            problems.append("weights_dtype must be 'float16' or 'float32'")
        for key in ("hidden_units", "epochs", "batch_size", "max_text_chars"):
            if int(config[key]) < 1:
                problems.append(f"{key} must be >= 1")
        if problems:
            raise InvalidConfigException(
                f"SparseMlpIntentClassifier: {'; '.join(problems)}.")

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "SparseMlpIntentClassifier":
        """An untrained classifier (see GraphComponent.create)."""
        return cls(config, model_storage, resource)

    # --- training -------------------------------------------------------------------------

    def train(self, training_data: TrainingData) -> Resource:
        """Fits features, network and temperature on the examples that have an intent."""
        examples = [m for m in training_data.intent_examples if m.get(INTENT)]
        if not examples:
            logger.warning("SparseMlpIntentClassifier: no intent examples, nothing to train.")
            return self._resource
        limit = int(self.config["max_text_chars"])
        texts = [(m.get(TEXT) or "")[:limit] for m in examples]
        intents = sorted({str(m.get(INTENT)) for m in examples})
        index = {intent: i for i, intent in enumerate(intents)}
        labels = np.array([index[str(m.get(INTENT))] for m in examples], dtype=np.int64)
        embedding = self._embedding()
        dense = None if embedding is None else embedding(texts) * self._embedding_weight

        holdout_split = self._holdout_split(labels, len(intents))
        # One BLAS thread per fit: results do not depend on the machine's core count, and the
        # two fits (calibration copy and final model) use the two cores side by side.
        with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(2) as pool:
            final = pool.submit(self._fit, texts, labels, len(intents), dense)
            temperature = 1.0
            if holdout_split is not None:
                train_rows, held_rows = holdout_split
                featurizer, weights = self._fit(
                    [texts[i] for i in train_rows], labels[train_rows], len(intents),
                    None if dense is None else dense[train_rows])
                held_features = with_dense(
                    featurizer.transform([texts[i] for i in held_rows]),
                    None if dense is None else dense[held_rows])
                temperature = fit_temperature(weights.logits(held_features), labels[held_rows])
            featurizer, weights = final.result()
        threshold = self.config["min_letter_log_prob"]
        self._model = _Model(featurizer, weights, intents, temperature, embedding,
                             self._embedding_weight if embedding is not None else 0.0,
                             None if threshold is None else LetterTrigrams.fit(texts, threshold))
        logger.info(f"SparseMlpIntentClassifier: {len(examples)} examples, {len(intents)} "
                    f"intents, {featurizer.n_features} n-grams, temperature {temperature:.3f}.")
        self.persist()
        return self._resource

    def _holdout_split(self, labels: np.ndarray,
                       n_intents: int) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """Train/held-out rows for calibration, or None when there is too little to hold out."""
        fraction = float(self.config["calibration_holdout"])
        if fraction <= 0 or n_intents < 2:
            return None
        train_rows, held_rows = stratified_holdout(labels, fraction, int(self.config["random_seed"]))
        if len(held_rows) < int(self.config["min_calibration_examples"]):
            logger.info("SparseMlpIntentClassifier: too few examples to calibrate; temperature 1.")
            return None
        return train_rows, held_rows

    @property
    def _embedding_weight(self) -> float:
        return float(self.config["static_embedding_weight"])

    def _embedding(self) -> Optional[MeanTokenEmbedding]:
        """The configured token embeddings, read from their directory; None when off.

        `true` means the directory in Rapport's settings (RAPPORT_STATIC_EMBEDDINGS_DIR):
        where the files live is a machine's setting, not content of config.yml.
        """
        directory = self.config["static_embeddings"]
        if not directory or self._embedding_weight <= 0:
            return None
        if directory is True:
            from bot.settings import Settings

            directory = Settings.from_env().static_embeddings_dir
        return MeanTokenEmbedding.from_directory(Path(directory))

    def _fit(self, texts: Sequence[str], labels: np.ndarray, n_classes: int,
             dense: Optional[np.ndarray] = None) -> Tuple[NgramFeaturizer, MlpWeights]:
        featurizer = NgramFeaturizer({k: self.config[k] for k in FEATURE_KEYS})
        features = with_dense(featurizer.fit_transform(texts), dense)
        c = self.config
        weights = train_mlp(
            features, labels, n_classes, hidden_units=int(c["hidden_units"]),
            epochs=int(c["epochs"]), batch_size=int(c["batch_size"]),
            learning_rate=float(c["learning_rate"]), input_dropout=float(c["input_dropout"]),
            min_train_steps=int(c["min_train_steps"]), seed=int(c["random_seed"]))
        weights = blend_linear_svm(
            weights, features, labels, n_classes, share=float(c["linear_share"]),
            scale=float(c["linear_scale"]), c=float(c["linear_c"]), seed=int(c["random_seed"]))
        return featurizer, weights.as_dtype(c["weights_dtype"])

    # --- prediction -----------------------------------------------------------------------

    def process(self, messages: List[Message]) -> List[Message]:
        """Sets `intent` and `intent_ranking` (top `ranking_length`) on every message."""
        if self._model is None or not messages:
            return messages
        probabilities = self._model.probabilities([m.get(TEXT) or "" for m in messages])
        ranking_length = int(self.config["ranking_length"])
        for message, row in zip(messages, probabilities):
            order = np.argsort(-row, kind="stable")
            if ranking_length > 0:
                order = order[:ranking_length]
            ranking = [{INTENT_NAME_KEY: self._model.intents[i],
                        PREDICTED_CONFIDENCE_KEY: float(row[i])} for i in order]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages

    # --- persistence ----------------------------------------------------------------------

    def persist(self) -> None:
        """Weights and IDF as .npz, vocabularies and intent names as JSON: no pickle."""
        if self._model is None:
            return
        model = self._model
        state = model.featurizer.to_state()
        meta = {"format_version": FORMAT_VERSION, "intents": model.intents,
                "temperature": model.temperature, "feature_config": model.featurizer.config,
                "vocabulary": state["vocabulary"], "embedding_weight": model.embedding_weight,
                "letter_trigrams": model.letters.to_state() if model.letters is not None else None,
                "min_letter_log_prob":
                    model.letters.min_log_prob if model.letters is not None else None}
        arrays = {**state["arrays"], **model.weights.to_arrays(self.config["weights_dtype"])}
        with self._model_storage.write_to(self._resource) as directory:
            if model.embedding is not None:
                arrays[TABLE_ARRAY] = model.embedding.table
                (directory / MODEL_TOKENIZER_FILE).write_text(model.embedding.tokenizer_json,
                                                        encoding="utf-8")
            np.savez(directory / WEIGHTS_FILE, **arrays)
            (directory / META_FILE).write_text(json.dumps(meta, ensure_ascii=False),
                                               encoding="utf-8")

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "SparseMlpIntentClassifier":
        """A trained classifier from its resource; untrained if training had no examples."""
        try:
            with model_storage.read_from(resource) as directory:
                meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
                with np.load(directory / WEIGHTS_FILE, allow_pickle=False) as npz:
                    arrays = {name: npz[name] for name in npz.files}
                tokenizer = directory / MODEL_TOKENIZER_FILE
                tokenizer_json = tokenizer.read_text(encoding="utf-8") \
                    if tokenizer.is_file() else None
        except (ValueError, FileNotFoundError):
            logger.debug(f"SparseMlpIntentClassifier: no trained model in '{resource.name}'.")
            return cls(config, model_storage, resource)
        if meta.get("format_version") not in READABLE_VERSIONS:
            raise InvalidConfigException(
                "SparseMlpIntentClassifier: model saved in an unknown format; retrain it.")
        embedding = None
        if TABLE_ARRAY in arrays:
            try:
                embedding = MeanTokenEmbedding(tokenizer_json or "", arrays[TABLE_ARRAY])
            except Exception as error:  # tokenizers raises a bare Exception on bad JSON
                raise InvalidConfigException(
                    "SparseMlpIntentClassifier: the model's embedding tokenizer is missing or "
                    f"damaged ({type(error).__name__}); retrain it.") from error
        featurizer = NgramFeaturizer.from_state(meta["feature_config"], meta["vocabulary"], arrays)
        letters, threshold = meta.get("letter_trigrams"), meta.get("min_letter_log_prob")
        model = _Model(featurizer, MlpWeights.from_arrays(arrays), meta["intents"],
                       float(meta["temperature"]), embedding,
                       float(meta.get("embedding_weight") or 0.0) if embedding else 0.0,
                       None if letters is None else LetterTrigrams(letters, threshold))
        return cls(config, model_storage, resource, model)
