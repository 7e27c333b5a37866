"""deploy/: the compose file and nginx config agree with each other and with the settings."""

from __future__ import annotations

import re
import secrets

import yaml

from bot.settings import Settings
from tests.support import PROJECT

DEPLOY = PROJECT / "deploy"
SETTINGS_DOC = (PROJECT / "bot" / "settings.py").read_text(encoding="utf-8")


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yml").read_text(encoding="utf-8"))


def rapport_services() -> dict[str, dict]:
    return {name: service for name, service in compose()["services"].items()
            if (service.get("command") or [None])[0] == "rapport"}


def test_every_service_is_a_rapport_serve_command():
    services = rapport_services()
    assert {tuple(s["command"]) for s in services.values()} == {
        ("rapport", "serve", "rasa"), ("rapport", "serve", "actions"), ("rapport", "serve", "hub")}
    assert sum(s["command"][2] == "rasa" for s in services.values()) >= 2


def test_every_variable_is_a_documented_setting_and_gives_the_scale_profile():
    for name, service in rapport_services().items():
        env = {key: re.sub(r"\$\{(\w+)\}", lambda m: secrets.token_urlsafe(24), str(value))
               for key, value in service["environment"].items()}
        undocumented = [key for key in env if f"| {key} |" not in SETTINGS_DOC]
        assert undocumented == [], name
        rest = ",".join(f"app{i}={secrets.token_urlsafe(24)}" for i in range(2))
        settings = Settings.from_env({**env, "RAPPORT_HOME": str(PROJECT),
                                      "RAPPORT_REST_TOKENS": rest})
        assert settings.profile == "scale" and settings.endpoints_file == "endpoints.scale.yml"
        assert settings.crm_url.startswith("postgresql://rapport:") and "@postgres:5432" in \
            settings.crm_url
        assert settings.redis_url == "redis://redis:6379/1"
        assert settings.child_env()["RAPPORT_RABBITMQ_HOST"] == "rabbitmq"


def test_nginx_balances_the_services_compose_runs():
    config = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    upstream = set(re.findall(r"^\s*server ([\w-]+):(\d+)", config, re.MULTILINE))
    services = rapport_services()
    port = {"rasa": "5005", "actions": "5055", "hub": "8080"}
    assert upstream == {(name, port[service["command"][2]]) for name, service in services.items()}
    assert "nginx.conf" in str(compose()["services"]["nginx"]["volumes"])
