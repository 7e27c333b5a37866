"""Writing labelled customer messages into the bot's NLU training data, then validating it.

`add_examples(home, intent, texts)` appends examples to the `data/nlu/*.yml` block of that
intent (the last block, when an intent has several, as `complain` does), or, for a new
intent, to a new file `data/nlu/<intent>.yml` with the intent added to domain.yml's
`intents`. Files go through a ruamel.yaml round trip, so every comment, blank line and
quote stays as it was: a file whose layout the round trip would change is refused, never
rewritten. Examples keep Rasa's format, a literal block (`examples: |`) of "- " lines.

Skipped, with the reason, rather than written:
- a message already an example (of this intent or another: moving one is a re-label);
- a message with a redaction placeholder such as "[email]": the exchange log keeps only
  redacted text, and a model trained on "[email]" would learn a token no customer types
  (real addresses are what `provide_email` must learn), so such a message stays labelled in
  the inbox but is not training data;
- a message Rasa would read as entity markup ("[text](entity)").

Then `rapport validate` (bot/ops/content_checks.py, which runs `rasa data validate`) checks
the project in a subprocess, with a timeout: the NLU inbox is imported by the hub, which
`bot.ops` starts, so `bot.insight` runs the ops commands rather than importing them. When
validation fails, every file is restored byte for byte and the error says why.
"""

from __future__ import annotations

import fcntl
import io
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import LiteralScalarString

from bot.errors import ContentError
from bot.settings import process_env

NLU_DIR = Path("data") / "nlu"
DOMAIN_FILE = "domain.yml"
VALIDATE_TIMEOUT_S = 300.0
MAX_EXAMPLE_CHARS = 500
NEW_FILE_HEADER = ('version: "3.1"\n\n'
                   "# Added from the NLU inbox (`rapport inbox label` or /console/inbox).\n")

_NEW_INTENT = re.compile(r"[a-z][a-z0-9_]{0,63}")
_PLACEHOLDER = re.compile(r"\[[a-z_]+\]")  # bot/insight/redaction.py's "[email]", "[phone]"…
_MARKUP = re.compile(r"\][(\[{]")  # "[text](entity)", "[text]{…}": Rasa's entity syntax
_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")
# What a YAML file cannot hold as it is (C0/C1 controls, BOM, non-characters, lone surrogates).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ufeff\ufffe\uffff\ud800-\udfff]")
# Rasa's default intents (rasa.shared.core.constants.DEFAULT_INTENTS) and the hub's own;
# `out_of_scope` is one of Rasa's too, but it is learned from examples (data/nlu/basics.yml).
RESERVED_INTENTS = ("restart", "back", "session_start", "nlu_fallback", "out_of_scope_fallback")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_WARNING_PREFIX = re.compile(r"^\S+\.py:\d+: \w*Warning: ")
# Warnings the project has on purpose (responses used from actions, EXTERNAL_ intents):
# they would bury the line that says what is wrong.
_NOISE = ("is not used in any story or rule", "but is not found in the NLU training data",
          "duplicated intents have been found across multiple domain files")

Validator = Callable[[Path], list[str]]
_FastLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # reading only: no round trip


class TrainingDataError(ContentError):
    """The examples could not be written (or did not validate); nothing was changed."""


@dataclass(frozen=True)
class Skipped:
    text: str
    reason: str


@dataclass(frozen=True)
class AddedExamples:
    """What `add_examples` did: the file it wrote, what it added and what it skipped."""

    intent: str
    file: str  # relative to the project, e.g. "data/nlu/basics.yml"
    added: tuple[str, ...]
    skipped: tuple[Skipped, ...]
    new_intent: bool


# -- reading ---------------------------------------------------------------------------------


def _yaml_for(text: str) -> YAML:
    """A round-trip YAML that writes sequences indented the way this file indents them."""
    offset = 0
    lines = text.splitlines()
    for number, line in enumerate(lines):
        item = re.match(r"(\s*)- ", line)
        if not item:
            continue
        parent = next((p for p in reversed(lines[:number])
                       if p.strip() and not p.lstrip().startswith("#")), "")
        offset = max(0, len(item.group(1)) - (len(parent) - len(parent.lstrip())))
        break
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long line
    yaml.indent(mapping=2, sequence=offset + 2, offset=offset)
    return yaml


def _dump(yaml: YAML, data: Any) -> str:
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


@dataclass
class _YamlFile:
    path: Path
    yaml: YAML
    data: Any

    @classmethod
    def load(cls, path: Path, home: Path) -> "_YamlFile":
        name = path.relative_to(home)
        try:
            text = path.read_bytes().decode("utf-8")
            yaml = _yaml_for(text)
            data = yaml.load(text)
        except (OSError, UnicodeDecodeError, YAMLError) as error:
            raise TrainingDataError(f"{name}: cannot be read ({error})") from error
        if _dump(yaml, data) != text:
            raise TrainingDataError(f"{name}: a YAML round trip would change its layout, so "
                                    "it is left alone; add the examples by hand")
        return cls(path, yaml, data)

    def text(self) -> str:
        return _dump(self.yaml, self.data)


def _nlu_files(home: Path) -> list[Path]:
    return sorted((home / NLU_DIR).glob("*.yml")) if (home / NLU_DIR).is_dir() else []


def _intent_blocks(data: Any) -> Iterator[tuple[int, Any]]:
    items = data.get("nlu") if isinstance(data, dict) else None
    for index, block in enumerate(items or []):
        if isinstance(block, dict) and isinstance(block.get("intent"), str):
            yield index, block


def _example_lines(block: Any) -> list[str]:
    examples = block.get("examples")
    if isinstance(examples, str):
        return [line.strip()[2:].strip() for line in examples.splitlines()
                if line.strip().startswith("- ")]
    return []


def plain(example: str) -> str:
    """An example as a customer would type it: entity markup removed."""
    return _ANNOTATION.sub(r"\1", example)


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def read_examples(home: Path) -> dict[str, list[str]]:
    """Every intent's examples in data/nlu (plain text, markup removed), for suggestions."""
    found: dict[str, list[str]] = {}
    for path in _nlu_files(home):
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_FastLoader)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise TrainingDataError(f"{path.relative_to(home)}: cannot be read ({error})") \
                from error
        for _, block in _intent_blocks(data):
            found.setdefault(block["intent"], []).extend(plain(e) for e in _example_lines(block))
    return found


def _domain_intents(data: Any) -> list[str]:
    names = []
    for item in (data.get("intents") if isinstance(data, dict) else None) or []:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict) and item:
            names.append(str(next(iter(item))))
    return names


def labelable_intents(home: Path) -> list[str]:
    """The intents an analyst may pick: those with NLU examples, retrieval ones as `faq/x`."""
    intents = set(read_examples(home))
    return sorted(name for name in intents if _reserved(name) is None)


def _reserved(intent: str) -> Optional[str]:
    if intent in RESERVED_INTENTS or intent.startswith("EXTERNAL_"):
        return f"{intent} is set by Rasa or the hub, not learned from examples"
    return None


# -- writing ---------------------------------------------------------------------------------


def clean_example(text: str) -> str:
    """One line of plain text: control characters dropped, whitespace collapsed."""
    return " ".join(_CONTROL.sub(" ", text).split())[:MAX_EXAMPLE_CHARS]


def _check_intent(intent: str, blocks: dict[str, tuple[Path, int]]) -> None:
    reserved = _reserved(intent)
    if reserved:
        raise TrainingDataError(f"cannot label with {intent}: {reserved}")
    if intent in blocks:
        return
    if any(name.startswith(f"{intent}/") for name in blocks):
        topics = ", ".join(sorted(n for n in blocks if n.startswith(f"{intent}/")))
        raise TrainingDataError(f"{intent} is a retrieval intent: label with one of its "
                                f"topics ({topics})")
    if not _NEW_INTENT.fullmatch(intent):
        raise TrainingDataError(f"{intent!r} is not a usable intent name: lower-case letters, "
                                "digits and _, starting with a letter, at most 64 characters "
                                "(a new retrieval topic needs a response, so add it by hand)")


def _sorted_out(texts: Iterable[str], intent: str,
                known: dict[str, str]) -> tuple[list[str], list[Skipped]]:
    added: list[str] = []
    skipped: list[Skipped] = []
    for raw in texts:
        text = clean_example(raw)
        key = _key(text)
        if not text:
            skipped.append(Skipped(raw, "empty"))
        elif _PLACEHOLDER.search(text):
            skipped.append(Skipped(text, "contains redacted personal data"))
        elif _MARKUP.search(text):
            skipped.append(Skipped(text, "Rasa would read it as entity markup"))
        elif key in known:
            owner = known[key]
            skipped.append(Skipped(text, "already an example" if owner == intent
                                   else f"already an example of {owner}"))
        else:
            known[key] = intent
            added.append(text)
    return added, skipped


def _append_lines(block: Any, texts: list[str]) -> None:
    existing = block.get("examples")
    existing = existing if isinstance(existing, str) else ""
    if existing and not existing.endswith("\n"):
        existing += "\n"
    block["examples"] = LiteralScalarString(existing + "".join(f"- {t}\n" for t in texts))


def _new_block(intent: str, texts: list[str]) -> CommentedMap:
    block = CommentedMap()
    block["intent"] = intent
    _append_lines(block, texts)
    return block


class DomainLock:
    """A lock on domain.yml: exclusive while examples are written (the hub and the CLI),
    shared while a retraining validates and reads the data (bot/insight/retrain.py).

    The files are rewritten in place, so the locked file stays the one every writer opens.
    """

    def __init__(self, path: Path, *, shared: bool = False) -> None:
        self._path = path
        self._mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        self._handle: Optional[Any] = None

    def __enter__(self) -> None:
        try:
            self._handle = self._path.open("rb")
        except OSError as error:
            raise TrainingDataError(f"{DOMAIN_FILE} cannot be opened ({error.strerror})") \
                from error
        fcntl.flock(self._handle, self._mode)

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def add_examples(home: Path, intent: str, texts: Iterable[str], *,
                 validate: Optional[Validator] = None) -> AddedExamples:
    """Add `texts` as examples of `intent` in the project at `home`, then validate.

    `validate` defaults to `validate_project`; on a failure the files are restored exactly
    and TrainingDataError says why.
    """
    validate = validate_project if validate is None else validate
    intent = intent.strip()
    domain_path = home / DOMAIN_FILE
    if not domain_path.is_file():
        raise TrainingDataError(f"{DOMAIN_FILE} not found in {home}")
    with DomainLock(domain_path):
        files = {path: _YamlFile.load(path, home) for path in _nlu_files(home)}
        blocks: dict[str, tuple[Path, int]] = {}
        known: dict[str, str] = {}
        for path, loaded in files.items():
            for index, block in _intent_blocks(loaded.data):
                blocks[block["intent"]] = (path, index)  # the last block wins
                for example in _example_lines(block):
                    known.setdefault(_key(plain(example)), block["intent"])
        _check_intent(intent, blocks)
        added, skipped = _sorted_out(texts, intent, known)
        new_intent = intent not in blocks
        target = blocks[intent][0] if not new_intent else home / NLU_DIR / f"{intent}.yml"
        result = AddedExamples(intent, str(target.relative_to(home)), tuple(added),
                               tuple(skipped), new_intent)
        if not added:
            return result
        writes = _planned_writes(home, files, blocks, target, intent, added)
        backups = {path: (path.read_bytes() if path.exists() else None) for path in writes}
        try:
            for path, text in writes.items():
                _write_in_place(path, text)
            problems = validate(home)
        except OSError as error:
            _restore(backups)
            raise TrainingDataError(f"the examples could not be written or checked ({error}), "
                                    "so nothing was changed") from error
        except BaseException:
            _restore(backups)
            raise
        if problems:
            _restore(backups)
            raise TrainingDataError("the training data did not validate, so nothing was "
                                    "changed: " + "; ".join(problems[:6]))
        return result


def _planned_writes(home: Path, files: dict[Path, _YamlFile], blocks: dict[str, tuple[Path, int]],
                    target: Path, intent: str, added: list[str]) -> dict[Path, str]:
    """The new text of every file that changes."""
    if intent in blocks:
        path, index = blocks[intent]
        _append_lines(files[path].data["nlu"][index], added)
        return {path: files[path].text()}
    writes: dict[Path, str] = {}
    if target in files:  # a file of that name exists for other intents: add a block
        items = files[target].data["nlu"]
        items.append(_new_block(intent, added))
        items.yaml_set_comment_before_after_key(len(items) - 1, before="\nadded from the NLU "
                                                                       "inbox", indent=0)
        writes[target] = files[target].text()
    else:
        writes[target] = NEW_FILE_HEADER + _dump(_yaml_for(""), {"nlu": [_new_block(intent,
                                                                                   added)]})
    domain = _YamlFile.load(home / DOMAIN_FILE, home)
    if intent not in _domain_intents(domain.data):
        intents = domain.data.get("intents") if isinstance(domain.data, dict) else None
        if intents is None:
            raise TrainingDataError(f"{DOMAIN_FILE} has no intents list to add {intent} to")
        last = len(intents) - 1
        intents.append(intent)
        trailing = intents.ca.items.pop(last, None)  # the blank line after the list
        if trailing is not None:
            intents.ca.items[last + 1] = trailing
        writes[home / DOMAIN_FILE] = domain.text()
    return writes


def _write_in_place(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(text)


def _restore(backups: dict[Path, Optional[bytes]]) -> None:
    for path, original in backups.items():
        if original is None:
            path.unlink(missing_ok=True)
        else:
            with path.open("wb") as handle:
                handle.write(original)


# -- validation ------------------------------------------------------------------------------


def validate_project(home: Path, timeout: float = VALIDATE_TIMEOUT_S) -> list[str]:
    """`rapport validate` on the project at `home`: its problems, one a line (none: valid)."""
    command = [sys.executable, "-m", "bot.ops.cli", "validate"]
    code, output = run_command(command, home, {"RAPPORT_HOME": str(home)}, timeout)
    if code == 0:
        return []
    if code is None:
        return [f"validation took longer than {timeout:.0f} s and was stopped"]
    lines = [_WARNING_PREFIX.sub("", _ANSI.sub("", line)).strip() for line in output.splitlines()]
    lines = [line for line in lines if line and not any(noise in line for noise in _NOISE)]
    return lines[:8] or [f"validation failed (exit code {code})"]


def run_command(command: list[str], cwd: Path, env: dict[str, str],
                timeout: float) -> tuple[Optional[int], str]:
    """(exit code, output) of a command in its own process group; code None on a timeout.

    On a timeout the whole group is stopped, including what the command started (rasa).
    The command inherits this process's environment with `env` on top, as services do
    (bot/ops/supervisor.py).
    """
    try:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
            command, cwd=cwd, env=process_env(env), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    except OSError as error:
        raise TrainingDataError(f"could not run {' '.join(command[-2:])} ({error})") from error
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return None, ""
    return process.returncode, output
