"""5-fold cross-validation of the bot's own NLU (issue 9): which intents it confuses.

Runs what `rasa test nlu --cross-validation --folds 5` runs (`rasa.model_testing.
perform_nlu_cross_validation`, with the data and config loaded as the CLI loads them), on
data/nlu/*.yml (plus domain.yml, for the FAQ responses) with config.yml's pipeline exactly as
`rapport train` would train it (`bot.ops.training.training_config`: epochs scaled by
--epochs-scale, the spaCy pipeline at its absolute path, built afresh in a temporary var/).
Done in-process so the folds can be seeded: Rasa's StratifiedKFold shuffles with numpy's
global random state. Rasa undoes FallbackClassifier predictions when it evaluates, so the
scores are the intent classifier's top intent; how many test messages would have fallen
below the fallback threshold is reported beside them.

Writes per-intent precision/recall/F1/support, macro and weighted averages, the confusions
(with example messages), the FAQ response selection scores, the command, date and duration to
benchmarks/results/nlu_crossval.json.

    .venv/bin/python benchmarks/nlu_crossval.py [--folds 5] [--epochs-scale 1.0] [--seed 0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = PROJECT / "benchmarks" / "results" / "nlu_crossval.json"
TARGET_F1 = 0.90
EXAMPLES_PER_CONFUSION = 5

if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))
from benchmarks.rasa_env import quiet_rasa  # noqa: E402

os.environ["RASA_MAX_CACHE_SIZE"] = "0"  # every fold really trains
quiet_rasa()

_AVERAGES = ("accuracy", "macro avg", "weighted avg", "micro avg")


def nlu_config(var_dir: Path, epochs_scale: float) -> Dict[str, Any]:
    """config.yml's pipeline as `rapport train` trains it; policies dropped (NLU only)."""
    import yaml

    from bot.brand import load_brand
    from bot.ops.spacy_pipeline import build_pipeline
    from bot.ops.training import training_config
    from bot.settings import Settings

    settings = Settings.from_env({"RAPPORT_HOME": str(PROJECT), "RAPPORT_VAR_DIR": str(var_dir),
                                  "RAPPORT_TRAIN_EPOCHS_SCALE": str(epochs_scale)})
    build_pipeline(load_brand(PROJECT / "brand"), settings.spacy_model_dir)
    config = yaml.safe_load((PROJECT / "config.yml").read_text(encoding="utf-8"))
    adjusted = training_config(config, settings)
    adjusted["policies"] = []
    return adjusted


def run_cross_validation(config: Dict[str, Any], folds: int, seed: int, workdir: Path) -> Path:
    """`rasa test nlu --cross-validation` in-process, seeded; returns its report directory."""
    import numpy as np
    import yaml
    from rasa.model_testing import perform_nlu_cross_validation
    from rasa.shared.importers.importer import TrainingDataImporter
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    # As the CLI does at --quiet-ish level: no debug line per parsed message.
    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)

    config_file = workdir / "config.yml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    # As rasa.cli.test.run_nlu_test_async loads them.
    nlu_data = TrainingDataImporter.load_from_dict(
        training_data_paths=[str(PROJECT / "data" / "nlu")],
        domain_path=str(PROJECT / "domain.yml")).get_nlu_data()
    config_dict = TrainingDataImporter.load_from_dict(config_path=str(config_file)).get_config()
    output = workdir / "results"
    output.mkdir()
    np.random.seed(seed)  # the folds (StratifiedKFold(shuffle=True) draws from it)
    asyncio.run(perform_nlu_cross_validation(
        config_dict, nlu_data, str(output),
        {"folds": folds, "errors": True, "successes": True, "disable_plotting": True}))
    return output


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def per_label_scores(report: Dict[str, Any]) -> Dict[str, Dict[str, float]]:
    """sklearn's report rows for the labels (not the averages), rounded; confused_with kept."""
    rows = {}
    for label, row in sorted(report.items()):
        if label in _AVERAGES or not isinstance(row, dict):
            continue
        rows[label] = {"precision": round(row["precision"], 4), "recall": round(row["recall"], 4),
                       "f1": round(row["f1-score"], 4), "support": int(row["support"])}
        if row.get("confused_with"):
            rows[label]["confused_with"] = row["confused_with"]
    return rows


def averages(report: Dict[str, Any]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for name in _AVERAGES:
        row = report.get(name)
        if isinstance(row, dict):
            out[name.replace(" ", "_")] = {"precision": round(row["precision"], 4),
                                           "recall": round(row["recall"], 4),
                                           "f1": round(row["f1-score"], 4),
                                           "support": int(row["support"])}
        elif row is not None:
            out[name] = round(float(row), 4)
    return out


def confusions(errors: List[Dict[str, Any]], key: str, prediction_key: str) -> List[Dict[str, Any]]:
    """(gold -> predicted) pairs, most frequent first, each with example messages."""
    examples: Dict[tuple, List[Dict[str, Any]]] = defaultdict(list)
    for error in errors:
        predicted = error[prediction_key]
        pair = (error[key], predicted.get("name"))
        examples[pair].append({"text": error["text"],
                               "confidence": round(float(predicted.get("confidence") or 0), 3)})
    ordered = sorted(examples.items(), key=lambda item: (-len(item[1]), item[0]))
    return [{"intent": gold, "predicted": predicted, "count": len(found),
             "examples": found[:EXAMPLES_PER_CONFUSION]}
            for (gold, predicted), found in ordered]


def below_threshold(results: List[Dict[str, Any]], threshold: Optional[float]) -> Dict[str, int]:
    """Per gold intent: test messages whose top confidence is under the fallback threshold."""
    if threshold is None:
        return {}
    counts: Counter = Counter()
    for result in results:
        if float(result["intent_prediction"].get("confidence") or 0) < threshold:
            counts[result["intent"]] += 1
    return dict(sorted(counts.items()))


def fallback_threshold(config: Dict[str, Any]) -> Optional[float]:
    return next((float(c.get("threshold", 0.3)) for c in config.get("pipeline") or []
                 if c.get("name") == "FallbackClassifier"), None)


def report(args: argparse.Namespace, config: Dict[str, Any], results_dir: Path,
           seconds: float) -> Dict[str, Any]:
    import rasa

    intent_report = _read(results_dir / "intent_report.json") or {}
    intent_errors = _read(results_dir / "intent_errors.json") or []
    intent_successes = _read(results_dir / "intent_successes.json") or []
    intents = per_label_scores(intent_report)
    threshold = fallback_threshold(config)
    response_report = _read(results_dir / "response_selection_report.json") or {}
    response_errors = _read(results_dir / "response_selection_errors.json") or []
    command = ("python benchmarks/nlu_crossval.py"
               + (f" --folds {args.folds}" if args.folds != 5 else "")
               + (f" --epochs-scale {args.epochs_scale}" if args.epochs_scale != 1.0 else "")
               + (f" --seed {args.seed}" if args.seed != 0 else ""))
    entity_reports = {path.name.replace("_report.json", ""): averages(_read(path) or {})
                      for path in sorted(results_dir.glob("*Extractor_report.json"))}
    return {
        "benchmark": "5-fold cross-validation of the bot's NLU (data/nlu, config.yml pipeline)",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "equivalent_rasa_command": (
            f"rasa test nlu --nlu data/nlu --domain domain.yml --config <config.yml via "
            f"training_config> --cross-validation --folds {args.folds}"),
        "folds": args.folds, "fold_seed": args.seed,
        "epochs_scale": args.epochs_scale,
        "epochs_note": "RAPPORT_TRAIN_EPOCHS_SCALE as in bot/ops/training.py: scales every "
                       "`epochs` in config.yml (here only ResponseSelector's); the intent "
                       "classifier's own default epochs are not in config.yml, so not scaled",
        "duration_seconds": round(seconds, 1),
        "target_f1": TARGET_F1,
        "intent": {
            "n_test_messages": len(intent_errors) + len(intent_successes),
            "averages": averages(intent_report),
            "per_intent": intents,
            "below_target": sorted(name for name, row in intents.items()
                                   if row["f1"] < TARGET_F1),
            "fallback_threshold": threshold,
            "below_fallback_threshold": below_threshold(intent_errors + intent_successes,
                                                        threshold),
            "confusions": confusions(intent_errors, "intent", "intent_prediction"),
        },
        "response_selection": {
            "averages": averages(response_report),
            "per_response": per_label_scores(response_report),
            "confusions": confusions(response_errors, "intent_response_key_target",
                                     "intent_response_key_prediction")
            if response_errors and "intent_response_key_target" in response_errors[0] else [],
        },
        "entities": entity_reports,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "rasa": rasa.__version__, "platform": platform.platform(),
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
    }


def summary(result: Dict[str, Any]) -> str:
    intent = result["intent"]
    avg = intent["averages"]
    lines = [f"{result['folds']}-fold CV, {intent['n_test_messages']} messages, "
             f"{result['duration_seconds']:.0f} s: accuracy {avg.get('accuracy', 0):.2%}, "
             f"macro-F1 {avg['macro_avg']['f1']:.2%}, weighted-F1 {avg['weighted_avg']['f1']:.2%}"]
    for name, row in intent["per_intent"].items():
        flag = "  <-- below target" if row["f1"] < result["target_f1"] else ""
        lines.append(f"  {name:24s} P {row['precision']:.3f} R {row['recall']:.3f} "
                     f"F1 {row['f1']:.3f} n={row['support']}{flag}")
    lines.append("confusions (gold -> predicted):")
    for pair in intent["confusions"][:15]:
        lines.append(f"  {pair['count']:3d} {pair['intent']} -> {pair['predicted']}: "
                     f"{pair['examples'][0]['text']!r}")
    rs = result["response_selection"]["averages"]
    if rs:
        lines.append(f"FAQ response selection: accuracy {rs.get('accuracy', 0):.2%}, "
                     f"macro-F1 {rs['macro_avg']['f1']:.2%}")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs-scale", type=float, default=1.0,
                        help="RAPPORT_TRAIN_EPOCHS_SCALE for the folds (tests use 0.5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fold split")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="nlu-crossval-") as tmp:
        workdir = Path(tmp)
        config = nlu_config(workdir / "var", args.epochs_scale)
        started = time.perf_counter()
        results_dir = run_cross_validation(config, args.folds, args.seed, workdir)
        seconds = time.perf_counter() - started
        result = report(args, config, results_dir, seconds)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n",
                           encoding="utf-8")
    print(summary(result))
    print(f"results: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
