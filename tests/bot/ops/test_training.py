import shutil

import yaml

from bot.settings import Settings
import os

from bot.ops.training import content_hash, current_model, model_path_for, model_to_serve, training_config
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
