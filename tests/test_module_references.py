"""Every module or file the code's docstrings, comments and README.md cite exists.

Text goes stale when modules move: a docstring that sends a reader to a file that is gone
costs them more than no pointer at all. Three kinds of reference are checked against the
working tree: paths from the project root (`bot/hub/auth.py`, `tests/bot/hub/`), file names
beside the citing file (a package's `__init__` naming its modules), and dotted names
(`bot.hub.auth`, `bot.hub.auth.console_guard`: the module, then a name defined in it). The
Rasa files that name components and channels by module (config.yml, credentials.yml,
endpoints*.yml) are read whole.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Optional

from tests.support import PROJECT

SOURCE_DIRS = ("bot", "channels", "actions", "tests", "benchmarks")
PACKAGES = ("bot", "channels", "actions")
PATH_ROOTS = ("bot", "channels", "actions", "tests", "benchmarks", "scripts", "data", "brand",
              "policies")
PATH_RE = re.compile(rf"(?<![\w./-])(?:{'|'.join(PATH_ROOTS)})/[\w./-]*")
DOTTED_RE = re.compile(rf"(?<![\w./-])(?:{'|'.join(PACKAGES)})(?:\.[A-Za-z_]\w*)+")
BARE_FILE_RE = re.compile(r"(?<![\w./-])\w+\.py\b")
RASA_FILES = ("config.yml", "credentials.yml", "endpoints*.yml")
FILE_SUFFIXES = {"py", "yml", "yaml", "md", "json", "csv", "html", "js", "css", "txt", "toml"}


def _python_files() -> list[Path]:
    return sorted(path for folder in SOURCE_DIRS for path in (PROJECT / folder).rglob("*.py")
                  if ".venv" not in path.parts)


def _prose(path: Path) -> Iterator[tuple[int, str]]:
    """The docstrings and comments of a Python file, with the line each starts on."""
    source = path.read_text(encoding="utf-8")
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                yield body[0].lineno, body[0].value.value


def _texts() -> Iterator[tuple[str, int, str]]:
    """(file, line, text) for every docstring and comment, README.md and the Rasa files."""
    for path in _python_files():
        for line, text in _prose(path):
            yield str(path.relative_to(PROJECT)), line, text
    whole = [PROJECT / "README.md"]
    whole += sorted(path for pattern in RASA_FILES for path in PROJECT.glob(pattern))
    for path in whole:
        yield path.name, 1, path.read_text(encoding="utf-8")


def _path_exists(reference: str, text: str, end: int) -> bool:
    reference = reference.rstrip(".-")
    if text[end:end + 1] in ("*", "{", "<"):  # a pattern (`complaints*.yml`), not one file
        return True
    return (PROJECT / reference).exists()


def _module_file(parts: tuple[str, ...]) -> Optional[Path]:
    base = PROJECT.joinpath(*parts)
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


@lru_cache(maxsize=None)
def _names(module: Path) -> dict[str, Optional[ast.ClassDef]]:
    """The names a module defines or imports at top level (classes with their body)."""
    names: dict[str, Optional[ast.ClassDef]] = {}
    for node in ast.parse(module.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ClassDef):
            names[node.name] = node
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names[node.name] = None
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update({(alias.asname or alias.name).split(".")[0]: None
                          for alias in node.names})
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update({target.id: None for target in targets if isinstance(target, ast.Name)})
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                # names a module's `__getattr__` provides on first use
                names.update({name: None for name in ast.literal_eval(node.value)})
    return names


def _class_names(node: ast.ClassDef) -> set[str]:
    names = set()
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(item.name)
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            names.add(item.target.id)
        elif isinstance(item, ast.Assign):
            names.update(t.id for t in item.targets if isinstance(t, ast.Name))
    return names


def _dotted_exists(reference: str) -> bool:
    """`a.b.c`: the longest prefix that is a module, then a name it defines (and a class's)."""
    parts = tuple(reference.split("."))
    if parts[-1] in FILE_SUFFIXES:  # a file name in a package's folder, not a module path
        return True
    for cut in range(len(parts), 0, -1):
        module = _module_file(parts[:cut])
        if module is None:
            continue
        rest = parts[cut:]
        if not rest:
            return True
        names = _names(module)
        if rest[0] not in names:
            return False
        owner = names[rest[0]]
        return len(rest) == 1 or owner is None or rest[1] in _class_names(owner)
    return False


def stale_references() -> list[str]:
    """Each reference to a module, name or path that does not exist, as `file:line: ref`."""
    stale = []
    for where, line, text in _texts():
        folder = (PROJECT / where).parent
        found = [(match, _path_exists(match.group(), text, match.end()))
                 for match in PATH_RE.finditer(text)]
        found += [(match, (folder / match.group()).exists())
                  for match in BARE_FILE_RE.finditer(text)]
        found += [(match, _dotted_exists(match.group())) for match in DOTTED_RE.finditer(text)]
        stale += [f"{where}:{line + text.count(chr(10), 0, match.start())}: {match.group()}"
                  for match, exists in found if not exists]
    return sorted(stale)


def test_every_cited_module_exists() -> None:
    assert stale_references() == []
