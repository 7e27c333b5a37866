"""Retraining the bot after the NLU inbox changed its data, and swapping the model in live.

`RetrainJob` runs one retraining at a time: validate (`rapport validate`), train (`rapport
train`, bot/ops/training.py: the model is named after the content, in var/models), then hand
the new model to the running Rasa server (`load_model`, Rasa's authenticated `PUT /model`
through bot/hub/rasa_api.py). Rasa loads the new model before it swaps it in, so
conversations carry on; a failure at any step leaves the running model in place, and the
job's progress says why.

Validation and training run as subprocesses of the Rapport CLI: training takes minutes and
much memory, which the hub's process must not spend, and `bot.ops` (which starts the hub)
is not imported from here. A lock file in RAPPORT_VAR_DIR keeps it to one retraining per
machine, even between the hub and `rapport inbox label --retrain`. While it validates and
trains it holds a shared lock on domain.yml (`DomainLock`), so a labelling waits and the model
is trained on the data that passed validation.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import re
import signal
import sys
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import IO, Any, AsyncIterator, Awaitable, Callable, Optional, Sequence

from bot.database import utcnow
from bot.errors import RapportError
from bot.insight.training_data import (
    DOMAIN_FILE, DomainLock, TrainingDataError, Validator, validate_project,
)
from bot.settings import Settings, process_env

IDLE_STATE = "idle"  # nothing has run since this process started
QUEUED, VALIDATING, TRAINING, LOADING, DONE, FAILED = (
    "queued", "validating", "training", "loading", "done", "failed")
ACTIVE = (QUEUED, VALIDATING, TRAINING, LOADING)
TRAIN_COMMAND = (sys.executable, "-m", "bot.ops.cli", "train")
TRAIN_TIMEOUT_S = 3600.0
LOCK_FILE = "retrain.lock"
_MODEL_LINE = re.compile(r"^(?:trained|model is up to date): (?P<path>.+\.tar\.gz)\s*$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# What the progress message shows of Rasa's output (the rest is logging).
_PROGRESS_LINE = re.compile(r"^(?:Epochs:|Processed |Your Rasa model|trained:|model is up to)")
_KEPT_LINES = 12
_LINE_LIMIT = 4 * 1024 * 1024  # one line of training output, at most

ModelLoad = Callable[[Path], Awaitable[None]]
log = logging.getLogger(__name__)


class RetrainBusy(RapportError):
    """A retraining is already running (the hub answers 409)."""


@dataclass(frozen=True)
class RetrainProgress:
    state: str
    message: str
    started_at: Optional[datetime] = None
    finished_at: Optional[datetime] = None
    model: Optional[str] = None  # the trained model's path, once known

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "message": self.message, "active": self.active,
                "started_at": self.started_at.isoformat() if self.started_at else None,
                "finished_at": self.finished_at.isoformat() if self.finished_at else None,
                "model": Path(self.model).name if self.model else None}


IDLE = RetrainProgress(IDLE_STATE, "no retraining has run since the hub started")


class _StepFailed(Exception):
    """One step failed; the message is the job's."""


class RetrainJob:
    """Validate, train and load, in the background, one at a time; `progress` says where."""

    def __init__(self, settings: Settings, load_model: Optional[ModelLoad], *,
                 validate: Optional[Validator] = None,
                 train_command: Sequence[str] = TRAIN_COMMAND,
                 train_timeout: float = TRAIN_TIMEOUT_S,
                 on_change: Optional[Callable[[RetrainProgress], None]] = None) -> None:
        self._settings = settings
        self._load_model = load_model
        self._validate = validate_project if validate is None else validate
        self._train_command = list(train_command)
        self._train_timeout = train_timeout
        self._on_change = on_change
        self._progress = IDLE
        self._task: Optional[asyncio.Task] = None
        self._lock: Optional[IO[bytes]] = None

    @property
    def progress(self) -> RetrainProgress:
        return self._progress

    def start(self) -> RetrainProgress:
        """Begin a retraining; RetrainBusy if one is running here or in another process."""
        if self._progress.active:
            raise RetrainBusy(f"a retraining is already running ({self._progress.state}); "
                              "wait for it to finish")
        self._lock = _take_lock(self._settings.var_dir / LOCK_FILE)
        self._set(RetrainProgress(QUEUED, "waiting to start", started_at=utcnow()))
        self._task = asyncio.create_task(self._run(), name="nlu-retrain")
        return self._progress

    async def wait(self) -> RetrainProgress:
        """The progress once the running retraining (if any) has finished."""
        if self._task is not None:
            await asyncio.shield(self._task)
        return self._progress

    async def close(self) -> None:
        """Stop a running retraining (the hub is stopping); the model stays as it is."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _set(self, progress: RetrainProgress) -> None:
        self._progress = progress
        if self._on_change is not None:
            self._on_change(progress)

    def _step(self, state: str, message: str, **changes: Any) -> None:
        self._set(replace(self._progress, state=state, message=message, **changes))

    async def _run(self) -> None:
        try:
            self._step(VALIDATING, "checking the training data (rasa data validate)")
            async with _data_unchanged(self._settings.home):
                problems = await asyncio.to_thread(self._validate, self._settings.home)
                if problems:
                    raise _StepFailed("the training data did not validate: "
                                      + "; ".join(problems))
                self._step(TRAINING, "training a model (this takes a few minutes)")
                model = await self._train()
            self._step(LOADING, f"loading {model.name} into the running bot", model=str(model))
            if self._load_model is None:
                raise _StepFailed(f"trained {model.name}, but this process cannot reach Rasa's "
                                  "API; the running bot keeps its model until it restarts")
            try:
                await self._load_model(model)
            except RapportError as error:
                raise _StepFailed(f"trained {model.name}, but the running bot could not load "
                                  f"it ({error}); it keeps its current model") from error
            self._step(DONE, f"the bot now runs {model.name}", finished_at=utcnow())
        except _StepFailed as failure:
            self._step(FAILED, str(failure), finished_at=utcnow())
        except asyncio.CancelledError:
            self._step(FAILED, "stopped before it finished; the bot keeps its current model",
                       finished_at=utcnow())
            raise
        except (OSError, TrainingDataError) as error:
            self._step(FAILED, f"could not run the retraining ({error}); the bot keeps its "
                               "current model", finished_at=utcnow())
        except Exception as error:  # noqa: BLE001 (a bug must not leave the job "active")
            log.exception("retraining failed unexpectedly")
            self._step(FAILED, f"the retraining failed unexpectedly ({error!r}); the bot "
                               "keeps its current model", finished_at=utcnow())
        finally:
            _release_lock(self._lock)
            self._lock = None

    async def _train(self) -> Path:
        env = process_env(self._settings.child_env(),
                          {"RAPPORT_TRAIN_EPOCHS_SCALE": str(self._settings.train_epochs_scale),
                           "TQDM_DISABLE": "1"})
        process = await asyncio.create_subprocess_exec(
            *self._train_command, cwd=self._settings.home, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            start_new_session=True, limit=_LINE_LIMIT)
        output = _TrainingOutput()
        try:
            code = await asyncio.wait_for(self._follow(process, output), self._train_timeout)
        except (asyncio.TimeoutError, asyncio.CancelledError) as stop:
            _kill_group(process)
            await process.wait()
            if isinstance(stop, asyncio.CancelledError):
                raise
            raise _StepFailed(f"training took longer than {self._train_timeout:.0f} s and "
                              "was stopped; the bot keeps its current model") from stop
        lines, model = output.lines, output.model
        if code != 0:
            raise _StepFailed(f"training failed (exit code {code}): " + " / ".join(lines[-4:]))
        if model is None or not model.is_file():
            raise _StepFailed("training finished without naming a model file: "
                              + " / ".join(lines[-4:]))
        return model

    async def _follow(self, process: asyncio.subprocess.Process,
                      output: "_TrainingOutput") -> int:
        """Read the training's output to its end (progress, the model's path); its exit code."""
        assert process.stdout is not None
        async for raw in process.stdout:
            # Progress bars redraw with \r: the last drawing is the current one.
            drawn = _ANSI.sub("", raw.decode("utf-8", "replace")).split("\r")
            line = next((part.strip() for part in reversed(drawn) if part.strip()), "")
            if line:
                output.add(line)
            if _PROGRESS_LINE.match(line):
                self._step(TRAINING, f"training: {line[:200]}")
        return await process.wait()


@dataclass
class _TrainingOutput:
    lines: list[str] = field(default_factory=list)  # the last few
    model: Optional[Path] = None  # from `rapport train`'s "trained: PATH"

    def add(self, line: str) -> None:
        self.lines = (self.lines + [line])[-_KEPT_LINES:]
        found = _MODEL_LINE.match(line)
        if found:
            self.model = Path(found.group("path"))


@contextlib.asynccontextmanager
async def _data_unchanged(home: Path) -> AsyncIterator[None]:
    """A shared lock on domain.yml while the data is validated and read: a labelling
    (bot/insight/training_data.py, exclusive) waits, so the model is trained on what passed."""
    lock = DomainLock(home / DOMAIN_FILE, shared=True)
    taking = asyncio.ensure_future(asyncio.to_thread(lock.__enter__))
    try:
        await asyncio.shield(taking)
    except asyncio.CancelledError:  # the thread may still get the lock: give it back then
        taking.add_done_callback(lambda done: done.cancelled() or done.exception()
                                 or lock.__exit__())
        raise
    try:
        yield
    finally:
        lock.__exit__()


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _take_lock(path: Path) -> IO[bytes]:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("ab")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as error:
        handle.close()
        raise RetrainBusy("a retraining is already running (started from the console or "
                          "`rapport inbox label --retrain`); wait for it to finish") from error
    return handle


def _release_lock(handle: Optional[IO[bytes]]) -> None:
    if handle is not None:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
