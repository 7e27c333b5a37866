"""The NLU inbox: customer messages the bot did not understand, grouped, for an analyst to label.

A customer turn of the exchange log (`insight_turns`) is in the inbox when its intent is
`nlu_fallback` or its confidence is below RAPPORT_INBOX_CONFIDENCE, and no decision about it
is recorded yet (`insight_inbox_labels`, bot/insight/inbox_tables.py). The newest
`MAX_MESSAGES` of them are grouped by similarity: TF-IDF over character n-grams and cosine
similarity (n-gram weights learned from the messages and the project's training examples),
then greedy "leader" clustering in turn order: the oldest message not yet in a
group starts one, and takes every later ungrouped message at least `threshold` similar to
it. The same inbox therefore always gives the same groups, and a group is named by its
first turn id (`key`): new messages join groups or start their own, so keys seldom move (a
label or dismissal by key checks the group still exists).

Each group comes with up to three suggested intents: first the intents the model itself
guessed for its messages (the log stores each turn's top intent and confidence), then the
intents whose training examples are nearest to the group (TF-IDF, cosine).

Texts are the log's redacted texts; `label_messages` writes them with
`bot.insight.training_data.add_examples`, which leaves out the ones with placeholders (see
there) while the inbox still records them as labelled.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.engine import Connection, Engine

from bot.database import ThreadedStore, aware, naive_utcnow
from bot.errors import RapportError
from bot.insight import inbox_tables
from bot.insight.inbox_tables import DISMISSED, LABELLED, create_inbox_tables, inbox_labels
from bot.insight.tables import create_insight_tables, turns
from bot.insight.training_data import AddedExamples, add_examples, read_examples

FALLBACK_INTENT = "nlu_fallback"
MAX_MESSAGES = 2000  # the newest inbox messages that are grouped (grouping is quadratic)
SIMILARITY = 0.4  # cosine similarity that puts two messages in one group
SUGGESTIONS = 3
NEAREST_EXAMPLES = 3
MODEL = "model"  # a suggestion from the intent the model guessed
EXAMPLES = "similar examples"  # a suggestion from the nearest training examples


class InboxError(RapportError, ValueError):
    """A request about the inbox that cannot be done (no such group, no messages)."""


@dataclass(frozen=True)
class InboxMessage:
    turn_id: int
    conversation_id: str
    at: datetime
    text: str
    intent: Optional[str]
    confidence: Optional[float]

    def to_json(self) -> dict[str, Any]:
        return {"turn_id": self.turn_id, "conversation_id": self.conversation_id,
                "at": self.at.isoformat(), "text": self.text, "intent": self.intent,
                "confidence": self.confidence}


@dataclass(frozen=True)
class Suggestion:
    intent: str
    score: float  # the model's mean confidence, or the examples' cosine similarity
    source: str  # MODEL or EXAMPLES

    def to_json(self) -> dict[str, Any]:
        return {"intent": self.intent, "score": round(self.score, 3), "source": self.source}


@dataclass(frozen=True)
class InboxGroup:
    key: int  # the turn id of its first message
    messages: tuple[InboxMessage, ...]
    suggestions: tuple[Suggestion, ...]

    @property
    def count(self) -> int:
        return len(self.messages)

    @property
    def turn_ids(self) -> list[int]:
        return [message.turn_id for message in self.messages]

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "count": self.count,
                "messages": [message.to_json() for message in self.messages],
                "suggestions": [suggestion.to_json() for suggestion in self.suggestions]}


@dataclass(frozen=True)
class LabelResult:
    """What labelling did: the turns marked, and what reached the training data."""

    turn_ids: tuple[int, ...]
    examples: AddedExamples


# -- similarity ------------------------------------------------------------------------------


def _vectorizer() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer  # slow import: on use

    return TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), lowercase=True,
                           sublinear_tf=True)


def group_similar(texts: Sequence[str], threshold: float = SIMILARITY,
                  background: Sequence[str] = ()) -> list[list[int]]:
    """Indices of `texts` in groups: each group led by its first member, in input order.

    The n-grams' weights are learned from `texts` and `background` (the project's training
    examples): a few inbox messages alone say little about which n-grams are common.
    """
    if not texts:
        return []
    try:
        vectors = _vectorizer().fit([*texts, *background]).transform(texts)
    except ValueError:  # nothing but blanks: every message on its own
        return [[index] for index in range(len(texts))]
    similarity = (vectors @ vectors.T).toarray()
    grouped = [False] * len(texts)
    groups: list[list[int]] = []
    for leader in range(len(texts)):
        if grouped[leader]:
            continue
        members = [leader] + [other for other in range(leader + 1, len(texts))
                              if not grouped[other] and similarity[leader, other] >= threshold]
        for member in members:
            grouped[member] = True
        groups.append(members)
    return groups


class ExampleIndex:
    """The project's NLU examples as TF-IDF vectors: which intents a text is nearest to."""

    def __init__(self, examples: dict[str, list[str]]) -> None:
        self._intents: list[str] = []
        self.texts: list[str] = []
        for intent, lines in sorted(examples.items()):
            for line in lines:
                self._intents.append(intent)
                self.texts.append(line)
        self._vectorizer = _vectorizer() if self.texts else None
        self._matrix = self._vectorizer.fit_transform(self.texts) if self._vectorizer else None

    @classmethod
    def of_project(cls, home: Path) -> "ExampleIndex":
        return cls(read_examples(home))

    def nearest(self, texts: Sequence[str], limit: int = SUGGESTIONS) -> list[tuple[str, float]]:
        """Intents by similarity to the texts' centroid, best first.

        An intent scores the mean of its `NEAREST_EXAMPLES` most similar examples: one
        short example that happens to share a word counts less than several close ones.
        """
        if self._vectorizer is None or not texts:
            return []
        centroid = self._vectorizer.transform(texts).mean(axis=0)
        scores = (self._matrix @ centroid.T).A.ravel()
        by_intent: dict[str, list[float]] = {}
        for intent, score in zip(self._intents, scores):
            by_intent.setdefault(intent, []).append(float(score))
        means = {intent: sum(sorted(values)[-NEAREST_EXAMPLES:]) / min(len(values),
                                                                        NEAREST_EXAMPLES)
                 for intent, values in by_intent.items()}
        ranked = sorted(means.items(), key=lambda item: (-item[1], item[0]))
        return [(intent, score) for intent, score in ranked[:limit] if score > 0]


def suggest(messages: Sequence[InboxMessage], index: ExampleIndex,
            limit: int = SUGGESTIONS) -> list[Suggestion]:
    """The model's own guesses (most often, then most confident) topped up from examples."""
    guesses: dict[str, list[float]] = {}
    for message in messages:
        if message.intent and message.intent != FALLBACK_INTENT:
            guesses.setdefault(message.intent, []).append(message.confidence or 0.0)
    ranked = sorted(guesses.items(), key=lambda item: (-len(item[1]),
                                                       -sum(item[1]) / len(item[1]), item[0]))
    suggestions = [Suggestion(intent, sum(scores) / len(scores), MODEL)
                   for intent, scores in ranked[:limit]]
    taken = {suggestion.intent for suggestion in suggestions}
    for intent, score in index.nearest([m.text for m in messages], limit + len(taken)):
        if len(suggestions) >= limit:
            break
        if intent not in taken:
            suggestions.append(Suggestion(intent, score, EXAMPLES))
            taken.add(intent)
    return suggestions


def build_groups(messages: Sequence[InboxMessage], index: ExampleIndex,
                 threshold: float = SIMILARITY) -> list[InboxGroup]:
    """The inbox's groups, largest first (ties: oldest first)."""
    ordered = sorted(messages, key=lambda message: message.turn_id)
    groups = []
    for members in group_similar([message.text for message in ordered], threshold,
                                 background=index.texts):
        chosen = tuple(ordered[i] for i in members)
        groups.append(InboxGroup(chosen[0].turn_id, chosen, tuple(suggest(chosen, index))))
    return sorted(groups, key=lambda group: (-group.count, group.key))


def find_group(groups: Iterable[InboxGroup], key: int) -> InboxGroup:
    for group in groups:
        if group.key == key:
            return group
    raise InboxError(f"group {key} is not in the inbox (any more): list the inbox again")


# -- the store -------------------------------------------------------------------------------


class NluInbox(ThreadedStore):
    """The inbox over the exchange log's turns and the inbox's own decisions (hub database)."""

    metadata = inbox_tables.metadata
    label = "exchange log"

    def __init__(self, engine: Engine, confidence_threshold: float, *,
                 dispose_engine: bool = False) -> None:
        super().__init__(engine, dispose_engine=dispose_engine)
        self.confidence_threshold = confidence_threshold

    def create_schema(self) -> None:
        create_insight_tables(self.engine)
        create_inbox_tables(self.engine)

    def _in_inbox(self) -> Any:
        decided = exists().where(inbox_labels.c.turn_id == turns.c.id)
        return and_(turns.c.role == "customer", turns.c.text.isnot(None), turns.c.text != "",
                    or_(turns.c.intent == FALLBACK_INTENT,
                        turns.c.confidence < self.confidence_threshold),
                    ~decided)

    def _select(self, connection: Connection, condition: Any, limit: int) -> list[InboxMessage]:
        rows = connection.execute(
            select(turns.c.id, turns.c.conversation_id, turns.c.at, turns.c.text,
                   turns.c.intent, turns.c.confidence)
            .where(self._in_inbox(), condition).order_by(turns.c.id.desc()).limit(limit))
        return sorted((InboxMessage(row.id, row.conversation_id, aware(row.at), row.text,
                                    row.intent, row.confidence) for row in rows),
                      key=lambda message: message.turn_id)

    async def pending(self, limit: int = MAX_MESSAGES) -> list[InboxMessage]:
        """The newest messages in the inbox, oldest first."""
        return await self.run(lambda c: self._select(c, True, max(1, limit)))

    async def pending_among(self, turn_ids: Iterable[int]) -> list[InboxMessage]:
        """Those of `turn_ids` that are in the inbox."""
        wanted = sorted({int(turn_id) for turn_id in turn_ids})
        if not wanted:
            return []
        return await self.run(lambda c: self._select(c, turns.c.id.in_(wanted), len(wanted)))

    async def groups(self, home: Path, limit: int = MAX_MESSAGES,
                     threshold: float = SIMILARITY) -> list[InboxGroup]:
        messages = await self.pending(limit)
        if not messages:
            return []
        index = await asyncio.to_thread(ExampleIndex.of_project, home)
        return await asyncio.to_thread(build_groups, messages, index, threshold)

    async def decide(self, turn_ids: Iterable[int], status: str, intent: Optional[str],
                     by: str) -> list[int]:
        """Record a decision for the turns that have none yet; the ids recorded."""
        if status not in inbox_tables.STATUSES:
            raise InboxError(f"unknown status {status!r}")
        wanted = sorted({int(turn_id) for turn_id in turn_ids})
        return await self.run(self._decide, wanted, status, intent, by[:64])

    def _decide(self, connection: Connection, wanted: list[int], status: str,
                intent: Optional[str], by: str) -> list[int]:
        if not wanted:
            return []
        taken = set(connection.scalars(select(inbox_labels.c.turn_id)
                                       .where(inbox_labels.c.turn_id.in_(wanted))))
        fresh = [turn_id for turn_id in wanted if turn_id not in taken]
        if fresh:  # a decision made elsewhere at the same moment fails this one whole
            now = naive_utcnow()
            connection.execute(inbox_labels.insert(), [
                {"turn_id": turn_id, "status": status, "intent": intent, "labelled_by": by,
                 "labelled_at": now} for turn_id in fresh])
        return fresh

    async def dismiss(self, turn_ids: Iterable[int], by: str) -> list[int]:
        """Dismiss those of `turn_ids` still in the inbox (as labelling does); the ids dismissed.

        An id of a turn that is not in the inbox, or not written yet, is left alone, so no
        decision waits for a turn the log has not recorded."""
        messages = await self.pending_among(turn_ids)
        return await self.decide([m.turn_id for m in messages], DISMISSED, None, by)


async def label_messages(inbox: NluInbox, home: Path, turn_ids: Iterable[int], intent: str,
                         by: str) -> LabelResult:
    """Write the inbox messages `turn_ids` as examples of `intent`, then mark them labelled.

    Only messages still in the inbox count; the training data is validated (and restored on
    failure, raising TrainingDataError) before any message is marked.
    """
    messages = await inbox.pending_among(turn_ids)
    if not messages:
        raise InboxError("none of those messages is in the inbox (any more)")
    examples = await asyncio.to_thread(add_examples, home, intent,
                                       [message.text for message in messages])
    marked = await inbox.decide([m.turn_id for m in messages], LABELLED, examples.intent, by)
    return LabelResult(tuple(marked), examples)
