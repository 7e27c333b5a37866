"""The scale-out part of benchmarks/load.py: one Rasa process, then two, on the scale profile.

`RAPPORT_PROFILE=scale rapport run` on the machine's PostgreSQL (a database of the run's own),
Redis (the atomic lock store) and RabbitMQ (a queue of the run's own); the same load first on
its one Rasa process, then on it and a second `serve rasa` process sharing that state, the
client alternating between the two for every message. The database, the queue and the lock
keys are removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from benchmarks import load_client as client
from benchmarks.load_services import (
    BenchmarkError, RapportRun, demo_customers, listens, start_second_rasa,
)

EMBEDDED_STORES = ("RAPPORT_TRACKER_DB", "RAPPORT_EVENTS_DB", "RAPPORT_CRM_URL",
                   "RAPPORT_HUB_DB_URL", "RAPPORT_TELEGRAM_DB_URL")

LoadFn = Callable[..., dict]  # load.py's `load`


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432",
                        help="PostgreSQL server (no database: the run makes and drops its own)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/1")
    parser.add_argument("--rabbitmq-url", default="amqp://guest:guest@127.0.0.1:5672/")


def check_servers(args: argparse.Namespace) -> None:
    """Each server the scale profile needs listens, or a BenchmarkError says which does not."""
    for name, url, port in (("PostgreSQL", args.postgres_url, 5432),
                            ("Redis", args.redis_url, 6379),
                            ("RabbitMQ", args.rabbitmq_url, 5672)):
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or port
        if not listens(host, port):
            raise BenchmarkError(f"no {name} listening on {host}:{port}, which the scale-out "
                                 f"part needs (start it, or pass --no-scale to skip that part)")


@dataclass
class ScaleRun:
    """The environment of a scale-profile `rapport run` with a database and queue of its own."""

    env: dict[str, str]
    database: str
    queue: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def scale_run(args: argparse.Namespace, base_env: dict[str, str]) -> ScaleRun:
    suffix = secrets.token_hex(5)
    database = f"rapport_load_{suffix}"
    queue = f"rapport_load_{suffix}"
    token = secrets.token_urlsafe(24)
    env = {name: value for name, value in base_env.items() if name not in EMBEDDED_STORES}
    env.update({"RAPPORT_PROFILE": "scale",
                "RAPPORT_POSTGRES_URL": f"{args.postgres_url.rstrip('/')}/{database}",
                "RAPPORT_REDIS_URL": args.redis_url, "RAPPORT_RABBITMQ_URL": args.rabbitmq_url,
                "RAPPORT_RABBITMQ_QUEUE": queue,
                "RAPPORT_REST_TOKENS": f"bench={token}"})
    return ScaleRun(env, database, queue, token)


def measure(args: argparse.Namespace, run_id: str, logs: Path, base_env: dict[str, str],
            load: LoadFn) -> dict[str, Any]:
    run = scale_run(args, base_env)
    env, database, queue, headers = run.env, run.database, run.queue, run.headers
    stack = RapportRun(env, logs / "rapport-run-scale.log")
    second = None
    try:
        print("scale profile: `RAPPORT_PROFILE=scale rapport run`...", flush=True)
        stack.start()
        customers = demo_customers(env["RAPPORT_POSTGRES_URL"])
        plays, warm = client.rapport_plays(customers), client.rapport_script(customers[-1])
        one = load(client.Target([stack.rasa_url], headers), plays, warm, args, run_id,
                   "scale-one-rasa")
        print("scale profile: a second Rasa process...", flush=True)
        second, second_url = start_second_rasa(_service_env(stack.env),
                                               logs / "second-rasa.log")
        two = load(client.Target([stack.rasa_url, second_url], headers), plays, warm, args,
                   run_id, "scale-two-rasa")
    finally:
        if second:
            second.stop()
        stack.stop()
        remove_state(args, database, queue, run_id)
    ratio = (round(two["msg_per_s"] / one["msg_per_s"], 2)
             if one["msg_per_s"] and two["msg_per_s"] else None)
    return {"ready_s": round(stack.ready_s or 0, 1), "one_rasa": one, "two_rasa": two,
            "two_worker_ratio": ratio}


def _service_env(stack_env: dict[str, str]) -> dict[str, str]:
    """What `rapport run` hands its services (endpoint variables included)."""
    from bot.settings import Settings

    return Settings.from_env(stack_env).child_env()


def remove_state(args: argparse.Namespace, database: str, queue: str, run_id: str) -> None:
    """Drop the run's database, delete its queue and its conversations' lock keys."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    engine = create_engine(f"{args.postgres_url.rstrip('/')}/postgres",
                           isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            # An identifier cannot be a bound parameter; this one is made here, hex only.
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    except SQLAlchemyError as error:
        print(f"  could not drop the database {database}: {error}", flush=True)
    finally:
        engine.dispose()
    _delete_queue(args.rabbitmq_url, queue)
    _delete_lock_keys(args.redis_url, run_id)


def _delete_queue(url: str, queue: str) -> None:
    import aio_pika
    from aio_pika.exceptions import AMQPError

    async def delete() -> None:
        connection = await aio_pika.connect_robust(url)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(queue)

    try:
        asyncio.run(delete())
    except (AMQPError, OSError) as error:
        print(f"  could not delete the RabbitMQ queue {queue}: {error}", flush=True)


def _delete_lock_keys(url: str, run_id: str) -> None:
    import redis

    connection = redis.Redis.from_url(url)
    try:
        keys = list(connection.scan_iter(match=f"rapport:lock:{{rest-bench-{run_id}*"))
        for start in range(0, len(keys), 500):
            connection.delete(*keys[start:start + 500])
    except redis.RedisError as error:
        print(f"  could not delete the lock keys: {error}", flush=True)
    finally:
        connection.close()
