"""The load generator of benchmarks/load.py: scripted customers over REST, closed loop.

Each simulated customer plays its script (one new conversation per play) again and again
until the duration is up, one message after another, and every message's latency is kept.
A reply that lacks the text the script expects is counted (`unexpected`), not hidden: a
fast wrong answer is no throughput.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional, Sequence

import aiohttp

REQUEST_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Step:
    """One customer message and a piece of text the bot's reply must contain."""

    message: str
    expect: str = ""  # case-insensitive; "" accepts any non-empty reply


Script = Callable[[int], Sequence[Step]]  # play number -> the messages of that play


@dataclass(frozen=True)
class DemoCustomer:
    """A seeded CRM customer with a delivered order to ask about and complain about."""

    order: str
    email: str
    product: str


ADA = DemoCustomer("RP-100003", "ada@example.com", "saucepans")


def rapport_script(customer: DemoCustomer) -> tuple[Step, ...]:
    """Greeting, order status with verification, a complaint and its remedy, an FAQ.

    Each play is another customer: the policy rightly escalates a customer's third
    complaint in 90 days instead of offering a remedy again.
    """
    return (
        Step("hello", "ollie"),
        Step("where is my order?", "order number"),
        Step(customer.order, "e-mail"),
        Step(customer.email, customer.order),
        Step(f"my {customer.product} from {customer.order} arrived damaged", "sorry"),
        Step("yes please", "replacement is on its way"),
        Step("what payment methods do you accept", "paypal"),
    )


def rapport_plays(customers: Sequence[DemoCustomer]) -> Script:
    """Plays of `rapport_script`, one customer after another (the last kept for warm-ups)."""
    rotation = itertools.cycle(customers[:-1] or customers)
    return lambda _play: rapport_script(next(rotation))


RAPPORT_FAQ = Step("what payment methods do you accept", "paypal")

# Stock `rasa init` (moodbot), from its own data: greet, mood_unhappy, affirm, bot_challenge,
# goodbye.
STOCK_SCRIPT = (
    Step("hello", "how are you"),
    Step("I am sad", "did that help"),
    Step("yes", "great, carry on"),
    Step("are you a bot?", "i am a bot"),
    Step("bye", "bye"),
)
STOCK_FAQ = Step("are you a bot?", "i am a bot")  # its one rule-answered question


def stock_plays(_play: int) -> Sequence[Step]:
    return STOCK_SCRIPT


@dataclass
class Target:
    """Where a system's REST channel listens: one or more Rasa processes (round-robin)."""

    base_urls: Sequence[str]
    headers: dict[str, str] = field(default_factory=dict)
    _turn: itertools.count = field(default_factory=itertools.count, repr=False)

    def next_url(self) -> str:
        index = next(self._turn) % len(self.base_urls)
        return f"{self.base_urls[index]}/webhooks/rest/webhook"


@dataclass
class Measurement:
    """Latencies (seconds) of the messages sent, and what went wrong."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0  # no HTTP 200 with a JSON list (timeouts and refused connections too)
    unexpected: int = 0  # 200, but the reply lacked the script's expected text
    wall_s: float = 0.0
    first_problems: list[str] = field(default_factory=list)

    def note(self, problem: str) -> None:
        if len(self.first_problems) < 5:
            self.first_problems.append(problem)

    def summary(self) -> dict:
        count = len(self.latencies)
        return {
            "messages": count,
            "msg_per_s": round(count / self.wall_s, 2) if self.wall_s else None,
            "wall_s": round(self.wall_s, 2),
            "p50_ms": _ms(percentile(self.latencies, 50)),
            "p95_ms": _ms(percentile(self.latencies, 95)),
            "p99_ms": _ms(percentile(self.latencies, 99)),
            "mean_ms": _ms(sum(self.latencies) / count if count else None),
            "errors": self.errors,
            "unexpected_replies": self.unexpected,
            **({"first_problems": self.first_problems} if self.first_problems else {}),
        }


def percentile(values: Sequence[float], q: float) -> Optional[float]:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _ms(seconds: Optional[float]) -> Optional[float]:
    return None if seconds is None else round(seconds * 1000, 1)


async def send(session: aiohttp.ClientSession, target: Target, sender: str, step: Step,
               measurement: Measurement) -> float:
    """Send one message, record its latency and check the reply; returns the latency."""
    started = time.perf_counter()
    problem = None
    try:
        async with session.post(target.next_url(), json={"sender": sender, "message": step.message},
                                headers=target.headers) as response:
            body = await response.json(content_type=None) if response.status == 200 else None
            status = response.status
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
        body, status = None, f"{type(error).__name__}: {error}"
    latency = time.perf_counter() - started
    measurement.latencies.append(latency)
    if not isinstance(body, list):
        measurement.errors += 1
        problem = f"{step.message!r}: {status}"
    else:
        text = " ".join(str(reply.get("text", "")) for reply in body if isinstance(reply, dict))
        if not text.strip() or step.expect.lower() not in text.lower():
            measurement.unexpected += 1
            problem = f"{step.message!r} -> {text[:160]!r}"
    if problem:
        measurement.note(problem)
    return latency


async def _customer(session: aiohttp.ClientSession, target: Target, script: Script,
                    plays: Iterator[int], name: str, deadline: float, think_s: float,
                    measurement: Measurement) -> None:
    if think_s:  # customers who think start apart, as people do, not in lockstep
        await asyncio.sleep(random.uniform(0, think_s))
    for play in itertools.count():
        if time.monotonic() >= deadline:
            return
        sender = f"{name}-{play}"  # a new conversation for each play of the script
        for step in script(next(plays)):
            await send(session, target, sender, step, measurement)
            if think_s:
                await asyncio.sleep(think_s)
            if time.monotonic() >= deadline:
                return


async def closed_loop(target: Target, script: Script, customers: int, duration_s: float,
                      run_id: str, think_s: float = 0.0) -> Measurement:
    """`customers` at once, each playing `script(play number)` until `duration_s` is up."""
    measurement = Measurement()
    plays = itertools.count()  # numbered across all simulated customers
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.monotonic()
        deadline = started + duration_s
        await asyncio.gather(*(
            _customer(session, target, script, plays, f"{run_id}-c{number}", deadline,
                      think_s, measurement)
            for number in range(customers)))
        measurement.wall_s = time.monotonic() - started
    return measurement


async def one_long_conversation(target: Target, step: Step, turns: int,
                                sender: str) -> Measurement:
    """`turns` times the same message in one conversation, one after another."""
    measurement = Measurement()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)) as session:
        started = time.monotonic()
        for _ in range(turns):
            await send(session, target, sender, step, measurement)
        measurement.wall_s = time.monotonic() - started
    return measurement


def turn_cost_growth(latencies: Sequence[float], window: int = 10) -> dict:
    """Mean latency of the last `window` turns over that of the first `window`."""
    first, last = latencies[:window], latencies[-window:]
    first_ms, last_ms = sum(first) / len(first) * 1000, sum(last) / len(last) * 1000
    return {"turns": len(latencies), "first_mean_ms": round(first_ms, 1),
            "last_mean_ms": round(last_ms, 1), "growth": round(last_ms / first_ms, 2)}
