"""The token buckets behind the flood limit (issue 10, finding 9), on a scripted clock."""

from __future__ import annotations

from channels.rate_limit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_then_the_sender_waits_for_the_refill():
    clock = Clock()
    limiter = RateLimiter(per_minute=6, burst=3, clock=clock)  # one token per 10 s

    assert [limiter.take("a").allowed for _ in range(3)] == [True, True, True]
    refused = limiter.take("a")
    assert (refused.allowed, refused.first_refusal, refused.retry_after) == (False, True, 10)
    assert limiter.take("a").first_refusal is False  # said once, then quiet
    assert limiter.take("b").allowed  # another conversation has its own bucket

    clock.now += 10
    assert limiter.take("a").allowed
    assert not limiter.take("a").allowed


def test_a_thousand_messages_a_second_get_a_burst_and_the_rate_through():
    clock = Clock()
    limiter = RateLimiter(per_minute=20, burst=8, clock=clock)
    allowed = 0
    for _ in range(10):  # ten seconds of 1,000 messages a second
        for _ in range(1000):
            allowed += limiter.take("flood").allowed
            clock.now += 0.001
    assert allowed == 8 + 3  # the burst, then 20 a minute for ten seconds


def test_the_number_of_buckets_is_bounded():
    limiter = RateLimiter(per_minute=1, burst=1, clock=Clock(), max_keys=100)
    for n in range(1000):
        limiter.take(f"sender-{n}")
    assert len(limiter._buckets) == 100
