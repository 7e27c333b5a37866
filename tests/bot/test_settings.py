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


def test_the_scale_profile_is_one_switch():
    settings = Settings.from_env({"RAPPORT_HOME": "/srv/rapport", "RAPPORT_PROFILE": "scale"})
    postgres = "postgresql://127.0.0.1:5432/rapport"
    assert (settings.crm_url, settings.hub_db_url, settings.telegram_db_url,
            settings.tracker_db_url) == (postgres,) * 4
    assert settings.endpoints_file == "endpoints.scale.yml"
    env = settings.child_env()
    assert (env["RAPPORT_TRACKER_PG_HOST"], env["RAPPORT_TRACKER_PG_PORT"],
            env["RAPPORT_TRACKER_PG_DB"]) == ("127.0.0.1", "5432", "rapport")
    assert (env["RAPPORT_REDIS_HOST"], env["RAPPORT_REDIS_PORT"], env["RAPPORT_REDIS_DB"]) \
        == ("127.0.0.1", "6379", "1")
    assert env["RAPPORT_RABBITMQ_HOST"] == "127.0.0.1"
    assert env["RAPPORT_RABBITMQ_QUEUE"] == "rapport_exchange_log"
    embedded = Settings.from_env({"RAPPORT_HOME": "/srv/rapport"})
    assert embedded.crm_url.startswith("sqlite:///") and embedded.endpoints_file == "endpoints.yml"
    assert "RAPPORT_REDIS_HOST" not in embedded.child_env()


def test_a_stores_own_url_wins_over_the_profiles():
    settings = Settings.from_env({"RAPPORT_HOME": "/srv/rapport", "RAPPORT_PROFILE": "scale",
                                  "RAPPORT_POSTGRES_URL": "postgresql://db.internal/shop",
                                  "RAPPORT_CRM_URL": "postgresql://crm.internal/crm"})
    assert settings.crm_url == "postgresql://crm.internal/crm"
    assert settings.hub_db_url == "postgresql://db.internal/shop"


@pytest.mark.parametrize("env, message", [
    ({"RAPPORT_PROFILE": "cluster"}, "RAPPORT_PROFILE must be one of embedded, scale"),
    ({"RAPPORT_PROFILE": "scale", "RAPPORT_POSTGRES_URL": "postgresql://db.internal"},
     "names no database"),
    ({"RAPPORT_PROFILE": "scale", "RAPPORT_REDIS_URL": "http://redis"}, "redis://"),
    ({"RAPPORT_PROFILE": "scale", "RAPPORT_REDIS_URL": "redis://r/x"}, "must be a number"),
])
def test_a_bad_scale_setting_is_a_clear_error(env, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"RAPPORT_HOME": "/srv/rapport", **env}).child_env()


def test_rasa_reaches_the_action_servers_where_rapport_actions_url_says():
    own = Settings.from_env({"RAPPORT_HOME": "/srv/rapport", "RAPPORT_ACTIONS_PORT": "6055"})
    assert own.action_webhook_url == "http://127.0.0.1:6055/webhook"
    balanced = Settings.from_env({"RAPPORT_HOME": "/srv/rapport",
                                  "RAPPORT_ACTIONS_URL": "http://nginx:5055/"})
    assert balanced.action_webhook_url == "http://nginx:5055/webhook"
    assert balanced.actions_url == "http://127.0.0.1:5055"  # where this one binds: unchanged
    assert Settings.from_env(balanced.child_env()) == balanced
    with pytest.raises(SettingsError, match="RAPPORT_ACTIONS_URL must start with http"):
        Settings.from_env({"RAPPORT_ACTIONS_URL": "nginx:5055"})


def test_a_retrained_model_goes_to_every_rasa_server_listed():
    assert Settings.from_env({"RAPPORT_RASA_PORT": "6005"}).model_servers == (
        "http://127.0.0.1:6005",)
    two = Settings.from_env({"RAPPORT_RASA_URLS": "http://rasa-1:5005/, http://rasa-2:5005"})
    assert two.model_servers == ("http://rasa-1:5005", "http://rasa-2:5005")
    assert Settings.from_env(two.child_env()) == two
    for bad, message in (("rasa-1:5005", "must start with http"),
                         ("http://a:1,http://a:1", "names a server twice")):
        with pytest.raises(SettingsError, match=message):
            Settings.from_env({"RAPPORT_RASA_URLS": bad})
