"""Training a model only when the bot's content changed.

A model is named after a hash of everything that shapes it (config.yml, domain.yml, data/,
the brand's catalogue and complaint words, the NLU components, the epoch scale), so
`rapport run` starts at once when a model for the current content exists and trains one
otherwise.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path
from typing import Any, Iterable, Optional

import yaml

from bot.errors import RapportError
from bot.settings import Settings

logger = logging.getLogger(__name__)

MODEL_PREFIX = "rapport-"
# What shapes the model; brand/canned_responses.yml (the agents' texts) does not.
_CONTENT_PATHS = ("config.yml", "domain.yml", "data", "brand/brand.yml", "brand/catalogue.yml",
                  "brand/issue_types.yml", "bot/nlu")


class TrainingError(RapportError, RuntimeError):
    """Training failed; the message says why in one line."""


def _files(home: Path, names: Iterable[str]) -> list[Path]:
    found: list[Path] = []
    for name in names:
        path = home / name
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(
                p for p in sorted(path.rglob("*"))
                if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
            )
    return found


def content_hash(settings: Settings) -> str:
    """A short hash of every file that shapes the model, plus the epoch scale."""
    digest = hashlib.sha256(f"{settings.train_epochs_scale}|{settings.spacy_model_dir}".encode())
    for path in _files(settings.home, _CONTENT_PATHS):
        digest.update(str(path.relative_to(settings.home)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def model_path_for(settings: Settings) -> Path:
    return settings.models_dir / f"{MODEL_PREFIX}{content_hash(settings)}.tar.gz"


def current_model(settings: Settings) -> Optional[Path]:
    """The model matching the current content, if one was trained."""
    path = model_path_for(settings)
    return path if path.is_file() else None


def model_to_serve(settings: Settings) -> Optional[Path]:
    """The model matching the current content, else the newest trained one.

    Read at every (re)start of Rasa, so a model retrained and loaded while Rapport runs (the
    NLU inbox) is the one a restarted Rasa serves, not the one Rapport started with.
    """
    models = sorted(settings.models_dir.glob(f"{MODEL_PREFIX}*.tar.gz"),
                    key=lambda model: model.stat().st_mtime, reverse=True)
    return current_model(settings) or (models[0] if models else None)


def training_config(config: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The Rasa config to train with: epochs scaled, spaCy pipeline at its absolute path.

    The path is absolute because the trained model loads spaCy from it, whatever the cwd.
    """
    adjusted = yaml.safe_load(yaml.safe_dump(config))
    scale = settings.train_epochs_scale
    for section in ("pipeline", "policies"):
        for component in adjusted.get(section) or []:
            if not isinstance(component, dict):
                continue
            if "epochs" in component:
                component["epochs"] = max(1, round(component["epochs"] * scale))
            if component.get("name") == "SpacyNLP":
                component["model"] = str(settings.spacy_model_dir)
    return adjusted


def train(settings: Settings, *, force: bool = False) -> Path:
    """Train (unless a matching model exists) and return the model's path."""
    target = model_path_for(settings)
    if target.is_file() and not force:
        return target
    from rasa.model_training import train as rasa_train  # slow import: only when training

    settings.models_dir.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((settings.home / "config.yml").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp) / "config.yml"
        config_path.write_text(yaml.safe_dump(training_config(config, settings), sort_keys=False))
        result = rasa_train(
            domain=str(settings.home / "domain.yml"),
            config=str(config_path),
            training_files=[str(settings.home / "data")],
            output=str(settings.models_dir),
            fixed_model_name=target.name[: -len(".tar.gz")],
            force_training=True,
        )
    if result.code != 0 or not target.is_file():
        raise TrainingError(f"rasa training failed (exit code {result.code}); see the log above")
    _prune_old_models(settings, keep=target)
    return target


def _prune_old_models(settings: Settings, keep: Path, retain: int = 3) -> None:
    """Keep the few newest models so var/ does not grow without bound."""
    models = sorted(settings.models_dir.glob(f"{MODEL_PREFIX}*.tar.gz"),
                    key=lambda p: p.stat().st_mtime, reverse=True)
    for old in [m for m in models if m != keep][retain - 1:]:
        old.unlink(missing_ok=True)
