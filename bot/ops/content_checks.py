"""Checks of the content the brand team edits, before anything trains or starts.

A broken YAML file should cost the brand team one line of reading, not a Rasa traceback:
every check here names the file, line and problem.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from bot.errors import ContentError
from bot.settings import Settings

_ROOT_FILES = ("config.yml", "domain.yml", "endpoints.yml", "credentials.yml")
_CONTENT_DIRS = ("data", "brand", "policies")


def yaml_files(home: Path) -> list[Path]:
    files = [home / name for name in _ROOT_FILES if (home / name).is_file()]
    for directory in _CONTENT_DIRS:
        if (home / directory).is_dir():
            files += sorted(p for p in (home / directory).rglob("*") if p.suffix in {".yml", ".yaml"})
    return files


def check_yaml_file(path: Path, home: Path) -> None:
    """Raise ContentError naming file:line:column if `path` is not valid YAML."""
    name = path.relative_to(home) if path.is_relative_to(home) else path
    try:
        yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise ContentError(f"{name}: not UTF-8 text ({error.reason})") from error
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else str(name)
        raise ContentError(f"{where}: invalid YAML: {error.problem}") from error
    except yaml.YAMLError as error:
        raise ContentError(f"{name}: invalid YAML: {error}") from error


def check_yaml_files(settings: Settings) -> None:
    for required in ("config.yml", "domain.yml"):
        if not (settings.home / required).is_file():
            raise ContentError(f"{required} not found in {settings.home} (run rapport from the project root)")
    for path in yaml_files(settings.home):
        check_yaml_file(path, settings.home)


def check_startup_content(settings: Settings) -> None:
    """What must hold before Rapport starts: valid YAML, brand data and resolution policy."""
    from bot.brand import load_brand

    check_yaml_files(settings)
    problems = _policy_problems(settings, load_brand(settings.home / "brand"))
    if problems:
        raise ContentError("; ".join(problems))


def validate_content(settings: Settings, rasa_validation: bool = True) -> list[str]:
    """Every problem found, one line each; an empty list means the content is valid."""
    from bot.brand import BrandDataError, load_brand

    problems: list[str] = []
    try:
        check_yaml_files(settings)
    except ContentError as error:
        return [str(error)]
    try:
        brand = load_brand(settings.home / "brand")
    except BrandDataError as error:
        return [str(error)]
    problems += _policy_problems(settings, brand)
    if rasa_validation:
        problems += _rasa_data_problems(settings)
    return problems


def _policy_problems(settings: Settings, brand) -> list[str]:
    policy = settings.home / "policies" / "resolution.yml"
    if not policy.is_file():
        return []
    from bot.complaints.policy import PolicyError, load_policy

    try:
        load_policy(policy, issue_types=[issue.key for issue in brand.issue_types])
    except PolicyError as error:
        return [str(error)]
    return []


def _rasa_data_problems(settings: Settings) -> list[str]:
    result = subprocess.run(  # noqa: S603 (our own interpreter and arguments)
        [sys.executable, "-m", "rasa", "data", "validate",
         "--domain", "domain.yml", "--data", "data", "--config", "config.yml"],
        cwd=settings.home, capture_output=True, text=True,
    )
    if result.returncode == 0:
        return []
    lines = [line for line in (result.stdout + result.stderr).splitlines()
             if "UserWarning" in line or "ERROR" in line or "error" in line.lower()]
    return ["rasa data validate failed:"] + (lines or (result.stdout + result.stderr).splitlines()[-20:])
