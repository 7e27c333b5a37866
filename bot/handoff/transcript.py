"""A Rasa conversation's events as turns a person can read, and the customer's mood over time.

Works on events as Rasa serialises them (the tracker API, the event broker, rasa-sdk's
`tracker.events`), so the action, the hub's page and its live feed share one reading.
An agent's reply is a `bot` event whose metadata names the agent.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Optional

EXTERNAL_PREFIX = "EXTERNAL_"
MARKERS = {
    "pause": "handed to a person: the bot is silent",
    "resume": "back with the bot",
    "restart": "the customer restarted the conversation",
    "session_started": "new session",
}


@dataclass(frozen=True)
class Turn:
    key: str  # the same from the tracker API and the event feed (type, time, text)
    kind: str  # customer | bot | agent | marker
    text: str
    at: Optional[float] = None
    intent: Optional[str] = None
    confidence: Optional[float] = None
    sentiment: Optional[float] = None
    mood: Optional[str] = None  # positive | neutral | negative
    agent: Optional[str] = None
    buttons: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _key(event: dict[str, Any]) -> str:
    text = str(event.get("text") or "")
    return f"{event.get('event')}-{event.get('timestamp')}-{zlib.crc32(text.encode()):08x}"


def agent_name_of(event: dict[str, Any]) -> Optional[str]:
    """The agent's name on a `bot` event an agent sent, else None."""
    metadata = event.get("metadata") or {}
    agent = metadata.get("agent") if isinstance(metadata, dict) else None
    return str(agent) if agent else None


def is_external(event: dict[str, Any]) -> bool:
    """A trigger_intent message (EXTERNAL_…), not something the customer typed."""
    intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name") or ""
    return intent.startswith(EXTERNAL_PREFIX)


def sentiment_of(event: dict[str, Any]) -> Optional[float]:
    sentiment = (event.get("parse_data") or {}).get("sentiment") or {}
    try:
        return float(sentiment["compound"])
    except (KeyError, TypeError, ValueError):
        return None


def mood_of(compound: Optional[float]) -> Optional[str]:
    if compound is None:
        return None
    return "positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral"


def turn_of(event: dict[str, Any]) -> Optional[Turn]:
    """One readable turn, or None for events a person doesn't need to see."""
    kind = event.get("event")
    at = event.get("timestamp")
    if kind == "user":
        if is_external(event):
            return None
        intent = (event.get("parse_data") or {}).get("intent") or {}
        compound = sentiment_of(event)
        confidence = intent.get("confidence")
        rounded = round(float(confidence), 2) if confidence is not None else None
        return Turn(_key(event), "customer", str(event.get("text") or ""), at,
                    intent.get("name"), rounded, compound, mood_of(compound))
    if kind == "bot":
        agent = agent_name_of(event)
        buttons = tuple(str(b.get("title", "")) for b in
                        ((event.get("data") or {}).get("buttons") or []) if isinstance(b, dict))
        return Turn(_key(event), "agent" if agent else "bot", str(event.get("text") or ""), at,
                    agent=agent, buttons=buttons)
    if kind in MARKERS:
        return Turn(_key(event), "marker", MARKERS[kind], at)
    return None


def turns(events: Iterable[dict[str, Any]]) -> list[Turn]:
    return [turn for turn in map(turn_of, events) if turn is not None]


def customer_sentiments(events: Iterable[dict[str, Any]]) -> list[float]:
    """The compound score of each message the customer typed, oldest first."""
    scores = []
    for event in events:
        if event.get("event") == "user" and not is_external(event):
            score = sentiment_of(event)
            if score is not None:
                scores.append(round(score, 3))
    return scores


def trend(scores: list[float]) -> str:
    """worsening | improving | steady | unknown: the last third against the first third."""
    if len(scores) < 2:
        return "unknown"
    third = max(1, len(scores) // 3)
    change = sum(scores[-third:]) / third - sum(scores[:third]) / third
    if change <= -0.2:
        return "worsening"
    if change >= 0.2:
        return "improving"
    return "steady"


def sentiment_summary(events: Iterable[dict[str, Any]], keep: int = 20) -> dict[str, Any]:
    scores = customer_sentiments(events)
    return {
        "scores": scores[-keep:],
        "trend": trend(scores),
        "latest": scores[-1] if scores else None,
        "lowest": min(scores) if scores else None,
    }
