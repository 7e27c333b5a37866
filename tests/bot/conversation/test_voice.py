"""Reading praise and suggestions: kind, theme and product."""

from __future__ import annotations

import pytest

from bot.conversation.voice import OTHER, Feedback, read_feedback, theme_of


@pytest.mark.parametrize("text, theme", [
    ("you should sell this in a BIGGER size", "size"),
    ("would be great in king size", "size"),
    ("please make it in matte black", "colour"),
    ("could it be a bit cheaper?", "price"),
    ("the courier was so careful, and the packaging was lovely", "delivery"),
    ("Ollie and the support team were so helpful", "service"),
    ("you should stock matching napkins", "range"),
    ("it's really well made", "quality"),
    ("hmm", OTHER),
    ("", OTHER),
])
def test_theme_comes_from_the_customers_words(text, theme):
    assert theme_of(text) == theme


def test_whole_words_only_so_a_word_inside_another_is_no_signal():
    assert theme_of("the redesign is clever") == OTHER  # "red" inside "redesign"
    assert theme_of("a boxer's kit") == OTHER  # "box" inside "boxer's"


def test_feedback_kinds_and_summary():
    assert read_feedback("suggest", "add a lid", "Frying Pan") == \
        Feedback("suggestion", "range", "Frying Pan")
    praise = read_feedback("praise", "love it", None)
    assert praise == Feedback("praise", "quality", None)
    assert praise.summary() == "Praise (quality)"
    assert read_feedback("suggest", "bigger please", "Rug").summary() == \
        "Suggestion about Rug (size)"
    assert read_feedback("complain", "it broke", None) is None
    assert read_feedback(None, "anything", None) is None
