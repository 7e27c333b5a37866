"""Voice of the customer: praise and suggestions, recognised in the conversation itself.

A brand runs Rapport to listen. When a customer praises something or suggests one ("you
should sell this in a bigger size"), the bot thanks them and records it, linked to the
product and (once verified) the customer. The theme is read from the customer's own words
with keyword rules the brand can extend: small, explainable, and good enough to group
thousands of messages on a dashboard where a person reads the verbatims.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

KINDS = {"praise": "praise", "suggest": "suggestion"}  # intent -> kind of feedback

# (theme, words that signal it). First match wins, so the specific themes come first.
THEMES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("size", ("bigger", "smaller", "size", "larger", "xl", "king", "queen", "cm", "litre",
              "liter", "capacity", "wider", "taller", "longer", "compact")),
    ("colour", ("colour", "color", "black", "white", "green", "blue", "red", "grey", "gray",
                "pink", "shade", "finish", "matte")),
    ("price", ("price", "cheaper", "expensive", "discount", "sale", "value", "afford",
               "cost")),
    ("delivery", ("delivery", "delivered", "shipping", "courier", "arrived", "packaging",
                  "packed", "box", "fast", "quick")),
    ("service", ("service", "helpful", "staff", "support", "team", "friendly", "chat",
                 "assistant", "ollie")),
    ("range", ("sell", "stock", "range", "add", "introduce", "offer", "version", "matching",
               "set", "new")),
    ("quality", ("quality", "sturdy", "durable", "lasts", "well made", "solid", "works",
                 "beautiful", "gorgeous", "love", "great", "perfect", "excellent")),
)
OTHER = "other"


@dataclass(frozen=True)
class Feedback:
    kind: str  # praise | suggestion
    theme: str
    product: Optional[str]

    def summary(self) -> str:
        """One line for the customer's CRM timeline (no free text: that stays in the log)."""
        about = f" about {self.product}" if self.product else ""
        return f"{self.kind.capitalize()}{about} ({self.theme})"


def theme_of(text: str) -> str:
    """The first theme whose words appear in `text`, else "other"."""
    lowered = text.lower()
    words = set(re.findall(r"[a-z]+", lowered))
    for theme, signals in THEMES:
        if any((signal in lowered) if " " in signal else (signal in words)
               for signal in signals):
            return theme
    return OTHER


def read_feedback(intent: Optional[str], text: str,
                  product: Optional[str] = None) -> Optional[Feedback]:
    """The feedback a customer turn carries, or None when its intent is not feedback."""
    kind = KINDS.get(intent or "")
    if kind is None:
        return None
    return Feedback(kind, theme_of(text), product or None)
