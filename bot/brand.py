"""The brand as data: profile, catalogue and complaint categories from `brand/*.yml`.

The brand team edits these files; everything here validates them with errors that name the
file and the entry, so a typo is a one-line message and not a traceback at run time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml

from bot.errors import ContentError


class BrandDataError(ContentError):
    """A brand file is missing or malformed."""


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    category: str
    price: float
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class IssueType:
    key: str
    label: str
    phrases: tuple[str, ...]


@dataclass(frozen=True)
class Brand:
    """Everything the assistant knows about the brand it speaks for."""

    profile: dict[str, Any]
    products: tuple[Product, ...]
    issue_types: tuple[IssueType, ...]

    @property
    def name(self) -> str:
        return str(self.profile["name"])

    def find_product(self, text: str) -> Optional[Product]:
        """The catalogue product a customer's words refer to (name, SKU or alias)."""
        wanted = _normalise(text)
        if not wanted:
            return None
        for product in self.products:
            names = (product.name, product.sku, *product.aliases)
            if any(_normalise(name) == wanted for name in names):
                return product
        for product in self.products:
            names = (product.name, *product.aliases)
            if any(re.search(rf"\b{re.escape(_normalise(n))}\b", wanted) for n in names):
                return product
        return None

    def issue_type_for(self, text: str) -> Optional[str]:
        """The complaint category (key) that a customer's wording matches best, if any."""
        wanted = _normalise(text)
        if not wanted:
            return None
        for issue in self.issue_types:
            if wanted in (issue.key, _normalise(issue.label), _normalise(issue.key)):
                return issue.key
        best: Optional[tuple[int, str]] = None
        for issue in self.issue_types:
            for phrase in issue.phrases:
                if re.search(rf"\b{re.escape(_normalise(phrase))}\b", wanted):
                    if best is None or len(phrase) > best[0]:
                        best = (len(phrase), issue.key)
        return best[1] if best else None

    def is_issue_type(self, key: str) -> bool:
        return any(issue.key == key for issue in self.issue_types)

    def issue_label(self, key: str) -> str:
        for issue in self.issue_types:
            if issue.key == key:
                return issue.label
        return key.replace("_", " ")


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w'€.-]+", " ", text.lower().replace("_", " ")).split())


def _read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except FileNotFoundError as error:
        raise BrandDataError(f"{path}: file not found") from error
    except yaml.YAMLError as error:
        raise BrandDataError(f"{path}: not valid YAML: {error}") from error


def _products(path: Path) -> tuple[Product, ...]:
    data = _read_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("products"), list):
        raise BrandDataError(f"{path}: expected a top-level 'products:' list")
    products, seen = [], set()
    for index, entry in enumerate(data["products"], start=1):
        where = f"{path}: product #{index}"
        if not isinstance(entry, dict):
            raise BrandDataError(f"{where}: expected a mapping with sku, name, category, price")
        missing = [key for key in ("sku", "name", "category", "price") if key not in entry]
        if missing:
            raise BrandDataError(f"{where}: missing {', '.join(missing)}")
        if entry["sku"] in seen:
            raise BrandDataError(f"{where}: duplicate sku {entry['sku']!r}")
        seen.add(entry["sku"])
        try:
            price = float(entry["price"])
        except (TypeError, ValueError) as error:
            raise BrandDataError(f"{where}: price must be a number") from error
        aliases = entry.get("aliases") or []
        if not isinstance(aliases, list):
            raise BrandDataError(f"{where}: aliases must be a list")
        products.append(
            Product(str(entry["sku"]), str(entry["name"]), str(entry["category"]), price,
                    tuple(str(alias) for alias in aliases))
        )
    return tuple(products)


def _issue_types(path: Path) -> tuple[IssueType, ...]:
    data = _read_yaml(path)
    if not isinstance(data, dict) or not data:
        raise BrandDataError(f"{path}: expected a mapping of issue type → label and phrases")
    issues = []
    for key, entry in data.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("phrases"), list):
            raise BrandDataError(f"{path}: {key}: expected 'label' and a 'phrases' list")
        issues.append(IssueType(str(key), str(entry.get("label", key)),
                                tuple(str(phrase) for phrase in entry["phrases"])))
    return tuple(issues)


def load_brand(brand_dir: Path) -> Brand:
    """Load and validate `brand.yml`, `catalogue.yml` and `issue_types.yml`."""
    profile = _read_yaml(brand_dir / "brand.yml")
    if not isinstance(profile, dict) or "name" not in profile:
        raise BrandDataError(f"{brand_dir / 'brand.yml'}: expected a mapping with at least 'name'")
    return Brand(
        profile=profile,
        products=_products(brand_dir / "catalogue.yml"),
        issue_types=_issue_types(brand_dir / "issue_types.yml"),
    )
