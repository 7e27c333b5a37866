"""The language component puts `language: {code, confidence}` on every parsed message."""

from __future__ import annotations

from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.language_detector import LanguageDetector


def parse(*texts: str, config: dict | None = None) -> list[dict]:
    component = LanguageDetector({**LanguageDetector.get_default_config(), **(config or {})})
    messages = component.process([Message(data={"text": text}) for text in texts])
    return [message.as_dict(only_output_properties=True)["language"] for message in messages]


def test_every_message_gets_a_code_and_a_confidence():
    french, english, short = parse(
        "Bonjour, ma commande n'est toujours pas arrivée, pouvez-vous m'aider ?",
        "hiya my parcel aint come", "ok")
    assert french["code"] == "fr" and french["confidence"] > 0.9
    assert english["code"] == "en"
    assert short == {"code": "en", "confidence": 0.0}
    assert set(french) == {"code", "confidence"}


def test_the_guess_is_in_the_parse_output_next_to_the_text():
    component = LanguageDetector(LanguageDetector.get_default_config())
    [message] = component.process([Message(data={"text": "waar is mijn bestelling?"})])
    output = message.as_dict(only_output_properties=True)
    assert output["text"] == "waar is mijn bestelling?"
    assert output["language"]["code"] == "nl"


def test_missing_empty_and_huge_texts_are_english_without_trouble():
    component = LanguageDetector(LanguageDetector.get_default_config())
    [missing] = component.process([Message(data={})])
    assert missing.get("language") == {"code": "en", "confidence": 0.0}
    empty, emoji, huge = parse("", "😡😡😡", "where is my parcel " * 20_000)
    assert empty["code"] == emoji["code"] == huge["code"] == "en"


def test_only_the_first_max_chars_are_read():
    german_then_english = "Wo ist meine Bestellung? Ich warte schon lange. " + "my order " * 200
    [cut] = parse(german_then_english, config={"max_chars": 50})
    [whole] = parse(german_then_english)
    assert cut["code"] == "de" and whole["code"] == "en"


def test_training_data_is_left_alone():
    data = TrainingData([Message(data={"text": "hola, dónde está mi pedido?"})])
    component = LanguageDetector(LanguageDetector.get_default_config())
    assert component.process_training_data(data) is data
    assert data.training_examples[0].get("language") is None
