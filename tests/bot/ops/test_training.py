import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from bot.ops.training import (
    CHILD_MODULE, content_hash, current_model, model_path_for, model_to_serve, training_config,
    training_env,
)
from bot.settings import Settings
from tests.conftest import PROJECT


def _project_copy(tmp_path):
    for name in ("config.yml", "domain.yml"):
        shutil.copy(PROJECT / name, tmp_path / name)
    for directory in ("data", "brand"):
        shutil.copytree(PROJECT / directory, tmp_path / directory)
    return Settings.from_env({"RAPPORT_HOME": str(tmp_path)})


def test_hash_changes_with_data_and_not_without(tmp_path):
    settings = _project_copy(tmp_path)
    before = content_hash(settings)
    assert content_hash(settings) == before
    nlu = tmp_path / "data" / "nlu" / "basics.yml"
    nlu.write_text(nlu.read_text() + "\n")
    assert content_hash(settings) != before
    assert current_model(settings) is None


def test_training_config_scales_epochs_and_pins_the_spacy_path(tmp_path):
    settings = Settings.from_env({"RAPPORT_HOME": str(PROJECT), "RAPPORT_VAR_DIR": str(tmp_path),
                                  "RAPPORT_TRAIN_EPOCHS_SCALE": "0.5"})
    config = yaml.safe_load((PROJECT / "config.yml").read_text())
    adjusted = training_config(config, settings)
    ted = next(p for p in adjusted["policies"] if p["name"] == "TEDPolicy")
    original = next(p for p in config["policies"] if p["name"] == "TEDPolicy")
    assert ted["epochs"] == round(original["epochs"] * 0.5)
    spacy_nlp = next(p for p in adjusted["pipeline"] if p["name"] == "SpacyNLP")
    assert spacy_nlp["model"] == str(tmp_path / "spacy" / "en_rapport")


def test_rasa_serves_the_current_model_else_the_newest(tmp_path):
    """A restarted Rasa serves what the inbox last trained, not what Rapport started with."""
    settings = _project_copy(tmp_path)
    assert model_to_serve(settings) is None
    settings.models_dir.mkdir(parents=True)
    older, newer = settings.models_dir / "rapport-aaaa.tar.gz", settings.models_dir / "rapport-bbbb.tar.gz"
    for age, model in ((200, older), (100, newer)):
        model.write_bytes(b"model")
        os.utime(model, (model.stat().st_atime - age,) * 2)
    assert model_to_serve(settings) == newer  # content changed, no model for it yet
    current = model_path_for(settings)
    current.write_bytes(b"model")
    os.utime(current, (current.stat().st_atime - 500,) * 2)
    assert model_to_serve(settings) == current  # the content's own model, even if older


# --------------------------------------------------------------------------- train_in_child
# `rapport run` trains in a child so the supervisor never holds TensorFlow. These tests use a
# config Rasa rejects at once: nothing is ever trained.

UNTRAINABLE_CONFIG = """recipe: default.v1
language: en
assistant_id: untrainable
pipeline:
  - name: NoSuchComponent
policies:
  - name: RulePolicy
"""
HEAVY_MODULES = ("tensorflow", "rasa.model_training")


def _untrainable_env(tmp_path):
    settings = _project_copy(tmp_path)
    (tmp_path / "config.yml").write_text(UNTRAINABLE_CONFIG)
    return settings, {**os.environ, "RAPPORT_HOME": str(tmp_path),
                      "RAPPORT_VAR_DIR": str(tmp_path / "var")}


# The parent restores Python's Ctrl-C handler: a runner started in the background (`cmd &` in a
# script) ignores SIGINT, and its children inherit that, unlike a terminal user's `rapport run`.
PARENT = f"""
import json, signal, sys
from bot.ops.training import TrainingError, train_in_child
from bot.settings import Settings
signal.signal(signal.SIGINT, signal.default_int_handler)
try:
    outcome = {{"model": str(train_in_child(Settings.from_env()))}}
except TrainingError as error:
    outcome = {{"error": str(error)}}
except KeyboardInterrupt:
    sys.exit(130)
outcome["imported"] = [name for name in {HEAVY_MODULES!r} if name in sys.modules]
print(json.dumps(outcome))
"""


def test_the_child_sees_the_settings_that_name_the_model(tmp_path):
    settings = Settings.from_env({"RAPPORT_HOME": str(PROJECT),
                                  "RAPPORT_VAR_DIR": str(tmp_path / "var"),
                                  "RAPPORT_TRAIN_EPOCHS_SCALE": "0.37"})
    child = Settings.from_env(training_env(settings))
    assert child.train_epochs_scale == 0.37
    assert model_path_for(child) == model_path_for(settings)


def test_a_failed_training_comes_back_from_the_child_as_one_error(tmp_path):
    settings, env = _untrainable_env(tmp_path)
    result = subprocess.run([sys.executable, "-c", PARENT], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.splitlines()[-1])
    assert outcome["error"].startswith("rasa could not train: ")
    assert "NoSuchComponent" in outcome["error"] and "\n" not in outcome["error"]
    assert outcome["imported"] == []  # Rasa's training ran in the child only
    assert "Traceback" not in result.stderr
    models = tmp_path / "var" / "models"
    assert list(models.iterdir()) == []  # no model, no staging directory left behind


def _children(pid):
    """(pid, command line) of the processes whose parent is `pid`, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append((int(stat.parent.name), cmdline))
    return found


def test_ctrl_c_stops_the_training_child(tmp_path):
    _, env = _untrainable_env(tmp_path)
    parent = subprocess.Popen([sys.executable, "-c", PARENT], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (children := [pid for pid, cmd in _children(parent.pid) if CHILD_MODULE in cmd]):
            assert parent.poll() is None and time.monotonic() < deadline, parent.communicate()
            time.sleep(0.05)
        time.sleep(0.5)  # the parent is waiting on it (Rasa's import alone takes seconds)
        parent.send_signal(signal.SIGINT)
        _, stderr = parent.communicate(timeout=30)
    finally:
        parent.kill()
    assert parent.returncode == 130, stderr
    assert not Path(f"/proc/{children[0]}").exists()  # stopped, and reaped by the parent
    assert "rasa could not train" not in stderr  # interrupted before Rasa read the config
    assert list((tmp_path / "var" / "models").glob("*")) == []
