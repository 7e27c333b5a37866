"""The widget in real headless Chromium against the real stack (`rapport run`).

One stack per module. Screenshots go to test-artifacts/webchat/. The conversation reaches
the order and complaint flows through the widget; the same messages over REST must get the
same answers (compared by the domain response each text comes from, since some responses
have several wordings and case ids differ). The two are played once per module, step by step,
for whichever test needs them first: in step, neither sees the other's complaint as a repeat.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest
import pytest_asyncio
import yaml

from bot.settings import Settings
from channels.webchat.sender import WebChatSender
from tests.support.stack import Stack, http, stack_env, texts
from tests.support.browser import chromium, require_chromium
from tests.support import PROJECT

pytestmark = [pytest.mark.integration, pytest.mark.browser]

ARTIFACTS = PROJECT / "test-artifacts" / "webchat"
ANSWER_TIMEOUT_MS = 60_000

CONVERSATION = [  # (what the customer types or clicks, a response the bot must give)
    ("hi", "utter_greet"),
    ("where is my order", "utter_ask_order_number"),
    ("RP-100001", "utter_ask_order_contact"),
    ("ada@example.com", "utter_verified"),
    ("The saucepan set from order RP-100003 arrived damaged", "utter_offer_replacement"),
    (("Yes, replace it", "/affirm"), "utter_remedy_confirmed_replacement"),
]

# The widget's messages as the page shows them (the shadow root is open).
READ_LOG = """() => Array.from(document.querySelector('#rapport-webchat').shadowRoot
    .querySelectorAll('.rw-log > .rw-msg')).map(m => ({
        role: m.classList.contains('rw-customer') ? 'customer'
            : m.classList.contains('rw-agent') ? 'agent' : 'bot',
        text: (m.querySelector('.rw-text') || {textContent: ''}).textContent,
        who: (m.querySelector('.rw-who') || {textContent: ''}).textContent,
        buttons: Array.from(m.querySelectorAll('button')).map(b => [b.textContent, b.disabled]),
    }))"""
FOCUSED = """() => { const r = document.querySelector('#rapport-webchat').shadowRoot;
    const f = r.activeElement; return f ? (f.className || f.tagName) : null; }"""


# -- the stack, the browser ------------------------------------------------------------------

@pytest.fixture(scope="module")
def stack(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_chromium()
    db_dir = tmp_path_factory.mktemp("webchat-stack")
    with Stack(stack_env(trained_model, db_dir), db_dir / "rapport-run.log") as stack:
        yield stack


@pytest_asyncio.fixture(scope="module")
async def browser(stack: Stack) -> AsyncIterator[Any]:
    async with chromium(ARTIFACTS) as launched:
        yield launched


class Console:
    """Errors the page reports (a CSP violation, a script error)."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda error: self.errors.append(str(error)))


async def shot(page: Any, name: str) -> None:
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


async def read_log(page: Any) -> list[dict]:
    return await page.evaluate(READ_LOG)


async def say(page: Any, message: Any) -> list[str]:
    """Type (or click) `message`, wait for the answer, return the bot's new texts."""
    from playwright.async_api import expect

    before = len(await read_log(page))
    if isinstance(message, tuple):
        await page.get_by_role("button", name=message[0]).click()
    else:
        box = page.get_by_label("Your message")
        await box.fill(message)
        await box.press("Enter")
    await expect(page.locator(".rw-send")).to_be_enabled(timeout=ANSWER_TIMEOUT_MS)
    await expect(page.locator(".rw-pending")).to_have_count(0)
    new = (await read_log(page))[before:]
    assert new and new[0]["role"] == "customer", new
    assert new[0]["text"] == (message[0] if isinstance(message, tuple) else message)
    return [m["text"] for m in new[1:] if m["role"] == "bot"]


async def open_widget(page: Any) -> None:
    from playwright.async_api import expect

    await page.get_by_role("button", name="Chat with us").click()
    await expect(page.get_by_role("dialog", name="Lumen & Oak customer care")).to_be_visible()


# -- which domain response a text comes from -------------------------------------------------

def mask_ids(text: str) -> str:
    return re.sub(r"\bCS-[0-9a-f]+\b", "CS-…", text)


def response_patterns() -> list[tuple[str, re.Pattern]]:
    domain = yaml.safe_load((PROJECT / "domain.yml").read_text(encoding="utf-8"))
    patterns = []
    for name, variations in (domain.get("responses") or {}).items():
        for variation in variations or []:
            text = (variation or {}).get("text")
            if text:
                body = re.sub(r"\\\{\w+\\\}", ".*?", re.escape(text.strip()))
                patterns.append((name, re.compile(body, re.S)))
    return patterns


def responses_of(answers: list[str], patterns: list[tuple[str, re.Pattern]]) -> list[str]:
    """Each answer as the name of the response it matches (or the text, ids masked)."""
    named = []
    for answer in answers:
        names = sorted({name for name, pattern in patterns if pattern.fullmatch(answer.strip())})
        named.append("|".join(names) or mask_ids(answer))
    return named


# -- the conversation, in the widget and over REST -------------------------------------------

@dataclass
class Played:
    """The conversation as played: the widget's page (still open) and each step's answers."""

    page: Any
    console: Console
    widget: list[list[str]]
    rest: list[list[str]]


SHOTS = ("utter_greet", "utter_verified", "utter_offer_replacement",
         "utter_remedy_confirmed_replacement")


@pytest_asyncio.fixture(scope="module")
async def played(stack: Stack, browser: Any) -> AsyncIterator[Played]:
    """CONVERSATION in the widget and, step by step, over REST, once per module."""
    from playwright.async_api import expect

    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    console = Console(page)
    await page.goto(f"{stack.hub_url}/demo")
    await expect(page.get_by_role("heading", name="Lumen & Oak")).to_be_visible()
    await shot(page, "01-demo-closed")
    await open_widget(page)
    widget, rest = [], []
    for step, (message, expected) in enumerate(CONVERSATION, start=2):
        widget.append(await say(page, message))
        if expected in SHOTS:
            await shot(page, f"{step:02d}-{expected.removeprefix('utter_')}")
        text = message[1] if isinstance(message, tuple) else message
        rest.append(texts(await asyncio.to_thread(stack.say, "webchat-parity-rest", text)))
    yield Played(page, console, widget, rest)
    await context.close()


# -- the tests -------------------------------------------------------------------------------

async def test_a_conversation_in_the_widget(played: Played) -> None:
    from playwright.async_api import expect

    page, console = played.page, played.console
    log = page.get_by_role("log", name="Conversation")
    assert await log.get_attribute("aria-live") == "polite"
    patterns = response_patterns()
    for (message, expected), replies in zip(CONVERSATION, played.widget):
        assert expected in responses_of(replies, patterns), (message, replies)

    entries = await read_log(page)
    status = next(m["text"] for m in entries if "RP-100001" in m["text"] and m["role"] == "bot"
                  and "DPD" in m["text"])
    assert "Cast Iron Skillet" in status
    offer = next(m for m in entries if m["text"].startswith("I can send you a replacement"))
    assert offer["buttons"] == [["Yes, replace it", True], ["No", True]]  # answered: disabled
    assert entries[-1]["buttons"] and not any(disabled for _, disabled in entries[-1]["buttons"])

    # A reload keeps the session (localStorage) and the panel open, and restores the history.
    await page.reload()
    await expect(page.locator(".rw-log > .rw-msg")).to_have_count(len(entries),
                                                                  timeout=ANSWER_TIMEOUT_MS)
    restored = await read_log(page)
    assert [(m["role"], m["text"]) for m in restored] == [(m["role"], m["text"])
                                                           for m in entries]
    assert restored[-1]["buttons"] == entries[-1]["buttons"]  # only the newest still answerable
    assert all(disabled for m in restored[:-1] for _, disabled in m["buttons"])
    await expect(page.get_by_role("dialog")).to_be_visible()
    await shot(page, "08-reloaded")
    await page.locator(".rw-panel").screenshot(path=str(ARTIFACTS / "09-panel.png"))
    assert console.errors == []


async def test_rest_gives_the_same_answers(played: Played) -> None:
    patterns = response_patterns()
    one_wording = {name for name, count in Counter(n for n, _ in patterns).items() if count == 1}
    for (message, _expected), widget_replies, rest_replies in zip(CONVERSATION, played.widget,
                                                                  played.rest):
        named = responses_of(rest_replies, patterns)
        assert named == responses_of(widget_replies, patterns), (message, rest_replies,
                                                                 widget_replies)
        for name, rest, widget in zip(named, rest_replies, widget_replies):
            if name in one_wording:  # one wording: the very same text (case ids aside)
                assert mask_ids(rest) == mask_ids(widget), (rest, widget)


async def test_keyboard_only(stack: Stack, browser: Any) -> None:
    from playwright.async_api import expect

    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await page.goto(f"{stack.hub_url}/demo")
    launcher = page.get_by_role("button", name="Chat with us")
    await page.keyboard.press("Tab")
    await expect(launcher).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(launcher).to_have_attribute("aria-expanded", "true")
    assert await page.evaluate(FOCUSED) == "rw-input"  # straight into the message box
    await page.keyboard.type("hi")
    await page.keyboard.press("Enter")
    await expect(page.locator(".rw-log .rw-bot")).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)
    await page.keyboard.press("Shift+Tab")  # back through the log to the close button
    await page.keyboard.press("Shift+Tab")
    assert await page.evaluate(FOCUSED) == "rw-close"
    await shot(page, "10-keyboard-focus")
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("dialog")).to_be_hidden()
    await expect(launcher).to_be_focused()
    await expect(launcher).to_have_attribute("aria-expanded", "false")
    for name in ("Close chat", "Send"):
        assert await page.get_by_role("button", name=name, include_hidden=True).count() == 1
    await context.close()


async def test_an_agents_message_arrives_while_the_page_is_open(stack: Stack,
                                                                browser: Any) -> None:
    from playwright.async_api import expect

    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await page.goto(f"{stack.hub_url}/demo")
    await open_widget(page)
    await say(page, "hi")
    await page.get_by_role("button", name="Close chat").click()
    token = await page.evaluate(
        f"() => localStorage.getItem('rapport.webchat.token:{stack.rasa_url}')")
    sender_id = "wc-" + hashlib.sha256(token.encode()).hexdigest()[:24]
    hub = WebChatSender.from_settings(Settings.from_env(stack.env))
    try:
        await hub.send(sender_id, [{"text": "Hi, I'm Sam from customer care. How can I help?",
                                    "agent": "Sam"}])
        launcher = page.get_by_role("button", name="Chat with us, 1 new")
        await expect(launcher).to_be_visible(timeout=10_000)  # the long poll brought it
        await shot(page, "11-agent-unread")
        await launcher.click()
        agent = page.locator(".rw-log .rw-agent")
        await expect(agent).to_contain_text("Hi, I'm Sam from customer care.")
        await expect(agent.locator(".rw-who")).to_have_text("Sam · customer care")
        # After the hand-back the hub relays the bot's question: a bot message, answerable.
        await hub.send(sender_id, [{"text": "How would you rate this conversation?",
                                    "buttons": [{"title": "5", "payload": "/affirm"}]}])
        await expect(page.get_by_role("button", name="5", exact=True)).to_be_enabled(
            timeout=10_000)
        assert (await read_log(page))[-1]["role"] == "bot"
    finally:
        await hub.close()
    await shot(page, "12-agent-message")
    await context.close()


async def test_a_phone_screen(stack: Stack, browser: Any) -> None:
    from playwright.async_api import expect

    context = await browser.new_context(viewport={"width": 375, "height": 740},
                                        is_mobile=True, has_touch=True, device_scale_factor=2)
    page = await context.new_page()
    await page.goto(f"{stack.hub_url}/demo")
    await shot(page, "13-phone-closed")
    await page.get_by_role("button", name="Chat with us").tap()
    panel = page.get_by_role("dialog", name="Lumen & Oak customer care")
    await expect(panel).to_be_visible()
    assert await panel.bounding_box() == {"x": 0, "y": 0, "width": 375, "height": 740}
    await expect(page.get_by_role("button", name="Chat with us")).to_be_hidden()
    replies = await say(page, "where is my order")
    assert responses_of(replies, response_patterns()) == ["utter_ask_order_number"], replies
    for control in (page.get_by_label("Your message"), page.get_by_role("button", name="Send"),
                    page.get_by_role("button", name="Close chat")):
        box = await control.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 375
        assert box["y"] >= 0 and box["y"] + box["height"] <= 740
        assert box["height"] >= 40  # big enough to tap
    await shot(page, "14-phone-open")
    await page.get_by_role("button", name="Close chat").tap()
    await expect(page.get_by_role("button", name="Chat with us")).to_be_visible()
    await context.close()


async def test_a_site_that_is_not_allowed_gets_a_polite_error(stack: Stack,
                                                              browser: Any) -> None:
    from playwright.async_api import expect

    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    # The demo page itself, but as http://localhost:PORT: not an allowed origin (exact match).
    elsewhere = stack.hub_url.replace("127.0.0.1", "localhost")
    await page.goto(f"{elsewhere}/demo")
    await open_widget(page)
    box = page.get_by_label("Your message")
    await box.fill("hi")
    await box.press("Enter")
    notice = page.get_by_role("alert")
    await expect(notice).to_contain_text("didn't go through", timeout=ANSWER_TIMEOUT_MS)
    await expect(page.get_by_role("button", name="Try again")).to_be_visible()
    assert [m["role"] for m in await read_log(page)] == ["customer"]  # no answer from the bot
    await shot(page, "15-origin-refused")
    status, body = http("POST", f"{stack.rasa_url}/webhooks/webchat/session",
                        headers={"Origin": elsewhere})
    assert status == 403
    await context.close()
