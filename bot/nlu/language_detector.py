"""The language of every customer message, as a Rasa NLU component.

The guess (bot.nlu.language) is added to the parse data under `language`, so it reaches
`tracker.latest_message["language"]` and the user event's parse_data, where the
other-language action and the handoff read it.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.per_message import PerMessageComponent
from bot.nlu.language import MAX_CHARS, detect_language, load_model

LANGUAGE = "language"


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False
)
class LanguageDetector(PerMessageComponent):
    """Adds `language: {code, confidence}` to every parsed message."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"max_chars": MAX_CHARS}

    @staticmethod
    def required_packages() -> List[Text]:
        return ["py3langid"]

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        self._max_chars = int(config.get("max_chars", MAX_CHARS))
        load_model()

    def process_message(self, message: Message) -> None:
        text: Optional[str] = message.get(TEXT)
        guess = detect_language((text or "")[:self._max_chars])
        message.set(LANGUAGE, guess.as_dict(), add_to_output=True)
