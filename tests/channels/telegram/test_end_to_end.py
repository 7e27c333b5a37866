"""The real bot over Telegram: `rapport run` with the fake Bot API, real Update JSON posted to
the real webhook, the same conversations over REST, and the same answers on both.

Rasa picks among a response's variations at random, so two conversations are compared by
the response each answer came from (from Rasa's tracker) and, where a response has a single
variation, by its exact text (case numbers aside); the Telegram texts must be exactly what
Rasa said in that conversation, buttons included.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from tests.channels.telegram.conftest import SECRET, settle_database
from tests.channels.telegram.fake_bot_api import TOKEN, FakeBotApi
from tests.channels.telegram.updates import callback_update, text_update
from tests.support.stack import (
    PROJECT, Stack, http, rasa_api_headers, rest_conversation, stack_env,
)

pytestmark = pytest.mark.integration

RESPONSES: dict[str, list] = yaml.safe_load((PROJECT / "domain.yml").read_text())["responses"]
_update_ids = iter(range(10_000, 99_999))


@pytest.fixture(scope="module")
def stack(trained_model: Path, fake_api: FakeBotApi,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    db_dir = tmp_path_factory.mktemp("telegram-stack")
    env = stack_env(trained_model, db_dir, RAPPORT_TELEGRAM_TOKEN=TOKEN,
                    RAPPORT_TELEGRAM_WEBHOOK_SECRET=SECRET,
                    RAPPORT_TELEGRAM_API_URL=fake_api.base_url)
    with Stack(env, log_path=db_dir / "rapport-run.log") as stack:
        yield stack


class Conversation:
    """The same customer messages over Telegram (chat `chat_id`) and over REST."""

    def __init__(self, stack: Stack, fake: FakeBotApi, chat_id: int) -> None:
        self.stack, self.fake, self.chat_id = stack, fake, chat_id
        self.rest_sender = f"rest-twin-{chat_id}"
        self.telegram_turns: list[list[Any]] = []

    def say(self, text: str, *, button: bool = False) -> list[str]:
        """One turn on both channels; the Telegram texts of this turn."""
        expected = len(self.stack.say(self.rest_sender, text))
        update_id = next(_update_ids)
        update = (callback_update(update_id, self.chat_id, text) if button
                  else text_update(update_id, self.chat_id, text))
        before = len(self.fake.messages(str(self.chat_id)))
        status, _ = http("POST", f"{self.stack.rasa_url}/webhooks/telegram/webhook", update,
                         headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}, timeout=5)
        assert status == 200
        settle_database(self.stack.env["RAPPORT_TELEGRAM_DB_URL"], timeout=60)
        turn = self.fake.messages(str(self.chat_id))[before:]
        assert len(turn) == expected, (text, [call.params.get("text") for call in turn])
        self.telegram_turns.append(turn)
        return [call.params.get("text", "") for call in turn]

    def assert_same_answers_as_rest(self) -> None:
        rest = bot_turns(self.stack, rest_conversation(self.rest_sender))  # conversation ids are
        telegram = bot_turns(self.stack, f"tg-{self.chat_id}")  # namespaced per channel
        assert len(rest) == len(telegram) == len(self.telegram_turns)
        for rest_turn, telegram_turn, delivered in zip(rest, telegram, self.telegram_turns):
            assert [e["metadata"].get("utter_action") for e in telegram_turn] == [
                e["metadata"].get("utter_action") for e in rest_turn]
            for rest_event, telegram_event, call in zip(rest_turn, telegram_turn, delivered):
                assert call.params["text"] == telegram_event["text"]  # what Rasa said, exactly
                assert keyboard_titles(call.params) == [
                    button["title"] for button in telegram_event["data"].get("buttons") or []]
                response = telegram_event["metadata"].get("utter_action")
                if len(RESPONSES.get(response, [])) <= 1:
                    assert comparable(telegram_event["text"]) == comparable(rest_event["text"])


def bot_turns(stack: Stack, sender: str) -> list[list[dict]]:
    """The bot's utterances after each user message, from Rasa's tracker."""
    status, tracker = http("GET", f"{stack.rasa_url}/conversations/{sender}/tracker",
                           headers=rasa_api_headers())
    assert status == 200, tracker
    turns: list[list[dict]] = []
    for event in tracker["events"]:
        if event["event"] == "user":
            turns.append([])
        elif event["event"] == "bot" and turns:
            turns[-1].append(event)
    return turns


def keyboard_titles(params: dict) -> list[str]:
    rows = (params.get("reply_markup") or {}).get("inline_keyboard") or []
    return [key["text"] for row in rows for key in row]


def comparable(text: str) -> str:
    return re.sub(r"\bCS-[0-9a-f]+\b", "CS-…", text)


def test_start_greets_and_a_deep_link_starts_the_order_question(stack: Stack,
                                                                fake: FakeBotApi) -> None:
    chat = 880001
    post = lambda update: http("POST", f"{stack.rasa_url}/webhooks/telegram/webhook",  # noqa: E731
                               update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert post(text_update(next(_update_ids), chat, "/start"))[0] == 200
    settle_database(stack.env["RAPPORT_TELEGRAM_DB_URL"], timeout=60)
    assert len(fake.texts(str(chat))) == 1 and "Ollie" in fake.texts(str(chat))[0]

    assert post(text_update(next(_update_ids), chat + 1, "/start order-RP-100001"))[0] == 200
    settle_database(stack.env["RAPPORT_TELEGRAM_DB_URL"], timeout=60)
    assert "e-mail" in " ".join(fake.texts(str(chat + 1)))  # it has the number; asks who you are


def test_a_greeting_and_an_order_status_as_over_rest(stack: Stack, fake: FakeBotApi) -> None:
    talk = Conversation(stack, fake, 880101)

    assert "Ollie" in talk.say("hi")[0]
    assert "order number" in " ".join(talk.say("where is my order"))
    assert "e-mail" in " ".join(talk.say("RP-100001"))
    answer = " ".join(talk.say("ada@example.com"))

    assert "Ada" in answer and "RP-100001" in answer and "DPD" in answer
    talk.assert_same_answers_as_rest()


def test_a_damaged_item_complaint_and_a_button_accepting_the_remedy(stack: Stack,
                                                                   fake: FakeBotApi) -> None:
    talk = Conversation(stack, fake, 880201)

    talk.say("my saucepan set arrived damaged")
    talk.say("RP-100003")
    offer = talk.say("ada@example.com")
    keys = talk.telegram_turns[-1][-1].params["reply_markup"]["inline_keyboard"]
    accept = next(key for row in keys for key in row if key["text"].startswith("Yes"))
    done = talk.say(accept["callback_data"], button=True)

    assert "sorry" in " ".join(offer).lower() and "replacement" in offer[-1]
    assert "case CS-" in done[0]
    assert fake.calls_of("answerCallbackQuery")  # the button's spinner was stopped
    talk.assert_same_answers_as_rest()


def test_no_log_holds_the_token_or_the_webhook_secret(stack: Stack, fake: FakeBotApi) -> None:
    """After the exchanges above (httpx logs every Bot API URL, which holds the token)."""
    talk = Conversation(stack, fake, 880301)
    talk.say("hi")
    logs = {path: path.read_text(errors="replace") for path in
            [stack.log_path, *(Path(stack.env["RAPPORT_VAR_DIR"]) / "logs").glob("*.log")]}

    assert any("HTTP Request: POST" in text for text in logs.values())  # the URLs are logged
    for path, text in logs.items():
        assert TOKEN not in text, path
        assert SECRET not in text, path
