"""Long messages: the NLU pipeline reads a bounded prefix, cut at a word."""

from __future__ import annotations

from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.message_prefix import MessagePrefix, bounded_prefix


def test_a_short_text_is_untouched_and_a_long_one_is_cut_at_a_word() -> None:
    assert bounded_prefix("where is my order", 1000) == "where is my order"
    story = "my rug never came " * 700  # 12,600 characters
    cut = bounded_prefix(story, 1000)
    assert len(cut) <= 1000 and story.startswith(cut) and story[len(cut)] == " "


def test_one_endless_word_is_cut_at_the_limit() -> None:
    assert bounded_prefix("x" * 5000, 1000) == "x" * 1000


def test_the_component_trims_what_the_rest_of_the_pipeline_reads() -> None:
    component = MessagePrefix({**MessagePrefix.get_default_config(), "max_chars": 50})
    long_one = Message(data={TEXT: "my rug never came and nobody answers my e-mails " * 20})
    short_one = Message(data={TEXT: "hi"})
    component.process([long_one, short_one])
    assert len(long_one.get(TEXT)) <= 50 and short_one.get(TEXT) == "hi"
