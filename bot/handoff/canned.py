"""Canned responses for agents, from the brand's `brand/canned_responses.yml`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import yaml

from bot.errors import ContentError

MAX_TITLE = 60
_NO_NAME = re.compile(r",?[ \t]*\{customer\}")
MAX_TEXT = 2000


class CannedResponsesError(ContentError):
    """The canned responses file is broken (the message names the entry)."""


@dataclass(frozen=True)
class CannedResponse:
    title: str
    text: str

    def fill(self, customer: Optional[str], agent: str) -> str:
        """{customer} → the first name ("Hi {customer}," → "Hi," without one); {agent}."""
        text = self.text
        if customer and customer.split():
            text = text.replace("{customer}", customer.split()[0])
        else:
            text = _NO_NAME.sub("", text)
        return text.replace("{agent}", agent)


def load_canned(path: Path) -> list[CannedResponse]:
    """The responses in `path`; none if the file doesn't exist."""
    if not path.is_file():
        return []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise CannedResponsesError(f"{path.name}: not valid YAML ({error})") from error
    entries = data.get("responses") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise CannedResponsesError(f"{path.name}: expected a list under 'responses'")
    found = []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("title"), str) \
                or not isinstance(entry.get("text"), str):
            raise CannedResponsesError(f"{path.name}: response {number} needs a title and a text")
        title, text = entry["title"].strip(), entry["text"].strip()
        if not title or not text or len(title) > MAX_TITLE or len(text) > MAX_TEXT:
            raise CannedResponsesError(
                f"{path.name}: response {number} needs a title of 1-{MAX_TITLE} characters "
                f"and a text of 1-{MAX_TEXT}")
        found.append(CannedResponse(title, text))
    return found
