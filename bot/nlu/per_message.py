"""`PerMessageComponent`: the shape of Rapport's NLU components that read each message's text
and learn nothing (a bounded prefix, sentiment, language).

Rasa asks every component for `create`, `process` and `process_training_data`; these three are
the same for all of them, so a component only says what it does to one message.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData


class PerMessageComponent(GraphComponent):
    """Reads (or trims) each parsed message; training data passes through untouched."""

    def __init__(self, config: Dict[Text, Any]) -> None:
        self.config = config

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "PerMessageComponent":
        return cls({**cls.get_default_config(), **config})

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self.process_message(message)
        return messages

    @abstractmethod
    def process_message(self, message: Message) -> None:
        """What the component does to one message (sets an output, or trims the text)."""

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        # Training needs none of it; skipping it keeps `rasa train` fast.
        return training_data
