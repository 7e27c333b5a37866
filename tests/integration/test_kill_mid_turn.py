"""kill -9 of the whole real stack in the middle of a turn, over Telegram and the web chat.

`rapport run` (supervisor, Rasa, action server, hub) is killed with SIGKILL while two
customers' complaint turns are at the worst point: the action server has opened the CRM case,
made the offer and written the timeline, and its answer is on the way back to Rasa (a relay
holds it), so Rasa never saved the turn. After a restart the turns run again — Telegram's
stored update by itself, the web chat's message when the widget retries it — and each
customer gets one answer, Rasa's tracker holds one user event with that message id, and the
CRM holds one case with one offer.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from channels.webchat.store import hash_token, sender_id_for
from tests.channels.telegram.conftest import SECRET, settle_database
from tests.channels.telegram.fake_bot_api import TOKEN, FakeBotApi
from tests.channels.telegram.updates import text_update
from tests.support.stack import Stack, http, stack_env
from tests.support.tcp_proxy import BackgroundProxy

pytestmark = pytest.mark.integration

CHAT = 771001
WAIT_S = 120  # a hang guard: the turns themselves take seconds
COMPLAINT_ANSWER = b'"case_id"'  # in the action server's answer that opened a case
TELEGRAM_COMPLAINT = "my saucepans from RP-100003 arrived damaged, the lid is bent"
WEB_COMPLAINT = "the bookshelf from RP-100006 arrived damaged, one shelf is cracked"


class WebChat:
    """A web chat widget's requests: one session, messages with client ids."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        status, body = http("POST", f"{self.url}/session", {})
        assert status == 201, body
        self.token = body["token"]
        self.sender = sender_id_for(hash_token(self.token))  # Rasa's conversation id

    @property
    def url(self) -> str:
        return f"{self.stack.rasa_url}/webhooks/webchat"

    def send(self, text: str, client_id: str, timeout: float = 60) -> tuple[int, Any]:
        return http("POST", f"{self.url}/message", {"message": text, "client_id": client_id},
                    headers={"Authorization": f"Bearer {self.token}"}, timeout=timeout)

    def say(self, text: str, client_id: str) -> list[str]:
        status, body = self.send(text, client_id)
        assert status == 200, body
        return [m.get("text", "") for m in body["messages"] if m["role"] == "bot"]

    def history(self) -> list[dict]:
        status, body = http("GET", f"{self.url}/history",
                            headers={"Authorization": f"Bearer {self.token}"})
        assert status == 200, body
        return body["messages"]


class Telegram:
    def __init__(self, stack: Stack, fake: FakeBotApi) -> None:
        self.stack, self.fake, self.update_id = stack, fake, 50_000

    def post(self, text: str) -> int:
        self.update_id += 1
        status, _ = http("POST", f"{self.stack.rasa_url}/webhooks/telegram/webhook",
                         text_update(self.update_id, CHAT, text),
                         headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}, timeout=10)
        assert status == 200
        return self.update_id

    def say(self, text: str) -> list[str]:
        before = len(self.fake.texts(str(CHAT)))
        self.post(text)
        settle_database(self.stack.env["RAPPORT_TELEGRAM_DB_URL"], timeout=WAIT_S)
        return self.fake.texts(str(CHAT))[before:]


def crm_rows(stack: Stack, sql: str, *values: Any) -> list[tuple]:
    with sqlite3.connect(stack.env["RAPPORT_CRM_URL"].removeprefix("sqlite:///")) as db:
        return db.execute(sql, values).fetchall()


def cases_of(stack: Stack, order: str) -> list[str]:
    return [row[0] for row in crm_rows(stack, "SELECT id FROM cases WHERE order_number = ?",
                                       order)]


def user_events(stack: Stack, sender: str) -> list[dict]:
    """Rasa's stored user events of a conversation, read from the tracker database."""
    with sqlite3.connect(stack.env["RAPPORT_TRACKER_DB"]) as db:
        rows = db.execute("SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' "
                          "ORDER BY id", (sender,)).fetchall()
    return [json.loads(data) for (data,) in rows]


def bot_events_after(stack: Stack, sender: str, message_id: str) -> list[dict]:
    """The bot events Rasa stored after the user event `message_id`, up to the next one."""
    with sqlite3.connect(stack.env["RAPPORT_TRACKER_DB"]) as db:
        rows = db.execute("SELECT type_name, data FROM events WHERE sender_id = ? "
                          "AND type_name IN ('user', 'bot') ORDER BY id", (sender,)).fetchall()
    found, inside = [], False
    for type_name, data in rows:
        event = json.loads(data)
        if type_name == "user":
            inside = event.get("message_id") == message_id
        elif inside:
            found.append(event)
    return found


def texts(events: list[dict]) -> list[str]:
    return [event.get("text") or "" for event in events]


def apologised(events: list[dict]) -> bool:
    """The answer is the complaint's apology (the response's wording varies)."""
    return any(str((event.get("metadata") or {}).get("utter_action", "")).startswith(
        "utter_apology_") for event in events)


def wait_for(condition, what: str, stack: Stack) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"{what}:\n{stack.log()[-4000:]}"
        time.sleep(0.05)


def test_a_stack_killed_mid_turn_answers_each_message_once(trained_model: Path,
                                                          tmp_path: Path) -> None:
    fake = FakeBotApi().start()
    stack = None
    try:
        env = stack_env(trained_model, tmp_path, RAPPORT_TELEGRAM_TOKEN=TOKEN,
                        RAPPORT_TELEGRAM_WEBHOOK_SECRET=SECRET,
                        RAPPORT_TELEGRAM_API_URL=fake.base_url,
                        RAPPORT_ACTION_TIMEOUT_S="120")  # the held answer must not time out
        with BackgroundProxy("127.0.0.1", int(env["RAPPORT_ACTIONS_PORT"])) as relay:
            env["RAPPORT_ACTIONS_URL"] = f"http://127.0.0.1:{relay.port}"
            stack = Stack(env, log_path=tmp_path / "rapport-run.log")
            stack.start()
            relay.retarget(int(stack.env["RAPPORT_ACTIONS_PORT"]))
            telegram, web = Telegram(stack, fake), WebChat(stack)

            # Two verified customers, one on each channel.
            telegram.say("where is my order?")
            telegram.say("RP-100001")
            assert any("Ada" in text for text in telegram.say("ada@example.com"))
            web.say("where is my order?", "w1")
            web.say("RP-100006", "w2")
            assert any("Katherine" in text for text in web.say("katherine@example.org", "w3"))
            assert cases_of(stack, "RP-100003") == cases_of(stack, "RP-100006") == []

            # Both complain; the action server opens both cases and answers, and the relay
            # holds both answers back from Rasa.
            relay.hold_answers_with(COMPLAINT_ANSWER)
            answered_before = len(fake.texts(str(CHAT)))
            update_id = telegram.post(TELEGRAM_COMPLAINT)
            web_sent = threading.Thread(target=web.send, args=(WEB_COMPLAINT, "w4", WAIT_S),
                                        daemon=True)
            web_sent.start()
            wait_for(lambda: relay.held == 2, "both complaint answers reached the relay", stack)
            assert len(cases_of(stack, "RP-100003")) == len(cases_of(stack, "RP-100006")) == 1

            stack.crash()  # kill -9 of every process, mid-turn
            relay.release_answers()
            web_sent.join(30)
            texts_before = fake.texts(str(CHAT))
            assert len(texts_before) == answered_before, texts_before  # the complaint: no answer

            stack.start()
            relay.retarget(int(stack.env["RAPPORT_ACTIONS_PORT"]))
            # Telegram: the stored update runs again by itself.
            settle_database(stack.env["RAPPORT_TELEGRAM_DB_URL"], timeout=WAIT_S)
            # The web chat: the widget retries the message that got no answer.
            status, body = web.send(WEB_COMPLAINT, "w4")
            assert status == 200, body

            telegram_answer = fake.texts(str(CHAT))[len(texts_before):]
            telegram_id = f"telegram-{update_id}"
            history = web.history()
            complaint = [m for m in history if m["role"] == "customer"
                         and m["text"] == WEB_COMPLAINT]
            assert len(complaint) == 1, history
            web_id = f"webchat-{complaint[0]['id']}"
            web_answer = [m["text"] for m in history
                          if m["id"] > complaint[0]["id"] and m["role"] == "bot"]

            # One user event with each message id...
            for sender, message_id in ((f"tg-{CHAT}", telegram_id), (web.sender, web_id)):
                assert [e.get("message_id") for e in user_events(stack, sender)].count(
                    message_id) == 1, (sender, message_id)
            # ...one answer, the one Rasa stored for it, delivered once...
            telegram_said = bot_events_after(stack, f"tg-{CHAT}", telegram_id)
            web_said = bot_events_after(stack, web.sender, web_id)
            assert telegram_answer == texts(telegram_said)
            assert web_answer == texts(web_said)
            assert apologised(telegram_said) and apologised(web_said), (telegram_said, web_said)
            # ...and one case each, with one offer.
            for order in ("RP-100003", "RP-100006"):
                cases = cases_of(stack, order)
                assert len(cases) == 1, (order, cases)
                offers = crm_rows(stack, "SELECT id FROM offers WHERE case_id = ?", cases[0])
                assert len(offers) <= 1, (order, offers)
            assert [m["text"] for m in body["messages"] if m["role"] == "bot"] == web_answer
    finally:
        if stack is not None:
            stack.stop()
        fake.stop()
