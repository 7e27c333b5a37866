"""Fault drills on the real stack in the scale-out profile, against the machine's real servers.

`rapport run` reaches PostgreSQL, Redis and RabbitMQ through TCP relays the test can cut: to
the stack, a cut relay is a server gone (connections dropped, new ones refused), while the
real servers, which other work shares, are never touched; `restore()` is the server back. The
test reads PostgreSQL directly, so it can look while the stack cannot.

What a customer must see in each drill: an answer, or an honest refusal, never silence or
a conversation that forgets itself; and afterwards nothing lost or counted twice: the tracker
store's events and the hub's exchange log agree.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.support.conversation_channels import Answer, ChannelConversation, open_rest, open_webchat
from tests.support.scale_stack import SERVERS, ScaleStack, scale_stack, skip_unless_servers_run
from tests.support.stack import Stack, http
from tests.support.tcp_proxy import BackgroundProxy

pytestmark = [pytest.mark.integration, pytest.mark.scaleout]

CATCH_UP_S = 90.0  # only turns a hang into a failure
RESTART_S = 300.0  # a restarted Rasa loads its model again
ORDER_QUESTION = "where is my order RP-100001"
DELIVERY_QUESTION = "how long does delivery take?"


@dataclass
class Drill:
    scale: ScaleStack
    proxies: dict[str, BackgroundProxy]  # by server name, as in SERVERS

    @property
    def stack(self) -> Stack:
        return self.scale.stack

    def user_events(self, conversation: ChannelConversation) -> int:
        """Customer messages Rasa's tracker store holds for the conversation."""
        return int(self.scale.scalar(
            "SELECT COUNT(*) FROM events WHERE sender_id = :id AND type_name = 'user'",
            id=conversation.conversation_id))

    def logged_turns(self, conversation: ChannelConversation) -> int:
        """Customer turns the hub's exchange log holds for the conversation."""
        return int(self.scale.scalar(
            "SELECT COUNT(*) FROM insight_turns WHERE conversation_id = :id "
            "AND role = 'customer'", id=conversation.conversation_id))

    def hub_health(self) -> tuple[int, object]:
        return http("GET", f"{self.stack.hub_url}/health", timeout=10)


@pytest.fixture(scope="module")
def drill(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drill]:
    skip_unless_servers_run()
    with contextlib.ExitStack() as started:
        proxies = {name: started.enter_context(BackgroundProxy(host, port))
                   for name, (host, port) in SERVERS.items()}
        scale = started.enter_context(scale_stack(
            trained_model, tmp_path_factory.mktemp("fault-drills"),
            postgres_port=proxies["PostgreSQL"].port, redis_port=proxies["Redis"].port,
            rabbitmq_port=proxies["RabbitMQ"].port))
        yield Drill(scale, proxies)


@contextlib.contextmanager
def down(drill: Drill, server: str) -> Iterator[None]:
    """`server` gone for the stack until the block ends, whatever happens in it."""
    drill.proxies[server].cut()
    try:
        yield
    finally:
        drill.proxies[server].restore()


def wait_until(check: Callable[[], bool], what: str, timeout: float = CATCH_UP_S) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} after {timeout:.0f} s")
        time.sleep(0.5)


def kill_service(stack: Stack, name: str) -> int:
    """kill -9 one service of the running stack; its pid."""
    pid = stack.service_pids().get(name)
    assert pid is not None, f"no {name} service running"
    os.kill(pid, signal.SIGKILL)
    return pid


def wait_restarted(stack: Stack, name: str, killed: int, ready_url: str) -> None:
    """The supervisor started `name` again (a new pid) and it answers `ready_url`."""
    def back() -> bool:
        pid = stack.service_pids().get(name)
        return pid not in (None, killed) and http_answers(ready_url)

    wait_until(back, f"{name} restarted and answering", timeout=RESTART_S)
    assert f"{name} stopped with exit code -9; restarting it" in stack.log()


def http_answers(url: str) -> bool:
    try:
        return http("GET", url, timeout=5)[0] == 200
    except OSError:  # refused: not listening (yet)
        return False


def answered(answer: Answer, *words: str) -> bool:
    shown = " ".join(reply.shown() for reply in answer.replies).lower()
    return answer.status == 200 and bool(answer.replies) and all(w in shown for w in words)


def test_redis_down_the_lock_store_fails_closed_and_the_customer_is_told(drill: Drill) -> None:
    rest, web = open_rest(drill.stack, "redis-drill"), open_webchat(drill.stack)
    assert answered(rest.say("hi")) and answered(web.say("hi"))

    with down(drill, "Redis"):
        refused = [rest.say(ORDER_QUESTION), web.say(ORDER_QUESTION)]

    # an honest refusal: the client is told to send it again, not an empty 200
    assert [answer.status for answer in refused] == [503, 503], refused
    assert all("try again" in answer.error for answer in refused), refused
    # fail closed: without its lock no turn ran, so nothing half-done waits in the tracker
    assert [drill.user_events(rest), drill.user_events(web)] == [1, 1]

    # Redis back: the same message works at once, and the conversation goes on where it was
    for conversation in (rest, web):
        again = conversation.say(ORDER_QUESTION)
        assert answered(again, "e-mail"), again
        assert drill.user_events(conversation) == 2


def test_rabbitmq_down_customers_are_answered_and_the_exchange_log_completes(
        drill: Drill) -> None:
    rest = open_rest(drill.stack, "rabbitmq-drill")
    assert answered(rest.say("hello"))

    with down(drill, "RabbitMQ"):
        during = [rest.say(DELIVERY_QUESTION), rest.say("and what are your opening hours"),
                  rest.say("thanks, bye")]

    assert all(answered(answer) for answer in during), during
    assert answered(during[0], "deliver")
    # what the broker could not carry, the hub takes from the tracker store; nothing twice
    wait_until(lambda: drill.logged_turns(rest) >= 4, "4 customer turns in the exchange log")
    assert drill.logged_turns(rest) == drill.user_events(rest) == 4


def test_postgresql_down_is_detected_and_told_and_afterwards_the_log_agrees(
        drill: Drill) -> None:
    rest = open_rest(drill.stack, "postgres-drill")
    assert answered(rest.say("hi"))

    with down(drill, "PostgreSQL"):
        refused = rest.say(DELIVERY_QUESTION)
        # the hub notices within its check interval, and says which store
        wait_until(lambda: drill.hub_health()[0] == 503, "hub health 503", timeout=60)
        status, health = drill.hub_health()

    assert refused.status == 503 and "try again" in refused.error, refused
    assert status == 503 and "tracker store" in health["down"], health
    hub_log = Path(drill.stack.env["RAPPORT_VAR_DIR"]) / "logs" / "hub.log"
    assert "tracker store" in hub_log.read_text(errors="replace")

    # back: health clears, the customer is answered, one user event per answered message
    wait_until(lambda: drill.hub_health()[0] == 200, "hub health 200 again", timeout=60)
    after = rest.say(DELIVERY_QUESTION)
    assert answered(after, "deliver"), after
    wait_until(lambda: drill.logged_turns(rest) >= 2, "2 customer turns in the exchange log")
    assert drill.logged_turns(rest) == drill.user_events(rest) == 2


def test_hub_down_customers_are_unaffected_and_its_log_catches_up(drill: Drill) -> None:
    rest = open_rest(drill.stack, "hub-drill")
    assert answered(rest.say("hello"))

    killed = kill_service(drill.stack, "hub")
    assert not http_answers(f"{drill.stack.hub_url}/health")  # gone, and customers...
    during = [rest.say(DELIVERY_QUESTION), rest.say("thanks, that's all")]
    assert all(answered(answer) for answer in during), during  # ...are answered all the same

    wait_restarted(drill.stack, "hub", killed, f"{drill.stack.hub_url}/health")
    # RabbitMQ kept what the hub could not take; the restarted hub records it, once
    wait_until(lambda: drill.logged_turns(rest) >= 3, "3 customer turns in the exchange log")
    assert drill.logged_turns(rest) == drill.user_events(rest) == 3


def test_action_server_down_the_customer_is_told_and_it_works_again_when_back(
        drill: Drill) -> None:
    rest = open_rest(drill.stack, "actions-drill")
    assert answered(rest.say("hi"))

    killed = kill_service(drill.stack, "actions")
    # the order needs a custom action: an apology and a way to a person, not silence
    told = rest.say(ORDER_QUESTION)
    assert answered(told, "something went wrong", "person"), told

    wait_restarted(drill.stack, "actions", killed, f"{drill.stack.actions_url}/health")
    again = rest.say(ORDER_QUESTION)
    assert answered(again, "e-mail"), again
    # the failed turn is marked in the exchange log, for the brand to find
    wait_until(lambda: drill.logged_turns(rest) >= 3, "3 customer turns in the exchange log")
    assert drill.scale.scalar(
        "SELECT COUNT(*) FROM insight_turns WHERE conversation_id = :id "
        "AND response = 'utter_service_trouble'", id=rest.conversation_id) == 1


def test_rasa_killed_mid_conversation_comes_back_and_the_conversation_goes_on(
        drill: Drill) -> None:
    rest = open_rest(drill.stack, "rasa-drill")
    assert answered(rest.say(ORDER_QUESTION), "e-mail")  # the order number is taken

    killed = kill_service(drill.stack, "rasa")
    wait_restarted(drill.stack, "rasa", killed, f"{drill.stack.rasa_url}/")

    # the new process reads the conversation from the tracker store: the contact completes
    # the verification begun before the restart
    verified = rest.say("ada@example.com")
    assert answered(verified, "verified"), verified
    assert drill.user_events(rest) == 2
    wait_until(lambda: drill.logged_turns(rest) >= 2, "2 customer turns in the exchange log")
    assert drill.logged_turns(rest) == 2
