"""Sentiment of every customer message, as a Rasa NLU component.

VADER is a lexicon model built for short social-media text (caps, "!!!", emoji, slang), which
is what customers type in chat. Its result is added to the parse data under `sentiment`,
so it reaches the tracker (UserUttered.parse_data), complaint severity and the handoff's priority.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from bot.nlu.per_message import PerMessageComponent

SENTIMENT = "sentiment"


def label_for(compound: float, threshold: float = 0.05) -> str:
    """VADER's own convention for turning the compound score into a label."""
    if compound >= threshold:
        return "positive"
    if compound <= -threshold:
        return "negative"
    return "neutral"


def score_text(analyzer: SentimentIntensityAnalyzer, text: str, max_chars: int) -> Dict[str, Any]:
    """Score one text; long texts are cut so a 100 KB message costs no more than a short one."""
    scores = analyzer.polarity_scores(text[:max_chars]) if text.strip() else {"compound": 0.0}
    compound = round(float(scores["compound"]), 4)
    return {"compound": compound, "label": label_for(compound)}


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False
)
class SentimentAnalyzer(PerMessageComponent):
    """Adds `sentiment: {compound, label}` to every parsed message."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"max_chars": 2000}

    @staticmethod
    def required_packages() -> List[Text]:
        return ["vaderSentiment"]

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        self._max_chars = int(config.get("max_chars", 2000))
        self._analyzer = SentimentIntensityAnalyzer()

    def process_message(self, message: Message) -> None:
        text: Optional[str] = message.get(TEXT)
        message.set(SENTIMENT, score_text(self._analyzer, text or "", self._max_chars),
                    add_to_output=True)
