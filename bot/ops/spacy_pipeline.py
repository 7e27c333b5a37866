"""Builds the project's spaCy pipeline under `var/`, from the brand's own data.

English spaCy model packages are not on PyPI, and Rapport needs no statistical spaCy model:
a blank English tokenizer plus an EntityRuler made from the catalogue (`product`), the
complaint categories (`issue_type`), money (`amount`) and dates (`date`). `config.yml`'s
SpacyNLP loads the saved pipeline; SpacyEntityExtractor reads its entities.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from bot.brand import Brand

PIPELINE_VERSION = "1"
_STAMP = "rapport-build.json"

_MONTHS = [
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
    "sept", "oct", "nov", "dec",
]
_WEEKDAYS = [
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun",
]
_CURRENCY = ["€", "eur", "euro", "euros", "$", "£", "usd", "gbp"]


def entity_patterns(brand: Brand) -> list[dict]:
    """EntityRuler patterns; an `id` carries the canonical value (SKU or issue key)."""
    patterns: list[dict] = []
    for product in brand.products:
        for name in sorted({product.name, *product.aliases}):
            patterns.append({"label": "product", "pattern": name.lower(), "id": product.sku})
    for issue in brand.issue_types:
        for phrase in issue.phrases:
            patterns.append({"label": "issue_type", "pattern": phrase.lower(), "id": issue.key})
    number = {"LIKE_NUM": True}
    currency = {"LOWER": {"IN": _CURRENCY}}
    patterns += [
        {"label": "amount", "pattern": [currency, number]},
        {"label": "amount", "pattern": [number, currency]},
        {"label": "amount", "pattern": [{"TEXT": {"REGEX": r"^[€$£]\d+([.,]\d{1,2})?$"}}]},
    ]
    month, weekday = {"LOWER": {"IN": _MONTHS}}, {"LOWER": {"IN": _WEEKDAYS}}
    day = {"TEXT": {"REGEX": r"^\d{1,2}(st|nd|rd|th)?$"}}
    patterns += [
        {"label": "date", "pattern": [{"LOWER": {"IN": ["today", "yesterday", "tomorrow"]}}]},
        {"label": "date", "pattern": [{"LOWER": {"IN": ["last", "next", "this"]}},
                                      {"LOWER": {"IN": ["week", "month", *_WEEKDAYS]}}]},
        {"label": "date", "pattern": [weekday, day, month]},
        {"label": "date", "pattern": [day, month]},
        {"label": "date", "pattern": [month, day]},
        {"label": "date", "pattern": [weekday]},
        {"label": "date", "pattern": [{"TEXT": {"REGEX": r"^\d{1,2}[/.-]\d{1,2}([/.-]\d{2,4})?$"}}]},
    ]
    return patterns


def _fingerprint(brand: Brand) -> str:
    payload = json.dumps([PIPELINE_VERSION, entity_patterns(brand)], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def is_up_to_date(brand: Brand, target: Path) -> bool:
    stamp = target / _STAMP
    if not stamp.is_file():
        return False
    try:
        return json.loads(stamp.read_text())["fingerprint"] == _fingerprint(brand)
    except (ValueError, KeyError):
        return False


def build_pipeline(brand: Brand, target: Path) -> Path:
    """Build and save the pipeline at `target` (a directory), replacing what was there."""
    import spacy  # imported here: slow, and only the build needs it

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
    ruler.add_patterns(entity_patterns(brand))
    nlp.meta["name"] = "rapport"
    nlp.meta["description"] = f"Rapport pipeline for {brand.name}: blank English + EntityRuler"
    target.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(target)
    (target / _STAMP).write_text(json.dumps({"fingerprint": _fingerprint(brand)}))
    return target
