import pytest

from bot.settings import Settings, SettingsError


def test_defaults_are_embedded_and_on_loopback(tmp_path):
    settings = Settings.from_env({"RAPPORT_HOME": str(tmp_path)})
    assert settings.host == "127.0.0.1"
    assert settings.crm_url == f"sqlite:///{tmp_path / 'var' / 'crm.db'}"
    assert settings.rasa_jwt_secret is None
    assert (settings.rasa_port, settings.actions_port, settings.hub_port) == (5005, 5055, 8080)


def test_child_env_round_trips(tmp_path):
    settings = Settings.from_env({"RAPPORT_HOME": str(tmp_path), "RAPPORT_RASA_PORT": "6000",
                                  "RAPPORT_RASA_JWT_SECRET": "s3cret-for-test"})
    again = Settings.from_env(settings.child_env())
    assert again == settings


def test_bad_numbers_are_named():
    with pytest.raises(SettingsError, match="RAPPORT_HUB_PORT must be an integer"):
        Settings.from_env({"RAPPORT_HUB_PORT": "eighty"})


def test_secret_is_not_in_repr(tmp_path):
    settings = Settings.from_env({"RAPPORT_HOME": str(tmp_path),
                                  "RAPPORT_RASA_JWT_SECRET": "do-not-print-me"})
    assert "do-not-print-me" not in repr(settings)
