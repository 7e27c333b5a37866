"""`rapport telegram set-webhook|delete-webhook|info` against the fake Bot API."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import Settings
from channels.telegram.cli import add_telegram_commands
from tests.channels.telegram.conftest import telegram_settings
from tests.channels.telegram.fake_bot_api import TOKEN, FakeBotApi
from tests.support.stack import PROJECT, free_port

HOOK = "https://bot.example.com/webhooks/telegram/webhook"


def rapport_telegram(settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="rapport")
    add_telegram_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["telegram", *argv])
    return args.handler(settings, args)


def test_set_webhook_registers_a_fresh_secret_and_says_what_to_set(
        tmp_path: Path, fake: FakeBotApi, capsys) -> None:
    settings = telegram_settings(tmp_path, fake)

    assert rapport_telegram(settings, "set-webhook", HOOK) == 0
    first = capsys.readouterr().out
    assert rapport_telegram(settings, "set-webhook", "https://bot.example.com") == 0
    second = capsys.readouterr().out

    secrets = [re.search(r"RAPPORT_TELEGRAM_WEBHOOK_SECRET=(\S+)", out).group(1)
               for out in (first, second)]
    calls = fake.calls_of("setWebhook")
    assert [call.params["url"] for call in calls] == [HOOK, HOOK]
    assert [call.params["secret_token"] for call in calls] == secrets
    assert secrets[0] != secrets[1] and len(secrets[0]) >= 32
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secrets[0])
    assert calls[0].params["allowed_updates"] == ["message", "edited_message", "callback_query"]
    assert TOKEN not in first + second
    assert not list(PROJECT.glob("**/*" + secrets[0][:12] + "*"))


def test_set_webhook_can_keep_the_configured_secret(tmp_path: Path, fake: FakeBotApi,
                                                    capsys) -> None:
    settings = telegram_settings(tmp_path, fake)

    assert rapport_telegram(settings, "set-webhook", HOOK, "--keep-secret") == 0

    assert fake.calls_of("setWebhook")[0].params["secret_token"] == settings.telegram_webhook_secret
    assert settings.telegram_webhook_secret not in capsys.readouterr().out


@pytest.mark.parametrize("url, problem", [
    ("http://bot.example.com/webhooks/telegram/webhook", "must start with https://"),
    ("bot.example.com", "must start with https://"),
    ("https://bot.example.com/webhooks/rest/webhook", "must end with /webhooks/telegram/webhook"),
])
def test_set_webhook_refuses_urls_telegram_or_rapport_cannot_use(
        tmp_path: Path, fake: FakeBotApi, capsys, url: str, problem: str) -> None:
    assert rapport_telegram(telegram_settings(tmp_path, fake), "set-webhook", url) == 2

    error = capsys.readouterr().err
    assert problem in error and len(error.strip().splitlines()) == 1
    assert fake.calls_of("setWebhook") == []


def test_delete_webhook_and_info(tmp_path: Path, fake: FakeBotApi, capsys) -> None:
    settings = telegram_settings(tmp_path, fake)
    rapport_telegram(settings, "set-webhook", HOOK)
    capsys.readouterr()

    assert rapport_telegram(settings, "info") == 0
    info = capsys.readouterr().out
    assert rapport_telegram(settings, "delete-webhook", "--drop-pending-updates") == 0
    assert rapport_telegram(settings, "info") == 0
    after = capsys.readouterr().out

    assert "@rapport_test_bot" in info and HOOK in info
    assert "updates waiting:  0" in info and "dead letters:     0" in info
    assert fake.calls_of("deleteWebhook")[0].params["drop_pending_updates"] == "true"
    assert "(none" in after


@pytest.mark.parametrize("change, expected", [
    ({"RAPPORT_TELEGRAM_TOKEN": ""}, "RAPPORT_TELEGRAM_TOKEN is not set"),
    ({"RAPPORT_TELEGRAM_TOKEN": "999:wrong-token"}, "Telegram refused the bot token"),
    ({"RAPPORT_TELEGRAM_API_URL": f"http://127.0.0.1:{free_port()}/bot"},
     "cannot reach the Bot API at 127.0.0.1"),
])
def test_failures_are_one_line_without_the_token(tmp_path: Path, fake: FakeBotApi, capsys,
                                                 change: dict, expected: str) -> None:
    settings = telegram_settings(tmp_path, fake, **change)

    assert rapport_telegram(settings, "info") == 2

    captured = capsys.readouterr()
    assert expected in captured.err and len(captured.err.strip().splitlines()) == 1
    assert "999:wrong-token" not in captured.err and TOKEN not in captured.err


def test_the_commands_are_part_of_rapport(tmp_path: Path, fake: FakeBotApi) -> None:
    env = {**os.environ, "RAPPORT_HOME": str(PROJECT), "RAPPORT_VAR_DIR": str(tmp_path),
           "RAPPORT_TELEGRAM_TOKEN": TOKEN, "RAPPORT_TELEGRAM_API_URL": fake.base_url}

    done = subprocess.run([sys.executable, "-m", "bot.ops.cli", "telegram", "info"], cwd=PROJECT,
                          env=env, capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    assert "@rapport_test_bot" in done.stdout
