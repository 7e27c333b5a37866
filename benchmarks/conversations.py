"""The conversation set (tests/conversations/) played against the real stack: pass rates.

Starts `rapport run` once with the test suite's cached model (trained once per content hash,
exactly as tests/conftest.py's `trained_model` does, so no other model is ever trained), a
fake Telegram Bot API and databases of its own; plays every conversation over each of its
channels with tests/support/conversation_runner.py; writes pass rates overall, per kind, per
channel and per author, and every failure, to benchmarks/results/conversations.json.
Known failures count as failures here: this is the raw measurement.

    .venv/bin/python benchmarks/conversations.py [--output FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = PROJECT / "benchmarks" / "results" / "conversations.json"

if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))
from benchmarks.rasa_env import quiet_rasa  # noqa: E402

quiet_rasa()


def cached_model() -> Path:
    """The test suite's model for the current content (trained and cached if missing)."""
    from bot.brand import load_brand
    from bot.settings import Settings
    from tests.conftest import trained_model
    from tests.support.stack import TEST_EPOCH_SCALE

    settings = Settings.from_env({"RAPPORT_HOME": str(PROJECT),
                                  "RAPPORT_VAR_DIR": str(PROJECT / "var" / "test"),
                                  "RAPPORT_TRAIN_EPOCHS_SCALE": TEST_EPOCH_SCALE})
    return trained_model.__wrapped__(settings, load_brand(PROJECT / "brand"))


def rate(results: Iterable[Any]) -> dict[str, Any]:
    results = list(results)
    passed = sum(result.passed for result in results)
    return {"passed": passed, "total": len(results),
            "rate": round(passed / len(results), 4) if results else None}


def grouped(results: list[Any], keys_of) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[Any]] = defaultdict(list)
    for result in results:
        for key in keys_of(result):
            groups[key].append(result)
    return {key: rate(groups[key]) for key in sorted(groups)}


def report(results: list[Any], seconds: float, model: Path) -> dict[str, Any]:
    overall = rate(results)
    return {
        "benchmark": "conversations: the customer conversation set over the real channels",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python benchmarks/conversations.py",
        "passed": overall["passed"], "total": overall["total"], "pass_rate": overall["rate"],
        "per_kind": grouped(results, lambda r: r.kinds),
        "per_channel": grouped(results, lambda r: [r.channel]),
        "per_author": grouped(results, lambda r: [r.author]),
        "failures": [{"id": r.id, "channel": r.channel, "message": r.message}
                     for r in results if not r.passed],
        "seconds": round(seconds, 1),
        "model": model.name,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    from tests.support.conversation_files import load_set
    from tests.support.conversation_runner import ConversationStack, play_all

    conversations = load_set()
    model = cached_model()
    started = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory(prefix="conversations-") as tmp:
        with ConversationStack(model, Path(tmp)) as stack:
            for result in play_all(stack, conversations):
                results.append(result)
                print(f"{'pass' if result.passed else 'FAIL'} {result.author}/{result.id}"
                      f"@{result.channel}", flush=True)
    result = report(results, time.perf_counter() - started, model)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n",
                           encoding="utf-8")
    print(f"passed {result['passed']}/{result['total']} ({result['pass_rate']:.1%}) "
          f"in {result['seconds']} s")
    for kind, numbers in result["per_kind"].items():
        print(f"  {kind:24} {numbers['passed']:3}/{numbers['total']:<3} {numbers['rate']:.0%}")
    print(f"results: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
