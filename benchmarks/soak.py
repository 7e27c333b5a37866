"""A soak of the scale-out profile: many conversations at once for minutes (issue 12, "Faults").

`RAPPORT_PROFILE=scale rapport run` on the machine's PostgreSQL, Redis and RabbitMQ (a
database and a queue of the run's own, removed afterwards), the shipped bot's model as
benchmarks/load.py trains it. N simulated customers talk at once over REST for D seconds,
each playing load.py's scripts (greeting, order status with verification, a complaint and
its remedy, an FAQ) with a think time between messages (default 30 s: a person reading and
typing), a new conversation per play.

What it reports (benchmarks/results/soak.json):
- errors (no HTTP 200 with a JSON list, timeouts included) and replies without the script's
  expected words;
- turns lost or duplicated: for every conversation, the customer messages Rasa's tracker
  store holds and those the hub's exchange log holds must equal the messages answered;
- resident memory of `rapport run` and each service at the start (after a warm-up) and at the
  end, and sampled on the way, to show whether it stays flat;
- msg/s and latency percentiles.

    .venv/bin/python benchmarks/soak.py                    # 200 conversations, 10 minutes
    .venv/bin/python benchmarks/soak.py --customers 20 --duration 60 --output /tmp/soak.json
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import secrets
import shlex
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

PROJECT = Path(__file__).resolve().parents[1]
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import aiohttp  # noqa: E402

from benchmarks import load_client as client  # noqa: E402
from benchmarks import load_scale as scale  # noqa: E402
from benchmarks.load import (  # noqa: E402
    BENCH_DIR, REST_INTEGRATION, ensure_rapport_model, machine, rapport_env, warm_up,
)
from benchmarks.load_services import (  # noqa: E402
    BenchmarkError, RapportRun, children_of, demo_customers, rss_mb,
)

DEFAULT_OUTPUT = PROJECT / "benchmarks" / "results" / "soak.json"
SAMPLE_EVERY_S = 30.0
CATCH_UP_S = 180.0  # the exchange log may trail the answers; longer is a loss


def memory(stack: RapportRun) -> dict[str, Any]:
    """Resident MB of `rapport run` and of each service (by its command line)."""
    found = {"rapport run": rss_mb(stack.process.pid)}
    for child in children_of(stack.process.pid):
        try:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        named = b"serve" in argv[:-1]  # `serve NAME [--supervised-by PID]`
        name = argv[argv.index(b"serve") + 1].decode() if named else str(child)
        found[name] = rss_mb(child)
    return found


async def customer(session: aiohttp.ClientSession, target: client.Target,
                   script: client.Script, plays: Any, name: str, deadline: float,
                   think_s: float, measurement: client.Measurement,
                   answered: Counter) -> None:
    await asyncio.sleep(random.uniform(0, think_s))  # customers start apart, as people do
    for play in itertools.count():
        sender = f"{name}-{play}"
        for step in script(next(plays)):
            if time.monotonic() >= deadline:
                return
            errors = measurement.errors  # this customer's own: no other send counts here
            await client.send(session, target, sender, step, measurement)
            if measurement.errors == errors:
                answered[f"rest-{REST_INTEGRATION}-{sender}"] += 1  # Rasa's conversation id
            await asyncio.sleep(think_s)


async def soak(target: client.Target, script: client.Script, args: argparse.Namespace,
               run_id: str, stack: RapportRun) -> tuple[client.Measurement, Counter, list]:
    # one Measurement per customer: a shared error count would make a send that succeeded
    # while another customer's failed look failed (hundreds are in flight at once)
    measurements = [client.Measurement() for _ in range(args.customers)]
    answered: Counter = Counter()
    samples: list = []
    plays = itertools.count()
    timeout = aiohttp.ClientTimeout(total=client.REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                     timeout=timeout) as session:
        started = time.monotonic()
        deadline = started + args.duration

        async def sample() -> None:
            while time.monotonic() < deadline:
                await asyncio.sleep(SAMPLE_EVERY_S)
                samples.append({"at_s": round(time.monotonic() - started),
                                "rss_mb": memory(stack),
                                "messages": sum(len(m.latencies) for m in measurements)})

        sampler = asyncio.create_task(sample())
        await asyncio.gather(*(
            customer(session, target, script, plays, f"{run_id}-c{number}", deadline,
                     args.think, measurements[number], answered)
            for number in range(args.customers)))
        sampler.cancel()
    measurement = client.Measurement(wall_s=time.monotonic() - started)
    for mine in measurements:
        measurement.latencies += mine.latencies
        measurement.errors += mine.errors
        measurement.unexpected += mine.unexpected
        for problem in mine.first_problems:
            measurement.note(problem)
    return measurement, answered, samples


def stored_turns(postgres_url: str, run_id: str) -> tuple[Counter, Counter]:
    """Customer messages per conversation in the tracker store and in the exchange log."""
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres_url)
    pattern = f"rest-{REST_INTEGRATION}-{run_id}-c%"  # the customers, not the warm-up
    try:
        with engine.connect() as connection:
            tracked = Counter(dict(connection.execute(text(
                "SELECT sender_id, COUNT(*) FROM events WHERE type_name = 'user' "
                "AND sender_id LIKE :pattern GROUP BY sender_id"), {"pattern": pattern}).all()))
            logged = Counter(dict(connection.execute(text(
                "SELECT conversation_id, COUNT(*) FROM insight_turns WHERE role = 'customer' "
                "AND conversation_id LIKE :pattern GROUP BY conversation_id"),
                {"pattern": pattern}).all()))
    finally:
        engine.dispose()
    return tracked, logged


def differences(expected: Counter, found: Counter) -> dict[str, int]:
    lost = sum(max(0, expected[key] - found[key]) for key in expected)
    extra = sum(max(0, found[key] - expected[key]) for key in found)
    return {"lost": lost, "duplicated": extra}


def run(args: argparse.Namespace) -> dict[str, Any]:
    scale.check_servers(args)
    run_id = f"soak-{secrets.token_hex(3)}"
    logs = BENCH_DIR / "logs" / run_id
    logs.mkdir(parents=True, exist_ok=True)
    ensure_rapport_model(args.var_dir)
    db_dir = Path(tempfile.mkdtemp(prefix="rapport-soak-"))
    setup = scale.scale_run(args, rapport_env(args.var_dir, db_dir, ""))
    stack = RapportRun(setup.env, logs / "rapport-run-scale.log")
    results: dict[str, Any] = {
        "command": " ".join([".venv/bin/python", "benchmarks/soak.py",
                             *map(shlex.quote, args.argv)]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(), "customers": args.customers, "duration_s": args.duration,
        "think_s": args.think, "logs": str(logs.relative_to(PROJECT)),
    }
    try:
        print("soak: `RAPPORT_PROFILE=scale rapport run`...", flush=True)
        stack.start()
        target = client.Target([stack.rasa_url], setup.headers)
        customers = demo_customers(setup.env["RAPPORT_POSTGRES_URL"])
        warm_up(target, client.rapport_script(customers[-1]), f"{run_id}-warm")
        results["rss_mb_start"] = memory(stack)
        print(f"soak: {args.customers} conversations at once for {args.duration:.0f} s "
              f"({args.think:g} s think time)...", flush=True)
        measurement, answered, samples = asyncio.run(
            soak(target, client.rapport_plays(customers), args, run_id, stack))
        results["rss_mb_end"] = memory(stack)
        results["rss_samples"] = samples
        results["load"] = measurement.summary()
        print(f"  {results['load']}", flush=True)
        deadline = time.monotonic() + CATCH_UP_S
        while True:  # the exchange log catches up within seconds; a loss never does
            tracked, logged = stored_turns(setup.env["RAPPORT_POSTGRES_URL"], run_id)
            if differences(answered, logged)["lost"] == 0 or time.monotonic() > deadline:
                break
            time.sleep(2)
        results["conversations"] = len(answered)
        results["turns_answered"] = sum(answered.values())
        results["tracker_store"] = differences(answered, tracked)
        results["exchange_log"] = differences(answered, logged)
    finally:
        stack.stop()
        scale.remove_state(args, setup.database, setup.queue, run_id)
    results["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    return results


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=200, help="conversations at once")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of soak")
    parser.add_argument("--think", type=float, default=30.0,
                        help="seconds a customer waits between a reply and the next message")
    parser.add_argument("--var-dir", type=Path, default=BENCH_DIR / "rapport",
                        help="where the benchmark's Rapport model is trained and kept")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    scale.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.customers < 1 or args.duration <= 0 or args.think < 0:
        parser.error("--customers at least 1, --duration positive, --think not negative")
    args.argv = list(sys.argv[1:] if argv is None else argv)
    args.var_dir = args.var_dir.resolve()
    return args


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    try:
        results = run(args)
    except BenchmarkError as error:
        print(f"soak: {error}", file=sys.stderr)
        return 2
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({key: results[key] for key in (
        "conversations", "turns_answered", "tracker_store", "exchange_log", "rss_mb_start",
        "rss_mb_end", "load") if key in results}, indent=2))
    print(f"written: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
