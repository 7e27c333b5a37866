"""Two real Rasa processes, one conversation: the atomic Redis lock store keeps turns apart.

The real stack (`rapport run`) plus a second Rasa server on another port share a PostgreSQL
tracker store (a fresh database) and `AtomicRedisLockStore`. Several clients of one customer
keep sending questions at once, each alternating between the two processes, so tickets are
issued by both processes all the time. Each message must get exactly its own answer, and the
shared tracker must read question, answer, question, answer: a turn that overlapped another
would interleave or lose events. Skips when PostgreSQL or Redis is not running here.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import aiohttp
import pytest
import redis
import yaml
from sqlalchemy.engine import Engine, make_url

from bot.hub.rasa_api import model_loader
from bot.ops.training import model_path_for
from bot.settings import Settings
from tests.support import PROJECT
from tests.support.postgres import create_pg_database, drop_pg_database, nothing_listens
from tests.support.service_process import serving
from tests.support.stack import (
    REST_AUTH, TEST_JWT_SECRET, Stack, free_port, http, rasa_api_headers, rest_conversation,
    stack_env, texts,
)

pytestmark = [pytest.mark.integration, pytest.mark.scaleout]

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
RASA_START_TIMEOUT = 300.0  # seconds for the second Rasa process to load the model
CLIENTS, ROUNDS = 6, 6  # clients sending at once, messages each (one after another)

# One training example per FAQ topic, and the response it must get.
QUESTIONS = {
    "how long does delivery take?": "utter_faq/delivery_times",
    "how much is shipping?": "utter_faq/delivery_costs",
    "how do I return something": "utter_faq/returns",
    "when will I get my refund": "utter_faq/refund_timing",
    "what payment methods do you accept": "utter_faq/payment_methods",
    "is there a warranty": "utter_faq/warranty",
    "what are your opening hours": "utter_faq/opening_hours",
    "how can I contact you": "utter_faq/contact",
    "how do I create an account": "utter_faq/account",
    "what data do you keep about me": "utter_faq/privacy",
}


@pytest.fixture(scope="module")
def answers() -> dict[str, str]:
    """Each question's one correct answer text."""
    responses = yaml.safe_load((PROJECT / "domain.yml").read_text())["responses"]
    return {question: responses[name][0]["text"] for question, name in QUESTIONS.items()}


@pytest.fixture(scope="module")
def lock_prefix() -> Iterator[str]:
    """A key prefix of this module's own in the machine's Redis, deleted afterwards."""
    if nothing_listens(REDIS_HOST, REDIS_PORT):
        pytest.skip(f"no Redis listening on {REDIS_HOST}:{REDIS_PORT}")
    prefix = f"rapport-test-{secrets.token_hex(6)}"
    yield prefix
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=1)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="module")
def tracker_db(pg_admin: Engine) -> Iterator[str]:
    url = create_pg_database(pg_admin, prefix="rapport_scaleout_test")
    yield url
    drop_pg_database(pg_admin, url)


@pytest.fixture(scope="module")
def endpoints_file(tmp_path_factory: pytest.TempPathFactory, tracker_db: str,
                   lock_prefix: str) -> Path:
    """endpoints.yml for the scale-out test: PostgreSQL tracker store, the atomic lock store."""
    database = make_url(tracker_db)
    password = f"\n  password: {database.password}" if database.password else ""
    path = tmp_path_factory.mktemp("scaleout-endpoints") / "endpoints.yml"
    # Written as text: Rasa expands ${...} only in plain (unquoted) scalars.
    path.write_text(f"""\
action_endpoint:
  url: "http://127.0.0.1:5055/webhook"
  headers:
    X-Rapport-Actions-Secret: ${{RAPPORT_ACTIONS_SECRET}}
tracker_store:
  type: SQL
  dialect: postgresql
  url: {database.host}
  port: {database.port or 5432}
  db: {database.database}
  username: {database.username}{password}
lock_store:
  type: bot.scaleout.lock_store.AtomicRedisLockStore
  host: {REDIS_HOST}
  port: {REDIS_PORT}
  key_prefix: {lock_prefix}
""")
    return path


@pytest.fixture(scope="module")
def stack(trained_model: Path, tmp_path_factory: pytest.TempPathFactory,
          endpoints_file: Path) -> Iterator[Stack]:
    db_dir = tmp_path_factory.mktemp("scaleout-stack")
    env = stack_env(trained_model, db_dir, RAPPORT_ENDPOINTS=str(endpoints_file),
                    RAPPORT_ACTIONS_SECRET=secrets.token_urlsafe(32),
                    RAPPORT_VERIFICATION_SECRET=secrets.token_urlsafe(32),
                    # One customer sends far faster than a person: no flood limit here.
                    RAPPORT_FLOOD_BURST="1000", RAPPORT_FLOOD_PER_MINUTE="6000")
    with Stack(env, log_path=db_dir / "rapport-run.log") as stack:
        yield stack


@pytest.fixture(scope="module")
def second_rasa(stack: Stack) -> Iterator[str]:
    """Another Rasa process of the same stack, on a port of its own; yields its URL."""
    port = free_port()
    env = {**stack.env, "RAPPORT_RASA_PORT": str(port)}
    model = model_path_for(Settings.from_env({**os.environ, **env}))
    url = f"http://127.0.0.1:{port}"
    with serving(["rasa", "--model", str(model)], env,
                 stack.log_path.with_name("second-rasa.log"), f"{url}/", RASA_START_TIMEOUT):
        yield url


def test_concurrent_messages_alternating_between_two_rasa_processes_take_turns(
        stack: Stack, second_rasa: str, answers: dict[str, str], lock_prefix: str) -> None:
    sender = f"scaleout-{secrets.token_hex(4)}"
    questions = list(answers)
    servers = [stack.rasa_url, second_rasa]
    everyone_ready = threading.Barrier(CLIENTS)

    def client(index: int) -> list[tuple[str, int, object]]:
        """One client's messages, in turn, alternating between the two Rasa processes."""
        everyone_ready.wait(timeout=60)
        results = []
        for turn in range(ROUNDS):
            question = questions[(index * ROUNDS + turn) % len(questions)]
            status, replies = http("POST", f"{servers[(index + turn) % 2]}/webhooks/rest/webhook",
                                   {"sender": sender, "message": question}, headers=REST_AUTH,
                                   timeout=120)
            results.append((question, status, replies))
        return results

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        results = [result for one in pool.map(client, range(CLIENTS)) for result in one]

    for question, status, replies in results:
        assert status == 200, (question, status, replies)
        assert texts(replies) == [answers[question]], question

    status, tracker = http("GET", f"{second_rasa}/conversations/"
                                  f"{rest_conversation(sender)}/tracker",
                           headers=rasa_api_headers())
    assert status == 200
    said = [(e["event"], e.get("text")) for e in tracker["events"] if e["event"] in ("user", "bot")]
    asked = [text for _, text in said[0::2]]
    assert [event for event, _ in said] == ["user", "bot"] * len(results), said
    assert sorted(asked) == sorted(question for question, _, _ in results)
    assert [text for _, text in said[1::2]] == [answers[question] for question in asked]

    lock_store = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=1)
    leftover = [key for key in lock_store.scan_iter(match=f"{lock_prefix}*")
                if not key.endswith(b":counter")]
    lock_store.close()
    assert leftover == []


def test_a_retrained_model_reaches_both_rasa_processes(stack: Stack, second_rasa: str,
                                                       answers: dict[str, str]) -> None:
    """The hub's model loader (RAPPORT_RASA_URLS) swaps the new model in on each process,
    and both answer with it."""
    current = model_path_for(Settings.from_env({**os.environ, **stack.env}))
    retrained = current.with_name(f"rapport-retrained-{secrets.token_hex(4)}.tar.gz")
    shutil.copyfile(current.resolve(), retrained)  # a new model file, as a retraining makes
    servers = [stack.rasa_url, second_rasa]

    async def load() -> None:
        async with aiohttp.ClientSession() as session:
            await model_loader(session, servers, TEST_JWT_SECRET)(retrained)

    asyncio.run(load())
    question = next(iter(answers))
    for server in servers:
        status, found = http("GET", f"{server}/status", headers=rasa_api_headers())
        assert status == 200 and Path(found["model_file"]).name == retrained.name, found
        status, replies = http("POST", f"{server}/webhooks/rest/webhook",
                               {"sender": f"after-reload-{secrets.token_hex(3)}",
                                "message": question}, headers=REST_AUTH, timeout=120)
        assert status == 200 and texts(replies) == [answers[question]], (server, replies)
