"""No secret in any log: a Telegram exchange (python-telegram-bot against the fake Bot API) in
a process that logs the way Rapport's services do, then every log file grepped for the token.

python-telegram-bot's HTTP client (httpx) logs each request URL at INFO, and a Bot API URL
holds the token. The same run without `log_redaction.install` shows the token, so the test
would notice if the leak came back.
"""

from __future__ import annotations

import secrets
import logging
import subprocess
import sys
import textwrap
from urllib.parse import quote
from pathlib import Path
from typing import Iterator

import pytest

from bot.log_redaction import REDACTED, Redactor, RedactingFilter, secrets_of
from bot.settings import Settings
from tests.channels.telegram.fake_bot_api import FakeBotApi
from tests.support import PROJECT

TOKEN = "424242:Not-shaped-like-a-token"  # only a configured secret can catch this one
WEBHOOK_SECRET = secrets.token_urlsafe(24)  # made per run
JWT_SECRET = f"jwt/{secrets.token_urlsafe(12)}+with=url&chars"  # needs quoting in a URL

EXCHANGE = textwrap.dedent('''
    import asyncio, logging, sys
    from bot import log_redaction
    from bot.settings import Settings
    from channels.telegram.api import BotApi

    # as `rapport serve` does: the root logger on stderr (the supervisor's log file) ...
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    if sys.argv[2] == "redact":
        log_redaction.install(settings)
    # ... and, later, a log file of its own (as Rasa's serve_application adds one)
    logging.getLogger().addHandler(logging.FileHandler(sys.argv[1]))

    async def exchange():
        api = BotApi.from_settings(settings)
        me = await api.me()
        await api.bot.send_message(chat_id=7001, text="hello")
        url = f"{settings.telegram_api_url}{settings.telegram_token}/sendMessage"
        logging.getLogger("rapport.test").info("sent via %s (jwt %s)", url,
                                               settings.rasa_jwt_secret)
        try:
            raise ConnectionError(f"cannot reach {url}")
        except ConnectionError:
            logging.getLogger("rapport.test").exception("delivery failed")
        print("printed:", settings.telegram_webhook_secret, flush=True)
        await api.close()
        return me

    print("bot:", asyncio.run(exchange()).username, flush=True)
    raise SystemExit(f"crashed at {settings.telegram_api_url}{settings.telegram_token}/getMe")
''')


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    fake = FakeBotApi(token=TOKEN).start()
    yield fake
    fake.stop()


def run_exchange(tmp_path: Path, fake: FakeBotApi, mode: str) -> str:
    """Every log of one exchange (stderr+stdout as the supervisor keeps them, the log file)."""
    own_log = tmp_path / f"{mode}-service.log"
    env = {"PATH": "/usr/bin:/bin", "RAPPORT_HOME": str(PROJECT),
           "RAPPORT_VAR_DIR": str(tmp_path / "var"), "RAPPORT_TELEGRAM_TOKEN": TOKEN,
           "RAPPORT_TELEGRAM_API_URL": fake.base_url,
           "RAPPORT_TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
           "RAPPORT_RASA_JWT_SECRET": JWT_SECRET}
    with (tmp_path / f"{mode}-supervised.log").open("wb") as supervised:
        done = subprocess.run([sys.executable, "-c", EXCHANGE, str(own_log), mode],
                              cwd=PROJECT, env=env, stdout=supervised,
                              stderr=subprocess.STDOUT, timeout=120)
    assert done.returncode == 1  # the SystemExit with a message at the end
    logs = (tmp_path / f"{mode}-supervised.log").read_text() + own_log.read_text()
    assert "HTTP Request: POST" in logs and "sendMessage" in logs  # httpx did log the URLs
    assert len(fake.calls_of("sendMessage")) >= 1
    return logs


def test_without_redaction_the_token_is_in_the_logs(tmp_path, fake):
    """The premise: httpx writes the token into the logs."""
    assert TOKEN in run_exchange(tmp_path, fake, "plain")


def test_a_telegram_exchange_leaves_no_secret_in_any_log(tmp_path, fake):
    logs = run_exchange(tmp_path, fake, "redact")

    for secret in (TOKEN, WEBHOOK_SECRET, JWT_SECRET, "Not-shaped-like-a-token"):
        assert secret not in logs
    assert "jwt%2Fsecret" not in logs  # nor URL-encoded
    assert f"bot{REDACTED}/getMe" in logs and "delivery failed" in logs
    assert "ConnectionError: cannot reach" in logs  # the traceback kept, the token not
    assert f"crashed at {fake.base_url}{REDACTED}/getMe" in logs  # printed outside logging


def test_redactor():
    redact = Redactor(["s3cret-value", "ab/cd ef", "tiny"])
    assert redact("x s3cret-value y") == f"x {REDACTED} y"
    assert redact("ab%2Fcd%20ef and ab/cd%20ef") == f"{REDACTED} and {REDACTED}"
    assert redact("tiny words stay") == "tiny words stay"  # too short to be a secret
    shaped = f"{secrets.randbelow(10**9) + 10**8}:{secrets.token_urlsafe(26)}"  # a bot token's shape
    assert redact(f"https://api.telegram.org/bot{shaped}/x") \
        == f"https://api.telegram.org/bot{REDACTED}/x"  # token-shaped, even if not configured


def test_secrets_of_are_the_settings_marked_secret():
    settings = Settings.from_env({"RAPPORT_HOME": str(PROJECT), "RAPPORT_TELEGRAM_TOKEN": TOKEN,
                                  "RAPPORT_HUB_SECRET": "hub-secret-xyz"})
    found = secrets_of(settings)
    assert TOKEN in found and "hub-secret-xyz" in found
    assert str(PROJECT) not in found


def test_passwords_in_database_urls_are_secrets():
    password = secrets.token_urlsafe(12) + "/+"
    settings = Settings.from_env({
        "RAPPORT_HOME": str(PROJECT),
        "RAPPORT_CRM_URL": f"postgresql://rapport:{quote(password, safe='')}@db:5432/crm",
        "RAPPORT_HUB_DB_URL": "postgresql://nobody@db/hub"})  # no password: nothing to hide
    found = secrets_of(settings)
    assert password in found
    line = Redactor(found)(f"could not connect to postgresql://rapport:{password}@db:5432/crm")
    assert password not in line and REDACTED in line


def test_the_filter_redacts_records_made_before_it_was_installed():
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, "HTTP Request: %s %s",
                               ("POST", f"http://x/bot{TOKEN}/getMe"), None)
    RedactingFilter(Redactor([TOKEN])).filter(record)
    assert record.getMessage() == f"HTTP Request: POST http://x/bot{REDACTED}/getMe"
