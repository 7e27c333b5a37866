"""Rapport under load, side by side with stock Rasa in one run (issue 12, "Speed").

Closed loop over REST: N simulated customers at once, each playing its script again and
again for D seconds (a new conversation per play), every message's latency kept:

1. stock: `rasa init --no-prompt` (the moodbot, trained once by this same rasa and kept in
   var/bench/), served by `rasa run --enable-api` with its in-memory tracker store; its
   script from its own data (greet, mood_unhappy, affirm, bot_challenge, goodbye);
2. Rapport: `rapport run` (embedded profile) with the shipped bot, its model trained once
   with the production epochs into var/bench/rapport (as `rapport train` does); started
   twice to time readiness and read the supervisor's own resident memory; script: greeting,
   order status with verification, a complaint and its remedy, an FAQ;
3. turn cost: one conversation of many FAQ turns on each, last 10 turns over the first 10;
4. capacity: conversations held at once with 3 s think time at p95 <= 300 ms, on each;
5. the scale-out profile (PostgreSQL, Redis lock store, RabbitMQ; a fresh database and queue,
   removed afterwards): one Rasa process, then two behind a round-robin in this client.

The systems run one after the other, never at once. One play of each script before each
measurement warms the server up and is not counted. Rapport's per-conversation flood limit
is lifted (a simulated customer types far faster than a person).

    .venv/bin/python benchmarks/load.py                          # -> benchmarks/results/load.json
    .venv/bin/python benchmarks/load.py --customers 2 --duration 5 --turns 20 \
        --capacity-step 5 --output /tmp/load.json                # a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional, Sequence

PROJECT = Path(__file__).resolve().parents[1]
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TQDM_DISABLE", "1")

from benchmarks import load_client as client  # noqa: E402
from benchmarks import load_scale as scale  # noqa: E402
from benchmarks.load_services import (  # noqa: E402
    BenchmarkError, RapportRun, demo_customers, outside_env, post_json, prepare_stock_bot,
    start_stock_rasa,
)

DEFAULT_OUTPUT = PROJECT / "benchmarks" / "results" / "load.json"
BENCH_DIR = PROJECT / "var" / "bench"
REST_INTEGRATION = "bench"
THINK_S = 3.0  # capacity: a customer's pause between messages
CAPACITY_P95_MS = 300.0
CAPACITY_MAX = 512  # conversations; the doubling stops here
DETAIL_PARTS = ("machine", "stock", "rapport", "scale", "targets")  # file only, not printed
TARGETS = {  # issue 12, "Speed"
    "ratio_vs_stock": ">= 1.0", "two_worker_ratio": ">= 1.8", "turn_cost_growth": "<= 1.2",
    "ready_s": "<= 15", "run_process_rss_mb": "<= 200",
    "p95_ms": "capacity is counted at p95 <= 300 ms (3 s think time)",
}


def ensure_rapport_model(var_dir: Path) -> Path:
    """The shipped bot's model for the current content, trained (production epochs) if missing."""
    from bot.ops.training import current_model
    from bot.settings import Settings

    settings = Settings.from_env({"RAPPORT_HOME": str(PROJECT), "RAPPORT_VAR_DIR": str(var_dir)})
    model = current_model(settings)
    if model:
        return model
    print(f"Rapport: training the shipped bot into {var_dir} (`rapport train`)...", flush=True)
    log_path = var_dir / "train.log"
    var_dir.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        result = subprocess.run([sys.executable, "-m", "bot.ops.cli", "train"], cwd=PROJECT,
                                env={**outside_env(), "RAPPORT_HOME": str(PROJECT),
                                     "RAPPORT_VAR_DIR": str(var_dir)},
                                stdout=log, stderr=subprocess.STDOUT)
    model = current_model(settings)
    if result.returncode != 0 or model is None:
        raise BenchmarkError(f"`rapport train` failed (exit {result.returncode}); see {log_path}")
    return model


def rapport_env(var_dir: Path, db_dir: Path, token: str) -> dict[str, str]:
    """`rapport run`'s environment: the benchmark's model, fresh databases, fixed secrets."""
    return {
        "RAPPORT_HOME": str(PROJECT),
        "RAPPORT_VAR_DIR": str(var_dir),
        "RAPPORT_TRACKER_DB": str(db_dir / "tracker.db"),
        "RAPPORT_EVENTS_DB": str(db_dir / "events.db"),
        "RAPPORT_CRM_URL": f"sqlite:///{db_dir / 'crm.db'}",
        "RAPPORT_HUB_DB_URL": f"sqlite:///{db_dir / 'hub.db'}",
        "RAPPORT_TELEGRAM_DB_URL": f"sqlite:///{db_dir / 'telegram.db'}",
        "RAPPORT_REST_TOKENS": f"{REST_INTEGRATION}={token}",
        # Fixed per run, so a second Rasa process of the same stack can use them too.
        "RAPPORT_RASA_JWT_SECRET": secrets.token_urlsafe(32),
        "RAPPORT_ACTIONS_SECRET": secrets.token_urlsafe(32),
        "RAPPORT_VERIFICATION_SECRET": secrets.token_urlsafe(32),
        "RAPPORT_FLOOD_BURST": "1000000",
        "RAPPORT_FLOOD_PER_MINUTE": "1000000",
    }


def warm_up(target: client.Target, steps: Sequence[client.Step], run_id: str) -> None:
    """One play on each server, not counted (first turns load TensorFlow graphs)."""
    for url in target.base_urls:
        sender = f"{run_id}-warmup-{secrets.token_hex(3)}"
        for step in steps:
            try:
                post_json(f"{url}/webhooks/rest/webhook", {"sender": sender, "message": step.message},
                          target.headers)
            except (OSError, ValueError) as error:  # refused, HTTP error, not JSON
                raise BenchmarkError(f"{url} did not answer the warm-up message "
                                     f"{step.message!r}: {error}") from error


def load(target: client.Target, script: client.Script, warm: Sequence[client.Step],
         args: argparse.Namespace, run_id: str, label: str) -> dict[str, Any]:
    warm_up(target, warm, run_id)
    print(f"{label}: {args.customers} customers for {args.duration:.0f} s...", flush=True)
    measured = asyncio.run(client.closed_loop(target, script, args.customers, args.duration,
                                              f"{run_id}-{label}"))
    summary = measured.summary()
    print(f"  {summary['msg_per_s']} msg/s, p50 {summary['p50_ms']} ms, "
          f"p95 {summary['p95_ms']} ms, p99 {summary['p99_ms']} ms, errors {summary['errors']}, "
          f"unexpected replies {summary['unexpected_replies']}", flush=True)
    return summary


def growth(target: client.Target, step: client.Step, args: argparse.Namespace, run_id: str,
           label: str) -> dict[str, Any]:
    print(f"{label}: one conversation of {args.turns} turns of {step.message!r}...", flush=True)
    measured = asyncio.run(client.one_long_conversation(target, step, args.turns,
                                                        f"{run_id}-{label}-long"))
    result = {**client.turn_cost_growth(measured.latencies), "message": step.message,
              "errors": measured.errors, "unexpected_replies": measured.unexpected}
    print(f"  turns 1-10 {result['first_mean_ms']} ms, last 10 {result['last_mean_ms']} ms: "
          f"x{result['growth']}", flush=True)
    return result


def capacity(target: client.Target, script: client.Script, args: argparse.Namespace,
             run_id: str, label: str) -> dict[str, Any]:
    """Conversations held at once, a customer thinking `THINK_S` between messages, with p95
    within `CAPACITY_P95_MS`: N doubles from 1 until p95 exceeds it (so the answer is at
    least `held` and less than twice that)."""
    steps, held, customers = [], 0, 1
    while customers <= CAPACITY_MAX:
        print(f"{label} capacity: {customers} conversations, {THINK_S:.0f} s think time, "
              f"{args.capacity_step:.0f} s...", flush=True)
        measured = asyncio.run(client.closed_loop(target, script, customers, args.capacity_step,
                                                  f"{run_id}-{label}-cap{customers}", THINK_S))
        summary = measured.summary()
        steps.append({"conversations": customers, **summary})
        print(f"  p95 {summary['p95_ms']} ms, {summary['msg_per_s']} msg/s", flush=True)
        if summary["p95_ms"] is None or summary["p95_ms"] > CAPACITY_P95_MS or summary["errors"]:
            break
        held, customers = customers, customers * 2
    return {"held": held, "think_s": THINK_S, "p95_limit_ms": CAPACITY_P95_MS, "steps": steps}


def measure_stock(args: argparse.Namespace, run_id: str, logs: Path) -> dict[str, Any]:
    import rasa

    directory = BENCH_DIR / f"stock-rasa-{rasa.__version__}"
    model = prepare_stock_bot(directory)
    process, url, ready_s = start_stock_rasa(directory, model, logs / "stock-rasa.log")
    try:
        target = client.Target([url])
        result = {"model": model.name, "ready_s": round(ready_s, 1),
                  "load": load(target, client.stock_plays, client.STOCK_SCRIPT, args, run_id,
                               "stock"),
                  "turn_cost": growth(target, client.STOCK_FAQ, args, run_id, "stock")}
        if args.capacity:
            result["capacity"] = capacity(target, client.stock_plays, args, run_id, "stock")
        return result
    finally:
        process.stop()


def measure_rapport(args: argparse.Namespace, run_id: str, logs: Path,
                    db_dir: Path) -> dict[str, Any]:
    model = ensure_rapport_model(args.var_dir)
    token = secrets.token_urlsafe(24)
    env = rapport_env(args.var_dir, db_dir, token)
    starts = []
    for number in range(args.starts):
        stack = RapportRun(dict(env), logs / "rapport-run.log")
        print(f"Rapport: `rapport run` start {number + 1} of {args.starts}...", flush=True)
        stack.start()
        starts.append({"ready_s": round(stack.ready_s or 0, 1), "rss_mb": stack.rss_mb,
                       "services_rss_mb": sorted(stack.services_rss_mb.values()),
                       "trained_at_start": stack.trained_at_start})
        print(f"  running after {starts[-1]['ready_s']} s; `rapport run` itself "
              f"{stack.rss_mb} MB resident", flush=True)
        if number + 1 < args.starts:
            stack.stop()
    try:
        target = client.Target([stack.rasa_url], {"Authorization": f"Bearer {token}"})
        customers = demo_customers(stack.env["RAPPORT_CRM_URL"])
        plays = client.rapport_plays(customers)
        result = {"model": model.name, "starts": starts,
                "ready_s": round(sum(s["ready_s"] for s in starts) / len(starts), 1),
                "run_process_rss_mb": max(s["rss_mb"] or 0 for s in starts),
                "load": load(target, plays, client.rapport_script(customers[-1]), args, run_id,
                             "rapport"),
                "demo_customers": len(customers),
                "turn_cost": growth(target, client.RAPPORT_FAQ, args, run_id, "rapport")}
        if args.capacity:
            result["capacity"] = capacity(target, plays, args, run_id, "rapport")
        return result
    finally:
        stack.stop()


def machine() -> dict[str, Any]:
    import rasa

    return {"cores": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "rasa": rasa.__version__,
            "load_average_at_start": [round(value, 2) for value in os.getloadavg()]}


def run(args: argparse.Namespace) -> dict[str, Any]:
    run_id = f"load-{secrets.token_hex(3)}"
    if args.scale:
        scale.check_servers(args)  # before anything slow: fail at once when one is missing
    logs = BENCH_DIR / "logs" / run_id
    logs.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "command": " ".join([".venv/bin/python", "benchmarks/load.py",
                             *map(shlex.quote, args.argv)]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(), "customers": args.customers, "duration_s": args.duration,
        "turns": args.turns, "logs": str(logs.relative_to(PROJECT)),
    }
    started = time.monotonic()
    results["stock"] = measure_stock(args, run_id, logs)
    db_dir = Path(tempfile.mkdtemp(prefix="rapport-load-"))
    try:
        results["rapport"] = measure_rapport(args, run_id, logs, db_dir)
        if args.scale:
            try:
                results["scale"] = scale.measure(args, run_id, logs,
                                                 rapport_env(args.var_dir, db_dir, ""), load)
            except BenchmarkError as error:  # keep what was measured; the file says why not
                print(f"scale profile: not measured: {error}", flush=True)
                results["scale"] = {"error": str(error)}
    finally:
        shutil.rmtree(db_dir, ignore_errors=True)
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    results["machine"]["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    results["targets"] = TARGETS
    return {**headline(results), **results}


def headline(results: dict[str, Any]) -> dict[str, Any]:
    """The issue's keys, from what was measured (a part not measured leaves its key out)."""
    stock, rapport = results["stock"], results["rapport"]
    keys: dict[str, Any] = {}
    if stock["load"]["msg_per_s"] and rapport["load"]["msg_per_s"]:
        keys["ratio_vs_stock"] = round(rapport["load"]["msg_per_s"] / stock["load"]["msg_per_s"], 2)
    keys["p95_ms"] = rapport["load"]["p95_ms"]
    scale_part = results.get("scale")
    if scale_part and scale_part.get("two_worker_ratio") is not None:
        keys["two_worker_ratio"] = scale_part["two_worker_ratio"]
    keys["turn_cost_growth"] = rapport["turn_cost"]["growth"]
    keys["ready_s"] = rapport["ready_s"]
    keys["run_process_rss_mb"] = rapport["run_process_rss_mb"]
    keys["stock_turn_cost_growth"] = stock["turn_cost"]["growth"]
    if "capacity" in rapport and "capacity" in stock:
        keys["capacity_conversations"] = {"rapport": rapport["capacity"]["held"],
                                          "stock": stock["capacity"]["held"]}
    return keys


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=20, help="simulated customers at once")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load per system")
    parser.add_argument("--turns", type=int, default=300, help="turns of the turn-cost conversation")
    parser.add_argument("--starts", type=int, default=2, help="`rapport run` starts to time")
    parser.add_argument("--no-scale", dest="scale", action="store_false",
                        help="skip the scale-out profile (PostgreSQL, Redis, RabbitMQ)")
    parser.add_argument("--no-capacity", dest="capacity", action="store_false",
                        help="skip the capacity steps (3 s think time, p95 <= 300 ms)")
    parser.add_argument("--capacity-step", type=float, default=20.0,
                        help="seconds each capacity step runs")
    parser.add_argument("--var-dir", type=Path, default=BENCH_DIR / "rapport",
                        help="where the benchmark's Rapport model is trained and kept")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    scale.add_arguments(parser)
    args = parser.parse_args(argv)
    if (args.customers < 1 or args.duration <= 0 or args.turns < 20 or args.starts < 1
            or args.capacity_step <= 0):
        parser.error("--customers and --starts must be at least 1, --duration and "
                     "--capacity-step positive, --turns at least 20")
    args.argv = list(sys.argv[1:] if argv is None else argv)
    args.var_dir = args.var_dir.resolve()
    return args


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    try:
        results = run(args)
    except BenchmarkError as error:
        print(f"load benchmark: {error}", file=sys.stderr)
        return 2
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({key: value for key, value in results.items()
                      if key not in DETAIL_PARTS}, indent=2))
    print(f"written: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
