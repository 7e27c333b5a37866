"""Reading a CSAT rating (1–5) from what a customer typed or clicked."""

from __future__ import annotations

import re
from typing import Optional

_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_OUT_OF_FIVE = re.compile(r"\s*(?:/|out of)\s*(?:5|five)\b")
_DIGIT = re.compile(r"(?<![\d.,/])([1-5])(?![\d.,]|\s*/\s*(?:[6-9]|10))")


def parse_rating(text: Optional[str], entity: Optional[str] = None) -> Optional[int]:
    """1–5 from an entity, a digit, a number word or stars; None if there is no clear one."""
    for candidate in (entity, text):
        if not candidate:
            continue
        candidate = _OUT_OF_FIVE.sub(" ", str(candidate)[:200].lower())
        stars = candidate.count("⭐") + candidate.count("★")
        if 1 <= stars <= 5:
            return stars
        found = {int(match) for match in _DIGIT.findall(candidate)}
        found |= {value for word, value in _WORDS.items() if re.search(rf"\b{word}\b", candidate)}
        if len(found) == 1:
            return found.pop()
    return None
