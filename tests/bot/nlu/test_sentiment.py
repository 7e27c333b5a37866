"""The sentiment component puts a VADER score on every parsed message."""

from __future__ import annotations

from rasa.shared.nlu.training_data.message import Message

from bot.nlu.sentiment import SentimentAnalyzer, label_for


def parse(*texts: str) -> list[dict]:
    component = SentimentAnalyzer({"max_chars": 2000})
    messages = component.process([Message(data={"text": text}) for text in texts])
    return [message.as_dict(only_output_properties=True)["sentiment"] for message in messages]


def test_angry_happy_and_neutral_messages():
    angry, happy, neutral = parse("THIS IS A DISASTER, worst service ever!!!",
                                  "thanks so much, you're brilliant :)", "RP-100001")
    assert angry["label"] == "negative" and angry["compound"] < -0.5
    assert happy["label"] == "positive" and happy["compound"] > 0.5
    assert neutral == {"compound": 0.0, "label": "neutral"}


def test_empty_emoji_and_huge_messages_are_scored_without_trouble():
    empty, emoji, huge = parse("", "😡😡😡", "terrible " * 20_000)
    assert empty == {"compound": 0.0, "label": "neutral"}
    assert emoji == {"compound": 0.0, "label": "neutral"}  # VADER scores no emoji
    assert huge["label"] == "negative"


def test_label_thresholds():
    assert (label_for(0.05), label_for(-0.05), label_for(0.0)) == ("positive", "negative", "neutral")
