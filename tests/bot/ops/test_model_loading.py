"""Rapport's inference-only loading predicts exactly what Rasa's own loading predicts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage

from bot.ops import model_loading

CONVERSATIONS = [  # what customers say, one conversation each
    ["hello", "where is my order RP-100001"],
    ["the lid of my saucepan is dented", "no thats not good enough"],
    ["what payment methods do you accept", "and how long does delivery take to germany"],
    ["i want to talk to a human", "thx"],
    ["you should sell the mugs in dark green"],
    ["asdf qwerty", "??"],
]


async def predictions(agent: Agent) -> list:
    """Every message's NLU result and the next action after it, with all the scores."""
    seen = []
    for number, messages in enumerate(CONVERSATIONS):
        sender = f"compare-{number}"
        for text in messages:
            parsed = await agent.parse_message(text)
            await agent.log_message(UserMessage(text, sender_id=sender))
            nxt = await agent.predict_next_for_sender_id(sender)
            seen.append((text, parsed, {key: nxt[key] for key in ("policy", "confidence",
                                                                  "scores")}))
    return seen


def load(model: Path) -> Agent:
    return Agent.load(str(model))  # how fast is a benchmark question, not a test


@pytest.mark.integration
def test_predictions_match_rasas_own_loading(trained_model: Path):
    model_loading.uninstall()
    stock = load(trained_model)
    expected = asyncio.run(predictions(stock))
    model_loading.install()
    try:
        fast = load(trained_model)
        found = asyncio.run(predictions(fast))
    finally:
        model_loading.uninstall()
    assert len(found) == len(expected) == sum(map(len, CONVERSATIONS))
    for (text, parsed, nxt), (_, want_parsed, want_next) in zip(found, expected):
        assert parsed["intent"]["name"] == want_parsed["intent"]["name"], text
        assert parsed["intent"]["confidence"] == pytest.approx(
            want_parsed["intent"]["confidence"], abs=1e-6), text
        assert _same_selection(parsed, want_parsed), text
        assert nxt["policy"] == want_next["policy"], text
        assert [s["action"] for s in nxt["scores"]] == [s["action"] for s in want_next["scores"]]
        assert [s["score"] for s in nxt["scores"]] == pytest.approx(
            [s["score"] for s in want_next["scores"]], abs=1e-6), text


def _same_selection(parsed: dict, expected: dict) -> bool:
    """The FAQ answer picked, and its confidence, are the same."""
    def picked(result: dict) -> tuple:
        response = ((result.get("response_selector") or {}).get("faq") or {}).get("response") or {}
        return response.get("intent_response_key"), round(float(response.get("confidence") or 0), 6)

    return picked(parsed) == picked(expected)


def test_install_is_idempotent_and_reversible():
    from rasa.utils.tensorflow.models import RasaModel

    rasas = RasaModel.__dict__["load"].__func__
    model_loading.install()
    model_loading.install()
    installed = RasaModel.__dict__["load"].__func__
    assert installed is not rasas and installed.rasa_load is rasas
    model_loading.uninstall()
    assert RasaModel.__dict__["load"].__func__ is rasas
