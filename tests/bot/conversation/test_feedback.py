import pytest

from bot.conversation.feedback import parse_rating


@pytest.mark.parametrize("text, entity, expected", [
    ("5", None, 5), ("I'd give it a 4", "4", 4), ("four stars", None, 4),
    ("⭐⭐⭐", None, 3), ("one out of five", None, 1), ("10/10", None, None),
    ("3/5", None, 3), ("great", None, None), ("", None, None), ("2.5", None, None),
])
def test_parse_rating(text, entity, expected):
    assert parse_rating(text, entity) == expected
