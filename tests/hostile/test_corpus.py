"""The hostile input corpus (issue 10), over the channels' real servers.

Every entry of corpus.yaml goes to the REST webhook, web chat's /message and the Telegram
webhook, each served by the real channel in a real Sanic app on loopback, with a scripted
stand-in for Rasa's agent (echo) so the whole corpus runs in seconds. Each must get a clear
answer or a 4xx: never a 500, a crash, a hang, a stack trace or a tracker. Plus: HTML
customers type is escaped in the agent console, forged webhook secrets and replayed
Telegram updates, and a flood. (The deflate bomb to the action server is in
tests/bot/ops/test_action_server.py; a sample over the real stack in
tests/hostile/test_stack_sample.py.)
"""

from __future__ import annotations

import asyncio
import codecs
import itertools
import json
import time
from pathlib import Path
from typing import Any, Optional

import pytest
import yaml

from channels.http_body import MAX_REQUEST_BYTES
from channels.rate_limit import FLOOD_REPLY
from channels.telegram.turns import TOO_LONG
from tests.channels.telegram.conftest import SECRET, telegram_settings
from tests.channels.test_rest import APP_TOKEN
from tests.channels.webchat.conftest import SHOP
from tests.support.oversized import answer_before_body
from tests.channels.telegram.updates import callback_update, text_update

CORPUS = yaml.safe_load((Path(__file__).parent / "corpus.yaml").read_text(encoding="utf-8"))
LEAKS = ("Traceback", 'File "', "sanic.exceptions", "RecursionError", "UnicodeDecodeError",
         "\"events\"", "latest_message", "slots")
# Room for the whole corpus in one conversation limit, one address's sessions.
ROOMY = {"RAPPORT_FLOOD_BURST": "1000", "RAPPORT_WEBCHAT_SESSIONS_PER_HOUR": "1000"}
_chats = itertools.count(7000)


def materialise(spec: Any) -> Any:
    if isinstance(spec, dict) and "repeat" in spec:
        return spec.get("prefix", "") + spec["repeat"] * spec["times"] + spec.get("suffix", "")
    if isinstance(spec, dict) and "text" in spec:
        return spec["text"]
    return spec


def raw_body(entry: dict[str, Any]) -> bytes:
    if "nest" in entry:
        depth = entry["nest"]
        return b'{"sender": "a", "message": ' + b"[" * depth + b"]" * depth + b"}"
    if "pad" in entry:
        return b'{"sender": "a", "message": "' + b"x" * entry["pad"] + b'"}'
    return codecs.escape_decode(entry["raw"].encode("utf-8"))[0]


TEXTS = CORPUS["texts"]
FIELDS = CORPUS["fields"]
BODIES = CORPUS["bodies"]


def test_the_corpus_has_at_least_sixty_inputs():
    assert len(TEXTS) + len(FIELDS) + len(BODIES) >= 60
    names = [entry["name"] for entry in TEXTS + FIELDS + BODIES]
    assert len(names) == len(set(names))


def check_answer(name: str, status: int, body: Any, problems: list[str],
                 expect: Optional[int] = None) -> None:
    """A clear answer: 200 or a 4xx with a JSON error, nothing leaked."""
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    if expect is not None and status != expect:
        problems.append(f"{name}: {status} (expected {expect}) {text[:200]}")
    elif not (status == 200 or 400 <= status < 500):
        problems.append(f"{name}: {status} {text[:200]}")
    elif status >= 400 and not (isinstance(body, dict) and isinstance(body.get("error"), str)
                                and body["error"]):
        problems.append(f"{name}: {status} without a JSON error: {text[:200]}")
    leaked = [leak for leak in LEAKS if leak in text]
    if leaked:
        problems.append(f"{name}: leaks {leaked}: {text[:200]}")


# -- REST -------------------------------------------------------------------------------------


async def test_every_text_over_rest(rest_server):
    server = await rest_server(**ROOMY)
    problems: list[str] = []
    for n, entry in enumerate(TEXTS):
        text = materialise(entry)
        status, body = await server.post({"sender": f"hostile-{n}", "message": text})
        check_answer(entry["name"], status, body, problems)
        if entry.get("long") and status != 413:
            problems.append(f"{entry['name']}: over the limit but {status}")
        if status == 200 and not (isinstance(body, list) and body
                                  and body[0]["text"].startswith("echo: ")):
            problems.append(f"{entry['name']}: no answer: {body}")
    assert problems == []
    for message in server.agent.received:  # nothing reached Rasa as a command
        assert not message.text.lstrip().startswith("/"), message.text
        assert message.metadata == {"rapport_client": "app"}


async def test_every_field_over_rest(rest_server):
    server = await rest_server(**ROOMY)
    problems: list[str] = []
    for entry in (e for e in FIELDS if e["channel"] == "rest"):
        body = {"sender": "field-test", "message": "hello", entry["field"]:
                materialise(entry["value"])}
        status, answer = await server.post(body)
        check_answer(entry["name"], status, answer, problems, entry.get("status"))
    assert problems == []
    assert {m.input_channel for m in server.agent.received} == {"rest"}


async def test_every_body_over_rest(rest_server):
    server = await rest_server(**ROOMY)
    problems: list[str] = []
    for entry in BODIES:
        raw = raw_body(entry)
        if len(raw) > MAX_REQUEST_BYTES:  # refused by its size, unread: don't send it
            status, body = await asyncio.to_thread(
                answer_before_body, f"{server.url}/webhook", len(raw),
                {"Authorization": f"Bearer {APP_TOKEN}"})
        else:
            status, body = await server.post(raw=raw)
        check_answer(entry["name"], status, body, problems)
    assert problems == []


async def test_a_flood_over_rest_is_refused_with_the_reason(rest_server):
    server = await rest_server(RAPPORT_FLOOD_PER_MINUTE="1")  # the default burst, no refill
    statuses = [(await server.post({"sender": "flood", "message": "hi"}))[0]
                for _ in range(50)]
    assert statuses.count(200) == 12 and statuses[12:] == [429] * 38  # the default burst
    assert (await server.post({"sender": "flood", "message": "hi"}))[1] == {"error": FLOOD_REPLY}


# -- web chat ---------------------------------------------------------------------------------


async def test_every_text_over_web_chat(channel_server):
    server = await channel_server(**ROOMY)
    problems: list[str] = []
    for entry in TEXTS:
        token = await server.new_token()
        status, body = await server.say(token, materialise(entry))
        check_answer(entry["name"], status, body, problems)
        if entry.get("long") and status != 413:
            problems.append(f"{entry['name']}: over the limit but {status}")
        if status == 200 and not any(m["role"] == "bot" and m["text"].startswith("echo: ")
                                     for m in body["messages"]):
            problems.append(f"{entry['name']}: no answer: {body}")
    assert problems == []
    for message in server.agent.received:
        assert not message.text.lstrip().startswith("/"), message.text


async def test_every_field_over_web_chat(channel_server):
    server = await channel_server(**ROOMY)
    problems: list[str] = []
    for entry in (e for e in FIELDS if e["channel"] == "webchat"):
        token = await server.new_token()
        status, body = await server.say(token, "hello",
                                        **{entry["field"]: materialise(entry["value"])})
        check_answer(entry["name"], status, body, problems, entry.get("status"))
    assert problems == []


async def test_every_body_over_web_chat(channel_server):
    server = await channel_server(**ROOMY)
    token = await server.new_token()
    problems: list[str] = []
    for entry in BODIES:
        raw = raw_body(entry)
        if len(raw) > MAX_REQUEST_BYTES:  # refused by its size, unread: don't send it
            status, body = await asyncio.to_thread(
                answer_before_body, f"{server.url}/message", len(raw),
                {"Authorization": f"Bearer {token}", "Origin": SHOP})
        else:
            status, body, _ = await server.request(
                "POST", "/message", token=token, data=raw,
                headers={"Content-Type": "application/json"})
        check_answer(entry["name"], status, body, problems)
    assert problems == []


async def test_forged_web_chat_tokens_are_refused(channel_server):
    server = await channel_server(**ROOMY)
    problems: list[str] = []
    for n, header in enumerate(["Bearer ' OR 1=1--", "Bearer " + "a" * 43, "Bearer",
                                "Basic abc", "Bearer " + "x" * 1000, "Bearer ../../etc"]):
        status, body, _ = await server.request("POST", "/message", json={"message": "hi"},
                                               headers={"Authorization": header})
        check_answer(f"token {n}", status, body, problems, 401)
    assert problems == []
    assert server.agent.received == []


# -- Telegram ---------------------------------------------------------------------------------


async def _telegram(tmp_path, fake, scripted, start_channel, **env: str):
    settings = telegram_settings(tmp_path, fake, **{"RAPPORT_FLOOD_BURST": "1000", **env})
    return await start_channel(settings, scripted)


async def test_every_text_over_telegram(tmp_path, fake, scripted, start_channel):
    channel = await _telegram(tmp_path, fake, scripted, start_channel)
    chats = {}
    problems: list[str] = []
    for n, entry in enumerate(TEXTS):
        chat = chats[entry["name"]] = next(_chats)
        status, body = await channel.post(text_update(10_000 + n, chat, materialise(entry)))
        # Telegram sends at most 4096 characters; a bigger forged update is refused whole
        check_answer(entry["name"], status, body, problems, 413 if status == 413 else 200)
        if status == 413:
            del chats[entry["name"]]
    await channel.settled()
    for entry in (e for e in TEXTS if e["name"] in chats):
        replies = [call.params.get("text", "") for call in fake.messages(str(chats[entry["name"]]))]
        if not replies:
            problems.append(f"{entry['name']}: no reply")
        elif entry.get("long") and replies != [TOO_LONG]:
            problems.append(f"{entry['name']}: over the limit but {replies[0][:80]}")
        leaked = [leak for leak in LEAKS for reply in replies if leak in reply]
        if leaked:
            problems.append(f"{entry['name']}: leaks {leaked}")
    assert problems == []
    for message in scripted.seen:
        if message.text != "/greet":  # /start is Telegram's own greeting
            assert not message.text.lstrip().startswith("/"), message.text


async def test_every_field_over_telegram(tmp_path, fake, scripted, start_channel):
    channel = await _telegram(tmp_path, fake, scripted, start_channel)
    problems: list[str] = []
    for n, entry in enumerate(e for e in FIELDS if e["channel"] == "telegram"):
        chat, value = next(_chats), materialise(entry["value"])
        if entry["field"] == "callback_data":
            update = callback_update(20_000 + n, chat, value)
        else:
            update = text_update(20_000 + n, chat, "hello")
            update["message"]["from"][entry["field"]] = value
        status, body = await channel.post(update)
        check_answer(entry["name"], status, body, problems, 200)
        await channel.settled()
        if not fake.messages(str(chat)) and entry["field"] != "callback_data":
            problems.append(f"{entry['name']}: no reply")
    assert problems == []
    assert all("EXTERNAL" not in message.text for message in scripted.seen)


async def test_every_body_over_telegram(tmp_path, fake, scripted, start_channel):
    channel = await _telegram(tmp_path, fake, scripted, start_channel)
    problems: list[str] = []
    for entry in BODIES:
        raw = raw_body(entry)
        if len(raw) > MAX_REQUEST_BYTES:  # refused by its size, unread: don't send it
            status, body = await asyncio.to_thread(
                answer_before_body, channel.url, len(raw),
                {"X-Telegram-Bot-Api-Secret-Token": SECRET})
        else:
            status, body = await channel.post(raw)
        check_answer(entry["name"], status, body, problems)
    await channel.settled()
    assert problems == []


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET[:-1], SECRET.upper(),
                                    "x" * 1000])
async def test_a_forged_webhook_secret_is_refused(tmp_path, fake, scripted, start_channel,
                                                  secret):
    channel = await _telegram(tmp_path, fake, scripted, start_channel)
    status, body = await channel.post(text_update(30_001, 7777, "/restart"), secret=secret)
    assert (status, body) == (403, {"error": "forbidden"})
    await channel.settled()
    assert scripted.seen == [] and fake.messages("7777") == []


async def test_a_replayed_update_runs_once(tmp_path, fake, scripted, start_channel):
    channel = await _telegram(tmp_path, fake, scripted, start_channel)
    update = text_update(40_001, 7778, "refund me")
    for _ in range(5):
        assert (await channel.post(update))[0] == 200
        await channel.settled()
    assert [m.text for m in scripted.seen] == ["refund me"]
    assert [c.params["text"] for c in fake.messages("7778")] == ["echo: refund me"]


async def test_a_flood_over_telegram_is_answered_once(tmp_path, fake, scripted, start_channel):
    channel = await _telegram(tmp_path, fake, scripted, start_channel, RAPPORT_FLOOD_BURST="8",
                               RAPPORT_FLOOD_PER_MINUTE="1")
    for n in range(100):
        assert (await channel.post(text_update(50_000 + n, 7779, f"spam {n}")))[0] == 200
    await channel.settled()
    replies = [c.params["text"] for c in fake.messages("7779")]
    assert replies.count(FLOOD_REPLY) == 1 and len(replies) == 9
    assert len(scripted.seen) == 8


# -- the agent console ------------------------------------------------------------------------

HTML_TEXTS = [materialise(entry) for entry in TEXTS if entry.get("html")]


async def test_html_a_customer_types_is_escaped_in_the_console(hub, console, desk,
                                                               fake_rasa):
    """The console's conversation page (the hub's Jinja2 templates, autoescaped) shows each
    HTML text a customer typed escaped, never as markup."""
    from markupsafe import escape

    from tests.bot.hub.conftest import waiting_handoff

    handoff = await waiting_handoff(desk, "wc-hostile")
    now = time.time()  # the console shows the events within the handoff's window
    fake_rasa.events["wc-hostile"] = [
        {"event": "user", "text": text, "timestamp": now + n, "input_channel": "webchat",
         "parse_data": {"intent": {"name": "complain", "confidence": 0.9},
                        "sentiment": {"compound": -0.5}}}
        for n, text in enumerate(HTML_TEXTS, start=1)] + [
        {"event": "bot", "text": "So sorry.", "timestamp": now + 20, "metadata": {}},
        {"event": "pause", "timestamp": now + 21}]
    sam = await console("sam")
    assert (await sam.post(f"/console/handoffs/{handoff.id}/claim")).status == 200
    answer = await sam.client.get(f"/console/handoffs/{handoff.id}")
    assert answer.status == 200
    html = await answer.text()
    for text in HTML_TEXTS:
        assert str(escape(text)) in html, text
        assert text not in html, text
