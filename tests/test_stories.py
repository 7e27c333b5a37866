"""Rasa's own checks, inside the suite: `rasa data validate` and the test stories."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT


def _rasa(*args: str, cwd: Path = PROJECT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rasa", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=900)


def test_rasa_data_validate_passes():
    result = _rasa("data", "validate", "--domain", "domain.yml", "--data", "data",
                   "--config", "config.yml")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "story structure conflicts" in (result.stdout + result.stderr).lower()


@pytest.mark.integration
def test_every_test_story_passes(trained_model: Path, tmp_path: Path):
    out = tmp_path / "results"
    result = _rasa("test", "core", "--model", str(trained_model), "--stories", "tests/stories",
                   "--out", str(out), "--no-plot")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    failed = out / "failed_test_stories.yml"
    assert not failed.exists() or "# predicted:" not in failed.read_text(), failed.read_text()
    report = json.loads((out / "story_report.json").read_text())
    written = sum(path.read_text().count("- story:") for path in PROJECT.glob("tests/stories/*.yml"))
    accuracy = report["conversation_accuracy"]
    assert accuracy["total"] == written and accuracy["correct"] == written, accuracy
