"""Training a model only when the bot's content changed.

A model is named after a hash of everything that shapes it (config.yml, domain.yml, data/,
the brand's catalogue and complaint words, the NLU components, the epoch scale), so
`rapport run` starts at once when a model for the current content exists and trains one
otherwise, in a child process (`train_in_child`): Rasa's training and TensorFlow stay resident
in whichever process imports them, and `rapport run` lives as long as the bot does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Sequence

import yaml

from bot.errors import RapportError
from bot.nlu.static_embeddings import StaticEmbeddingsError, fetch as fetch_static_embeddings
from bot.settings import Settings

logger = logging.getLogger(__name__)

MODEL_PREFIX = "rapport-"
CHILD_MODULE = "bot.ops.training"  # `python -m bot.ops.training`: train_in_child's child
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
    `static_embeddings: true` becomes the directory the settings fetch them to.
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
            if component.get("static_embeddings") is True:
                component["static_embeddings"] = str(settings.static_embeddings_dir)
    return adjusted


def uses_static_embeddings(config: dict[str, Any]) -> bool:
    """Does a component of this Rasa config want WordLlama's embeddings from the settings'
    directory (`true`; an explicit directory is the config's own business)?"""
    return any(isinstance(c, dict) and c.get("static_embeddings") is True
               for c in config.get("pipeline") or [])


def train(settings: Settings, *, force: bool = False) -> Path:
    """Train (unless a matching model exists) and return the model's path.

    Imports Rasa's training and TensorFlow into this process for good: a long-lived process
    calls `train_in_child` instead. The model is written under a staging name and renamed, so
    training stopped half-way never leaves a file that looks like the content's model.
    """
    target = model_path_for(settings)
    if target.is_file() and not force:
        return target
    from rasa.model_training import train as rasa_train  # slow import: only when training
    from rasa.shared.exceptions import RasaException

    settings.models_dir.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((settings.home / "config.yml").read_text(encoding="utf-8"))
    if uses_static_embeddings(config):
        try:
            fetch_static_embeddings(settings.static_embeddings_dir)
        except StaticEmbeddingsError as error:
            raise TrainingError(str(error)) from error
    with tempfile.TemporaryDirectory() as tmp, \
            tempfile.TemporaryDirectory(prefix=".staging-", dir=settings.models_dir) as staging:
        config_path = Path(tmp) / "config.yml"
        config_path.write_text(yaml.safe_dump(training_config(config, settings), sort_keys=False))
        try:
            result = rasa_train(
                domain=str(settings.home / "domain.yml"),
                config=str(config_path),
                training_files=[str(settings.home / "data")],
                output=staging,
                fixed_model_name=target.name[: -len(".tar.gz")],
                force_training=True,
            )
        except RasaException as error:  # e.g. an unknown component in config.yml
            reason = " ".join(str(error).split())
            raise TrainingError(f"rasa could not train: {reason}") from error
        staged = Path(staging) / target.name
        if result.code != 0 or not staged.is_file():
            raise TrainingError(f"rasa training failed (exit code {result.code}); "
                                "see the log above")
        os.replace(staged, target)
    _prune_old_models(settings, keep=target)
    return target


def training_env(settings: Settings) -> dict[str, str]:
    """The variables a child needs to compute the same model path and train the same model."""
    return {**settings.child_env(),
            "RAPPORT_TRAIN_EPOCHS_SCALE": repr(settings.train_epochs_scale),
            "RAPPORT_STATIC_EMBEDDINGS_DIR": str(settings.static_embeddings_dir)}


def train_in_child(settings: Settings, *, force: bool = False, grace: float = 10.0) -> Path:
    """`train`, run in a child Python process; the model's path, or TrainingError.

    The child prints Rasa's progress on this terminal and reports its outcome through a result
    file, so a failure is the same one-line TrainingError as in-process. An interrupt (Ctrl-C,
    or SIGTERM) stops the child: SIGINT, then SIGKILL after `grace` seconds.
    """
    target = model_path_for(settings)
    if target.is_file() and not force:
        return target
    with tempfile.TemporaryDirectory(prefix="rapport-train-") as tmp:
        result_file = Path(tmp) / "result.json"
        argv = [sys.executable, "-m", CHILD_MODULE, "--result", str(result_file),
                *(["--force"] if force else [])]
        code = _run_child(argv, {**os.environ, **training_env(settings)}, grace)
        result = _read_result(result_file)
    if "error" in result:
        raise TrainingError(result["error"])
    if code != 0 or "model" not in result:
        how = (f"was killed by {signal.Signals(-code).name}" if code < 0
               else f"stopped with exit code {code}")
        raise TrainingError(f"the training process {how} before reporting a model; "
                            "see the log above")
    return Path(result["model"])


def _read_result(path: Path) -> dict[str, str]:
    """The child's outcome; empty if it ended before writing one."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _run_child(argv: list[str], env: dict[str, str], grace: float) -> int:
    """Run the child in its own session (as the supervisor runs services) and wait for it;
    on an interrupt, stop it before passing the interrupt on."""
    child = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,  # noqa: S603 (our argv)
                             start_new_session=True)
    try:
        with _sigterm_as_interrupt():
            return child.wait()
    except BaseException:
        _stop_child(child, grace)
        raise


def _stop_child(child: subprocess.Popen, grace: float) -> None:
    """SIGINT (the child unwinds, removing its staging files), then SIGKILL after `grace`
    seconds or at a second Ctrl-C."""
    if child.poll() is not None:
        return
    try:
        os.killpg(child.pid, signal.SIGINT)
        try:
            child.wait(timeout=grace)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    except ProcessLookupError:
        pass  # it ended meanwhile


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt meanwhile, so `kill` of the parent stops the child too
    (the child has its own session: nothing else would stop it)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def child_main(argv: Optional[Sequence[str]] = None) -> int:
    """The child's side of `train_in_child`: train, then write the model or the error."""
    parser = argparse.ArgumentParser(prog=f"python -m {CHILD_MODULE}")
    parser.add_argument("--result", required=True, help="JSON file for the outcome")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    try:
        outcome = {"model": str(train(Settings.from_env(), force=args.force))}
    except RapportError as error:
        outcome = {"error": str(error)}
    except KeyboardInterrupt:
        return 130
    Path(args.result).write_text(json.dumps(outcome), encoding="utf-8")
    return 0 if "model" in outcome else 1


def _prune_old_models(settings: Settings, keep: Path, retain: int = 3) -> None:
    """Keep the few newest models so var/ does not grow without bound."""
    models = sorted(settings.models_dir.glob(f"{MODEL_PREFIX}*.tar.gz"),
                    key=lambda p: p.stat().st_mtime, reverse=True)
    for old in [m for m in models if m != keep][retain - 1:]:
        old.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(child_main())
