"""Long messages: NLU reads a bounded prefix; the conversation keeps the whole text.

A customer may paste a long story (RAPPORT_MAX_MESSAGE_CHARS, 10,000 by default). What they
want is almost always said at the start, and every later component (tokenizer, n-gram
features, the intent classifier, entity rules) costs time in proportion to the text. This
component, first in the pipeline, cuts the text the rest of the pipeline sees to
`max_chars`, at a word boundary. Rasa stores the original text on the tracker's user event,
so the complaint form and the exchange log still get every word.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.per_message import PerMessageComponent


def bounded_prefix(text: str, max_chars: int) -> str:
    """`text` cut to at most `max_chars`, at the last space before the limit if there is one."""
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    space = cut.rfind(" ")
    return cut[:space] if space > max_chars // 2 else cut


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False
)
class MessagePrefix(PerMessageComponent):
    """Cuts each message's text to a bounded prefix before the rest of the NLU pipeline."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"max_chars": 1000}

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        self._max_chars = int(config.get("max_chars", 1000))

    def process_message(self, message: Message) -> None:
        text: Optional[str] = message.get(TEXT)
        if text and len(text) > self._max_chars:
            message.set(TEXT, bounded_prefix(text, self._max_chars))
