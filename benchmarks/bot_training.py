"""How long the shipped bot (NLU and dialogue, full epochs) takes to train from scratch.

Brand teams retrain after every edit, so this is the number they wait for. Rasa's training
cache is disabled and a fresh var/ is used, so nothing is reused from an earlier run.

    .venv/bin/python benchmarks/bot_training.py [--output FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = PROJECT / "benchmarks" / "results" / "bot_training.json"

if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))
from benchmarks.rasa_env import quiet_rasa  # noqa: E402

os.environ["RASA_MAX_CACHE_SIZE"] = "0"  # Rasa's training cache off: nothing reused
quiet_rasa()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()

    from bot.brand import load_brand
    from bot.ops.spacy_pipeline import build_pipeline
    from bot.settings import Settings
    from bot.ops.training import train

    with tempfile.TemporaryDirectory() as var_dir:
        settings = Settings.from_env({"RAPPORT_HOME": str(PROJECT), "RAPPORT_VAR_DIR": var_dir})
        build_pipeline(load_brand(PROJECT / "brand"), settings.spacy_model_dir)
        started = time.perf_counter()
        model = train(settings, force=True)
        seconds = time.perf_counter() - started
        size = model.stat().st_size
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "benchmark": "bot_training",
        "what": "rapport train --force: the whole bot (config.yml, domain.yml, data/), full epochs, no cache",
        "train_seconds": round(seconds, 1),
        "model_mb": round(size / 1024**2, 1),
        "peak_rss_mb": round(peak_mb),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "load_average_at_end": os.getloadavg(),
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python benchmarks/bot_training.py",
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"trained the bot in {seconds:.1f} s (model {result['model_mb']} MB, "
          f"peak RSS {result['peak_rss_mb']} MB) -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
