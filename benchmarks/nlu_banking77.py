"""BANKING77 benchmark of the project's intent classifier, exactly as config.yml configures it.

Takes the intent-classifier entry (with its parameters) from config.yml's pipeline, trains it
behind a WhitespaceTokenizer on BANKING77's train split with Rasa's own training machinery
(`rasa.model_training.train_nlu`), then loads the model in a fresh process with
`rasa.core.agent.Agent` and parses every test message one by one, as the server would.

Reports accuracy, macro-F1, training seconds, parse latency (single messages: mean, p95;
batched), calibration (ECE, 15 bins) and coverage/accuracy above confidence thresholds, to
benchmarks/results/nlu_banking77.json.

    python benchmarks/nlu_banking77.py [--data DIR] [--config FILE] [--limit-train N]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import functools
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

PROJECT = Path(__file__).resolve().parents[1]
CLASSIFIER = "bot.nlu.intent_classifier.SparseMlpIntentClassifier"
DEFAULT_OUTPUT = PROJECT / "benchmarks" / "results" / "nlu_banking77.json"
THRESHOLDS = (0.3, 0.5, 0.7, 0.9)

# Before rasa is imported: no telemetry, no training cache (it would skip the training we
# time), quiet TensorFlow.
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ["RASA_MAX_CACHE_SIZE"] = "0"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))


def read_split(data_dir: Path, name: str) -> List[Tuple[str, str]]:
    """(text, intent) rows of BANKING77's train.csv or test.csv."""
    with open(data_dir / f"{name}.csv", newline="", encoding="utf-8") as handle:
        return [(row["text"], row["category"]) for row in csv.DictReader(handle)]


def stratified_limit(rows: List[Tuple[str, str]], limit: Optional[int],
                     seed: int = 0) -> List[Tuple[str, str]]:
    """The first `limit` rows of a shuffle interleaved by intent, so every intent is present."""
    if not limit or limit >= len(rows):
        return rows
    by_intent: Dict[str, List[Tuple[str, str]]] = defaultdict(list)
    for row in random.Random(seed).sample(rows, len(rows)):
        by_intent[row[1]].append(row)
    interleaved = [group[i] for i in range(max(map(len, by_intent.values())))
                   for group in by_intent.values() if i < len(group)]
    return interleaved[:limit]


def classifier_entry(config_path: Path) -> Tuple[Dict[str, Any], str, Optional[float]]:
    """The classifier's pipeline entry, where it came from, and the fallback threshold."""
    import yaml

    if config_path.is_file():
        config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
        pipeline = config.get("pipeline") or []
        fallback = next((float(e.get("threshold", 0.3)) for e in pipeline
                         if e.get("name") == "FallbackClassifier"), None)
        for entry in pipeline:
            if str(entry.get("name", "")).split(".")[-1] == CLASSIFIER.split(".")[-1]:
                return dict(entry), f"{config_path} (pipeline entry)", fallback
        source = f"component defaults ({config_path} has no {CLASSIFIER.split('.')[-1]})"
        return {"name": CLASSIFIER}, source, fallback
    return {"name": CLASSIFIER}, f"component defaults ({config_path} not found)", None


def train(args: argparse.Namespace, workdir: Path, entry: Dict[str, Any]) -> Dict[str, Any]:
    """Trains [WhitespaceTokenizer, entry] with rasa's train_nlu; returns path and timings."""
    import yaml
    from rasa.model_training import train_nlu
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.nlu.intent_classifier import SparseMlpIntentClassifier

    rows = stratified_limit(read_split(args.data, "train"), args.limit_train)
    nlu_file = workdir / "nlu.yml"
    examples = [Message(data={"text": text, "intent": intent}) for text, intent in rows]
    nlu_file.write_text(TrainingData(examples).nlu_as_yaml(), encoding="utf-8")
    config_file = workdir / "config.yml"
    # The classifier reads raw text; the tokenizer is there because Rasa pipelines have one.
    config_file.write_text(yaml.safe_dump({
        "recipe": "default.v1", "language": "en", "assistant_id": "banking77-benchmark",
        "pipeline": [{"name": "WhitespaceTokenizer"}, entry], "policies": []}))

    component_seconds: List[float] = []
    temperatures: List[float] = []
    original_train = SparseMlpIntentClassifier.train

    @functools.wraps(original_train)  # keeps the annotations Rasa's graph validation reads
    def timed_train(self: Any, training_data: Any) -> Any:
        started = time.perf_counter()
        try:
            return original_train(self, training_data)
        finally:
            component_seconds.append(time.perf_counter() - started)
            temperatures.append(self._model.temperature if self._model else None)

    SparseMlpIntentClassifier.train = timed_train  # type: ignore[method-assign]
    started = time.perf_counter()
    model = train_nlu(str(config_file), str(nlu_file), str(workdir / "models"),
                      fixed_model_name="banking77")
    train_seconds = time.perf_counter() - started
    SparseMlpIntentClassifier.train = original_train  # type: ignore[method-assign]
    if not model:
        raise SystemExit("training failed")
    return {"model": str(model), "n_train": len(rows), "train_seconds": train_seconds,
            "classifier_train_seconds": component_seconds[0] if component_seconds else None,
            "temperature": temperatures[0] if temperatures else None,
            "model_mb": Path(model).stat().st_size / 2**20}


def evaluate(model: str, data_dir: Path) -> Dict[str, Any]:
    """Runs in a fresh process: load the model, parse every test message, time it."""
    import numpy as np
    from rasa.core.agent import Agent
    from rasa.core.channels.channel import UserMessage
    from rasa.shared.nlu.constants import INTENT
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.shared.nlu.training_data.message import Message  # noqa: F401  (warm import)

    rows = read_split(data_dir, "test")
    started = time.perf_counter()
    agent = Agent.load(model)
    load_seconds = time.perf_counter() - started

    async def parse_all() -> Tuple[List[Dict[str, Any]], List[float]]:
        await agent.parse_message("warm up")
        parsed, seconds = [], []
        for text, _ in rows:
            t0 = time.perf_counter()
            parsed.append(await agent.parse_message(text))
            seconds.append(time.perf_counter() - t0)
        return parsed, seconds

    parsed, seconds = asyncio.run(parse_all())
    # Batched: all test messages through the NLU graph in one call.
    processor = agent.processor
    started = time.perf_counter()
    batch = processor.graph_runner.run(
        inputs={"__message__": [UserMessage(text) for text, _ in rows],
                "__tracker__": DialogueStateTracker.from_events("benchmark", [])},
        targets=[processor.model_metadata.nlu_target])[processor.model_metadata.nlu_target]
    batched_seconds = time.perf_counter() - started
    batch_agrees = all(m.get(INTENT)["name"] == p["intent"]["name"] for m, p in zip(batch, parsed))

    latency_ms = np.array(seconds) * 1000
    alone = classifier_alone(model, [text for text, _ in rows])
    return {
        "predictions": [p["intent"]["name"] for p in parsed],
        "confidences": [float(p["intent"]["confidence"]) for p in parsed],
        "load_seconds": load_seconds,
        "latency_ms": {"single_mean": float(latency_ms.mean()),
                       "single_p50": float(np.percentile(latency_ms, 50)),
                       "single_p95": float(np.percentile(latency_ms, 95)),
                       "batched_per_message": 1000 * batched_seconds / len(rows),
                       "classifier_only": alone["latency_ms"]},
        "uncalibrated_confidences": alone["uncalibrated_confidences"],
        "batched_agrees_with_single": batch_agrees,
    }


def classifier_alone(model: str, texts: List[str]) -> Dict[str, Any]:
    """The classifier alone, loaded from the archive's model storage: its own latency (what
    Rasa adds is not ours) and its top confidence without temperature scaling (T = 1)."""
    import numpy as np
    from rasa.engine.graph import ExecutionContext
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.message import Message

    from bot.nlu.intent_classifier import SparseMlpIntentClassifier

    with tempfile.TemporaryDirectory(prefix="banking77-storage-") as tmp:
        storage, metadata = LocalModelStorage.from_model_archive(Path(tmp), model)
        name, node = next((n, node) for n, node in metadata.predict_schema.nodes.items()
                          if node.uses is SparseMlpIntentClassifier)
        classifier = SparseMlpIntentClassifier.load(
            node.config, storage, Resource(node.resource.name),
            ExecutionContext(metadata.predict_schema, metadata.model_id, name))
        seconds = []
        for text in texts:
            message = Message(data={"text": text})
            t0 = time.perf_counter()
            classifier.process([message])
            seconds.append(time.perf_counter() - t0)
        messages = [Message(data={"text": text}) for text in texts]
        t0 = time.perf_counter()
        classifier.process(messages)
        batched = time.perf_counter() - t0
        paste = "where is my order " * 6_000  # 100 KB: hostile, but costs max_text_chars
        paste_seconds = []
        for _ in range(20):
            t0 = time.perf_counter()
            classifier.process([Message(data={"text": paste})])
            paste_seconds.append(time.perf_counter() - t0)
        classifier._model.temperature = 1.0  # benchmark-only peek at the uncalibrated model
        uncalibrated = [m.get("intent")["confidence"]
                        for m in classifier.process([Message(data={"text": t}) for t in texts])]
    ms = np.array(seconds) * 1000
    return {"latency_ms": {"single_mean": float(ms.mean()),
                           "single_p95": float(np.percentile(ms, 95)),
                           "batched_per_message": 1000 * batched / len(texts),
                           "paste_100kb_max": 1000 * max(paste_seconds)},
            "uncalibrated_confidences": uncalibrated}


def report(args: argparse.Namespace, entry: Dict[str, Any], source: str,
           fallback: Optional[float], trained: Dict[str, Any],
           evaluated: Dict[str, Any]) -> Dict[str, Any]:
    """The results file: scores, calibration, timings and what exactly was measured."""
    import numpy as np
    import rasa
    from sklearn.metrics import f1_score

    from bot.nlu.calibration import expected_calibration_error, threshold_table

    gold = [intent for _, intent in read_split(args.data, "test")]
    predicted, confidence = evaluated.pop("predictions"), evaluated.pop("confidences")
    correct = np.array(predicted) == np.array(gold)
    thresholds = sorted(set(THRESHOLDS) | ({fallback} if fallback else set()))
    return {
        "benchmark": "BANKING77 intent classification (PolyAI, CC BY 4.0)",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python benchmarks/nlu_banking77.py"
                   + (f" --limit-train {args.limit_train}" if args.limit_train else ""),
        "config_source": source,
        "classifier_entry": entry,
        "pipeline_trained": ["WhitespaceTokenizer", entry["name"]],
        "fallback_threshold_in_config": fallback,
        "n_train": trained["n_train"], "n_test": len(gold),
        "accuracy": float(correct.mean()),
        "macro_f1": float(f1_score(gold, predicted, average="macro")),
        "train_seconds_total": trained["train_seconds"],
        "train_seconds_classifier": trained["classifier_train_seconds"],
        "model_archive_mb": trained["model_mb"],
        "load_seconds": evaluated.pop("load_seconds"),
        "latency_ms": evaluated.pop("latency_ms"),
        "batched_agrees_with_single": evaluated.pop("batched_agrees_with_single"),
        "temperature": trained["temperature"],
        "ece_15_bins": expected_calibration_error(confidence, correct, n_bins=15),
        "ece_15_bins_uncalibrated": expected_calibration_error(
            evaluated.pop("uncalibrated_confidences"), correct, n_bins=15),
        "mean_confidence": float(np.mean(confidence)),
        "thresholds": threshold_table(confidence, correct, thresholds),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "rasa": rasa.__version__, "platform": platform.platform()},
    }


def summary(result: Dict[str, Any]) -> str:
    lines = [
        f"config: {result['config_source']}",
        f"entry:  {json.dumps(result['classifier_entry'])}",
        f"train {result['n_train']} / test {result['n_test']}: accuracy "
        f"{result['accuracy']:.2%}, macro-F1 {result['macro_f1']:.2%}",
        f"training {result['train_seconds_total']:.1f} s (train_nlu), classifier "
        f"{result['train_seconds_classifier']:.1f} s; model {result['model_archive_mb']:.1f} MB",
        f"parse latency: mean {result['latency_ms']['single_mean']:.2f} ms, p95 "
        f"{result['latency_ms']['single_p95']:.2f} ms, batched "
        f"{result['latency_ms']['batched_per_message']:.3f} ms/message; classifier alone: "
        f"{result['latency_ms']['classifier_only']['single_mean']:.2f} ms single, "
        f"{result['latency_ms']['classifier_only']['batched_per_message']:.3f} ms batched, "
        f"{result['latency_ms']['classifier_only']['paste_100kb_max']:.2f} ms for a 100 KB paste",
        f"ECE (15 bins) {result['ece_15_bins']:.4f} (temperature {result['temperature']:.3f}; "
        f"{result['ece_15_bins_uncalibrated']:.4f} without), mean confidence "
        f"{result['mean_confidence']:.3f}",
    ]
    for row in result["thresholds"]:
        accepted = row["accuracy_accepted"]
        lines.append(f"  confidence >= {row['threshold']:.2f}: {row['coverage']:.1%} accepted, "
                     f"{'-' if accepted is None else f'{accepted:.2%}'} of them right")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path,
                        default=PROJECT.parent / "shared" / "datasets" / "banking77")
    parser.add_argument("--config", type=Path, default=PROJECT / "config.yml")
    parser.add_argument("--limit-train", type=int, default=None,
                        help="train on N examples only (quick smoke run)")
    parser.add_argument("--output", type=Path, default=None,
                        help=f"results file (default {DEFAULT_OUTPUT.relative_to(PROJECT)}; "
                             "a --limit-train run writes nothing unless given)")
    parser.add_argument("--evaluate-model", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.data = args.data.resolve()

    if args.evaluate_model:  # the fresh-process half
        print(json.dumps(evaluate(args.evaluate_model, args.data)))
        return 0

    entry, source, fallback = classifier_entry(args.config.resolve())
    with tempfile.TemporaryDirectory(prefix="banking77-") as tmp:
        trained = train(args, Path(tmp), entry)
        process = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--data", str(args.data),
             "--evaluate-model", trained["model"]],
            capture_output=True, text=True, check=False)
        if process.returncode != 0:
            sys.stderr.write(process.stderr)
            raise SystemExit("evaluation failed")
        evaluated = json.loads(process.stdout.strip().splitlines()[-1])
    result = report(args, entry, source, fallback, trained, evaluated)
    output = args.output or (None if args.limit_train else DEFAULT_OUTPUT)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(summary(result))
    if output:
        print(f"results: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
