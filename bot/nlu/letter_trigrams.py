"""How much a message's letters look like the language of the training examples.

Why: a keyboard mash ("qwpoe rtzu") shares character pairs and a few token pieces with real
messages, so the intent classifier gives it some intent with fair confidence, and the bot
answers nonsense as if it had understood. A letter trigram model of the training examples
(the letters of each word, with its start and end) gives such text a far lower average log
probability than any real message, typos and other languages' greetings included. The
classifier treats a message that has no known word *and* reads like no language as carrying
no evidence (uniform confidence, so FallbackClassifier asks to rephrase).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Dict, Iterator, Optional, Sequence

_WORD = re.compile(r"[^\W\d_]+")
SMOOTHING = 0.1
ALPHABET = 30  # letters, word start and end: the smoothing's notion of "possible next letters"
MIN_TRIGRAMS = 6  # fewer letters than this ("k", "asdf") is too little to judge
# Real words in the bot's data score above -3.5, keyboard mashes -4.8 to -5.4.
MIN_MEAN_LOG_PROB = -4.5


def _trigrams(text: str) -> Iterator[str]:
    """Letter trigrams of each word that has no digit (postcodes and ids are not words)."""
    for token in text.lower().split():
        if any(ch.isdigit() for ch in token):
            continue
        for word in _WORD.findall(token):
            padded = f"^{word}$"
            for i in range(len(padded) - 2):
                yield padded[i:i + 3]


class LetterTrigrams:
    """Counts of letter trigrams; scores a text by its mean log P(letter | two before), and
    judges a text below `min_log_prob` as reading like no language."""

    def __init__(self, counts: Dict[str, int], min_log_prob: float = MIN_MEAN_LOG_PROB) -> None:
        self.counts = Counter(counts)
        self.min_log_prob = float(min_log_prob)
        self._pairs: Counter = Counter()
        for trigram, count in self.counts.items():
            self._pairs[trigram[:2]] += count

    @classmethod
    def fit(cls, texts: Sequence[str],
            min_log_prob: float = MIN_MEAN_LOG_PROB) -> "LetterTrigrams":
        return cls(Counter(t for text in texts for t in _trigrams(text or "")), min_log_prob)

    def mean_log_prob(self, text: str) -> Optional[float]:
        """None when the text has too few letters to judge."""
        trigrams = list(_trigrams(text or ""))
        if len(trigrams) < MIN_TRIGRAMS:
            return None
        total = sum(math.log((self.counts[t] + SMOOTHING)
                             / (self._pairs[t[:2]] + SMOOTHING * ALPHABET)) for t in trigrams)
        return total / len(trigrams)

    def reads_as_no_language(self, text: str) -> bool:
        """Enough letters to judge, and they score below `min_log_prob`."""
        score = self.mean_log_prob(text)
        return score is not None and score < self.min_log_prob

    def to_state(self) -> Dict[str, int]:
        return dict(self.counts)
